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

export const LEASE_DIR = '.ocikit-leases';

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
 * removed (unless `dryRun`), since nothing will ever release them.
 */
export async function readLiveLeases(layoutDir: string, dryRun = false): Promise<Set<string>> {
  const dir = path.join(layoutDir, LEASE_DIR);
  const out = new Set<string>();
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const pid = Number(name.split('-', 1)[0]);
    const file = path.join(dir, name);
    if (!isProcessAlive(pid)) {
      if (!dryRun) await fsp.rm(file, { force: true });
      continue;
    }
    const text = await fsp.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line) out.add(line);
  }
  return out;
}
