/**
 * Digests numbered 0, 1, 2, ... in the order they were first added, held
 * compactly: a sha256 digest as its 32 bytes in pages of a buffer and an
 * open-addressing table of numbers, instead of a 71-character string and a
 * Map entry each. A diff keeps one side's digests while the other side is
 * read; at 50,000 manifests the strings and Map alone were 10 MiB of the peak.
 *
 * Digests of other algorithms (rare) are kept in an ordinary Map. The slot
 * hash mixes a per-index random seed into the digest bytes, so content chosen
 * to collide cannot make lookups slow.
 *
 * The bytes are in pages of 1 MiB, the first grown by doubling up to that,
 * rather than one buffer doubled without end: freeing a large malloc'd block
 * makes glibc raise its mmap threshold to that block's size, after which
 * smaller blocks come from a heap whose holes are never returned. A 4 MiB
 * buffer dropped when it doubled cost some 10 MiB of RSS (fs/chunked-text.ts).
 */
import { randomBytes } from 'node:crypto';
import { isSha256Digest } from '../digest/digest.js';

const EMPTY = -1;
/** Digests per page: 1 MiB of bytes. */
const PAGE_DIGESTS = 32768;
const PAGE_SHIFT = 15;

export class DigestIndex {
  /** 32 bytes per number, PAGE_DIGESTS numbers a page; unused for a number whose digest is in `others`. */
  private readonly pages: Buffer[] = [Buffer.alloc(32 * 1024)];
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
    this.makeRoomFor(n);
    this.probe.copy(this.pageOf(n), offsetOf(n));
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
      const at = offsetOf(n);
      if (this.pageOf(n).compare(this.probe, 0, 32, at, at + 32) === 0) return n;
    }
  }

  has(digest: string): boolean {
    return this.get(digest) !== undefined;
  }

  /** The digest numbered `n`, as a new string. */
  digest(n: number): string {
    return this.otherDigests.get(n) ?? `sha256:${this.pageOf(n).toString('hex', offsetOf(n), offsetOf(n) + 32)}`;
  }

  /**
   * The sha256 digests whose numbers pass `keep`, as a sorted set in one
   * buffer of exactly their size: what outlives a walk that needed the index
   * (a verification's "checked out" set, kept while a report is written).
   * Digests of other algorithms are left out; callers keep those apart.
   */
  freeze(keep: (n: number) => boolean): SortedDigests {
    const numbers: number[] = [];
    for (let n = 0; n < this.count; n++) if (!this.otherDigests.has(n) && keep(n)) numbers.push(n);
    numbers.sort((a, b) => this.pageOf(a).compare(this.pageOf(b), offsetOf(b), offsetOf(b) + 32, offsetOf(a), offsetOf(a) + 32));
    const sorted = Buffer.allocUnsafe(32 * numbers.length);
    numbers.forEach((n, i) => this.pageOf(n).copy(sorted, 32 * i, offsetOf(n), offsetOf(n) + 32));
    return new SortedDigests(sorted);
  }

  /** Put a sha256 digest's bytes into `probe`; false for any other digest. */
  private probeFor(digest: string): boolean {
    if (!isSha256Digest(digest)) return false;
    this.probe.write(digest.slice('sha256:'.length), 'hex');
    return true;
  }

  private pageOf(n: number): Buffer {
    return this.pages[n >>> PAGE_SHIFT]!;
  }

  private makeRoomFor(n: number): void {
    const page = n >>> PAGE_SHIFT;
    if (page === this.pages.length) this.pages.push(Buffer.alloc(32 * PAGE_DIGESTS));
    else if (offsetOf(n) >= this.pages[page]!.length) {
      const grown = Buffer.alloc(Math.min(2 * this.pages[page]!.length, 32 * PAGE_DIGESTS));
      this.pages[page]!.copy(grown);
      this.pages[page] = grown;
    }
  }

  /** The slot to start probing at: the high bits of a multiplicative hash (they depend on every input bit). */
  private hash(buf: Buffer, offset: number): number {
    return Math.imul(buf.readUInt32LE(offset) ^ this.seed, 0x9e3779b1) >>> (32 - Math.log2(this.slots.length));
  }

  private place(n: number): void {
    const mask = this.slots.length - 1;
    let i = this.hash(this.pageOf(n), offsetOf(n));
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

/** Sha256 digests as 32-byte values in one sorted buffer, searched in binary (see DigestIndex.freeze). */
export class SortedDigests {
  private readonly key = Buffer.alloc(32);

  constructor(private readonly sorted: Buffer) {}

  get size(): number {
    return this.sorted.length / 32;
  }

  has(digest: string): boolean {
    if (!isSha256Digest(digest)) return false;
    this.key.write(digest.slice('sha256:'.length), 'hex');
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      // The value at mid against the key: below it, search higher.
      const c = this.sorted.compare(this.key, 0, 32, 32 * mid, 32 * mid + 32);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

function offsetOf(n: number): number {
  return 32 * (n & (PAGE_DIGESTS - 1));
}
