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
 *
 * Why the hash stays on the main thread (issue 18, measured on the 2-core
 * development VM): the copy already runs within about 25 % of one SHA-256
 * stream over the same bytes (0.31 s per 512 MiB with SHA-NI, as long as
 * `tar -cf` takes for the whole copy), and one digest cannot be split across
 * cores. A worker thread hashing the chunks in shared memory was tried:
 * `pack - > FILE` took 0.64 s against 0.55 s at 512 MiB and 1.03 s against
 * 0.95 s at 1 GiB (medians of 5 and 7, same build, alternating), for about
 * 0.13 s more CPU (the worker's start, two messages per chunk).
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { IntegrityError, fromFsError } from '../errors.js';
import { createDigestHash, parseDigest } from '../digest/digest.js';
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

/** How copyVerifiedRange checks the bytes it copies. */
export interface RangeCheck {
  /**
   * Verify before the last chunk is written, so that on a mismatch it never
   * leaves: a server's client then sees a short body, not a whole wrong one.
   */
  holdLast?: boolean;
  /**
   * Do not hash: the bytes were verified by another read of the same,
   * unchanged file, and this settles when that verification has (throwing
   * its error). The server's shared verification (server/verified-blobs.ts).
   */
  verifiedElsewhere?: () => Promise<void>;
}

/**
 * Copy a detached range to `write`, verifying it; throws on a mismatch
 * (after the bytes went out, so the caller must discard what it wrote,
 * unless `holdLast`). Always releases the range.
 */
export async function copyVerifiedRange(range: FileRange, expected: VerifyExpectation, write: (chunk: Buffer) => Promise<void>, check: RangeCheck = {}): Promise<void> {
  try {
    checkRangeSize(range, expected);
    const hasher = check.verifiedElsewhere ? undefined : new RangeHasher(expected);
    const verify = async (): Promise<void> => {
      if (!hasher) return check.verifiedElsewhere!();
      const err = hasher.check();
      if (err) throw err;
    };
    const size = Math.min(CHUNK, Math.max(range.size, 1));
    // Three buffers in rotation: while chunk i is hashed on the main thread, it is also being
    // written, and chunk i+1 is being read, both in the thread pool. Hashing and writing only read
    // the buffer, so they can share it. The buffer of chunk i is filled again (with chunk i+3)
    // only after its write has returned: writes are awaited in order, one at a time.
    const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    const quiet = <T>(p: Promise<T>): Promise<T> => {
      // Awaited later; until then a failure must not count as unhandled.
      p.catch(() => undefined);
      return p;
    };
    const readAhead = (into: Buffer, at: number): Promise<number> =>
      quiet(at < range.size ? readFull(range, into, Math.min(size, range.size - at), range.start + at) : Promise.resolve(0));
    let pendingRead = readAhead(buffers[0]!, 0);
    let pendingWrite: Promise<void> = Promise.resolve();
    let verified = false;
    try {
      for (let i = 0, offset = 0; offset < range.size; i++) {
        const n = await pendingRead;
        const chunk = buffers[i % 3]!.subarray(0, n);
        offset += n;
        pendingRead = readAhead(buffers[(i + 1) % 3]!, offset);
        await pendingWrite;
        if (check.holdLast && offset === range.size) {
          hasher?.update(chunk);
          await verify();
          verified = true;
          pendingWrite = quiet(write(chunk));
        } else {
          pendingWrite = quiet(write(chunk));
          hasher?.update(chunk);
        }
        range.onBytes?.(n);
      }
      await pendingWrite;
    } catch (err) {
      // Let the thread pool finish with our buffers before they can be collected or reused.
      await Promise.allSettled([pendingRead, pendingWrite]);
      throw err;
    }
    if (!verified) await verify();
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
