/**
 * A layout directory a command creates for its output (`pull REF DIR`),
 * taken back when the command fails before storing anything in it: a failed
 * pull into a new directory must not leave an empty layout behind, which
 * the next command would take for a real (empty) one.
 *
 * Only what the command created goes: the directories that did not exist
 * before (DIR and any missing parents), or, in a directory that existed and
 * was empty, the layout files written into it. And only while the layout
 * holds nothing of value: no blob and no partial download (an interrupted
 * download the next pull resumes, fs/partial-download.ts). Once the first
 * blob is stored, the directory stays, as a layout that the next pull
 * completes.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** What `dir` was before the command: missing (and the topmost missing ancestor), empty, or anything else. */
export type OutputDirState = { kind: 'missing'; top: string } | { kind: 'empty' } | { kind: 'other' };

export async function outputDirState(dir: string): Promise<OutputDirState> {
  let top: string | undefined;
  for (let cur = path.resolve(dir); ; ) {
    try {
      const st = await fsp.lstat(cur);
      if (top !== undefined) return { kind: 'missing', top };
      if (!st.isDirectory()) return { kind: 'other' };
      return (await fsp.readdir(cur)).length === 0 ? { kind: 'empty' } : { kind: 'other' };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { kind: 'other' };
      top = cur;
      const parent = path.dirname(cur);
      if (parent === cur) return { kind: 'other' };
      cur = parent;
    }
  }
}

/** The entries an empty layout made by ocikit may hold (plus ocikit's own temp, lock and lease names). */
function isEmptyLayoutEntry(name: string): boolean {
  return name === 'oci-layout' || name === 'index.json' || name === 'blobs' || name === '.ocikit.lock' || name === '.ocikit-leases' || name.startsWith('.ocikit-tmp-');
}

/**
 * After a failure: undo the creation of the layout at `dir` (see above) when
 * it holds no blob and no partial download. Returns whether it did.
 */
export async function removeUnusedNewLayout(dir: string, before: OutputDirState): Promise<boolean> {
  if (before.kind === 'other') return false;
  const root = path.resolve(dir);
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return false;
  }
  if (!names.every(isEmptyLayoutEntry) || (await holdsBlobs(path.join(root, 'blobs')))) return false;
  if (before.kind === 'empty') {
    for (const name of names) await fsp.rm(path.join(root, name), { recursive: true, force: true });
    return true;
  }
  await fsp.rm(root, { recursive: true, force: true });
  // The parents this command created, up to the topmost; rmdir removes only an empty one.
  for (let cur = path.dirname(root); cur.startsWith(before.top) && cur.length >= before.top.length; cur = path.dirname(cur)) {
    try {
      await fsp.rmdir(cur);
    } catch {
      break;
    }
  }
  return true;
}

/** Whether `blobs/` holds anything but empty algorithm directories. */
async function holdsBlobs(blobs: string): Promise<boolean> {
  let entries;
  try {
    entries = await fsp.readdir(blobs, { withFileTypes: true });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  for (const e of entries) {
    if (!e.isDirectory()) return true;
    if ((await fsp.readdir(path.join(blobs, e.name)).catch(() => ['?'])).length > 0) return true;
  }
  return false;
}
