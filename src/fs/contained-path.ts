/**
 * Files written under a directory the user named, at relative paths that
 * come from content (a layer's title in `artifact pull`). The path itself is
 * checked first (spec/title-path.ts: no `..`, not absolute); what is on disk
 * is checked here: every component below the directory that exists must be
 * a real directory, never a symbolic link (DIR/a -> /etc and a title
 * `a/passwd` would write /etc/passwd), and the final name must be absent or
 * a regular file. Components are looked at with lstat, which does not follow
 * links, and created one at a time, each looked at again after mkdir.
 *
 * Node has no openat(2), so a process that swaps a directory for a link
 * between the check and the write can still win; the writers check again
 * right before their rename (see artifact-pull), which narrows that window
 * to the rename itself. The directory the user named may be a link: the
 * user chose it.
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { OcikitError, fromFsError } from '../errors.js';

/** What is at a contained path now. */
export type ContainedState = 'absent' | 'file';

/**
 * Look at `dir/rel` (rel with `/` separators) without following links:
 * 'absent' or 'file'; UNSAFE_PATH when a component is a link or not a
 * directory, or the final name is a link, a directory or a special file.
 */
export async function containedState(dir: string, rel: string, what: string): Promise<ContainedState> {
  const parts = rel.split('/');
  let at = dir;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const st = await lstatOrUndefined(at, what);
    if (st === undefined) return 'absent';
    const last = i === parts.length - 1;
    if (st.isSymbolicLink()) throw unsafe(at, dir, what, 'is a symbolic link; ocikit does not write through links');
    if (last) {
      if (st.isFile()) return 'file';
      throw unsafe(at, dir, what, st.isDirectory() ? 'is a directory' : 'is not a regular file');
    }
    if (!st.isDirectory()) throw unsafe(at, dir, what, 'is not a directory');
  }
  return 'absent';
}

/** Create the directories of `dir/rel` below `dir` (not the last component), refusing any that is or becomes a link. */
export async function makeContainedDirs(dir: string, rel: string, what: string): Promise<string> {
  const parts = rel.split('/');
  let at = dir;
  for (const part of parts.slice(0, -1)) {
    at = path.join(at, part);
    try {
      await fsp.mkdir(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromFsError(err, at, what);
    }
    const st = await lstatOrUndefined(at, what);
    if (st === undefined || st.isSymbolicLink() || !st.isDirectory()) throw unsafe(at, dir, what, st?.isSymbolicLink() ? 'is a symbolic link' : 'is not a directory');
  }
  return path.join(at, parts[parts.length - 1]!);
}

function unsafe(at: string, dir: string, what: string, why: string): OcikitError {
  return new OcikitError('UNSAFE_PATH', `cannot write ${what} to ${at}: ${path.relative(dir, at) || at} ${why}`, {
    path: at,
    hint: `remove or rename ${at}, or pull into another directory`,
  });
}

async function lstatOrUndefined(p: string, what: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // A component that is a file: the path cannot be made, and nothing was written.
    if (code === 'ENOTDIR') throw new OcikitError('UNSAFE_PATH', `cannot write ${what} to ${p}: a component of it is not a directory`, { path: p, cause: err });
    throw fromFsError(err, p, what);
  }
}
