/**
 * Opening files that somebody else put in a layout. `open(2)` on a FIFO
 * blocks until a writer appears, so a layout whose `index.json` or blob is a
 * named pipe would hang ocikit forever; O_NONBLOCK makes that open return at
 * once (it changes nothing for regular files), and the fstat that follows
 * refuses anything that is not a regular file. O_NOFOLLOW refuses symlinks,
 * which could point anywhere on this machine.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import { OcikitError, fromFsError } from '../errors.js';

export interface OpenRegularOptions {
  /** What the file is, for messages: "blob sha256:...", "index.json". */
  what: string;
  /** Refuse a symlink instead of following it (default true). */
  noFollow?: boolean;
}

/**
 * Open `file` for reading and check that it is a regular file. Returns the
 * handle and its stat; the caller closes the handle. ENOENT is passed through
 * untouched so that callers can say what a missing file means to them.
 */
export async function openRegularFile(file: string, opts: OpenRegularOptions): Promise<{ fh: fsp.FileHandle; size: number }> {
  const flags = fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.noFollow === false ? 0 : fsc.O_NOFOLLOW);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw err;
    if (code === 'ELOOP' || code === 'EMLINK') {
      throw new OcikitError('UNSAFE_BLOB_PATH', `${opts.what} is a symbolic link; refusing to follow it: ${file}`, { path: file, cause: err });
    }
    throw fromFsError(err, file, opts.what);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new OcikitError('UNSAFE_BLOB_PATH', `${opts.what} is not a regular file: ${file}`, { path: file });
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Read a small regular file whole, refusing it when it is larger than `limit` bytes. */
export async function readRegularFile(file: string, limit: number, opts: OpenRegularOptions): Promise<Buffer> {
  const { fh, size } = await openRegularFile(file, opts);
  try {
    if (size > limit) {
      throw new OcikitError('INVALID_LAYOUT', `${opts.what} is ${size} bytes, more than the ${limit} ocikit reads: ${file}`, { path: file, actual: size, expected: limit });
    }
    return await fh.readFile();
  } catch (err) {
    throw fromFsError(err, file, opts.what);
  } finally {
    await fh.close();
  }
}
