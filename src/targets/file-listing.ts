/**
 * An optional capability of targets that hold a layout as files (a layout
 * directory, a layout archive): list what is there and read a small file at
 * the layout root. `verify` uses it for the checks that only make sense on
 * files — the `oci-layout` file, blobs nobody references, stray files — and
 * skips them on targets without it (a registry cannot list its blobs).
 */
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { OcikitError, fromFsError } from '../errors.js';
import { readRegularFile } from '../fs/safe-open.js';

export interface LayoutFileEntry {
  /** Relative to the layout root, `/`-separated, without a leading `./` or a trailing `/`. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** Bytes, for files; 0 otherwise. */
  size: number;
}

export interface FileListing {
  /** Every entry of the layout, directories included, in no particular order. */
  listFiles(): AsyncIterable<LayoutFileEntry>;
  /** A regular file at the layout root (`oci-layout`, `index.json`), or undefined when there is none; refused above `limit` bytes. */
  readLayoutFile(name: string, limit?: number): Promise<Buffer | undefined>;
}

/** Asked of the target's declared abilities ('list-files', graph/target.ts), not of its methods. */
export function hasFileListing<T extends { readonly abilities: ReadonlySet<string> }>(t: T): t is T & FileListing {
  return t.abilities.has('list-files');
}

/** The default cap of readLayoutFile: `oci-layout` is one short JSON object. */
export const LAYOUT_FILE_LIMIT = 64 * 1024;

/** Walk a directory tree without following symlinks (they are listed as symlinks, for verify to report). */
export async function* walkDirectory(root: string): AsyncGenerator<LayoutFileEntry> {
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const abs = rel === '' ? root : path.join(root, rel);
    // Read as a stream of entries, not as one array: blobs/sha256 may hold 100,000 files, and
    // their names and Dirents at once were megabytes held while verify was busiest.
    let dir: AsyncIterable<Dirent>;
    try {
      dir = await fsp.opendir(abs);
    } catch (err) {
      throw fromFsError(err, abs, 'directory');
    }
    let batch: Dirent[] = [];
    // Sizes come from lstat (never following a symlink), a batch at a time.
    const described = async () => {
      const out = await Promise.all(batch.map((d) => describeEntry(root, rel === '' ? d.name : `${rel}/${d.name}`, d)));
      batch = [];
      // An entry removed while we listed is left out.
      return out.filter((e): e is LayoutFileEntry => e !== undefined);
    };
    const iterator = dir[Symbol.asyncIterator]();
    let done = false;
    try {
      while (!done) {
        try {
          const next = await iterator.next();
          if (next.done) done = true;
          else batch.push(next.value);
        } catch (err) {
          done = true;
          throw fromFsError(err, abs, 'directory');
        }
        if (batch.length === STAT_BATCH || (done && batch.length > 0)) {
          for (const entry of await described()) {
            if (entry.type === 'directory') pending.push(entry.path);
            yield entry;
          }
        }
      }
    } finally {
      // A reader that stops early (or a failed read) still closes the directory.
      if (!done) await iterator.return?.();
    }
  }
}

const STAT_BATCH = 64;

async function describeEntry(root: string, rel: string, d: Dirent): Promise<LayoutFileEntry | undefined> {
  if (d.isDirectory()) return { path: rel, type: 'directory', size: 0 };
  if (!d.isFile()) return { path: rel, type: d.isSymbolicLink() ? 'symlink' : 'other', size: 0 };
  const st = await fsp.lstat(path.join(root, rel)).catch(() => undefined);
  if (!st) return undefined;
  return st.isFile() ? { path: rel, type: 'file', size: st.size } : { path: rel, type: st.isSymbolicLink() ? 'symlink' : 'other', size: 0 };
}

/** Read `name` at the root of layout directory `dir`; undefined when absent. Refuses names with a path in them. */
export async function readLayoutDirFile(dir: string, name: string, limit = LAYOUT_FILE_LIMIT): Promise<Buffer | undefined> {
  if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    throw new OcikitError('USAGE', `not a file name at the layout root: ${JSON.stringify(name)}`);
  }
  try {
    return await readRegularFile(path.join(dir, name), limit, { what: `${name} of ${dir}` });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err instanceof OcikitError && err.code === 'NOT_FOUND')) return undefined;
    throw err;
  }
}
