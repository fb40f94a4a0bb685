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
  const first = await r.client.request({ method: 'GET', url: blobUrl(r, desc.digest), scopes: r.scopes, what });
  if (first.status === 404) {
    drain(first.body);
    throw new OcikitError('NOT_FOUND', `blob ${desc.digest} not found in ${r.description}`, { digest: desc.digest, status: 404 });
  }
  if (first.status !== 200) await r.client.fail(first, what);
  const source = Readable.from(resumableBody(r, desc, first, what));
  const verify = new VerifyStream({ digest: desc.digest, size: desc.size, source: `${r.description}` });
  source.on('error', (err) => verify.destroy(err));
  verify.on('close', () => source.destroy());
  // A small blob can arrive, and fail verification, before the caller starts reading:
  // keep the error on the stream (`errored`, which pipeline reports) instead of crashing the process.
  verify.on('error', () => undefined);
  return source.pipe(verify);
}

async function* resumableBody(r: RepoAccess, desc: Descriptor, first: HttpResponse, what: string): AsyncGenerator<Buffer> {
  let res = first;
  let offset = 0;
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
        const start = /bytes\s+(\d+)-/.exec(headerValue(res.headers['content-range']) ?? '');
        if (!start || Number(start[1]) !== offset) {
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
