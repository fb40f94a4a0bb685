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
 * A destination that exists and is not a layout archive (a text file, a
 * docker-archive, a FIFO or device) is refused before anything is written.
 * An empty regular file counts as no archive yet (what `mktemp` leaves):
 * there is nothing in it to keep.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { OcikitError, fromFsError, isOcikitError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Descriptor } from '../spec/types.js';
import { tagOf } from '../spec/index-entries.js';
import { compressionForName, detectCompression, type Compression } from '../archive/compression.js';
import { ArchiveWriter, type ArchiveStats, type ArchiveWriterOptions } from '../targets/archive-writer.js';
import { LayoutArchive } from '../targets/layout-archive.js';
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

/** The file an archive will be written to, and the earlier archive there, if any. */
interface ArchiveDestination {
  /** The path to replace: a symlink's target, so that the link keeps pointing at the archive. */
  file: string;
  /** What was there when it was read (undefined: nothing), to notice another writer before renaming. */
  seen?: FileIdentity;
  earlier?: { archive: LayoutArchive; compression: Compression };
}

type FileIdentity = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

function identityOf(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/**
 * Look at `dest` before writing: missing (or empty) is a new archive; a
 * layout archive is opened to merge; anything else is refused with
 * INVALID_LAYOUT, and nothing is written.
 */
async function openDestination(dest: string): Promise<ArchiveDestination> {
  let st;
  try {
    st = await fsp.stat(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file: dest };
    throw fromFsError(err, dest, 'archive');
  }
  if (st.isDirectory()) {
    throw new OcikitError('INVALID_LAYOUT', `cannot write an archive to ${dest}: it is a directory`, {
      path: dest,
      hint: `name a file (e.g. image.tar); to write into a layout directory, use ocikit copy SRC oci:${dest} or ocikit unpack`,
    });
  }
  if (!st.isFile()) throw notAnArchive(dest);
  const file = await fsp.realpath(dest);
  if (st.size === 0) return { file, seen: identityOf(st) };
  const compression = await headCompression(file);
  let archive: LayoutArchive;
  try {
    archive = await LayoutArchive.open(file, { wholeArchive: true, spoolDir: path.dirname(file) });
  } catch (err) {
    // A file that is not a tar, or a tar that is not a layout: the user's data, not ours to overwrite.
    if (isOcikitError(err, 'INVALID_LAYOUT') || isOcikitError(err, 'UNSAFE_ARCHIVE_ENTRY')) throw notAnArchive(dest, err);
    throw err;
  }
  try {
    await refuseOtherFiles(archive, dest);
  } catch (err) {
    await archive.close();
    throw err;
  }
  return { file, seen: identityOf(st), earlier: { archive, compression } };
}

const LAYOUT_FILES = new Set(['oci-layout', 'index.json']);

/**
 * The merged archive is written from the layout alone, so a file the layout
 * does not account for (a Docker 25+ `docker save` archive's manifest.json
 * and repositories, a README) would silently disappear: refuse instead.
 * Bytes after the tar's end marker are not entries, and are not kept, as no
 * command copies them (archive/tar-end.ts).
 */
async function refuseOtherFiles(archive: LayoutArchive, dest: string): Promise<void> {
  const blobs = new Set(archive.blobDigests().map((d) => `blobs/${d.replace(':', '/')}`));
  for await (const f of archive.listFiles()) {
    const name = f.path.replace(/\/+$/, '');
    const known = f.type === 'directory' ? name === '' || name === '.' || name === 'blobs' || /^blobs\/[^/]+$/.test(name) : f.type === 'file' && (LAYOUT_FILES.has(name) || blobs.has(name));
    if (!known) {
      throw new OcikitError('INVALID_LAYOUT', `refusing to merge into ${dest}: it holds ${f.path}, which is not part of its OCI layout and would be lost; it was left unchanged`, {
        path: dest,
        hint: 'write the new archive under another name (or remove that entry from the archive first)',
      });
    }
  }
}

function notAnArchive(dest: string, cause?: OcikitError): OcikitError {
  // The reader's own hint matters when it recognised the file (a docker save archive); "truncated" would mislead here.
  const recognised = cause?.code === 'INVALID_LAYOUT' ? cause.hint : undefined;
  return new OcikitError('INVALID_LAYOUT', `refusing to write an archive over ${dest}: it exists and is not an OCI layout archive; it was left unchanged`, {
    path: dest,
    cause,
    hint: recognised ? `${recognised}; write the new archive under another name` : 'choose another file name, or move that file away first',
  });
}

async function headCompression(file: string): Promise<Compression> {
  // O_NONBLOCK: should the path have become a FIFO since it was looked at, the open does not hang.
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => {
    throw fromFsError(err, file, 'archive');
  });
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
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
export async function writeArchiveFile<R>(dest: string, opts: ArchiveWriterOptions, write: (writer: ArchiveWriter) => Promise<R>): Promise<ArchiveFileWrite<R>> {
  const { file, seen, earlier } = await openDestination(dest);
  try {
    const writer = await ArchiveWriter.toFile(file, { ...opts, compression: opts.compression ?? earlier?.compression ?? compressionForName(file) });
    try {
      const kept = earlier ? await copyEarlier(earlier.archive, writer, file) : [];
      const result = await write(writer);
      const movedTags = movedSince(kept, writer.entries());
      await writer.commit({ beforeRename: () => checkUnchanged(dest, file, seen) });
      return { result, stats: writer.stats, merged: earlier !== undefined, earlierEntries: kept.length, movedTags };
    } catch (err) {
      await writer.abort(err);
      throw err;
    }
  } finally {
    await earlier?.archive.close();
  }
}

/**
 * The earlier archive, copied as `pack` copies a whole layout, then any blob
 * nothing listed reaches (in digest order): a layout directory keeps those
 * until `gc`, and so does the archive. Returns the earlier entries.
 */
async function copyEarlier(archive: LayoutArchive, writer: ArchiveWriter, file: string): Promise<Descriptor[]> {
  const ref: Reference = { kind: 'layout-archive', path: file, original: file };
  const roots = await selectRoots(archive, ref, { everything: true });
  // Its index.json already lists its referrers: no search for more (that would add entries it does not have).
  await transfer(archive, writer, roots, { concurrency: 1, referrers: false });
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

/**
 * Refuse to rename over a file other than the one that was read: two merges
 * into one archive at once would otherwise each keep only their own
 * additions, and the second rename would silently drop the first's. (A
 * layout directory has its lock for this; an archive is one file, replaced
 * whole, so the check is on the file's identity just before the rename.)
 */
async function checkUnchanged(dest: string, file: string, seen: FileIdentity | undefined): Promise<void> {
  let now: FileIdentity | undefined;
  try {
    now = identityOf(await fsp.stat(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(err, dest, 'archive');
  }
  const same = seen === undefined ? now === undefined : now !== undefined && (Object.keys(seen) as Array<keyof FileIdentity>).every((k) => seen[k] === now![k]);
  if (!same) {
    throw new OcikitError('LOCKED', `${dest} was ${seen ? 'changed' : 'created'} by another writer while this one was writing it; this write was dropped and the file left as that writer made it`, {
      path: dest,
      hint: 're-run the command: it will merge with what is there now',
    });
  }
}
