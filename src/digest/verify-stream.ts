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
import { createDigestHash, parseDigest } from './digest.js';

export interface VerifyExpectation {
  digest: string;
  size: number;
  /** Used in messages: what is being read (a path, a URL, "blob sha256:..."). */
  source?: string;
}

export class VerifyStream extends Transform {
  readonly expected: VerifyExpectation;
  private readonly hash: Hash;
  private readonly encoded: string;
  private readonly algorithm: string;
  bytes = 0;

  constructor(expected: VerifyExpectation) {
    super();
    const parsed = parseDigest(expected.digest);
    this.expected = expected;
    this.hash = createDigestHash(parsed.algorithm);
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
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      cb(this.sizeError());
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.encoded) {
      const where = this.expected.source ? ` (${this.expected.source})` : '';
      cb(
        new IntegrityError('DIGEST_MISMATCH', `digest mismatch for ${this.expected.digest}${where}: content hashes to ${this.algorithm}:${actual}`, {
          digest: this.expected.digest,
          expected: this.expected.digest,
          actual: `${this.algorithm}:${actual}`,
          path: this.expected.source,
        }),
      );
      return;
    }
    cb();
  }

  private sizeError(): IntegrityError {
    const where = this.expected.source ? ` (${this.expected.source})` : '';
    const actual = this.bytes > this.expected.size ? `more than ${this.expected.size}` : String(this.bytes);
    return new IntegrityError('SIZE_MISMATCH', `size mismatch for ${this.expected.digest}${where}: expected ${this.expected.size} bytes, got ${actual}`, {
      digest: this.expected.digest,
      expected: this.expected.size,
      actual: this.bytes,
      path: this.expected.source,
    });
  }
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
