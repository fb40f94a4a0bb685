/**
 * The write side (`serve --writable`, layout directories only): blob uploads
 * (monolithic, chunked, cross-repository mount) and manifest PUT. Every
 * change to the layout goes through LayoutDir: blobs are verified before
 * they are renamed into `blobs/`, index.json is edited under the layout lock
 * and replaced atomically, exactly as the CLI's own writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { digestBytes, parseDigest } from '../digest/digest.js';
import { isOcikitError } from '../errors.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { successors } from '../graph/successors.js';
import { pushManifest } from '../ops/manifest-push.js';
import { isValidRepositoryName } from '../reference.js';
import { isManifestMediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { parseManifestBytes, type ParsedManifest } from '../spec/validate.js';
import type { UploadStore } from '../graph/target.js';
import { RegistryHttpError, toHttpError, type RegistryErrorEntry } from './errors.js';
import { readBody } from './http-util.js';
import { requireRepository, type HandlerContext } from './pull.js';
import { applyNames, entryImageName, entryName } from '../spec/index-entries.js';
import { digestParam } from './router.js';
import { parseChunkRange, sessionHeaders, type UploadSessions } from './uploads.js';

export interface WriteContext extends HandlerContext {
  layout: UploadStore;
  uploads: UploadSessions;
}

function created(res: ServerResponse, location: string, digest: string, extra: Record<string, string> = {}): void {
  res.statusCode = 201;
  res.setHeader('Location', location);
  res.setHeader('Docker-Content-Digest', digest);
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.setHeader('Content-Length', '0');
  res.end();
}

function accepted(res: ServerResponse, status: 202 | 204, headers: Record<string, string>): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (status === 202) res.setHeader('Content-Length', '0');
  res.end();
}

const blobLocation = (name: string, digest: string) => `/v2/${name}/blobs/${digest}`;

/** `POST /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]` */
export async function handleUploadStart(req: IncomingMessage, res: ServerResponse, ctx: WriteContext, name: string, query: URLSearchParams): Promise<void> {
  const mount = query.get('mount');
  if (mount !== null) {
    const mounted = await tryMount(ctx, mount, query.get('from'));
    if (mounted) {
      req.resume();
      ctx.pushedRepositories.add(name);
      created(res, blobLocation(name, mounted), mounted);
      return;
    }
    // Spec: a mount that cannot be done falls back to an ordinary upload session (202).
  }
  const digest = query.get('digest');
  const expected = digest !== null ? digestParam(digest) : undefined;
  const session = await ctx.uploads.create(name);
  await ctx.uploads.append(session, req);
  if (expected !== undefined) {
    const desc = await ctx.uploads.finish(session, [expected]);
    ctx.pushedRepositories.add(name);
    created(res, blobLocation(name, desc.digest), desc.digest);
    return;
  }
  accepted(res, 202, sessionHeaders(session));
}

/**
 * Blobs are shared by every repository of a layout, so a blob that exists
 * can be mounted from any repository the layout has (or, with no `from`,
 * from the layout). A `from` the layout does not have holds no blobs: the
 * mount falls back to an upload, as distribution's does, and the client
 * sends the blob.
 */
async function tryMount(ctx: WriteContext, mount: string, from: string | null): Promise<string | undefined> {
  if (from !== null && !isValidRepositoryName(from)) return undefined;
  try {
    if (from !== null) await requireRepository(ctx, from);
    const digest = parseDigest(mount).digest;
    await ctx.layout.statBlob(digest);
    return digest;
  } catch {
    return undefined;
  }
}

/** `PATCH /v2/<name>/blobs/uploads/<session>`: one chunk, in order. */
export async function handleUploadChunk(req: IncomingMessage, res: ServerResponse, ctx: WriteContext, name: string, id: string): Promise<void> {
  const session = ctx.uploads.get(id, name);
  const range = parseChunkRange(header(req, 'content-range'), session);
  await ctx.uploads.append(session, req, range);
  accepted(res, 202, sessionHeaders(session));
}

/** `PUT /v2/<name>/blobs/uploads/<session>?digest=`: optional last chunk, then verify and store. */
export async function handleUploadFinish(req: IncomingMessage, res: ServerResponse, ctx: WriteContext, name: string, id: string, query: URLSearchParams): Promise<void> {
  const session = ctx.uploads.get(id, name);
  const digestValues = query.getAll('digest');
  if (digestValues.length === 0) throw new RegistryHttpError(400, 'DIGEST_INVALID', 'the closing PUT of an upload needs ?digest=<digest of the whole blob>');
  // Several digests MAY be given: all are checked before anything is stored.
  const digests = digestValues.map(digestParam);
  const range = parseChunkRange(header(req, 'content-range'), session);
  await ctx.uploads.append(session, req, range);
  const desc = await ctx.uploads.finish(session, digests);
  ctx.pushedRepositories.add(name);
  created(res, blobLocation(name, desc.digest), desc.digest);
}

/** `GET /v2/<name>/blobs/uploads/<session>`: where the upload stands. */
export function handleUploadStatus(res: ServerResponse, ctx: WriteContext, name: string, id: string): void {
  accepted(res, 204, sessionHeaders(ctx.uploads.get(id, name)));
}

/** `DELETE /v2/<name>/blobs/uploads/<session>`: cancel; the temp file goes. */
export async function handleUploadCancel(res: ServerResponse, ctx: WriteContext, name: string, id: string): Promise<void> {
  await ctx.uploads.discard(ctx.uploads.get(id, name));
  accepted(res, 204, {});
}

/**
 * `PUT /v2/<name>/manifests/<tag|digest>`: validate, check that every blob
 * and child manifest it names is stored (400 MANIFEST_BLOB_UNKNOWN, one error
 * per blob), store the exact bytes, then record it in index.json: under the
 * tag (scoped to the repository), or untagged when it has a subject (so the
 * referrers walk finds it). A manifest pushed by digest without a subject
 * (docker manifest push's children) is listed untagged in its repository: a
 * registry keeps it until deleted, and so must gc.
 */
export async function handleManifestPut(req: IncomingMessage, res: ServerResponse, ctx: WriteContext, name: string, ref: { tag?: string; digest?: string }): Promise<void> {
  const bytes = await readBody(req, MAX_DOCUMENT_SIZE, 'the manifest', ctx.stall);
  if (ref.digest !== undefined) {
    const actual = digestBytes(bytes, parseDigest(ref.digest).algorithm);
    if (actual !== ref.digest) {
      throw new RegistryHttpError(400, 'DIGEST_INVALID', `the manifest sent hashes to ${actual}, not ${ref.digest}`, { detail: { expected: ref.digest, actual } });
    }
  }
  const contentType = (header(req, 'content-type') ?? '').split(';', 1)[0]!.trim();
  let parsed: ParsedManifest;
  try {
    parsed = parseManifestBytes(bytes, isManifestMediaType(contentType) ? contentType : undefined, 'sent');
  } catch (err) {
    throw toHttpError(err, 'other');
  }
  const missing: RegistryErrorEntry[] = [];
  const unknown = (d: Descriptor): RegistryErrorEntry => ({ code: 'MANIFEST_BLOB_UNKNOWN', message: `${d.digest} (${d.size} bytes) is not stored here; push it first`, detail: { digest: d.digest } });
  // A refused manifest leaves the layout untouched, so look first (exists) and lease only when all is there:
  // retain (lease + exists) then keeps what the client skipped from a concurrent gc until the manifest is listed.
  for (const d of successors(parsed)) if (!(await ctx.layout.exists(d))) missing.push(unknown(d));
  if (missing.length === 0) for (const d of successors(parsed)) if (!(await ctx.layout.retain(d))) missing.push(unknown(d));
  if (missing.length > 0) {
    const [first, ...more] = missing;
    throw new RegistryHttpError(400, 'MANIFEST_BLOB_UNKNOWN', first!.message, { detail: first!.detail, more });
  }
  let desc: Descriptor;
  try {
    desc = await pushManifest(ctx.layout, bytes, { mediaType: parsed.mediaType, tags: [], listUntagged: false, source: 'sent' });
    // pushManifest files the bytes under sha256; a client that named another algorithm fetches them by that digest.
    if (ref.digest !== undefined && ref.digest !== desc.digest) await ctx.layout.push({ ...desc, digest: ref.digest }, bytes);
  } catch (err) {
    if (isOcikitError(err, 'NOT_FOUND')) throw new RegistryHttpError(400, 'MANIFEST_BLOB_UNKNOWN', err.message, { detail: { digest: err.digest }, cause: err });
    throw toHttpError(err, 'other');
  }
  ctx.pushedRepositories.add(name);
  const subject = parsed.doc.subject?.digest;
  // The repository without this server's own address: the layout outlives the port it was served on.
  const repository = name === ctx.defaultRepository ? undefined : name;
  if (ref.tag !== undefined || subject === undefined) {
    // By tag: the tag of this repository. By digest only (docker manifest push's children): listed
    // untagged in its repository, so gc keeps it and the repository lists it.
    await ctx.layout.updateIndex((index) => applyNames(index, [{ desc, repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) }]));
  } else {
    await ctx.layout.addEntry(desc);
  }
  const digest = ref.digest ?? desc.digest;
  // OCI-Subject tells the client the referrers API will list this manifest: it must not maintain a fallback tag.
  created(res, `/v2/${name}/manifests/${digest}`, digest, subject !== undefined ? { 'OCI-Subject': subject } : {});
}

/**
 * `DELETE /v2/<name>/manifests/<tag|digest>`. A layout serves many
 * repositories from one index.json, so a delete is scoped to repository
 * `name`: by tag, that tag's entry; by digest, every entry of the digest in
 * `name` and the entries no repository owns (referrers listed untagged),
 * plus its line in a fallback-tag index (LayoutDir.deleteManifest). The
 * manifest's blob then goes too when nothing listed reaches it any more, so
 * that it is gone by digest as on any registry; otherwise (another
 * repository still has it) it stays. 202 when done, 404 when `name` does
 * not list it.
 */
export async function handleManifestDelete(res: ServerResponse, ctx: WriteContext, name: string, ref: { tag?: string; digest?: string }): Promise<void> {
  await requireRepository(ctx, name);
  const inRepository = (e: Descriptor) => {
    const n = entryName(e);
    return (n.repository === undefined && n.tag === undefined) || entryImageName(e, ctx.defaultRepository).repository === name;
  };
  try {
    if (ref.tag !== undefined) {
      const tag = ref.tag;
      let found = false;
      await ctx.layout.updateIndex((index) => {
        const manifests = index.manifests.filter((e) => !(inRepository(e) && entryName(e).tag === tag));
        found = manifests.length !== index.manifests.length;
        return found ? { ...index, manifests } : undefined;
      });
      if (!found) throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', `tag ${tag} not found in repository ${name}`, { detail: { tag } });
    } else {
      const desc = await ctx.layout.statBlob(ref.digest!);
      await ctx.layout.deleteManifest(desc, { listed: inRepository });
      try {
        await ctx.layout.deleteBlob(desc);
      } catch (err) {
        if (!isOcikitError(err, 'IN_USE')) throw err;
      }
    }
  } catch (err) {
    throw toHttpError(err, 'manifest');
  }
  accepted(res, 202, {});
}

/** `DELETE /v2/<name>/blobs/<digest>`: blobs are shared by every repository of the layout; one a listed manifest still reaches is refused (409 DENIED). */
export async function handleBlobDelete(res: ServerResponse, ctx: WriteContext, name: string, digest: string): Promise<void> {
  await requireRepository(ctx, name);
  try {
    await ctx.layout.deleteBlob(await ctx.layout.statBlob(digest));
  } catch (err) {
    if (isOcikitError(err, 'IN_USE')) throw new RegistryHttpError(409, 'DENIED', err.message, { detail: { digest }, cause: err });
    throw toHttpError(err, 'blob');
  }
  accepted(res, 202, {});
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
