/**
 * Blob reads: HEAD for existence and size, GET streamed through a
 * VerifyStream. A download that breaks off (connection reset, truncated
 * body) resumes with `Range: bytes=<received>-` instead of starting over, up
 * to the transport's retry count; the verifier still sees every byte exactly
 * once. A download that stalls (no data for the idle timeout) is resumed
 * once: a second stall ends it with TIMEOUT, so a registry that keeps going
 * quiet costs at most two timeouts, not one per retry.
 */
import { Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { VerifyStream } from '../digest/verify-stream.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import type { RegistryClient } from './client.js';
import { headerValue } from './client.js';
import { bodyChunks, DEFAULT_RETRIES, drain, IdleTimeout, networkError, timeoutError, type HttpResponse } from './http.js';

/** Resumes after a stall (see above). */
const MAX_STALL_RESUMES = 1;

export interface RepoAccess {
  client: RegistryClient;
  repository: string;
  /** Token scopes for this repository (pull, or pull,push for a destination). */
  scopes: string[];
  /** "registry HOST/REPO", for messages. */
  description: string;
}

function blobUrl(r: RepoAccess, digest: string): URL {
  return r.client.url(r.repository, `blobs/${digest}`);
}

/** The size of a blob, or undefined when the repository does not have it. */
export async function headBlob(r: RepoAccess, digest: string): Promise<number | undefined> {
  const what = `checking blob ${digest} in ${r.description}`;
  const res = await r.client.request({ method: 'HEAD', url: blobUrl(r, digest), scopes: r.scopes, what });
  drain(res.body);
  if (res.status === 404) return undefined;
  if (res.status !== 200) return r.client.fail(res, what);
  const length = Number(headerValue(res.headers['content-length']));
  return Number.isSafeInteger(length) ? length : undefined;
}

export async function statBlob(r: RepoAccess, digest: string): Promise<Descriptor | undefined> {
  const size = await headBlob(r, digest);
  return size === undefined ? undefined : { mediaType: MediaType.OctetStream, digest, size };
}

/** The blob's bytes, verified against `desc` while they stream; resumes broken downloads. */
export async function fetchBlob(r: RepoAccess, desc: Descriptor): Promise<Readable> {
  const what = `fetching blob ${desc.digest} from ${r.description}`;
  const first = await getBlob(r, desc, what);
  const source = Readable.from(resumableBody(r, desc, first, what, 0));
  const verify = new VerifyStream({ digest: desc.digest, size: desc.size, source: `${r.description}` });
  source.on('error', (err) => verify.destroy(err));
  verify.on('close', () => source.destroy());
  // A small blob can arrive, and fail verification, before the caller starts reading:
  // keep the error on the stream (`errored`, which pipeline reports) instead of crashing the process.
  verify.on('error', () => undefined);
  return source.pipe(verify);
}

/**
 * The blob from byte `offset` on, for a download that resumes a partial file
 * (fs/partial-download.ts): `Range: bytes=<offset>-`, taken only when the
 * registry answers 206 with a Content-Range that starts there; any other
 * answer (200 with the whole blob, another range) starts over from byte 0,
 * which `start` then says. Not verified: the caller hashes the bytes it kept
 * and verifies the whole. Breaks in the middle resume as fetchBlob's do.
 */
export async function fetchBlobFrom(r: RepoAccess, desc: Descriptor, offset: number): Promise<{ start: number; body: Readable }> {
  const what = `fetching blob ${desc.digest} from ${r.description}`;
  if (offset > 0 && offset < desc.size) {
    const res = await r.client.request({ method: 'GET', url: blobUrl(r, desc.digest), headers: { Range: `bytes=${offset}-` }, scopes: r.scopes, what });
    if (res.status === 206 && contentRangeStart(res) === offset) return { start: offset, body: Readable.from(resumableBody(r, desc, res, what, offset)) };
    if (res.status === 200) return { start: 0, body: Readable.from(resumableBody(r, desc, res, what, 0)) };
    drain(res.body);
    if (res.status === 404) throw blobNotFound(r, desc);
    if (res.status !== 206 && res.status !== 416) await r.client.fail(res, what);
    r.client.transport.log(`${what}: asked to resume at byte ${offset}, the registry answered ${res.status}; starting over`);
  }
  return { start: 0, body: Readable.from(resumableBody(r, desc, await getBlob(r, desc, what), what, 0)) };
}

/** GET of the whole blob: the response, once it is a 200. */
async function getBlob(r: RepoAccess, desc: Descriptor, what: string): Promise<HttpResponse> {
  const first = await r.client.request({ method: 'GET', url: blobUrl(r, desc.digest), scopes: r.scopes, what });
  if (first.status === 404) {
    drain(first.body);
    throw blobNotFound(r, desc);
  }
  if (first.status !== 200) await r.client.fail(first, what);
  return first;
}

function blobNotFound(r: RepoAccess, desc: Descriptor): OcikitError {
  return new OcikitError('NOT_FOUND', `blob ${desc.digest} not found in ${r.description}`, { digest: desc.digest, status: 404 });
}

/** Where a 206's Content-Range starts (`bytes N-M/T`), or undefined. */
function contentRangeStart(res: HttpResponse): number | undefined {
  const m = /^bytes\s+(\d+)-/.exec(headerValue(res.headers['content-range']) ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The body of `first`, which starts at byte `start` of the blob, resumed where it breaks off. */
async function* resumableBody(r: RepoAccess, desc: Descriptor, first: HttpResponse, what: string, start: number): AsyncGenerator<Buffer> {
  let res = first;
  let offset = start;
  /** Bytes to drop from the start of the current response (a server that ignored our Range). */
  let skip = 0;
  let resumes = 0;
  let stalls = 0;
  const maxResumes = r.client.transport.opts.retries ?? DEFAULT_RETRIES;
  for (;;) {
    try {
      for await (const chunk of bodyChunks(res.body)) {
        let c = chunk;
        if (skip > 0) {
          const drop = Math.min(skip, c.length);
          skip -= drop;
          c = c.subarray(drop);
          if (c.length === 0) continue;
        }
        offset += c.length;
        yield c;
      }
      if (offset >= desc.size) return;
      throw Object.assign(new Error(`the body ended after ${offset} of ${desc.size} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    } catch (err) {
      if (err instanceof OcikitError) throw err;
      const secrets = r.client.transport.secrets;
      if (err instanceof IdleTimeout) {
        if (stalls >= MAX_STALL_RESUMES || resumes >= maxResumes) throw timeoutError(err, res.url, secrets, `${what}: at byte ${offset} of ${desc.size}`);
        stalls++;
      } else if (resumes >= maxResumes) {
        throw networkError(err as NodeJS.ErrnoException, res.url, secrets);
      }
      resumes++;
      r.client.transport.log(`${what}: interrupted at byte ${offset} (${(err as Error).message}); resuming (${resumes}/${maxResumes})`);
      res = await r.client.request({ method: 'GET', url: blobUrl(r, desc.digest), headers: { Range: `bytes=${offset}-` }, scopes: r.scopes, what });
      if (res.status === 206) {
        if (contentRangeStart(res) !== offset) {
          drain(res.body);
          throw new OcikitError('REGISTRY_ERROR', `${what}: asked to resume at byte ${offset}, the registry sent another range`);
        }
        skip = 0;
      } else if (res.status === 200) {
        skip = offset;
      } else {
        await r.client.fail(res, what);
      }
    }
  }
}
