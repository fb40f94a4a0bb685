/**
 * Opening files that somebody else put in a layout. `open(2)` on a FIFO
 * blocks until a writer appears, so a layout whose `index.json` or blob is a
 * named pipe would hang ocikit forever; O_NONBLOCK makes that open return at
 * once (it changes nothing for regular files), and the fstat that follows
 * refuses anything that is not a regular file. O_NOFOLLOW refuses symlinks,
 * which could point anywhere on this machine.
 */
import { closeSync, constants as fsc, fstatSync, openSync, promises as fsp, readSync } from 'node:fs';
import { OcikitError, fromFsError } from '../errors.js';
import { readUtf8 } from './chunked-text.js';

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
function openFlags(opts: OpenRegularOptions): number {
  return fsc.O_RDONLY | fsc.O_NONBLOCK | (opts.noFollow === false ? 0 : fsc.O_NOFOLLOW);
}

/** ENOENT passes through untouched; a symlink (ELOOP with O_NOFOLLOW) is refused as unsafe. */
function openError(err: unknown, file: string, opts: OpenRegularOptions): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return err;
  if (code === 'ELOOP' || code === 'EMLINK') {
    return new OcikitError('UNSAFE_BLOB_PATH', `${opts.what} is a symbolic link; refusing to follow it: ${file}`, { path: file, cause: err });
  }
  return fromFsError(err, file, opts.what);
}

function notRegular(file: string, opts: OpenRegularOptions): OcikitError {
  return new OcikitError('UNSAFE_BLOB_PATH', `${opts.what} is not a regular file: ${file}`, { path: file });
}

export async function openRegularFile(file: string, opts: OpenRegularOptions): Promise<{ fh: fsp.FileHandle; size: number }> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, openFlags(opts));
  } catch (err) {
    throw openError(err, file, opts);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(file, opts);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The same checks, synchronously, for a small file whose size is known in
 * advance (a blob named by a descriptor). For documents of a few KiB the four
 * async round trips (open, fstat, read, close) cost far more than the work; a
 * walk over 10,000 manifests spends most of its time in them. So: one read of
 * `expectedSize + 1` bytes. A regular file returns fewer bytes than asked
 * only at its end, so getting exactly `expectedSize` proves the size without
 * an fstat (which, with the Stats object Node builds, costs as much as the
 * read). Anything else (a short or long read, a read error) is looked at with
 * fstat, so a FIFO, device or directory is still refused as not a regular
 * file. A non-regular file that happens to deliver exactly the expected bytes
 * passes here, and its content is then checked against the digest like any
 * blob's. Returns the bytes, and the size found when it differs.
 */
export function readSmallRegularFileSync(file: string, expectedSize: number, opts: OpenRegularOptions): { bytes: Buffer; size: number } {
  let fd: number;
  try {
    fd = openSync(file, openFlags(opts));
  } catch (err) {
    throw openError(err, file, opts);
  }
  try {
    const bytes = Buffer.allocUnsafe(expectedSize + 1);
    let n: number;
    try {
      n = readSync(fd, bytes, 0, bytes.length, 0);
    } catch (err) {
      if (!fstatSync(fd).isFile()) throw notRegular(file, opts);
      throw err;
    }
    if (n === expectedSize) return { bytes: bytes.subarray(0, n), size: n };
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(file, opts);
    return { bytes: Buffer.alloc(0), size: st.size };
  } catch (err) {
    throw err instanceof OcikitError ? err : fromFsError(err, file, opts.what);
  } finally {
    closeSync(fd);
  }
}

/** Read a small regular file whole, refusing it when it is larger than `limit` bytes. */
export async function readRegularFile(file: string, limit: number, opts: OpenRegularOptions): Promise<Buffer> {
  return withRegularFileUpTo(file, limit, opts, (fh) => fh.readFile());
}

/**
 * A regular file's UTF-8 text, read in chunks (fs/chunked-text.ts says why),
 * refused when it is larger than `limit` bytes; undefined when it is not UTF-8.
 */
export async function readRegularText(file: string, limit: number, opts: OpenRegularOptions): Promise<string | undefined> {
  return withRegularFileUpTo(file, limit, opts, (fh, size) =>
    readUtf8(size, async (position, length) => {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    }),
  );
}

async function withRegularFileUpTo<T>(file: string, limit: number, opts: OpenRegularOptions, read: (fh: fsp.FileHandle, size: number) => Promise<T>): Promise<T> {
  const { fh, size } = await openRegularFile(file, opts);
  try {
    if (size > limit) {
      throw new OcikitError('INVALID_LAYOUT', `${opts.what} is ${size} bytes, more than the ${limit} ocikit reads: ${file}`, { path: file, actual: size, expected: limit });
    }
    return await read(fh, size);
  } catch (err) {
    throw fromFsError(err, file, opts.what);
  } finally {
    await fh.close();
  }
}
