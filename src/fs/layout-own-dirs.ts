/**
 * The directories inside a layout that ocikit itself writes into, renames
 * into or deletes in: `blobs`, `blobs/<alg>` and the write-lease directory.
 * (Temp files live in the layout root, which the user chose; the lock,
 * `.ocikit.lock`, is fs/lock.ts's to judge.) A layout someone else made may
 * have any of them as a symlink, and every write or delete through it would
 * land wherever it points: gc once emptied the directory a symlinked
 * `.ocikit-leases` named, and deleted another layout's blobs through a
 * symlinked `blobs/sha256`; unpack wrote there. So writers refuse such a
 * layout before their first write, and verify reports it; both ask
 * ownDirProblem.
 *
 * Each component is lstat'ed from the root down and must be a real
 * directory. That is the realpath check without its cost and without its
 * false alarm: a chain of real directories cannot leave the root (short of a
 * mount point, which takes an administrator), while the root itself may be
 * reached through a symlink the user gave (their choice).
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { SUPPORTED_ALGORITHMS } from '../digest/digest.js';
import { OcikitError, fromFsError, type ErrorCode } from '../errors.js';

export const LEASE_DIR = '.ocikit-leases';

/** Relative to the layout root, `/`-separated, every parent before its children. */
export const OWN_DIRS: readonly string[] = ['blobs', ...Object.keys(SUPPORTED_ALGORITHMS).map((alg) => `blobs/${alg}`), LEASE_DIR];

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

/**
 * What is wrong with own directory `rel` when it is an entry of `type`, or
 * undefined when it is a real directory. A `blobs` that is not a directory
 * breaks the layout for every reader (INVALID_LAYOUT); anything else is a
 * danger to ocikit's writes (UNSAFE_LAYOUT).
 */
export function ownDirProblem(rel: string, type: EntryType): { code: ErrorCode; message: string } | undefined {
  if (type === 'directory') return undefined;
  if (type === 'symlink') {
    return { code: 'UNSAFE_LAYOUT', message: `${rel} is a symbolic link; ocikit writes and deletes in it and would do so wherever it points` };
  }
  const what = type === 'file' ? 'a regular file' : 'a device, socket or FIFO';
  return { code: rel === 'blobs' ? 'INVALID_LAYOUT' : 'UNSAFE_LAYOUT', message: `${rel} is ${what}, not a directory` };
}

function entryType(st: Stats): EntryType {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return st.isFile() ? 'file' : 'other';
}

/**
 * Whether own directory `rel` of the layout at `root` exists (false when it
 * does not yet); throws UNSAFE_LAYOUT (or INVALID_LAYOUT) when it is there
 * but is not a real directory.
 */
export async function checkOwnDir(root: string, rel: string): Promise<boolean> {
  const abs = path.join(root, rel);
  let st: Stats;
  try {
    st = await fsp.lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fromFsError(err, abs, `directory ${rel} of layout ${root}`);
  }
  const problem = ownDirProblem(rel, entryType(st));
  if (!problem) return true;
  throw new OcikitError(problem.code, `refusing to change layout ${root}: ${problem.message}`, {
    path: abs,
    hint: `replace ${abs} with a real directory (holding what it should hold), then run ocikit verify ${root}`,
  });
}

/** Check every own directory of the layout at `root` (see checkOwnDir); call before the first write or delete. */
export async function assertOwnDirsSafe(root: string): Promise<void> {
  for (const rel of OWN_DIRS) await checkOwnDir(root, rel);
}
