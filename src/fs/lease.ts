/**
 * Write leases: a process that stores blobs in a layout records their digests
 * in a lease file before renaming them into place, and removes the lease when
 * its command is over (by then index.json references what it keeps). `gc`
 * treats leased digests of live processes as in use, so it never deletes a
 * blob another process has just written but not yet listed.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { LEASE_DIR, checkOwnDir } from './layout-own-dirs.js';
import { readRegularFile } from './safe-open.js';

export { LEASE_DIR };

/**
 * The one name form of a lease: `<pid>-<hex>.lease`. gc removes dead leases,
 * and nothing else: whatever else sits in the directory was not made by
 * ocikit, and is not ocikit's to delete.
 */
const LEASE_NAME = /^([1-9][0-9]*)-[0-9a-f]+\.lease$/;

/** A lease lists one command's blobs (72 bytes each); a bigger one is not ours, and gc stops rather than guess. */
const LEASE_FILE_LIMIT = 256 * 1024 * 1024;

export class WriteLease {
  private file?: string;
  private readonly dir: string;

  constructor(layoutDir: string) {
    this.dir = path.join(layoutDir, LEASE_DIR);
  }

  /** Record `digest` (call before the blob becomes visible under its final name). */
  async add(digest: string): Promise<void> {
    if (!this.file) this.file = path.join(this.dir, `${process.pid}-${randomBytes(6).toString('hex')}.lease`);
    // Another process's release() may remove the (empty) lease directory between our mkdir and
    // our write, or even inside our mkdir (a recursive mkdir that meets EEXIST looks again, finds
    // nothing and fails with ENOENT: seen under load in test/interop/concurrent-tags); then make it
    // again. The file itself is ours alone, so appending is safe.
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.mkdir(this.dir, { recursive: true });
        await fsp.appendFile(this.file, `${digest}\n`);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw err;
      }
    }
  }

  /** Drop the lease, and the lease directory when it is empty, so a finished command leaves the layout as it found it. */
  async release(): Promise<void> {
    if (!this.file) return;
    const file = this.file;
    this.file = undefined;
    await fsp.rm(file, { force: true });
    await fsp.rmdir(this.dir).catch(() => undefined); // ENOTEMPTY: another process holds a lease
  }
}

export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Digests leased by live processes. Leases of processes that are gone are
 * removed (unless `dryRun`), since nothing will ever release them. Only a
 * real lease directory is read (a symlinked one throws UNSAFE_LAYOUT), and
 * only regular files of the lease name form count: a lease is read without
 * following a symlink, and removing one unlinks that name, never a target.
 */
export async function readLiveLeases(layoutDir: string, dryRun = false): Promise<Set<string>> {
  const out = new Set<string>();
  if (!(await checkOwnDir(layoutDir, LEASE_DIR))) return out;
  const dir = path.join(layoutDir, LEASE_DIR);
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out; // the last holder just released it
    throw err;
  }
  for (const entry of entries) {
    const m = LEASE_NAME.exec(entry.name);
    if (!m || !entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    if (!isProcessAlive(Number(m[1]))) {
      if (!dryRun) await fsp.rm(file, { force: true }); // unlinks the name (rm never follows a symlink)
      continue;
    }
    let text: string;
    try {
      text = (await readRegularFile(file, LEASE_FILE_LIMIT, { what: `write lease ${entry.name}` })).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released while we listed
      throw err;
    }
    for (const line of text.split('\n')) if (line) out.add(line);
  }
  return out;
}
