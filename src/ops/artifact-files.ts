/**
 * The files of `artifact push`: the FILE arguments as given, with
 * directories walked and glob patterns expanded, each file with its title
 * (its path as given, normalised). Order is what the user wrote, a pattern's
 * matches and a directory's files in sorted order, so the same command over
 * the same files gives the same manifest.
 *
 * A directory is walked file by file (regctl's "files" way), not packed
 * into one tar layer as oras does: each file is then a layer that
 * `artifact pull --include` can select and that other tools can fetch alone.
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { NotFoundError, OcikitError, UsageError, fromFsError } from '../errors.js';
import { titlePathProblem, titleFilePath } from '../spec/title-path.js';
import type { AttachFile } from './attach.js';

export interface FileArgument {
  /** A file, a directory, or a glob pattern. */
  path: string;
  /** Layer media type for every file it names. */
  mediaType?: string;
}

/**
 * Expand FILE arguments into files with titles. Usage errors (exit 2) for an
 * argument that names nothing (a pattern without a match), a title that
 * would be refused on pull (absolute, `..`), and anything that is neither a
 * regular file nor a directory; NOT_FOUND for a path that does not exist.
 */
export async function collectArtifactFiles(args: readonly FileArgument[], cwd = process.cwd()): Promise<AttachFile[]> {
  const out: AttachFile[] = [];
  for (const arg of args) {
    const st = await lstatOrUndefined(path.resolve(cwd, arg.path), arg.path);
    if (st === undefined && fg.isDynamicPattern(arg.path)) {
      for (const match of await expandPattern(arg.path, cwd)) out.push(fileOf(match, arg.mediaType));
      continue;
    }
    if (st === undefined) throw new NotFoundError(`file to push not found: ${arg.path}`, { path: arg.path });
    // A path given on the command line may be a symlink to a file or a directory: the user chose it.
    const target = st.isSymbolicLink() ? await statFollowing(path.resolve(cwd, arg.path), arg.path) : st;
    if (target.isDirectory()) {
      for (const file of await walkFiles(arg.path, cwd)) out.push(fileOf(file, arg.mediaType));
    } else if (target.isFile()) {
      out.push(fileOf(arg.path, arg.mediaType));
    } else {
      throw notRegular(arg.path);
    }
  }
  return out;
}

function fileOf(given: string, mediaType: string | undefined): AttachFile {
  return { path: given, title: titleForPath(given), ...(mediaType === undefined ? {} : { mediaType }) };
}

/** The title of a file named `given` on the command line: the path as given, relative, with forward slashes. */
export function titleForPath(given: string): string {
  const posix = given.split(path.sep).join('/');
  const problem = posix.startsWith('/')
    ? 'it is an absolute path'
    : posix.split('/').includes('..')
      ? 'it has a ".." component'
      : titlePathProblem(titleFilePath(posix) || posix);
  if (problem) {
    throw new UsageError(`cannot push ${given} as a file of an artifact: ${problem}; its path becomes the layer's title, which must be relative and stay inside the directory it is pulled to`, {
      path: given,
      hint: 'run ocikit from a directory that holds the files and name them by relative paths',
    });
  }
  return titleFilePath(posix);
}

/** A glob's regular files, sorted; directories it matches are not walked (name a directory to push its files). */
async function expandPattern(pattern: string, cwd: string): Promise<string[]> {
  const matches = await fg(pattern, { cwd, onlyFiles: false, followSymbolicLinks: false, objectMode: true });
  const files: string[] = [];
  for (const m of matches) {
    if (m.dirent.isDirectory()) continue;
    if (!m.dirent.isFile()) throw notRegular(m.path);
    files.push(m.path);
  }
  if (files.length === 0) throw new UsageError(`no file matches ${pattern}`, { path: pattern, hint: 'check the pattern; quote it so that ocikit, not the shell, expands it' });
  return files.sort(byCodeUnits);
}

/** Every regular file under `dir`, by path as `dir` was given, sorted; a symlink, FIFO or device inside is refused. */
async function walkFiles(dir: string, cwd: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(path.resolve(cwd, rel), { withFileTypes: true });
    } catch (err) {
      throw fromFsError(err, rel, 'directory to push');
    }
    for (const e of entries.sort((a, b) => byCodeUnits(a.name, b.name))) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) files.push(child);
      else throw notRegular(child);
    }
  };
  await walk(dir);
  return files;
}

function notRegular(file: string): OcikitError {
  return new UsageError(`cannot push ${file}: it is not a regular file or a directory (symbolic links inside a directory or matched by a pattern are not followed)`, {
    path: file,
    hint: 'name the file it points to on the command line instead',
  });
}

async function lstatOrUndefined(abs: string, given: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromFsError(err, given, 'file to push');
  }
}

async function statFollowing(abs: string, given: string): Promise<Stats> {
  try {
    return await fsp.stat(abs);
  } catch (err) {
    throw fromFsError(err, given, 'file to push');
  }
}

/** Sorted by UTF-16 code units, as JavaScript's default sort: the same order on every machine, whatever its locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
