/**
 * A blob stored as a byte range of a local file (a blob file of a layout, an
 * entry of an uncompressed archive), read with positional reads and verified
 * against its descriptor as it goes.
 *
 * Two ways to read one:
 * - as a stream (`VerifiedFileRange`, what `Target.fetch` returns), which any
 *   consumer can pipe anywhere; it fails before 'end' when the bytes do not
 *   match, like VerifyStream;
 * - by a consumer that writes to a file or socket itself: `detach()` hands it
 *   the range, and `copyVerifiedRange` cycles three reused buffers so that
 *   reading the next chunk and writing this one (in libuv's thread pool)
 *   overlap hashing this one on the main thread. This is what lets `pack`
 *   run near the speed of the disk: a stream allocates a fresh buffer per
 *   chunk, and at a GiB that costs more than hashing it.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { IntegrityError, fromFsError } from '../errors.js';
import { createDigestHash, parseDigest, type SupportedAlgorithm } from '../digest/digest.js';
import { ThreadHash, allocSharedBuffer } from '../digest/hash-thread.js';
import { COUNTS_BYTES, VERIFIES, digestMismatch, sizeMismatch, type ByteCounter, type VerifyExpectation } from '../digest/verify-stream.js';

const CHUNK = 1024 * 1024;

export interface FileRange {
  fd: number;
  start: number;
  size: number;
  /** For messages. */
  path: string;
  /** The error for a file that turns out shorter than the range (it was truncated after it was opened). */
  shortRead?: () => Error;
  /** Release the descriptor, when the range owns it (a blob file does; a shared archive descriptor does not). */
  release?: () => Promise<void>;
  /** Told of each chunk copied (progress): the stream's counter, carried along by detach(). */
  onBytes?: ByteCounter;
}

const readAt = (fd: number, buffer: Buffer, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buffer, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** Fill `buffer[0..length)` from `position`; fewer bytes only at the end of the file. */
async function readFull(range: FileRange, buffer: Buffer, length: number, position: number): Promise<number> {
  let filled = 0;
  while (filled < length) {
    let n: number;
    try {
      n = await readAt(range.fd, buffer.subarray(filled), length - filled, position + filled);
    } catch (err) {
      throw fromFsError(err, range.path, 'blob');
    }
    if (n === 0) break;
    filled += n;
  }
  if (filled < length) {
    throw range.shortRead?.() ?? new IntegrityError('SIZE_MISMATCH', `${range.path} ended early: it was truncated while being read`, { path: range.path });
  }
  return filled;
}

class RangeHasher {
  private readonly hash: Hash;
  private readonly encoded: string;
  private readonly algorithm: string;

  constructor(readonly expected: VerifyExpectation) {
    const parsed = parseDigest(expected.digest);
    this.hash = createDigestHash(parsed.algorithm);
    this.encoded = parsed.encoded;
    this.algorithm = parsed.algorithm;
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  /** The mismatch error, or undefined when the content is what the descriptor says. */
  check(): Error | undefined {
    const actual = this.hash.digest('hex');
    return actual === this.encoded ? undefined : digestMismatch(this.expected, `${this.algorithm}:${actual}`);
  }
}

function checkRangeSize(range: FileRange, expected: VerifyExpectation): void {
  if (range.size !== expected.size) throw sizeMismatch({ ...expected, source: expected.source ?? range.path }, range.size);
}

/** The stream form: verified, failing before 'end' on a mismatch. */
export class VerifiedFileRange extends Readable {
  readonly expected: VerifyExpectation;
  private range?: FileRange;
  private readonly hasher: RangeHasher;
  private offset = 0;
  [COUNTS_BYTES]?: ByteCounter;
  get [VERIFIES](): VerifyExpectation {
    return this.expected;
  }

  constructor(range: FileRange, expected: VerifyExpectation) {
    super({ highWaterMark: Math.min(CHUNK, Math.max(range.size, 1)) });
    checkRangeSize(range, expected);
    this.range = range;
    this.expected = expected;
    this.hasher = new RangeHasher(expected);
  }

  /**
   * Take the range over, to copy it with `copyVerifiedRange`; the caller then
   * verifies and releases it. Undefined once reading has begun.
   */
  detach(): FileRange | undefined {
    const range = this.range;
    if (!range || this.offset > 0 || this.readableDidRead) return undefined;
    this.range = undefined;
    this.destroy();
    const onBytes = this[COUNTS_BYTES];
    return onBytes ? { ...range, onBytes } : range;
  }

  override _read(): void {
    const range = this.range;
    if (!range) return;
    const length = Math.min(CHUNK, range.size - this.offset);
    if (length === 0) {
      const err = this.hasher.check();
      if (err) this.destroy(err);
      else this.push(null);
      return;
    }
    const chunk = Buffer.allocUnsafe(length);
    readFull(range, chunk, length, range.start + this.offset).then(
      () => {
        this.offset += length;
        this.hasher.update(chunk);
        this[COUNTS_BYTES]?.(length);
        this.push(chunk);
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const release = this.range?.release;
    this.range = undefined;
    if (!release) return cb(err);
    release().then(
      () => cb(err),
      () => cb(err),
    );
  }
}

/**
 * Ranges from this size up are hashed on the hash thread (digest/hash-thread.ts); smaller ones on
 * the main thread, where a 1 MiB hash costs less than the first start of the thread (tens of ms).
 */
export const THREAD_HASH_FROM = 32 * 1024 * 1024;

export interface CopyRangeOptions {
  /** Hash on the hash thread from this range size up (default THREAD_HASH_FROM; tests lower it). */
  threadHashFrom?: number;
}

/** Who hashes the chunks of a copy: the main thread (at once) or the hash thread (promise: done with the buffer). */
interface ChunkHasher {
  readonly buffers: readonly Buffer[];
  update(slot: number, chunk: Buffer): Promise<void> | undefined;
  hex(): Promise<string>;
  drop(): void;
}

function mainThreadHasher(algorithm: SupportedAlgorithm, size: number): ChunkHasher {
  const hash = createDigestHash(algorithm);
  // Three buffers: while chunk i is hashed here, it is also being written and chunk i+1 read.
  return {
    buffers: [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)],
    update: (_slot, chunk) => void hash.update(chunk),
    hex: async () => hash.digest('hex'),
    drop: () => undefined,
  };
}

/** The hash thread's, or undefined when no worker thread can be started here. */
function threadHasher(algorithm: string, size: number): ChunkHasher | undefined {
  // Four buffers: the hash of a chunk may trail its write by one more chunk without stalling reads.
  const buffers = [0, 1, 2, 3].map(() => allocSharedBuffer(size));
  let hash: ThreadHash;
  try {
    hash = ThreadHash.start(algorithm, buffers);
  } catch {
    return undefined;
  }
  return { buffers, update: (slot, chunk) => hash.update(slot, chunk.length), hex: () => hash.digest(), drop: () => hash.drop() };
}

/**
 * Copy a detached range to `write`, verifying it; throws (after the bytes
 * went out, so the caller must discard what it wrote) on a mismatch. Always
 * releases the range.
 */
export async function copyVerifiedRange(range: FileRange, expected: VerifyExpectation, write: (chunk: Buffer) => Promise<void>, opts: CopyRangeOptions = {}): Promise<void> {
  try {
    checkRangeSize(range, expected);
    const { algorithm, encoded } = parseDigest(expected.digest);
    const size = Math.min(CHUNK, Math.max(range.size, 1));
    const hasher = (range.size >= (opts.threadHashFrom ?? THREAD_HASH_FROM) ? threadHasher(algorithm, size) : undefined) ?? mainThreadHasher(algorithm, size);
    const { buffers } = hasher;
    // Buffers in rotation: while chunk i is being written and hashed, chunk i+1 is being read (the
    // reads and writes in the thread pool, the hash on the main thread or the hash thread). Writing
    // and hashing only read a buffer, so they can share it. A buffer is filled again only after
    // its write has returned (writes are awaited in order, one at a time) and its hash is done.
    const hashed: (Promise<void> | undefined)[] = [];
    const quiet = <T>(p: Promise<T>): Promise<T> => {
      // Awaited later; until then a failure must not count as unhandled.
      p.catch(() => undefined);
      return p;
    };
    const readAhead = (into: Buffer, at: number): Promise<number> =>
      quiet(at < range.size ? readFull(range, into, Math.min(size, range.size - at), range.start + at) : Promise.resolve(0));
    let pendingRead = readAhead(buffers[0]!, 0);
    let pendingWrite: Promise<void> = Promise.resolve();
    let actual: string;
    try {
      for (let i = 0, offset = 0; offset < range.size; i++) {
        const n = await pendingRead;
        const slot = i % buffers.length;
        const chunk = buffers[slot]!.subarray(0, n);
        offset += n;
        const next = (i + 1) % buffers.length;
        await hashed[next];
        pendingRead = readAhead(buffers[next]!, offset);
        await pendingWrite;
        pendingWrite = quiet(write(chunk));
        const done = hasher.update(slot, chunk);
        hashed[slot] = done && quiet(done);
        range.onBytes?.(n);
      }
      await pendingWrite;
      actual = await hasher.hex();
    } catch (err) {
      hasher.drop();
      // Let the thread pool and the hash thread finish with our buffers before they are collected.
      await Promise.allSettled([pendingRead, pendingWrite, ...hashed]);
      throw err;
    }
    if (actual !== encoded) throw digestMismatch(expected, `${algorithm}:${actual}`);
  } finally {
    await range.release?.();
  }
}

/**
 * When `stream` is a VerifiedFileRange nobody has read from yet, copy its
 * range to `write` with copyVerifiedRange and return true; otherwise return
 * false and leave the stream to be read as a stream.
 */
export async function copyIfFileRange(stream: Readable, write: (chunk: Buffer) => Promise<void>): Promise<boolean> {
  const range = stream instanceof VerifiedFileRange ? stream.detach() : undefined;
  if (!range) return false;
  await copyVerifiedRange(range, (stream as VerifiedFileRange).expected, write);
  return true;
}

/** Read a fetched blob to its end only to verify it (the audit's `verify`). */
export async function drainVerified(stream: Readable): Promise<void> {
  if (await copyIfFileRange(stream, async () => undefined)) return;
  stream.resume();
  await finished(stream);
}
