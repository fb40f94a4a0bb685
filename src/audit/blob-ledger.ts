/**
 * What verify learns about every blob, kept compactly. A layout of 50,000
 * images has some 100,000 blobs, and verify used to keep, per blob, a record
 * object, a memo object for the read, a digest string and entries in four
 * Maps and Sets: 30 MiB of a 150 MiB peak, which `inspect --verify` then
 * held (as a compact copy) beside its catalog. Here a blob is a DigestIndex
 * number with its facts in typed columns; only what is rare (a failed or
 * pending read, a digest named with two sizes) is an object.
 */
import type { BlobRecord, BlobStatus } from './verify.js';
import type { Descriptor } from '../spec/types.js';
import { MediaType } from '../spec/media-types.js';
import { isSha256Digest } from '../digest/digest.js';
import { DigestIndex, type SortedDigests } from '../util/digest-index.js';
import { fitColumn } from '../util/typed-columns.js';

const STATUSES: readonly BlobStatus[] = ['ok', 'absent-ok', 'unverifiable', 'invalid', 'missing', 'unreadable', 'corrupt'];
/** How bad a status is: a blob reached through several descriptors keeps its worst. */
const RANK = new Map(STATUSES.map((s, i) => [s, i + 1]));

const REACHED = 1;
const UNREFERENCED = 2;
const MANIFEST = 4;

export class BlobLedger {
  private readonly digests = new DigestIndex();
  /** The rank of the worst status recorded (1-based), 0 for none yet. */
  private ranks = new Uint8Array(1024);
  private sizes = new Float64Array(1024);
  /** The recorded media type as a number from `types` (0 for none). */
  private mediaTypes = new Uint32Array(1024);
  private flags = new Uint8Array(1024);
  private readonly types = new MediaTypeNumbers();
  private manifestCount = 0;

  /** The number of `digest`, adding it if it is new. */
  number(digest: string): number {
    const n = this.digests.add(digest);
    this.ranks = fitColumn(this.ranks, n);
    this.sizes = fitColumn(this.sizes, n);
    this.mediaTypes = fitColumn(this.mediaTypes, n);
    this.flags = fitColumn(this.flags, n);
    return n;
  }

  /** The number of `digest`, or undefined if the ledger never saw it. */
  find(digest: string): number | undefined {
    return this.digests.get(digest);
  }

  /** A descriptor pointed at `digest` (a subject included). */
  reach(digest: string): void {
    this.flags[this.number(digest)]! |= REACHED;
  }

  reached(digest: string): boolean {
    return this.flag(digest, REACHED);
  }

  /** `digest` was read and parsed as a manifest; counted once. */
  countManifest(digest: string): void {
    const n = this.number(digest);
    if (this.flags[n]! & MANIFEST) return;
    this.flags[n]! |= MANIFEST;
    this.manifestCount++;
  }

  get manifests(): number {
    return this.manifestCount;
  }

  isRecorded(digest: string): boolean {
    const n = this.find(digest);
    return n !== undefined && this.ranks[n] !== 0;
  }

  status(digest: string): BlobStatus | undefined {
    const n = this.find(digest);
    return n === undefined || this.ranks[n] === 0 ? undefined : STATUSES[this.ranks[n]! - 1];
  }

  /**
   * Keep the worst status a blob got, with the size and media type of the
   * descriptor that gave it (the media type of an earlier one when this one
   * names none, or only "octet-stream").
   */
  record(desc: Descriptor, status: BlobStatus): void {
    const n = this.number(desc.digest);
    const rank = RANK.get(status)!;
    if (this.ranks[n]! >= rank) return;
    this.ranks[n] = rank;
    this.sizes[n] = desc.size;
    if (desc.mediaType && desc.mediaType !== MediaType.OctetStream) this.mediaTypes[n] = this.types.number(desc.mediaType);
  }

  /** A recorded blob was found only by listing the layout's files. */
  markUnreferenced(digest: string): void {
    const n = this.find(digest);
    if (n !== undefined && this.ranks[n] !== 0) this.flags[n]! |= UNREFERENCED;
  }

  /** Blobs whose bytes were read and matched (valid or not as documents). */
  countChecked(): number {
    const ok = RANK.get('ok')!;
    const invalid = RANK.get('invalid')!;
    let count = 0;
    for (let n = 0; n < this.digests.size; n++) if (this.ranks[n] === ok || this.ranks[n] === invalid) count++;
    return count;
  }

  /** Every recorded blob as a record, sorted by digest. */
  records(): BlobRecord[] {
    const out: BlobRecord[] = [];
    for (let n = 0; n < this.digests.size; n++) {
      if (this.ranks[n] === 0) continue;
      const r: BlobRecord = { digest: this.digests.digest(n), size: this.sizes[n]!, status: STATUSES[this.ranks[n]! - 1]!, referenced: !(this.flags[n]! & UNREFERENCED) };
      if (this.mediaTypes[n] !== 0) r.mediaType = this.types.name(this.mediaTypes[n]!);
      out.push(r);
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  /**
   * Each blob's status as a lookup that outlives the ledger: the blobs that
   * checked out (nearly all) as a sorted set of 32-byte values, the others
   * by digest in a Map. Made once the walk is over, so that a report written
   * afterwards keeps 32 bytes per blob rather than the ledger's columns.
   */
  frozenStatus(): (digest: string) => BlobStatus | undefined {
    return statusLookup(this.digests, this.ranks);
  }

  /** Media types as numbers, for columns (OutcomeMemo tags). */
  mediaTypeNumber(mediaType: string): number {
    return this.types.number(mediaType);
  }

  private flag(digest: string, bit: number): boolean {
    const n = this.find(digest);
    return n !== undefined && (this.flags[n]! & bit) !== 0;
  }
}

/** See BlobLedger.frozenStatus. Closures share their function's scope: the lookup is made in a function of its own so that it holds neither the ledger nor its index. */
function statusLookup(digests: DigestIndex, ranks: Uint8Array): (digest: string) => BlobStatus | undefined {
  const ok = RANK.get('ok')!;
  const checkedOut = digests.freeze((n) => ranks[n] === ok);
  const others = new Map<string, BlobStatus>();
  for (let n = 0; n < digests.size; n++) {
    if (ranks[n] === 0) continue;
    const digest = digests.digest(n);
    if (ranks[n] !== ok || !isSha256Digest(digest)) others.set(digest, STATUSES[ranks[n]! - 1]!);
  }
  return lookup(checkedOut, others);
}

function lookup(checkedOut: SortedDigests, others: Map<string, BlobStatus>): (digest: string) => BlobStatus | undefined {
  return (digest) => others.get(digest) ?? (checkedOut.has(digest) ? 'ok' : undefined);
}

/** Distinct strings numbered from 1 (0 means none). */
class MediaTypeNumbers {
  private readonly names: string[] = [''];
  private readonly numbers = new Map<string, number>();

  number(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) {
      n = this.names.push(name) - 1;
      this.numbers.set(name, n);
    }
    return n;
  }

  name(n: number): string {
    return this.names[n]!;
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
export type Pending = Promise<Outcome<true>> | Outcome<true>;
export const READ_OK: Outcome<true> = { ok: true, value: true };

/** A read remembered: how it went (or will go), and the caller's number for what it was read as. */
export interface Memo {
  outcome: Pending;
  tag: number;
}

/**
 * Reads of blobs by digest and size, each made once and its outcome
 * remembered, on a ledger's digest numbers. A read that succeeded (nearly
 * all) is a size and a tag in columns; a pending or failed one is a Memo
 * object until it settles; a digest named with a second size, which only
 * damaged metadata does, is filed under digest and size in a Map.
 */
export class OutcomeMemo {
  /** The size the digest was first read at, -1 for never. */
  private sizes = new Float64Array(1024).fill(-1);
  /** tag + 1 of a successful read at that size; 0 while it is in `unsettled`. */
  private tags = new Uint32Array(1024);
  private readonly unsettled = new Map<number, Memo>();
  private readonly otherSizes = new Map<string, Memo>();

  constructor(private readonly ledger: BlobLedger) {}

  get(desc: Descriptor): Memo | undefined {
    const n = this.ledger.find(desc.digest);
    if (n === undefined || n >= this.sizes.length || this.sizes[n]! < 0) return undefined;
    if (this.sizes[n] !== desc.size) return this.otherSizes.get(`${desc.digest}|${desc.size}`);
    const tag = this.tags[n]!;
    return tag > 0 ? { outcome: READ_OK, tag: tag - 1 } : this.unsettled.get(n);
  }

  set(desc: Descriptor, outcome: Promise<Outcome<true>>, tag: number): Memo {
    const memo: Memo = { outcome, tag };
    const n = this.ledger.number(desc.digest);
    this.sizes = fitColumn(this.sizes, n, -1);
    this.tags = fitColumn(this.tags, n);
    const firstSize = this.sizes[n]! < 0 || this.sizes[n] === desc.size;
    if (firstSize) {
      this.sizes[n] = desc.size;
      this.unsettled.set(n, memo);
    } else this.otherSizes.set(`${desc.digest}|${desc.size}`, memo);
    void outcome.then((o) => {
      if (firstSize && o.ok && this.unsettled.get(n) === memo) {
        this.unsettled.delete(n);
        this.tags[n] = tag + 1;
      } else memo.outcome = o;
    });
    return memo;
  }
}
