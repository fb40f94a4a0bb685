/** Small pieces of HTTP that the handlers share: ranges, Accept, pagination, bounded bodies. */
import type { IncomingMessage } from 'node:http';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { RegistryHttpError } from './errors.js';
import { watchStall, type StallLimit } from './stall-guard.js';

export type ByteRange = { start: number; end: number };

/**
 * A `Range: bytes=...` header against a blob of `size` bytes: undefined when
 * absent, the (inclusive) range to send, or a RegistryHttpError 416. One
 * range per request (what registry clients send); multiple ranges and
 * malformed headers are refused with 416 rather than silently ignored, so a
 * client never mistakes a whole blob for the part it asked for.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  const unsatisfiable = () =>
    new RegistryHttpError(416, 'SIZE_INVALID', `range ${JSON.stringify(header.slice(0, 100))} cannot be served from a blob of ${size} bytes`, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable();
  const first = m[1] === '' ? undefined : Number(m[1]);
  const last = m[2] === '' ? undefined : Number(m[2]);
  if ((first !== undefined && !Number.isSafeInteger(first)) || (last !== undefined && !Number.isSafeInteger(last))) throw unsatisfiable();
  if (first === undefined) {
    // Suffix range: the last N bytes.
    if (last === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - last!), end: size - 1 };
  }
  if (first >= size || (last !== undefined && last < first)) throw unsatisfiable();
  return { start: first, end: last === undefined ? size - 1 : Math.min(last, size - 1) };
}

/**
 * Whether an `Accept` header admits `mediaType`. No header, a wildcard, or a
 * list that names no manifest type at all (curl's `application/json`) admit
 * anything; a client that lists manifest types and not this one (an old
 * docker without OCI support) is told the manifest is not available to it,
 * as distribution does, rather than sent a document it cannot parse.
 */
export function acceptsMediaType(accept: string | string[] | undefined, mediaType: string, isManifestType: (t: string) => boolean): boolean {
  if (accept === undefined) return true;
  const types: string[] = [];
  for (const part of (Array.isArray(accept) ? accept.join(',') : accept).split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    if (params.some((p) => /^q\s*=\s*0(\.0*)?$/.test(p))) continue;
    types.push(type);
  }
  if (types.length === 0) return true;
  if (types.includes('*/*') || types.includes('application/*') || types.includes(mediaType.toLowerCase())) return true;
  return !types.some(isManifestType);
}

export interface Page<T> {
  items: T[];
  /** Query string for the next page, when there is one. */
  next?: string;
}

/** Most items one list response carries; a client asking for more gets a Link to the rest. */
const MAX_PAGE = 1000;

/**
 * `n`/`last` pagination over a sorted list: items strictly after `last`, at
 * most `n` (capped at MAX_PAGE), and the query of the next page when more
 * remain. `n=0` is an empty page with no Link, as the spec requires.
 */
export function paginate(sorted: string[], query: URLSearchParams, compare: (a: string, b: string) => number): Page<string> {
  const nParam = query.get('n');
  const last = query.get('last');
  let n: number | undefined;
  if (nParam !== null && nParam !== '') {
    if (!/^\d{1,9}$/.test(nParam)) throw new RegistryHttpError(400, 'UNSUPPORTED', `n must be a non-negative integer, got ${JSON.stringify(nParam.slice(0, 20))}`);
    n = Number(nParam);
  }
  let items = last !== null && last !== '' ? sorted.filter((t) => compare(t, last) > 0) : sorted;
  if (n === 0) return { items: [] };
  const limit = Math.min(n ?? items.length, MAX_PAGE);
  if (items.length <= limit) return { items };
  items = items.slice(0, limit);
  const next = new URLSearchParams({ n: String(n ?? limit), last: items[items.length - 1]! });
  return { items, next: next.toString() };
}

/**
 * Lexical order as the spec states it (case-insensitive), with a byte-order
 * tie-break so that the order is total and `last` is unambiguous.
 */
export function lexical(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How much of a refused body (over a size limit) is still read and dropped,
 * so that a client still sending it gets the answer instead of a reset
 * connection; past that the connection is closed.
 */
export const BODY_DRAIN_CAP = 64 * 1024 * 1024;

/** The request's Content-Length, when it has a valid one. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

/**
 * Read a request body of at most `limit` bytes, else 413 (drained up to
 * `drainCap`, see BODY_DRAIN_CAP). A body that stalls is cut (TIMEOUT).
 */
export async function readBody(req: IncomingMessage, limit: number, what: string, stall: StallLimit, drainCap = BODY_DRAIN_CAP): Promise<Buffer> {
  const tooLarge = (close: boolean) =>
    new RegistryHttpError(413, 'MANIFEST_INVALID', `${what} is larger than ${limit} bytes`, { headers: close ? { Connection: 'close' } : {}, detail: { limit } });
  const declared = declaredLength(req);
  if (declared !== undefined && declared > drainCap) throw tooLarge(true);
  const chunks: Buffer[] = [];
  let total = 0;
  const watch = watchStall(stall, what, (err) => req.destroy(err));
  try {
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      watch.progress((chunk as Buffer).length);
      if (total > drainCap) throw tooLarge(true);
      if (total <= limit) chunks.push(chunk as Buffer);
    }
  } finally {
    watch.stop();
  }
  if (total > limit) throw tooLarge(false);
  return Buffer.concat(chunks, total);
}

/** Read and drop the rest of a refused request body, cut if it stalls. */
export async function discardBody(req: IncomingMessage, stall: StallLimit): Promise<void> {
  const watch = watchStall(stall, 'a refused request body', (err) => req.destroy(err));
  try {
    for await (const chunk of req) watch.progress((chunk as Buffer).length);
  } finally {
    watch.stop();
  }
}

/**
 * Bytes `start`..`end` of a stream, for targets that cannot seek: the
 * skipped prefix is read and dropped, and the source is closed as soon as
 * the range is out. Memory stays at one chunk.
 */
export function sliceStream(source: Readable, range: ByteRange): Readable {
  async function* slice(): AsyncGenerator<Buffer> {
    let pos = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        const chunkStart = pos;
        pos += buf.length;
        if (pos <= range.start) continue;
        yield buf.subarray(Math.max(0, range.start - chunkStart), Math.min(buf.length, range.end + 1 - chunkStart));
        if (pos > range.end) break;
      }
    } finally {
      source.destroy();
    }
  }
  return Readable.from(slice(), { objectMode: false });
}

/**
 * Holds back the last chunk until the source ends cleanly. Targets verify a
 * blob's digest when its last byte has been read; without this, a corrupt
 * blob would reach the client whole (Content-Length satisfied) before the
 * mismatch is known. With it, the client gets a short body and the
 * connection is cut, which every client treats as a failed download.
 */
export class HoldLastChunk extends Transform {
  private held?: Buffer;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.held);
  }
}
