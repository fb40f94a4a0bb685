/**
 * A pass-through stream that hashes and counts what flows through it and fails
 * (with a typed IntegrityError) as soon as the content cannot match its
 * descriptor: on the first byte past the expected size, or, at the end, when
 * the size is short or the digest differs. The error is raised in `flush`,
 * before the stream emits 'end', so a consumer never sees a clean end of
 * content that does not match.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Hash } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { createDigestHash, digestBytes, parseDigest } from './digest.js';

export interface VerifyExpectation {
  digest: string;
  size: number;
  /** Used in messages: what is being read (a path, a URL, "blob sha256:..."). */
  source?: string;
}

/**
 * Marks a stream that verifies itself against a descriptor (VerifyStream,
 * fs/file-range's VerifiedFileRange), so that a consumer does not hash the
 * same bytes a second time.
 */
export const VERIFIES = Symbol('ocikit.verifies');

/** Told the length of each chunk as it passes (progress; see fs/count-bytes.ts). */
export type ByteCounter = (bytes: number) => void;

/**
 * Where a verifying stream keeps the ByteCounter it calls per chunk. A
 * property, not a stage piped after it: a consumer must still see the
 * verifying stream itself (VERIFIES, or the file range it copies without
 * streaming), or progress would cost the fast paths.
 */
export const COUNTS_BYTES = Symbol('ocikit.countsBytes');

/**
 * Whether `stream` already verifies exactly `desc`'s digest and size.
 * Content read from such a stream, from its start, fails before its end
 * unless it matches, so a consumer that only commits after a clean end (a
 * temp file renamed after the pipeline finished, an upload closed after the
 * last byte) needs no second hash of the same bytes.
 */
export function verifiesFor(stream: object, desc: { digest: string; size: number }): boolean {
  const expected = (stream as { [VERIFIES]?: VerifyExpectation })[VERIFIES];
  return expected !== undefined && expected.digest === desc.digest && expected.size === desc.size;
}

export class VerifyStream extends Transform {
  readonly expected: VerifyExpectation;
  /** Not for a resumed stream: it carries only the rest of the content. */
  get [VERIFIES](): VerifyExpectation | undefined {
    return this.resumed ? undefined : this.expected;
  }
  private readonly resumed: boolean;
  private readonly hash: Hash;
  private readonly encoded: string;
  private readonly algorithm: string;
  bytes = 0;
  [COUNTS_BYTES]?: ByteCounter;

  /**
   * `resumed`: the content's first bytes were already hashed into `hash`
   * (a download resumed after `bytes` kept bytes); the stream carries the rest.
   */
  constructor(expected: VerifyExpectation, resumed?: { hash: Hash; bytes: number }) {
    super();
    const parsed = parseDigest(expected.digest);
    this.expected = expected;
    this.hash = resumed?.hash ?? createDigestHash(parsed.algorithm);
    this.bytes = resumed?.bytes ?? 0;
    this.resumed = resumed !== undefined;
    this.encoded = parsed.encoded;
    this.algorithm = parsed.algorithm;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      cb(this.sizeError());
      return;
    }
    this.hash.update(chunk);
    this[COUNTS_BYTES]?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      cb(sizeMismatch(this.expected, this.bytes));
      return;
    }
    const actual = this.hash.digest('hex');
    cb(actual === this.encoded ? null : digestMismatch(this.expected, `${this.algorithm}:${actual}`));
  }

  private sizeError(): IntegrityError {
    return sizeMismatch(this.expected, this.bytes);
  }
}

function where(e: VerifyExpectation): string {
  return e.source ? ` (${e.source})` : '';
}

export function sizeMismatch(e: VerifyExpectation, bytes: number): IntegrityError {
  const actual = bytes > e.size ? `more than ${e.size}` : String(bytes);
  return new IntegrityError('SIZE_MISMATCH', `size mismatch for ${e.digest}${where(e)}: expected ${e.size} bytes, got ${actual}`, {
    digest: e.digest,
    expected: e.size,
    actual: bytes,
    path: e.source,
  });
}

export function digestMismatch(e: VerifyExpectation, actual: string): IntegrityError {
  return new IntegrityError('DIGEST_MISMATCH', `digest mismatch for ${e.digest}${where(e)}: content hashes to ${actual}`, {
    digest: e.digest,
    expected: e.digest,
    actual,
    path: e.source,
  });
}

/** The same checks as VerifyStream, for content already in memory (small documents read in one go). */
export function verifyBytes(bytes: Uint8Array, expected: VerifyExpectation): void {
  if (bytes.length !== expected.size) throw sizeMismatch(expected, bytes.length);
  const { algorithm } = parseDigest(expected.digest);
  const actual = digestBytes(bytes, algorithm);
  if (actual !== expected.digest) throw digestMismatch(expected, actual);
}

/** Hash and count a stream without an expectation (for content whose digest we compute, e.g. `blob push`). */
export class DigestingStream extends Transform {
  private readonly hash: Hash;
  private readonly algorithm: string;
  bytes = 0;
  private result?: string;

  constructor(algorithm: 'sha256' | 'sha512' = 'sha256') {
    super();
    this.algorithm = algorithm;
    this.hash = createDigestHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `${this.algorithm}:${this.hash.digest('hex')}`;
    cb();
  }

  /** The digest; available once the stream has ended. */
  get digest(): string {
    if (!this.result) throw new Error('DigestingStream: digest read before the stream ended');
    return this.result;
  }
}
