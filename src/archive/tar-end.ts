/**
 * Where a tar ends, and what follows it.
 *
 * A tar ends with an end-of-archive marker, two zero blocks; a writer may
 * then pad with zeros up to the end of its record (GNU tar and Python write
 * 10 KiB records). Readers stop at the marker, so anything after it is data
 * no tool agrees on: a gzip bomb hides gigabytes of zeros there (a spool
 * would fill the disk with them), and `tar --ignore-zeros` would read entries
 * there that ocikit never sees. ocikit never reads past the padding: a
 * compressed archive is decompressed only up to it (TarEndFinder, for the
 * spool), and what lies beyond is reported as trailing data, which `verify`
 * turns into a TRAILING_DATA warning. Commands that copy the archive's
 * content proceed: they read only entries before the marker, every one
 * verified, and write none of the trailing bytes anywhere.
 */
import type { ArchiveFile } from './archive-file.js';
import { MAX_META_SIZE, TAR_BLOCK, headerSpan, isMetaHeader, isZeroBlock, parsePax, paxSizeOf } from './tar-scan.js';

/** The record size of GNU tar and Python's tarfile: zero padding up to its boundary is not trailing data. */
const TAR_RECORD = 10 * 1024;

/** Data after a tar's end-of-archive marker and its padding. */
export interface TrailingData {
  /** Offset (in the uncompressed tar) of the first byte that is neither marker nor padding. */
  offset: number;
  /** How many bytes follow from there, when known (a compressed archive is not decompressed further to count them). */
  bytes?: number;
}

/** Targets read from a tar say what followed its end. */
export interface TrailingDataSource {
  trailingData(): TrailingData | undefined;
}

/** Asked of the target's declared abilities ('trailing-data', graph/target.ts), not of its methods. */
export function hasTrailingData<T extends { readonly abilities: ReadonlySet<string> }>(t: T): t is T & TrailingDataSource {
  return t.abilities.has('trailing-data');
}

/** Where the padding after a marker at `marker` may end: the marker's two blocks, then zeros to the record boundary. */
export function paddingEnd(marker: number): number {
  return Math.ceil((marker + 2 * TAR_BLOCK) / TAR_RECORD) * TAR_RECORD;
}

/** The trailing data of an uncompressed tar whose marker scanTar found at `marker` (reads at most one record). */
export async function trailingDataInFile(file: ArchiveFile, marker: number): Promise<TrailingData | undefined> {
  const from = marker + TAR_BLOCK; // the first zero block was checked by the scan
  const end = paddingEnd(marker);
  const padding = await file.read(from, Math.max(0, Math.min(end, file.size) - from));
  const nonZero = padding.findIndex((b) => b !== 0);
  const offset = nonZero >= 0 ? from + nonZero : file.size > end ? end : undefined;
  return offset === undefined ? undefined : { offset, bytes: file.size - offset };
}

/**
 * Follows a tar as it streams past (a decompressor's output) and says where
 * to stop: at the first byte that is neither the archive, its marker nor its
 * padding. Headers are read exactly as scanTar reads them (the same helpers).
 * A header it cannot read makes it give up: everything is then kept, and
 * scanTar, reading the kept bytes, refuses the archive with the precise reason.
 */
export class TarEndFinder {
  /** Set once the marker is found. */
  marker?: number;
  /** Set when data follows the padding; the stream need not be read further. */
  trailing?: TrailingData;
  private offset = 0;
  private nextHeader = 0;
  private gaveUp = false;
  private paxSize?: number;
  /** Bytes being gathered: a header block, or the body of a PAX header. */
  private gathering?: { parts: Buffer[]; have: number; length: number; done: (bytes: Buffer) => void };

  /** Take the next chunk of the stream; returns how many of its bytes belong to the archive (the rest, if any, is trailing data). */
  push(chunk: Buffer): number {
    if (this.trailing) return 0;
    let i = 0;
    while (i < chunk.length && !this.gaveUp) {
      const at = this.offset + i;
      if (this.marker !== undefined) {
        const end = paddingEnd(this.marker);
        const upTo = Math.min(chunk.length, i + (end - at));
        for (let j = i; j < upTo; j++) {
          if (chunk[j] !== 0) return this.stop(chunk, j);
        }
        if (upTo < chunk.length) return this.stop(chunk, upTo);
        i = upTo;
        continue;
      }
      if (this.gathering) {
        const g = this.gathering;
        const take = Math.min(chunk.length - i, g.length - g.have);
        g.parts.push(Buffer.from(chunk.subarray(i, i + take))); // a copy: the caller may reuse its chunk
        g.have += take;
        i += take;
        if (g.have === g.length) {
          this.gathering = undefined;
          g.done(Buffer.concat(g.parts));
        }
        continue;
      }
      if (at < this.nextHeader) {
        i += Math.min(chunk.length - i, this.nextHeader - at); // entry data: not looked at
        continue;
      }
      this.gather(TAR_BLOCK, (header) => this.onHeader(header));
    }
    this.offset += chunk.length;
    return chunk.length;
  }

  private stop(chunk: Buffer, keep: number): number {
    this.trailing = { offset: this.offset + keep };
    this.offset += chunk.length;
    return keep;
  }

  private gather(length: number, done: (bytes: Buffer) => void): void {
    if (length === 0) done(Buffer.alloc(0));
    else this.gathering = { parts: [], have: 0, length, done };
  }

  private onHeader(header: Buffer): void {
    const at = this.nextHeader;
    if (isZeroBlock(header)) {
      this.marker = at;
      return;
    }
    const span = headerSpan(header);
    if (!span) {
      this.gaveUp = true;
      return;
    }
    const size = isMetaHeader(span.typeflag) ? span.size : this.paxSize ?? span.size;
    if (!isMetaHeader(span.typeflag)) this.paxSize = undefined;
    this.nextHeader = at + TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    if (span.typeflag !== 'x') return;
    if (size > MAX_META_SIZE) {
      this.gaveUp = true;
      return;
    }
    this.gather(size, (body) => {
      try {
        const s = paxSizeOf(parsePax(body));
        if (Number.isNaN(s)) this.gaveUp = true;
        else if (s !== undefined) this.paxSize = s;
      } catch {
        this.gaveUp = true;
      }
    });
  }
}
