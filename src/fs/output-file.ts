/**
 * Files a command leaves behind at a path the user names (`attach
 * --export-manifest`, `inspect --html`, `blob fetch -o`). Two rules:
 *
 * - The path is checked before the command does its work (checkOutputFile).
 *   `attach --export-manifest /missing/dir/m.json` used to fail only after
 *   the artifact was attached, and a re-run attached it a second time.
 * - The file is written through fs/atomic.ts (writeOutputFile): a temp file
 *   beside it, fsynced and renamed, removed on failure or on a signal. A
 *   reader never sees half a report, and a failure leaves what was there.
 */
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { OcikitError, UsageError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Whether `dest` can take `what` (e.g. "the artifact manifest"): its
 * directory exists, is a directory and is writable, and `dest` itself is
 * absent or a regular file (the rename replaces it). Throws USAGE for a
 * `dest` that is a directory or a special file, IO_ERROR for a directory
 * that is missing or that ocikit may not write in.
 */
export async function checkOutputFile(dest: string, what: string): Promise<void> {
  const existing = await statOrUndefined(dest, dest, what);
  if (existing && !existing.isFile()) {
    const kind = existing.isDirectory() ? 'a directory' : 'not a regular file';
    throw new UsageError(`cannot write ${what} to ${dest}: it is ${kind}`, { path: dest, hint: 'name a file (it is created, or replaced when it exists)' });
  }
  const dir = path.dirname(path.resolve(dest));
  const parent = await statOrUndefined(dir, dest, what);
  if (!parent) throw new OcikitError('IO_ERROR', `cannot write ${what} to ${dest}: directory ${dir} does not exist`, { path: dir, hint: 'create the directory first, or name a file in an existing one' });
  if (!parent.isDirectory()) throw new UsageError(`cannot write ${what} to ${dest}: ${dir} is not a directory`, { path: dir });
  try {
    await fsp.access(dir, fsc.W_OK | fsc.X_OK);
  } catch (err) {
    throw new OcikitError('IO_ERROR', `cannot write ${what} to ${dest}: no permission to create files in ${dir}`, { path: dir, cause: err, hint: 'name a file in a directory you can write to' });
  }
}

/** Write `data` to `dest` atomically (see above); errors name `dest`, never the temp file. */
export async function writeOutputFile(dest: string, data: Uint8Array | string, what: string): Promise<void> {
  try {
    await writeFileAtomic(dest, data);
  } catch (err) {
    throw outputFileError(err, dest, what);
  }
}

/** An error of an atomic write to `dest` as the user should read it: about `dest` (the message of a raw fs error names the temp file). */
export function outputFileError(err: unknown, dest: string, what: string): OcikitError {
  if (err instanceof OcikitError) return err;
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new OcikitError('IO_ERROR', `cannot write ${what} to ${dest}: ${reason}`, { path: dest, cause: err });
}

async function statOrUndefined(p: string, dest: string, what: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new UsageError(`cannot write ${what} to ${dest}: a component of ${p} is not a directory`, { path: p, cause: err });
    throw outputFileError(err, dest, what);
  }
}
