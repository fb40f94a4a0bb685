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
import { compressionForName, type Compression } from '../archive/compression.js';
import type { ReadTarget } from '../graph/target.js';
import { selectRoots, selectsWholeLayout, transfer, type Root, type TransferResult } from './transfer.js';

export interface WriteArchiveOptions {
  /** Bring referrers of the roots along (default true). */
  referrers?: boolean;
  /** Delta bundle: leave out blobs this target holds. */
  exclude?: ReadTarget;
  /** Default: from the file name (.tar.gz/.tgz gzip), none for a stream. */
  compression?: Compression;
  /** Entry mtime in seconds (default SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  onEvent?: (e: CopyEvent) => void;
}

export interface ArchiveResult extends TransferResult, ArchiveStats {
  /** The file written, or "-" for a stream. */
  archive: string;
}

/** Copy `roots` from `src` into a new archive at `dest` (a path, or a stream such as stdout). */
export async function writeArchive(src: ReadTarget, roots: Root[], dest: string | Writable, opts: WriteArchiveOptions = {}): Promise<ArchiveResult> {
  const writerOpts = {
    compression: opts.compression ?? (typeof dest === 'string' ? compressionForName(dest) : 'none'),
    mtime: opts.mtime,
    exclude: opts.exclude,
  };
  const writer = typeof dest === 'string' ? await ArchiveWriter.toFile(dest, writerOpts) : ArchiveWriter.toStream(dest, writerOpts);
  try {
    // Concurrency 1: a tar is written one entry at a time anyway, and a single
    // lane makes the entry order a function of the graph alone (reproducible).
    const result = await transfer(src, writer, roots, { concurrency: 1, referrers: opts.referrers ?? true, onEvent: opts.onEvent });
    await writer.commit();
    return { ...result, ...writer.stats, archive: typeof dest === 'string' ? dest : '-' };
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
