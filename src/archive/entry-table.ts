/**
 * A scanned tar's entries by name, in archive order, kept compactly: a
 * layout archive of 50,000 images has some 100,000 entries named
 * `blobs/sha256/<hex>`, and an object plus a 77-character name and a Map
 * entry each came to 20 MiB, which every read of the archive held for its
 * whole run. Those entries are kept as a digest number (DigestIndex) and
 * three numbers in typed arrays; any other entry (index.json, directories,
 * links, names of other forms) as itself in a Map.
 */
import { DigestIndex } from '../util/digest-index.js';
import { fitColumn } from '../util/typed-columns.js';
import type { TarEntry } from './tar-scan.js';

const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;
const BLOB_PREFIX = 'blobs/sha256/';

export class EntryTable {
  private readonly blobs = new DigestIndex();
  private offsets = new Float64Array(1024);
  private sizes = new Float64Array(1024);
  private headerOffsets = new Float64Array(1024);
  private readonly others = new Map<string, TarEntry>();
  private readonly otherNames: string[] = [];
  /** Archive order: a blob's number, or -(k + 1) for otherNames[k]. */
  private order = new Int32Array(1024);
  private count = 0;

  get(name: string): TarEntry | undefined {
    const other = this.others.get(name);
    if (other) return other;
    const hex = BLOB_NAME.exec(name)?.[1];
    if (hex === undefined) return undefined;
    const n = this.blobs.get(`sha256:${hex}`);
    if (n === undefined) return undefined;
    return { name, type: 'file', offset: this.offsets[n]!, size: this.sizes[n]!, headerOffset: this.headerOffsets[n]! };
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Add an entry whose name is not in the table yet. */
  add(entry: TarEntry): void {
    const hex = entry.type === 'file' ? BLOB_NAME.exec(entry.name)?.[1] : undefined;
    if (hex === undefined) {
      this.others.set(entry.name, entry);
      this.otherNames.push(entry.name);
      this.remember(-this.otherNames.length);
      return;
    }
    const n = this.blobs.add(`sha256:${hex}`);
    this.offsets = fitColumn(this.offsets, n);
    this.sizes = fitColumn(this.sizes, n);
    this.headerOffsets = fitColumn(this.headerOffsets, n);
    this.offsets[n] = entry.offset;
    this.sizes[n] = entry.size;
    this.headerOffsets[n] = entry.headerOffset;
    this.remember(n);
  }

  /** Every name, in archive order. */
  *names(): Generator<string> {
    for (let i = 0; i < this.count; i++) {
      const k = this.order[i]!;
      yield k >= 0 ? BLOB_PREFIX + this.blobs.digest(k).slice('sha256:'.length) : this.otherNames[-k - 1]!;
    }
  }

  private remember(k: number): void {
    this.order = fitColumn(this.order, this.count);
    this.order[this.count++] = k;
  }
}
