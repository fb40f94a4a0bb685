/**
 * Replacing an archive file with a new one, the part every archive write
 * shares (a merge by copy/pack/pull, an edit by a write verb): look at what
 * is there first, keep its compression, write the new archive to a
 * temporary file beside it, and rename that over it only if the file is
 * still the one that was read. Nothing is edited in place, so any failure
 * before the rename leaves the old file byte for byte as it was.
 *
 * The earlier archive is opened for reading (an uncompressed tar in place, a
 * compressed one through a decompressed spool beside it); what of it goes
 * into the new archive, and in which order, is the caller's choice.
 *
 * A destination that exists and is not a layout archive (a text file, a
 * docker-archive, a FIFO or device) is refused before anything is written.
 * An empty regular file counts as no archive yet (what `mktemp` leaves):
 * there is nothing in it to keep.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { OcikitError, fromFsError, isOcikitError } from '../errors.js';
import { compressionForName, detectCompression, type Compression } from '../archive/compression.js';
import { ArchiveWriter, type ArchiveWriterOptions } from './archive-writer.js';
import { LayoutArchive } from './layout-archive.js';

type FileIdentity = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

function identityOf(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** One replacement of an archive file: open() looks, start() begins the new file, commit() renames it into place. */
export class ArchiveRewrite {
  /** The path as the caller gave it, for messages. */
  readonly dest: string;
  /** The path to replace: a symlink's target, so that the link keeps pointing at the archive. */
  readonly file: string;
  /** The layout archive that was there (undefined: nothing, or an empty file). */
  readonly earlier?: LayoutArchive;
  /** What the earlier file was compressed with (its bytes say, whatever its name). */
  readonly earlierCompression?: Compression;
  /** What was there when it was read (undefined: nothing), to notice another writer before renaming. */
  private readonly seen?: FileIdentity;
  private writer?: ArchiveWriter;
  private committed = false;

  private constructor(dest: string, file: string, seen?: FileIdentity, earlier?: { archive: LayoutArchive; compression: Compression }) {
    this.dest = dest;
    this.file = file;
    this.seen = seen;
    this.earlier = earlier?.archive;
    this.earlierCompression = earlier?.compression;
  }

  /** True when a file (even an empty one) was there to replace. */
  get existed(): boolean {
    return this.seen !== undefined;
  }

  /**
   * Look at `dest` before writing: missing (or empty) is a new archive; a
   * layout archive is opened to be read; anything else is refused with
   * INVALID_LAYOUT, and nothing is written.
   */
  static async open(dest: string): Promise<ArchiveRewrite> {
    let st;
    try {
      st = await fsp.stat(dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new ArchiveRewrite(dest, dest);
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
    if (st.size === 0) return new ArchiveRewrite(dest, file, identityOf(st));
    const compression = await headCompression(file);
    let archive: LayoutArchive;
    try {
      archive = await LayoutArchive.open(file, { spoolDir: path.dirname(file) });
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
    return new ArchiveRewrite(dest, file, identityOf(st), { archive, compression });
  }

  /**
   * Begin the new archive in a temporary file beside the old one. Without a
   * `compression` option it keeps the earlier file's, else the name's
   * (x.tar.gz: gzip).
   */
  async start(opts: ArchiveWriterOptions = {}): Promise<ArchiveWriter> {
    if (this.writer) throw new OcikitError('IO_ERROR', `the new archive ${this.dest} is already being written`);
    this.writer = await ArchiveWriter.toFile(this.file, { ...opts, compression: opts.compression ?? this.earlierCompression ?? compressionForName(this.file) });
    return this.writer;
  }

  /** Finish the new archive and rename it over the old one, unless another writer replaced the old one meanwhile (LOCKED). */
  async commit(): Promise<void> {
    if (!this.writer) throw new OcikitError('IO_ERROR', `nothing was written for ${this.dest}`);
    await this.writer.commit({ beforeRename: () => this.assertUnchanged(), lockPath: path.join(path.dirname(this.file), `.${path.basename(this.file)}.ocikit-lock`) });
    this.committed = true;
  }

  /**
   * Run `copy`, which reads the earlier archive. An uncompressed one is read
   * in place: another program rewriting it meanwhile makes it read as
   * damaged, and what it then is is a concurrent change (LOCKED), not damage.
   */
  async readingEarlier<T>(copy: () => Promise<T>): Promise<T> {
    try {
      return await copy();
    } catch (err) {
      await this.assertUnchanged();
      throw err;
    }
  }

  /** Drop the new archive (its temporary file); the old one stays as it was. */
  async abort(reason?: unknown): Promise<void> {
    if (!this.committed) await this.writer?.abort(reason);
  }

  /** Abort unless committed, and close the earlier archive (a spool is removed with it). */
  async close(): Promise<void> {
    try {
      await this.abort();
    } finally {
      await this.earlier?.close();
    }
  }

  /**
   * Refuse to rename over a file other than the one that was read: two
   * writes to one archive at once would otherwise each keep only their own
   * additions, and the second rename would silently drop the first's. (A
   * layout directory has its lock for this; an archive is one file, replaced
   * whole, so the check is on the file's identity just before the rename,
   * and the check and the rename are made under a lock beside the archive,
   * `.<name>.ocikit-lock`, held for those two steps only: two writers that
   * both passed the check before either renamed lost the first's edit.)
   */
  async assertUnchanged(): Promise<void> {
    const { dest, file, seen } = this;
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
        hint: 're-run the command: it will start from what is there now',
      });
    }
  }
}

const LAYOUT_FILES = new Set(['oci-layout', 'index.json']);

/**
 * The new archive is written from the layout alone, so a file the layout
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
      throw new OcikitError('INVALID_LAYOUT', `refusing to rewrite ${dest}: it holds ${f.path}, which is not part of its OCI layout and would be lost; it was left unchanged`, {
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
