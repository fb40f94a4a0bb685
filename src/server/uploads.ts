/**
 * Blob upload sessions (`POST /blobs/uploads/`, `PATCH`, `PUT ?digest=`).
 *
 * A session is a temp file in the layout's root, named `.ocikit-tmp-<pid>-...`
 * like every other ocikit temp file (so `gc` removes it once this process is
 * gone, and leaves it alone while it runs), plus a running sha256 and the
 * byte count. Chunks are streamed to the file as they arrive: memory does
 * not grow with blob size. The closing PUT compares the digest the client
 * names with the content; only a match is moved into `blobs/` (by
 * LayoutDir, under its write lease). A mismatch, a chunk that breaks off, or
 * a session left idle deletes the file: the layout is never touched by a
 * failed upload.
 *
 * Session ids are random UUIDs, checked by the router's grammar and then
 * looked up here together with the repository they were opened for.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { randomUUID, type Hash } from 'node:crypto';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDigestHash, parseDigest } from '../digest/digest.js';
import { tempPathFor } from '../fs/atomic.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import type { LayoutDir } from '../targets/layout-dir.js';
import { RegistryHttpError } from './errors.js';

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
  /** A session without a request for this long is dropped with its file (default 1 hour). */
  idleMs?: number;
}

/** Counts and hashes what flows through into the session. */
class SessionTap extends Transform {
  bytes = 0;
  constructor(private readonly hash: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly maxSessions: number;
  private readonly idleMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly layout: LayoutDir,
    opts: UploadSessionsOptions = {},
  ) {
    this.maxSessions = opts.maxSessions ?? 256;
    this.idleMs = opts.idleMs ?? 60 * 60 * 1000;
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
    if (!s || s.repository !== repository) throw new RegistryHttpError(404, 'BLOB_UPLOAD_UNKNOWN', `no upload session ${id} for repository ${repository}`, { detail: { session: id } });
    return s;
  }

  /**
   * Append a request body to the session. `range`, from a Content-Range
   * header, must start where the session ends (else 416) and must match the
   * bytes received (else the session fails). Any failure mid-body drops the
   * session: its hash already saw bytes that may not all be on disk.
   */
  async append(s: UploadSession, body: Readable, range?: { start: number; end: number }): Promise<void> {
    if (s.busy) throw outOfOrder(s, 'another request is writing to this upload');
    if (range && range.start !== s.offset) throw outOfOrder(s, `chunk starts at byte ${range.start}, but the upload has ${s.offset} bytes`);
    s.busy = true;
    s.lastActive = Date.now();
    const tap = new SessionTap(s.hash);
    try {
      await pipeline(body, tap, createWriteStream(s.file, { flags: 'a' }));
    } catch (err) {
      await this.discard(s);
      throw err;
    } finally {
      s.busy = false;
      s.lastActive = Date.now();
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

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.idleMs;
    for (const s of [...this.sessions.values()]) if (!s.busy && s.lastActive < cutoff) await this.discard(s).catch(() => undefined);
  }
}

/** The `Range` header value of a session, as registries send it: `0-<last byte>` (`0-0` while empty). */
export function sessionRange(s: UploadSession): string {
  return `0-${Math.max(s.offset - 1, 0)}`;
}

export function sessionLocation(s: UploadSession): string {
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
