/**
 * Writing to an archive file that already exists merges, as writing to a
 * layout directory does (design.md, data rule 7): the new archive holds
 * every entry of the earlier one and the blobs they reach, plus what the
 * command adds. Nothing is edited in place: the earlier archive is read as
 * one more source (an uncompressed tar in place, a compressed one through a
 * decompressed spool beside it) while the new archive streams into a
 * temporary file in the same directory, renamed over the old one only once
 * complete. Any failure before that rename leaves the old file byte for byte
 * as it was.
 *
 * Order, and so reproducibility: the earlier archive's content is copied
 * first, selected exactly as `pack` selects a whole layout (then any blob
 * of it that nothing listed reaches, by digest), then the
 * command's own roots, named on top of it by the same naming step a layout
 * directory uses. So `copy A X.tar` then `copy B X.tar` writes the same bytes
 * as `pack` of a layout directory into which A and then B were copied,
 * unless a write moves a tag: the image the tag left stays in the archive,
 * unlisted, as it stays in a layout until `gc` (pack of that layout copies
 * only what index.json lists, so it would leave the image out).
 *
 * The file itself (what may be replaced, the temporary file, the rename
 * and its guard against another writer) is targets/archive-rewrite.ts.
 */
import type { Reference } from '../reference.js';
import type { Descriptor } from '../spec/types.js';
import { tagOf } from '../spec/index-entries.js';
import type { ArchiveStats, ArchiveWriter, ArchiveWriterOptions } from '../targets/archive-writer.js';
import type { LayoutArchive } from '../targets/layout-archive.js';
import { ArchiveRewrite } from '../targets/archive-rewrite.js';
import type { ProgressEvent } from '../graph/progress-events.js';
import { selectRoots, transfer } from './transfer.js';

/** What a write did to an archive that was already there. */
export interface ArchiveMergeResult {
  /** True when the destination held a layout archive whose content was kept. */
  merged: boolean;
  /** index.json entries the earlier archive listed. */
  earlierEntries: number;
  /** Tags of the earlier archive that now name other content (moved, as a layout tag moves). */
  movedTags: string[];
}

export interface ArchiveFileWrite<R> extends ArchiveMergeResult {
  result: R;
  stats: ArchiveStats;
}

/**
 * Write the archive at `dest`: the earlier archive's content (if any) first,
 * then whatever `write` puts into the writer; commit, or leave `dest` as it
 * was. Without a `compression` option, a merged archive keeps the earlier
 * file's compression (its bytes say what it is, whatever its name).
 */
export async function writeArchiveFile<R>(
  dest: string,
  opts: ArchiveWriterOptions & { onEvent?: (e: ProgressEvent) => void },
  write: (writer: ArchiveWriter) => Promise<R>,
): Promise<ArchiveFileWrite<R>> {
  const { onEvent, ...writerOpts } = opts;
  const rewrite = await ArchiveRewrite.open(dest);
  try {
    const writer = await rewrite.start(writerOpts);
    const earlier = rewrite.earlier;
    // The earlier content is copied again, byte for byte: progress shows it moving too.
    const kept = earlier ? await rewrite.readingEarlier(() => copyEarlier(earlier, writer, rewrite.file, onEvent)) : [];
    const result = await write(writer);
    const movedTags = movedSince(kept, writer.entries());
    await rewrite.commit();
    return { result, stats: writer.stats, merged: rewrite.earlier !== undefined, earlierEntries: kept.length, movedTags };
  } catch (err) {
    await rewrite.abort(err);
    throw err;
  } finally {
    await rewrite.close();
  }
}

/**
 * The earlier archive, copied as `pack` copies a whole layout, then any blob
 * nothing listed reaches (in digest order): a layout directory keeps those
 * until `gc`, and so does the archive. Returns the earlier entries.
 */
async function copyEarlier(archive: LayoutArchive, writer: ArchiveWriter, file: string, onEvent?: (e: ProgressEvent) => void): Promise<Descriptor[]> {
  const ref: Reference = { kind: 'layout-archive', path: file, original: file };
  const roots = await selectRoots(archive, ref, { everything: true });
  // Its index.json already lists its referrers: no search for more (that would add entries it does not have).
  await transfer(archive, writer, roots, { concurrency: 1, referrers: false, onEvent, announce: true });
  for (const digest of archive.blobDigests().sort()) {
    const desc = await archive.statBlob(digest);
    if (!(await writer.exists(desc))) await writer.push(desc, await archive.fetch(desc));
  }
  return (await archive.readIndex()).manifests;
}

/** Tags the earlier entries had that the new index gives to another digest (or drops). */
function movedSince(earlier: readonly Descriptor[], now: readonly Descriptor[]): string[] {
  const current = new Map<string, Set<string>>();
  for (const e of now) {
    const t = tagOf(e);
    if (t !== undefined) (current.get(t) ?? current.set(t, new Set()).get(t)!).add(e.digest);
  }
  const moved = new Set<string>();
  for (const e of earlier) {
    const t = tagOf(e);
    if (t !== undefined && !current.get(t)?.has(e.digest)) moved.add(t);
  }
  return [...moved].sort();
}
