/**
 * Blob uploads (distribution-spec "Pushing blobs"):
 *
 * - a cross-repository mount first when the blob is known to live in another
 *   repository of the same registry (`POST ?mount=&from=`): 201 means done,
 *   202 means the registry declined and opened an ordinary upload instead;
 * - `POST /blobs/uploads/`, then one of:
 *   - blobs up to `monolithicLimit` (8 MiB): one `PUT ?digest=` with the
 *     whole blob from memory, so the transport may retry it and auth may
 *     replay it after a 401;
 *   - larger blobs: one `PATCH` whose body streams from the source (with
 *     `Content-Range` 0-(size-1) and `Content-Length`), then an empty
 *     `PUT ?digest=`. No round trip per chunk and no chunk in memory: memory
 *     stays flat in blob size. A broken connection fails the upload instead
 *     of retrying it (the bytes are gone); the next push skips every blob
 *     that made it;
 *   - larger blobs when `chunkSize` is set (registries or proxies that cap
 *     request sizes): `PATCH` chunks of that size from memory, each retried
 *     on its own, one in flight while the next is read, then the closing PUT;
 * - every `Location` the registry returns is used as given (relative or
 *   absolute, its query kept byte for byte).
 *
 * The content is verified as it is read: the closing PUT is only sent once
 * the digest and size check out, and a failed upload is cancelled (DELETE).
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { OcikitError } from '../errors.js';
import { DigestingStream, VerifyStream, verifiesFor } from '../digest/verify-stream.js';
import type { Descriptor } from '../spec/types.js';
import { headerValue } from './client.js';
import { drain, type HttpResponse } from './http.js';
import { repositoryScope } from './auth.js';
import type { RepoAccess } from './blobs.js';

export async function uploadBlob(r: RepoAccess, desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
  const what = `pushing blob ${desc.digest} to ${r.description}`;
  const source = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
  // Content that another target already streams through a verifier for this very descriptor
  // (every ocikit fetch does) is not hashed a second time.
  let stream: Readable = source;
  if (!verifiesFor(source, desc)) {
    const verify = new VerifyStream({ digest: desc.digest, size: desc.size, source: `content for ${desc.digest}` });
    source.on('error', (err) => verify.destroy(err));
    stream = source.pipe(verify);
  }
  // A small blob can be read, and fail its check, before the upload is open: keep the error on
  // the stream (`errored`, which the transport and finished() report) instead of crashing.
  stream.on('error', () => undefined);

  const mounted = await tryMount(r, desc, what);
  if (mounted === null) {
    source.destroy();
    stream.destroy();
    return;
  }
  let location: URL;
  try {
    location = mounted ?? (await startUpload(r, what));
  } catch (err) {
    source.destroy();
    stream.destroy();
    throw err;
  }
  try {
    // Small blobs: one chunk as large as the blob. Large ones (or larger than a chunk, when the
    // registry wants chunks): chunks when asked for, else streamed.
    const small = desc.size <= Math.min(r.client.monolithicLimit, r.client.chunkSize ?? Infinity);
    const chunkSize = small ? Infinity : r.client.chunkSize;
    // What the closing PUT carries: nothing after a streamed PATCH, else the last chunk (or the whole blob).
    let last: Buffer[] = [];
    if (chunkSize === undefined) location = await patchStream(r, location, stream, desc.size, what);
    else ({ location, last } = await patchChunks(r, location, stream, chunkSize, what));
    // The content ended cleanly: VerifyStream checked digest and size. Close the upload.
    await closeUpload(r, location, desc.digest, last, what);
  } catch (err) {
    await cancel(r, location);
    source.destroy();
    stream.destroy();
    throw err;
  }
  remember(r, desc.digest);
}

/**
 * Content whose digest is not known in advance (`blob push` of stdin, a file
 * of an artifact): hashed as it streams in one PATCH of unknown length
 * (chunked transfer encoding, as docker push sends layers), and the upload
 * closed with the digest that came out. Memory stays flat in blob size, the
 * content is read once, and nothing is spooled to disk. Returns the
 * descriptor stored.
 */
export async function uploadStream(r: RepoAccess, content: Readable, mediaType: string): Promise<Descriptor> {
  const what = `pushing a blob to ${r.description}`;
  const hasher = new DigestingStream('sha256');
  content.on('error', (err) => hasher.destroy(err));
  const stream = content.pipe(hasher);
  stream.on('error', () => undefined);
  let location: URL;
  try {
    location = await startUpload(r, what);
  } catch (err) {
    content.destroy();
    stream.destroy();
    throw err;
  }
  try {
    location = await patchStream(r, location, stream, undefined, what);
    const desc: Descriptor = { mediaType, digest: hasher.digest, size: hasher.bytes };
    await closeUpload(r, location, desc.digest, [], `pushing blob ${desc.digest} to ${r.description}`);
    remember(r, desc.digest);
    return desc;
  } catch (err) {
    await cancel(r, location);
    content.destroy();
    stream.destroy();
    throw err;
  }
}

/** The closing `PUT ?digest=` of an upload, with what is left to send (nothing after a streamed PATCH). */
async function closeUpload(r: RepoAccess, location: URL, digest: string, last: Buffer[], what: string): Promise<void> {
  const put = await r.client.request({
    method: 'PUT',
    url: withDigest(location, digest),
    headers: { 'Content-Type': 'application/octet-stream' },
    body: last,
    scopes: r.scopes,
    what,
  });
  if (put.status !== 201 && put.status !== 204) await r.client.fail(put, what);
  drain(put.body);
  checkDigestHeader(put, digest, what);
}

/**
 * The whole blob in one PATCH whose body is the verifying (or hashing)
 * stream; of unknown `size`, it goes with chunked transfer encoding. The
 * registry's 202 proves it read every byte, not that the bytes match: the
 * verifier's verdict comes at the end of the stream, possibly after the
 * answer, so it is awaited before the upload may be closed.
 */
async function patchStream(r: RepoAccess, location: URL, stream: Readable, size: number | undefined, what: string): Promise<URL> {
  const verified = finished(stream);
  verified.catch(() => undefined);
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (size !== undefined) headers['Content-Length'] = String(size);
  if (size !== undefined && size > 0) headers['Content-Range'] = `0-${size - 1}`;
  const res = await r.client.request({ method: 'PATCH', url: location, headers, body: stream, scopes: r.scopes, what });
  if (res.status !== 202) {
    // Refused before reading it all: stop the source, so nothing waits for a reader that left.
    stream.destroy();
    await r.client.fail(res, what);
  }
  drain(res.body);
  await verified;
  return locationOf(res, what);
}

/**
 * PATCH chunks of `chunkSize` from memory, one in flight while the next is
 * read (and hashed): disk and network overlap, memory stays at two chunks.
 * Returns the upload's location and the bytes left for the closing PUT; with
 * an infinite chunk size that is the whole blob.
 */
async function patchChunks(r: RepoAccess, location: URL, stream: Readable, chunkSize: number, what: string): Promise<{ location: URL; last: Buffer[] }> {
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let inflight: Promise<URL> | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= chunkSize) {
      if (inflight) location = await inflight;
      inflight = patchChunk(r, location, pending, offset, what);
      // Awaited at the next chunk or at the end; until then a failure must not count as unhandled.
      inflight.catch(() => undefined);
      offset += pendingBytes;
      pending = [];
      pendingBytes = 0;
    }
  }
  if (inflight) location = await inflight;
  return { location, last: pending };
}

/**
 * Mount from a sibling repository when we know one holds the blob. Returns
 * null when mounted, the upload URL when the registry opened an upload
 * instead (202), undefined when there was nothing to mount from or the
 * attempt failed (then an ordinary upload follows).
 */
async function tryMount(r: RepoAccess, desc: Descriptor, what: string): Promise<URL | null | undefined> {
  const homes = r.client.blobHomes.get(desc.digest);
  const from = homes?.find((h) => h !== r.repository);
  if (!from) return undefined;
  const url = r.client.url(r.repository, `blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`);
  let res: HttpResponse;
  try {
    res = await r.client.request({ method: 'POST', url, scopes: [...r.scopes, repositoryScope(from, false)], what: `${what} (mount from ${from})` });
  } catch {
    return undefined;
  }
  drain(res.body);
  if (res.status === 201) {
    r.client.transport.log(`mounted ${desc.digest} from ${from} into ${r.repository}`);
    remember(r, desc.digest);
    return null;
  }
  if (res.status === 202) return locationOf(res, what);
  return undefined;
}

async function startUpload(r: RepoAccess, what: string): Promise<URL> {
  const res = await r.client.request({ method: 'POST', url: r.client.url(r.repository, 'blobs/uploads/'), headers: { 'Content-Length': '0' }, scopes: r.scopes, what });
  if (res.status !== 202) await r.client.fail(res, what);
  drain(res.body);
  return locationOf(res, what);
}

async function patchChunk(r: RepoAccess, location: URL, chunk: Buffer[], offset: number, what: string): Promise<URL> {
  const length = chunk.reduce((n, b) => n + b.length, 0);
  const res = await r.client.request({
    method: 'PATCH',
    url: location,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + length - 1}` },
    body: chunk,
    scopes: r.scopes,
    what,
  });
  if (res.status !== 202) await r.client.fail(res, what);
  drain(res.body);
  return locationOf(res, what);
}

async function cancel(r: RepoAccess, location: URL): Promise<void> {
  try {
    const res = await r.client.request({ method: 'DELETE', url: location, scopes: r.scopes, what: 'cancelling an upload' });
    drain(res.body);
  } catch {
    // Best effort: the registry expires abandoned uploads by itself.
  }
}

function locationOf(res: HttpResponse, what: string): URL {
  const loc = headerValue(res.headers.location);
  if (!loc) throw new OcikitError('REGISTRY_ERROR', `${what}: the registry answered ${res.status} without a Location for the upload`, { status: res.status });
  return new URL(loc, res.url);
}

/** Add `digest=` to an upload URL without re-encoding the registry's own query (its state token must stay verbatim). */
function withDigest(location: URL, digest: string): URL {
  const href = location.href;
  const hashAt = href.indexOf('#');
  const base = hashAt >= 0 ? href.slice(0, hashAt) : href;
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return new URL(`${base}${sep}digest=${encodeURIComponent(digest)}`);
}

function checkDigestHeader(res: HttpResponse, digest: string, what: string): void {
  const got = headerValue(res.headers['docker-content-digest']);
  if (got && got.split(':')[0] === digest.split(':')[0] && got !== digest) {
    throw new OcikitError('DIGEST_MISMATCH', `${what}: the registry stored it as ${got}`, { digest, expected: digest, actual: got });
  }
}

function remember(r: RepoAccess, digest: string): void {
  r.client.blobHomes.add(digest, r.repository);
}

/** Note that `repository` holds `digest` (a HEAD found it), for later mounts. */
export function rememberBlob(r: RepoAccess, digest: string): void {
  remember(r, digest);
}
