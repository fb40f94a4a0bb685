/**
 * The read side of the distribution API: `/v2/`, manifests and blobs (GET,
 * HEAD), tag lists, the repository catalog and the referrers API. Works on
 * any layout target (directory or archive) through LayoutReadTarget.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { isOcikitError } from '../errors.js';
import { copyVerifiedRange, VerifiedFileRange, type FileRange } from '../fs/file-range.js';
import { fetchDocument } from '../graph/content.js';
import { referrersIndex } from '../ops/discover.js';
import { isManifestMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { readsRanges, type LayoutReadTarget } from '../graph/target.js';
import { RegistryHttpError, toHttpError } from './errors.js';
import { acceptsMediaType, HoldLastChunk, lexical, paginate, parseRange, sliceStream, type ByteRange } from './http-util.js';
import { buildCatalog, type Catalog } from './repositories.js';
import { ProgressTap, watchStall, type StallLimit } from './stall-guard.js';
import type { VerifiedBlobs } from './verified-blobs.js';

/** What every handler works with. */
export interface HandlerContext {
  target: LayoutReadTarget;
  defaultRepository: string;
  writable: boolean;
  /** Runs a blob body stream when a slot is free: bounds the memory concurrent downloads hold. */
  blobSlot: <T>(task: () => Promise<T>) => Promise<T>;
  /** How slow a body transfer (either way) may get before it is cut. */
  stall: StallLimit;
  /**
   * Repositories a push to this server has begun (a blob stored or mounted,
   * a manifest stored) that index.json may not name yet: they exist from
   * their first upload on, as in distribution. Empty when read-only.
   */
  pushedRepositories: Set<string>;
  /** Blob verifications shared by concurrent and later downloads of the same file. */
  verifiedBlobs: VerifiedBlobs;
}

/**
 * Blobs up to this size (configs, small layers, manifests fetched as blobs)
 * are sent without waiting for a blob slot. Slots exist to bound what long
 * transfers hold; a small send is over as soon as the socket's buffers take
 * it, so queueing it behind 32 slow downloads would only make every pull
 * wait for the slowest clients (what distribution, with no slots at all,
 * never does). Stalled small sends are still cut by the stall limit.
 */
export const SMALL_BLOB_SIZE = 1024 * 1024;


/**
 * Catalogs by index.json parse: the layout hands back the same parsed index
 * while the file is unchanged, and building the catalog is a pass over every
 * entry, which per request made pulling N tags take N² steps (10,000 tags:
 * 8.8x the time of 2,500).
 */
const catalogs = new WeakMap<ImageIndex, Map<string, Catalog>>();

async function catalogOf(ctx: HandlerContext): Promise<Catalog> {
  const index = await ctx.target.readIndex();
  let byDefault = catalogs.get(index);
  if (!byDefault) catalogs.set(index, (byDefault = new Map()));
  let catalog = byDefault.get(ctx.defaultRepository);
  if (!catalog) byDefault.set(ctx.defaultRepository, (catalog = buildCatalog(index, ctx.defaultRepository)));
  return catalog;
}

function nameUnknown(name: string): RegistryHttpError {
  return new RegistryHttpError(404, 'NAME_UNKNOWN', `repository ${name} is not served here`, { detail: { name } });
}

/**
 * Repositories exist when index.json names them (or are the default one),
 * or, on a writable server, once a push into them has begun (blob stored or
 * mounted, manifest stored): a registry creates a repository on first push,
 * so its blobs and referrers are reachable before its first tag. Any other
 * name is 404 NAME_UNKNOWN, for blobs too: the layout's blobs are shared by
 * its repositories, not by every name a client makes up (a 200 there told a
 * pushing client a blob was in a repository that did not exist).
 */
export async function requireRepository(ctx: HandlerContext, name: string): Promise<Catalog> {
  const catalog = await catalogOf(ctx);
  if (!catalog.has(name) && !ctx.pushedRepositories.has(name)) throw nameUnknown(name);
  return catalog;
}

function sendJson(res: ServerResponse, method: string | undefined, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', String(bytes.length));
  if (method === 'HEAD') res.end();
  else res.end(bytes);
}

export function handleBase(req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, req.method, 200, {});
}

export async function handleManifestGet(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, name: string, ref: { tag?: string; digest?: string }): Promise<void> {
  const tags = (await requireRepository(ctx, name)).get(name);
  let desc: Descriptor;
  let bytes: Buffer;
  try {
    if (ref.tag !== undefined) {
      const entry = tags?.get(ref.tag);
      if (!entry) throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', `tag ${ref.tag} not found in repository ${name}`, { detail: { tag: ref.tag } });
      desc = entry;
    } else {
      desc = await ctx.target.resolve(ref.digest!);
    }
    bytes = await fetchDocument(ctx.target, desc);
    if (ref.digest !== undefined && ctx.writable && !(await referrerIsListed(ctx.target, desc, bytes))) {
      throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', `${ref.digest} is stored but its push did not finish: push it again`, { detail: { digest: ref.digest } });
    }
  } catch (err) {
    // Asked for by digest, a layer (too big, or not JSON) is not a manifest this registry has.
    if (isOcikitError(err, 'MANIFEST_TOO_LARGE') && ref.digest) throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', `${ref.digest} is not a manifest`, { cause: err });
    throw toHttpError(err, 'manifest');
  }
  const mediaType = declaredMediaType(bytes) ?? desc.mediaType;
  if (!acceptsMediaType(req.headers.accept, mediaType, isManifestMediaType)) {
    throw new RegistryHttpError(404, 'MANIFEST_UNKNOWN', `the manifest is ${mediaType}, which the request's Accept header does not list`, {
      detail: { mediaType, digest: desc.digest },
    });
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', mediaType);
  res.setHeader('Content-Length', String(bytes.length));
  res.setHeader('Docker-Content-Digest', ref.digest ?? desc.digest);
  res.setHeader('ETag', `"${ref.digest ?? desc.digest}"`);
  if (req.method === 'HEAD') res.end();
  else res.end(bytes);
}

/**
 * A manifest with a subject is pushed in two writes: its blob, then its
 * index.json entry (which is what makes it a referrer). A server killed in
 * between leaves the blob alone; answering 200 for it would make a client's
 * re-push skip the manifest, and the referrer would stay missing for good
 * (found by test/crash/serve.test.ts). Such a blob is not there until the
 * layout's referrers of its subject list it.
 */
async function referrerIsListed(target: LayoutReadTarget, desc: Descriptor, bytes: Buffer): Promise<boolean> {
  let subject: Descriptor | undefined;
  try {
    subject = (JSON.parse(bytes.toString('utf8')) as { subject?: Descriptor }).subject;
  } catch {
    return true;
  }
  if (!subject || typeof subject.digest !== 'string') return true;
  for await (const d of target.referrers(subject)) if (d.digest === desc.digest) return true;
  return false;
}

/** The `mediaType` a manifest's JSON declares (what clients expect as Content-Type), if any. */
function declaredMediaType(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof doc?.mediaType === 'string' ? doc.mediaType : undefined;
  } catch {
    return undefined;
  }
}

export async function handleBlobGet(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, name: string, digest: string): Promise<void> {
  await requireRepository(ctx, name);
  let desc: Descriptor;
  try {
    desc = await ctx.target.statBlob(digest);
  } catch (err) {
    throw toHttpError(err, 'blob');
  }
  const etag = `"${digest}"`;
  res.setHeader('Docker-Content-Digest', digest);
  res.setHeader('ETag', etag);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', MediaType.OctetStream);
  if (req.method === 'HEAD') {
    res.statusCode = 200;
    res.setHeader('Content-Length', String(desc.size));
    res.end();
    return;
  }
  // If-Range names the representation the client already has part of; blobs never change, so only a different ETag voids the range.
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? undefined : parseRange(req.headers.range, desc.size);
  const send = async (): Promise<void> => {
    let body: Readable;
    try {
      body = range ? await openRange(ctx.target, desc, range) : await ctx.target.fetch(desc);
    } catch (err) {
      throw toHttpError(err, 'blob');
    }
    res.statusCode = range ? 206 : 200;
    if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${desc.size}`);
    res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : desc.size));
    const file = !range && body instanceof VerifiedFileRange ? body.detach() : undefined;
    if (file) return sendStoredBlob(file, desc, res, ctx);
    // A ranged body is not verified (a part cannot be), so there is no last chunk to hold back.
    const stages = range ? [] : [new HoldLastChunk()];
    await sendWatched(body, stages, res, ctx.stall, `blob ${digest}`);
  };
  if (desc.size <= SMALL_BLOB_SIZE) await send();
  else await ctx.blobSlot(send);
}

/**
 * Pipe a body into a response, cut (socket closed, streams released) if the
 * client stops taking it. The watch runs until the response has finished,
 * not only until the last byte left the source: a client that stalls on the
 * tail would otherwise hold the send (and its slot) open.
 */
async function sendWatched(body: Readable, stages: Transform[], res: ServerResponse, stall: StallLimit, what: string): Promise<void> {
  const watch = watchResponse(res, stall, what);
  try {
    await pipeline([body, ...stages, new ProgressTap(watch.progress), res]);
  } catch (err) {
    throw watch.stalled() ?? err;
  } finally {
    watch.stop();
  }
}

/** The stall watch of a response body: a stall destroys the response, and stalled() is then the error to report. */
function watchResponse(res: ServerResponse, stall: StallLimit, what: string): { progress(bytes: number): void; stop(): void; stalled(): Error | undefined } {
  let stalled: Error | undefined;
  const watch = watchStall(stall, `${what} sent`, (err) => {
    stalled = err;
    res.destroy(err);
  });
  return { ...watch, stalled: () => stalled };
}

/**
 * Send a blob stored as a plain file range (a layout's blob file, an entry
 * of an uncompressed archive): read into reused buffers and written straight
 * to the socket, checked by the verification all downloads of the file share
 * (verified-blobs.ts), the last chunk held back until it has passed. Cut,
 * like sendWatched, if the client stops taking it.
 */
async function sendStoredBlob(file: FileRange, desc: Descriptor, res: ServerResponse, ctx: HandlerContext): Promise<void> {
  const what = `blob ${desc.digest}`;
  const expected = { digest: desc.digest, size: desc.size, source: file.path };
  const watch = watchResponse(res, ctx.stall, what);
  // The code a stream pipeline gives a response whose connection closed: the server counts it as the client's doing, not a failure.
  const gone = (): Error => watch.stalled() ?? Object.assign(new Error(`the client closed the connection before ${what} was sent`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  const write = (chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (res.destroyed) return reject(gone());
      // A write to a connection that is cut may never call back.
      const onClose = (): void => reject(gone());
      res.once('close', onClose);
      res.write(chunk, (err) => {
        res.off('close', onClose);
        if (err) return reject(watch.stalled() ?? err);
        watch.progress(chunk.length);
        resolve();
      });
    });
  const reopen = async (): Promise<FileRange | undefined> => {
    const again = await ctx.target.fetch(desc);
    const range = again instanceof VerifiedFileRange ? again.detach() : undefined;
    if (!range) again.destroy();
    return range;
  };
  try {
    let verifiedElsewhere: () => Promise<void>;
    try {
      verifiedElsewhere = await ctx.verifiedBlobs.checkFor(file, expected, reopen);
    } catch (err) {
      await file.release?.();
      throw err;
    }
    await copyVerifiedRange(file, expected, write, { holdLast: true, verifiedElsewhere });
    res.end();
    await finished(res);
  } catch (err) {
    // Headers and most of the body are out: the client must see a cut connection, not an ending.
    res.destroy();
    throw watch.stalled() ?? err;
  } finally {
    watch.stop();
  }
}

async function openRange(target: LayoutReadTarget, desc: Descriptor, range: ByteRange): Promise<Readable> {
  if (readsRanges(target)) return target.fetchRange(desc, range.start, range.end);
  return sliceStream(await target.fetch(desc), range);
}

export async function handleTagsList(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, name: string, query: URLSearchParams): Promise<void> {
  // A repository whose push has begun but which has no tag yet lists none, as in distribution.
  const tags = (await requireRepository(ctx, name)).get(name) ?? new Map<string, Descriptor>();
  const page = paginate([...tags.keys()].sort(lexical), query, lexical);
  const headers: Record<string, string> = page.next ? { Link: `</v2/${name}/tags/list?${page.next}>; rel="next"` } : {};
  sendJson(res, req.method, 200, { name, tags: page.items }, headers);
}

/** `GET /v2/_catalog`: the repositories this layout holds (a registry MAY offer it; it is how a client finds them). */
export async function handleCatalog(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, query: URLSearchParams): Promise<void> {
  const page = paginate([...(await catalogOf(ctx)).keys()].sort(lexical), query, lexical);
  const headers: Record<string, string> = page.next ? { Link: `</v2/_catalog?${page.next}>; rel="next"` } : {};
  sendJson(res, req.method, 200, { repositories: page.items }, headers);
}

/**
 * The referrers API answers exactly what `ocikit referrers` computes
 * (referrersIndex over the same target): the subject need not exist, and an
 * unknown subject has an empty list, never a 404.
 */
export async function handleReferrers(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, name: string, digest: string, query: URLSearchParams): Promise<void> {
  await requireRepository(ctx, name);
  const artifactType = query.get('artifactType') || undefined;
  const index = await referrersIndex(ctx.target, { mediaType: MediaType.ImageManifest, digest, size: 0 }, artifactType ? { artifactType } : undefined);
  sendJson(res, req.method, 200, index, artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {}, MediaType.ImageIndex);
}
