/**
 * `pack`: write a layout archive from any source, streaming (see
 * archive/archive-writer.ts). Referrers of what is selected come along unless
 * asked not to; `exclude` makes a delta bundle that leaves out every blob the
 * given target already holds (the image-layout spec allows a layout to lack
 * blobs; unpacking it into a layout that has them gives a complete one).
 */
import type { Writable } from 'node:stream';
import type { Reference } from '../reference.js';
import type { Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { ArchiveWriter, type ArchiveStats } from '../targets/archive-writer.js';
import type { Compression } from '../archive/compression.js';
import type { ReadTarget } from '../graph/target.js';
import { selectRoots, selectsWholeLayout, transfer, type Root, type TransferResult } from './transfer.js';
import { writeArchiveFile, type ArchiveMergeResult } from './archive-merge.js';

export interface WriteArchiveOptions {
  /** Bring referrers of the roots along (default true). */
  referrers?: boolean;
  /** Delta bundle: leave out blobs this target holds. */
  exclude?: ReadTarget;
  /** Default: an earlier archive's own, else from the file name (.tar.gz/.tgz gzip); none for a stream. */
  compression?: Compression;
  /** Entry mtime in seconds (default SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  onEvent?: (e: CopyEvent) => void;
}

export interface ArchiveResult extends TransferResult, ArchiveStats, ArchiveMergeResult {
  /** The file written, or "-" for a stream. */
  archive: string;
}

/**
 * Copy `roots` from `src` into an archive at `dest`: a stream such as stdout,
 * or a file, merged with the layout archive already there (ops/archive-merge.ts).
 */
export async function writeArchive(src: ReadTarget, roots: Root[], dest: string | Writable, opts: WriteArchiveOptions = {}): Promise<ArchiveResult> {
  // Concurrency 1: a tar is written one entry at a time anyway, and a single
  // lane makes the entry order a function of the graph alone (reproducible).
  const copy = (writer: ArchiveWriter) => transfer(src, writer, roots, { concurrency: 1, referrers: opts.referrers ?? true, onEvent: opts.onEvent, announce: true });
  if (typeof dest === 'string') {
    // No compression asked for: an earlier archive's own, else the file name's (see writeArchiveFile).
    const w = await writeArchiveFile(dest, { compression: opts.compression, mtime: opts.mtime, exclude: opts.exclude, onEvent: opts.onEvent }, copy);
    return { ...w.result, ...w.stats, archive: dest, merged: w.merged, earlierEntries: w.earlierEntries, movedTags: w.movedTags };
  }
  const writer = ArchiveWriter.toStream(dest, { compression: opts.compression ?? 'none', mtime: opts.mtime, exclude: opts.exclude });
  try {
    const result = await copy(writer);
    await writer.commit();
    return { ...result, ...writer.stats, archive: '-', merged: false, earlierEntries: 0, movedTags: [] };
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
}

export interface PackOptions extends WriteArchiveOptions {
  /** Select these tags (default: everything the source lists, or what `ref` names). */
  tags?: string[];
  platform?: Platform;
}

export async function pack(src: ReadTarget, ref: Reference, dest: string | Writable, opts: PackOptions = {}): Promise<ArchiveResult> {
  const selection = { tags: opts.tags, platform: opts.platform, everything: true, skipListedReferrers: opts.referrers === false };
  const roots = await selectRoots(src, ref, selection);
  // A whole layout already lists its referrers; looking for more would add entries the source does not have.
  const referrers = (opts.referrers ?? true) && !selectsWholeLayout(src, ref, selection);
  return writeArchive(src, roots, dest, { ...opts, referrers });
}
