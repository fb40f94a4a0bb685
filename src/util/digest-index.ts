/**
 * Digests numbered 0, 1, 2, ... in the order they were first added, held
 * compactly: a sha256 digest as its 32 bytes in one growing buffer and an
 * open-addressing table of numbers, instead of a 71-character string and a
 * Map entry each. A diff keeps one side's digests while the other side is
 * read; at 50,000 manifests the strings and Map alone were 10 MiB of the peak.
 *
 * Digests of other algorithms (rare) are kept in an ordinary Map. The slot
 * hash mixes a per-index random seed into the digest bytes, so content chosen
 * to collide cannot make lookups slow.
 */
import { randomBytes } from 'node:crypto';
import { isSha256Digest } from '../digest/digest.js';

const EMPTY = -1;

export class DigestIndex {
  /** 32 bytes per number; unused for a number whose digest is in `others`. */
  private bytes = Buffer.alloc(32 * 1024);
  private slots = new Int32Array(2048).fill(EMPTY);
  private readonly others = new Map<string, number>();
  /** Numbers whose digest is in `others`, with that digest. */
  private readonly otherDigests = new Map<number, string>();
  private readonly seed = randomBytes(4).readUInt32LE(0);
  private count = 0;
  /** Scratch for the bytes of the digest being looked up. */
  private readonly probe = Buffer.alloc(32);

  get size(): number {
    return this.count;
  }

  /** The number of `digest`, adding it if it is new. */
  add(digest: string): number {
    const found = this.get(digest);
    if (found !== undefined) return found;
    const n = this.count++;
    if (!this.probeFor(digest)) {
      this.others.set(digest, n);
      this.otherDigests.set(n, digest);
      return n;
    }
    if (32 * (n + 1) > this.bytes.length) {
      const grown = Buffer.alloc(this.bytes.length * 2);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    this.probe.copy(this.bytes, 32 * n);
    if (2 * (this.count - this.others.size) > this.slots.length) this.rehash();
    else this.place(n);
    return n;
  }

  /** The number of `digest`, or undefined if it was never added. */
  get(digest: string): number | undefined {
    if (!this.probeFor(digest)) return this.others.get(digest);
    const mask = this.slots.length - 1;
    for (let i = this.hash(this.probe, 0); ; i = (i + 1) & mask) {
      const n = this.slots[i]!;
      if (n === EMPTY) return undefined;
      if (this.bytes.compare(this.probe, 0, 32, 32 * n, 32 * n + 32) === 0) return n;
    }
  }

  has(digest: string): boolean {
    return this.get(digest) !== undefined;
  }

  /** The digest numbered `n`, as a new string. */
  digest(n: number): string {
    return this.otherDigests.get(n) ?? `sha256:${this.bytes.toString('hex', 32 * n, 32 * n + 32)}`;
  }

  /** Put a sha256 digest's bytes into `probe`; false for any other digest. */
  private probeFor(digest: string): boolean {
    if (!isSha256Digest(digest)) return false;
    this.probe.write(digest.slice('sha256:'.length), 'hex');
    return true;
  }

  /** The slot to start probing at: the high bits of a multiplicative hash (they depend on every input bit). */
  private hash(buf: Buffer, offset: number): number {
    return Math.imul(buf.readUInt32LE(offset) ^ this.seed, 0x9e3779b1) >>> (32 - Math.log2(this.slots.length));
  }

  private place(n: number): void {
    const mask = this.slots.length - 1;
    let i = this.hash(this.bytes, 32 * n);
    while (this.slots[i] !== EMPTY) i = (i + 1) & mask;
    this.slots[i] = n;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    for (let n = 0; n < this.count; n++) if (!this.otherDigests.has(n)) this.place(n);
  }
}

/**
 * A set of digests on a DigestIndex: what a registry target knows the
 * registry holds (100,000 digests after a push of 50,000 images). Removal,
 * rare (a manifest deleted), is an overlay of removed digests.
 */
export class DigestSet {
  private readonly index = new DigestIndex();
  private readonly removed = new Set<string>();

  has(digest: string): boolean {
    return this.index.has(digest) && !this.removed.has(digest);
  }

  add(digest: string): void {
    this.index.add(digest);
    this.removed.delete(digest);
  }

  delete(digest: string): void {
    if (this.index.has(digest)) this.removed.add(digest);
  }
}
