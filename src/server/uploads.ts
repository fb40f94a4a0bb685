/**
 * Blob upload sessions (`POST /blobs/uploads/`, `PATCH`, `PUT ?digest=`).
 *
 * A session is a temp file in the layout's root, named `.ocikit-tmp-<pid>-...`
 * like every other ocikit temp file (so `gc` removes it once this process is
 * gone, and leaves it alone while it runs), plus a running sha256 and the
 * byte count. Chunks are streamed to the file as they arrive: memory does
 * not grow with blob size. The closing PUT compares the digest the client
 * names with the content; only a match is moved into `blobs/` (by
 * LayoutDir, under its write lease). A mismatch, a chunk that breaks off or
 * stalls, a blob that grows past the size cap, or a session left idle
 * deletes the file: the layout is never touched by a failed upload.
 *
 * Limits, because a writable server's disk and file descriptors are finite:
 * a blob may not grow past `maxBlobSize` (413, checked against Content-Length
 * before a byte is written and against the bytes as they arrive), at most
 * `maxSessions` uploads are open at once (429 with Retry-After), and a
 * session with no request for `idleMs` is dropped with its file (404
 * BLOB_UPLOAD_UNKNOWN afterwards).
 *
 * Session ids are random UUIDs, checked by the router's grammar and then
 * looked up here together with the repository they were opened for.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { randomUUID, type Hash } from 'node:crypto';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDigestHash, parseDigest } from '../digest/digest.js';
import { tempPathFor } from '../fs/atomic.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import type { UploadStore } from '../graph/target.js';
import { RegistryHttpError } from './errors.js';
import { BODY_DRAIN_CAP, declaredLength, discardBody } from './http-util.js';
import { DEFAULT_STALL_LIMIT, ProgressTap, watchStall, type StallLimit } from './stall-guard.js';

export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  readonly file: string;
  /** Bytes received so far. */
  offset: number;
  /** sha256 of those bytes, kept running across chunks. */
  readonly hash: Hash;
  /** A request is streaming into this session right now. */
  busy: boolean;
  lastActive: number;
}

export interface UploadSessionsOptions {
  /** Sessions open at once; more get 429 (default 256). */
  maxSessions?: number;
  /** A session without a request for this long is dropped with its file (default 10 minutes). */
  idleMs?: number;
  /** Largest blob an upload may grow to, in bytes (default DEFAULT_MAX_BLOB_SIZE). */
  maxBlobSize?: number;
  /** How slow a chunk's body may arrive before it is cut (default DEFAULT_STALL_LIMIT). */
  stall?: StallLimit;
}

/**
 * 16 GiB: above the per-layer limits of the big public registries (Docker
 * Hub and GHCR stop at 10 GB), so any image they can hold can be pushed
 * here, while a client that sends without end is stopped long before a
 * typical disk fills. Lower it (`--max-blob-size`) on a small or shared disk.
 */
export const DEFAULT_MAX_BLOB_SIZE = 16 * 1024 ** 3;

/**
 * An upload is idle only between a client's requests (after POST, between
 * chunks); clients send the next request at once, or after waiting for their
 * own concurrency limit. Ten minutes covers that with room to spare, and
 * bounds what abandoned uploads hold to minutes instead of hours.
 */
export const DEFAULT_UPLOAD_IDLE_MS = 10 * 60 * 1000;

/**
 * Counts and hashes what flows through into the session, up to `room`
 * bytes. Past that the rest of the body is read and dropped (so that the
 * client, still sending, gets its 413 rather than a reset connection), up
 * to BODY_DRAIN_CAP; past that the body breaks off.
 */
class SessionTap extends Transform {
  bytes = 0;
  /** Bytes dropped because they did not fit. */
  dropped = 0;
  constructor(
    private readonly hash: Hash,
    private readonly room: number,
    private readonly tooLarge: (close: boolean) => RegistryHttpError,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.dropped === 0 && this.bytes + chunk.length <= this.room) {
      this.bytes += chunk.length;
      this.hash.update(chunk);
      cb(null, chunk);
      return;
    }
    this.dropped += chunk.length;
    cb(this.dropped > BODY_DRAIN_CAP ? this.tooLarge(true) : null);
  }
}

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly maxSessions: number;
  private readonly idleMs: number;
  private readonly maxBlobSize: number;
  private readonly stall: StallLimit;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly layout: UploadStore,
    opts: UploadSessionsOptions = {},
  ) {
    this.maxSessions = opts.maxSessions ?? 256;
    this.idleMs = opts.idleMs ?? DEFAULT_UPLOAD_IDLE_MS;
    this.maxBlobSize = opts.maxBlobSize ?? DEFAULT_MAX_BLOB_SIZE;
    this.stall = opts.stall ?? DEFAULT_STALL_LIMIT;
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, this.idleMs)).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  async create(repository: string): Promise<UploadSession> {
    if (this.sessions.size >= this.maxSessions) {
      throw new RegistryHttpError(429, 'TOOMANYREQUESTS', `${this.sessions.size} uploads are open; finish or cancel some first`, { headers: { 'Retry-After': '5' } });
    }
    const file = tempPathFor(path.join(this.layout.dir, 'upload'), this.layout.dir);
    // 'wx': the name is fresh and random; never reuse or follow an existing path.
    await (await fsp.open(file, 'wx', 0o644)).close();
    const session: UploadSession = { id: randomUUID(), repository, file, offset: 0, hash: createDigestHash('sha256'), busy: false, lastActive: Date.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string, repository: string): UploadSession {
    const s = this.sessions.get(id);
    // Expired but not yet swept: gone all the same, so the answer does not depend on the sweeper's timing.
    if (s && this.expired(s)) void this.discard(s).catch(() => undefined);
    if (!s || s.repository !== repository || this.expired(s)) throw new RegistryHttpError(404, 'BLOB_UPLOAD_UNKNOWN', `no upload session ${id} for repository ${repository}`, { detail: { session: id } });
    return s;
  }

  /**
   * Append a request body to the session. `range`, from a Content-Range
   * header, must start where the session ends (else 416) and must match the
   * bytes received (else the session fails). A body that would take the
   * blob past the size cap is refused with 413 and the session dropped; one
   * that stalls is cut. Any failure mid-body drops the session: its hash
   * already saw bytes that may not all be on disk.
   */
  async append(s: UploadSession, req: IncomingMessage, range?: { start: number; end: number }): Promise<void> {
    if (s.busy) throw outOfOrder(s, 'another request is writing to this upload');
    if (range && range.start !== s.offset) throw outOfOrder(s, `chunk starts at byte ${range.start}, but the upload has ${s.offset} bytes`);
    const room = this.maxBlobSize - s.offset;
    const tooLarge = (close: boolean) =>
      new RegistryHttpError(413, 'SIZE_INVALID', `the blob would be larger than ${this.maxBlobSize} bytes, the most this server accepts (--max-blob-size); the upload is cancelled`, {
        headers: close ? { Connection: 'close' } : {},
        detail: { limit: this.maxBlobSize },
      });
    const declared = declaredLength(req);
    if (declared !== undefined && declared > room) {
      await this.discard(s);
      // Nothing of it will be kept: read it only to answer in an orderly way, and not at all when it is huge.
      if (declared - room > BODY_DRAIN_CAP) throw tooLarge(true);
      await discardBody(req, this.stall);
      throw tooLarge(false);
    }
    s.busy = true;
    s.lastActive = Date.now();
    const tap = new SessionTap(s.hash, room, tooLarge);
    const watch = watchStall(this.stall, `upload ${s.id}`, (err) => req.destroy(err));
    try {
      await pipeline(req, new ProgressTap(watch.progress), tap, createWriteStream(s.file, { flags: 'a' }));
    } catch (err) {
      await this.discard(s);
      throw err;
    } finally {
      watch.stop();
      s.busy = false;
      s.lastActive = Date.now();
    }
    if (tap.dropped > 0) {
      await this.discard(s);
      throw tooLarge(false);
    }
    s.offset += tap.bytes;
    if (range && range.end - range.start + 1 !== tap.bytes) {
      await this.discard(s);
      throw new RegistryHttpError(400, 'BLOB_UPLOAD_INVALID', `Content-Range announced ${range.end - range.start + 1} bytes, the body had ${tap.bytes}; the upload is cancelled`);
    }
  }

  /**
   * Close the session: the content must hash to every digest the client
   * named (the spec allows several). On a match the file becomes the blob,
   * filed under the first; otherwise it is deleted and 400 DIGEST_INVALID.
   */
  async finish(s: UploadSession, digests: string[]): Promise<Descriptor> {
    if (s.busy) throw outOfOrder(s, 'another request is writing to this upload');
    s.busy = true;
    this.sessions.delete(s.id);
    try {
      for (const digest of digests) {
        const { algorithm } = parseDigest(digest);
        const actual = algorithm === 'sha256' ? `sha256:${s.hash.copy().digest('hex')}` : await hashFile(s.file, algorithm);
        if (actual !== digest) {
          throw new RegistryHttpError(400, 'DIGEST_INVALID', `the uploaded content (${s.offset} bytes) hashes to ${actual}, not ${digest}; nothing was stored`, {
            detail: { expected: digest, actual },
          });
        }
      }
      const desc: Descriptor = { mediaType: MediaType.OctetStream, digest: digests[0]!, size: s.offset };
      await this.layout.commitVerifiedFile(s.file, desc);
      return desc;
    } finally {
      await fsp.rm(s.file, { force: true });
    }
  }

  async discard(s: UploadSession): Promise<void> {
    this.sessions.delete(s.id);
    await fsp.rm(s.file, { force: true });
  }

  /** Drop every session and its file (server shutdown). */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.discard(s)));
  }

  /** No request is writing to it and none came for idleMs. */
  private expired(s: UploadSession): boolean {
    return !s.busy && Date.now() - s.lastActive > this.idleMs;
  }

  private async sweep(): Promise<void> {
    for (const s of [...this.sessions.values()]) if (this.expired(s)) await this.discard(s).catch(() => undefined);
  }
}

/** The `Range` header value of a session, as registries send it: `0-<last byte>` (`0-0` while empty). */
function sessionRange(s: UploadSession): string {
  return `0-${Math.max(s.offset - 1, 0)}`;
}

function sessionLocation(s: UploadSession): string {
  return `/v2/${s.repository}/blobs/uploads/${s.id}`;
}

/** Headers every response about a live session carries. */
export function sessionHeaders(s: UploadSession): Record<string, string> {
  return { Location: sessionLocation(s), Range: sessionRange(s), 'Blob-Upload-Session-ID': s.id, 'Docker-Upload-UUID': s.id };
}

function outOfOrder(s: UploadSession, message: string): RegistryHttpError {
  return new RegistryHttpError(416, 'BLOB_UPLOAD_INVALID', message, { headers: sessionHeaders(s) });
}

/**
 * A `Content-Range` of an upload chunk: `<start>-<end>` (the spec's form),
 * also accepted with a `bytes ` prefix and a `/<total>` suffix as some
 * clients send it. Malformed → 416, as the spec requires.
 */
export function parseChunkRange(header: string | undefined, s: UploadSession): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/.exec(header);
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) throw outOfOrder(s, `invalid Content-Range ${JSON.stringify(header.slice(0, 100))}: expected <start>-<end>`);
  return { start, end };
}

async function hashFile(file: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const hash = createDigestHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}
