/**
 * Atomic file writes: content goes to a temp file in the destination's
 * directory (same filesystem, created exclusively), is fsynced, then renamed
 * over the destination, and the directory is fsynced so the rename survives a
 * crash. A failure at any point removes the temp file: nothing half-written
 * is ever visible under the final name.
 */
import { fromFsError } from '../errors.js';
import { FileSink } from './byte-sink.js';
import { copyIfFileRange } from './file-range.js';
import { batched } from '../util/json-chunks.js';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { tempFileName, trackTempFile, untrackTempFile } from './temp-files.js';

/**
 * A 1 MiB buffer instead of the default 16 KiB: network sources deliver 64 KiB pieces, and with
 * room for several of them the file takes them in one writev instead of pausing the source after
 * every piece.
 */
const WRITE_BUFFER = 1024 * 1024;
/** Large files start their writeback every 64 MiB (FileSink's flush-behind); small ones never do. */
export const FLUSH_EVERY = 64 * 1024 * 1024;

/** A temp file name of this process (fs/temp-files.ts) in `dir`, by default `dest`'s directory. */
export function tempPathFor(dest: string, dir = path.dirname(dest)): string {
  return path.join(dir, tempFileName('tmp'));
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse to fsync a directory; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}

export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface AtomicWriteOptions {
  /**
   * Runs after the content is on disk and immediately before the rename; if it
   * throws, nothing is renamed and the temp file is removed (a writer under a
   * lock confirms there that it still holds the lock).
   */
  beforeRename?: () => Promise<void>;
}

/** Write bytes to `dest` atomically. */
export async function writeFileAtomic(dest: string, data: Uint8Array | string, mode = 0o644, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomicWith(tempPathFor(dest), dest, mode, (fh) => fh.writeFile(data), opts.beforeRename);
}

/**
 * Write text produced piece by piece (a report of tens of thousands of
 * manifests) to `dest` atomically, without ever holding all of it: pieces are
 * gathered into writes of 64 KiB (bigger batches live long enough to be
 * promoted to V8's old generation, which then grows with garbage).
 */
export async function writeChunksAtomic(dest: string, pieces: Iterable<string>, mode = 0o644, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomicWith(
    tempPathFor(dest),
    dest,
    mode,
    async (fh) => {
      for (const chunk of batched(pieces, 64 * 1024)) await fh.write(chunk);
    },
    opts.beforeRename,
  );
}

/** Fill a new temp file through its handle, fsync it and rename it to `dest`; on failure nothing is left. */
async function writeFileAtomicWith(
  tmp: string,
  dest: string,
  mode: number | undefined,
  fill: (fh: fsp.FileHandle) => Promise<void>,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  trackTempFile(tmp);
  try {
    const fh = await fsp.open(tmp, 'wx', mode ?? 0o644).catch((err: unknown) => {
      throw fromFsError(err, path.dirname(tmp), 'the directory', 'writing to');
    });
    try {
      await fill(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await beforeRename?.();
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  } finally {
    untrackTempFile(tmp);
  }
  await fsyncDir(path.dirname(dest));
}

/**
 * Stream `source` through `checks` (e.g. a VerifyStream) into a temp file in
 * `tmpDir`, then rename it to `dest`. The checks run before the rename, so a
 * digest or size mismatch leaves nothing behind.
 */
export async function streamToFileAtomic(
  source: Readable,
  checks: Transform[],
  dest: string,
  opts: { tmpDir?: string; mode?: number } & AtomicWriteOptions = {},
): Promise<void> {
  try {
    await writeFileAtomicWith(tempPathFor(dest, opts.tmpDir), dest, opts.mode, async (fh) => {
      const sink = new FileSink(fh, { flushEvery: FLUSH_EVERY });
      // A blob that is a range of a local file (unpacking an archive) and needs no further check is
      // copied with positional reads and writes through reused buffers, hashed on the way
      // (fs/file-range.ts); anything else (a download) is piped.
      if (checks.length > 0 || !(await copyIfFileRange(source, (chunk) => sink.write(chunk)))) {
        await pipeline([source, ...checks, sink.asWritable(WRITE_BUFFER)]);
      }
      await sink.end();
    }, opts.beforeRename);
  } catch (err) {
    source.destroy();
    throw err;
  }
}

/** Filesystems without hard links answer link() with one of these. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Move a complete temp file to `dest` only if nothing is there: a hard link
 * (which fails with EEXIST instead of replacing) and the temp name removed.
 * A file that appeared at `dest` while the temp file was written is kept,
 * where a rename would have dropped it. Returns false when `dest` exists
 * (the temp file is left to the caller). On a filesystem without hard
 * links, the check and the rename are two steps.
 */
export async function renameIfAbsent(tmp: string, dest: string): Promise<boolean> {
  try {
    await fsp.link(tmp, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINKS.has(code)) throw err;
    if (await fsp.lstat(dest).then(() => true, () => false)) return false;
    await fsp.rename(tmp, dest);
    return true;
  }
  await fsp.unlink(tmp);
  return true;
}
