/**
 * Write leases: a process that stores blobs in a layout records their digests
 * in a lease file before renaming them into place, and removes the lease when
 * its command is over (by then index.json references what it keeps). `gc`
 * treats leased digests of live processes as in use, so it never deletes a
 * blob another process has just written but not yet listed.
 *
 * A lease names its process and host (`<pid>-<host>-<random>.lease`, the
 * host tag of fs/host-process.ts), as the lock and temp files do: a layout
 * on a shared filesystem may be written from several machines, and a pid is
 * only worth asking about on its own host. So gc drops a lease of this host
 * whose process is gone, and honours a lease of another host, which it
 * cannot ask, until nothing has been added to it for FOREIGN_LEASE_TTL_MS.
 * Leases in the older form `<pid>-<random>.lease` are read as this host's,
 * as the ocikits that wrote them did.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fromFsError } from '../errors.js';
import { HOST_TAG, HOST_TAG_PATTERN, isProcessAlive } from './host-process.js';
import { LEASE_DIR, checkOwnDir } from './layout-own-dirs.js';
import { readRegularFile } from './safe-open.js';

export { LEASE_DIR, isProcessAlive };

/**
 * The name forms of a lease: `<pid>-<host>-<hex>.lease`, and the older
 * `<pid>-<hex>.lease`. gc removes dead leases, and nothing else: whatever
 * else sits in the directory was not made by ocikit, and is not ocikit's to
 * delete.
 */
const LEASE_NAME = new RegExp(`^([1-9][0-9]*)-(?:(${HOST_TAG_PATTERN})-)?[0-9a-f]+\\.lease$`);

/**
 * How long a lease of another host counts as live after its last change. A
 * writer appends to its lease before each blob it stores, so a live one
 * goes quiet only while a single blob streams in; a week covers the slowest
 * link, and a writer killed on another host keeps its blobs from gc no
 * longer than that. Erring long costs disk space until then; erring short
 * would delete a blob a live writer is about to list.
 */
export const FOREIGN_LEASE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** A lease lists one command's blobs (72 bytes each); a bigger one is not ours, and gc stops rather than guess. */
const LEASE_FILE_LIMIT = 256 * 1024 * 1024;

/**
 * Whether the lease `file` (a name of the lease form, whose match is `m`) is
 * dead: this host's lease of a process that no longer runs, or another
 * host's that has not changed for FOREIGN_LEASE_TTL_MS. Undefined when the
 * lease was released while we looked (nothing left to judge).
 */
async function isDeadLease(m: RegExpExecArray, file: string, now: number): Promise<boolean | undefined> {
  const host = m[2] ?? HOST_TAG; // the older form is this host's
  if (host === HOST_TAG) return !isProcessAlive(Number(m[1]));
  try {
    return now - (await fsp.lstat(file)).mtimeMs >= FOREIGN_LEASE_TTL_MS;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The lease files this process holds: a SIGINT or SIGTERM ends ocikit before
 * close() could release them, and the CLI's signal handler removes them
 * (releaseLeasesSync) as it removes temp files. (Left behind, a lease of a
 * dead process costs nothing but a file until the next gc; removed, the
 * layout is as the command found it.)
 */
const held = new Set<string>();

/** Remove every lease this process holds (and its directory when that leaves it empty), synchronously: for a signal handler that exits right after. */
export function releaseLeasesSync(): number {
  const files = [...held];
  held.clear();
  for (const file of files) {
    try {
      rmSync(file, { force: true });
      rmdirSync(path.dirname(file));
    } catch {
      // ENOTEMPTY (another process holds a lease there), or gone already: nothing to do.
    }
  }
  return files.length;
}

export class WriteLease {
  private current?: string;
  private readonly dir: string;

  /** This lease's file, once something was leased (readLiveLeases can leave it out). */
  get file(): string | undefined {
    return this.current;
  }

  constructor(layoutDir: string) {
    this.dir = path.join(layoutDir, LEASE_DIR);
  }

  /** Record `digest` (call before the blob becomes visible under its final name). */
  async add(digest: string): Promise<void> {
    if (!this.current) {
      this.current = path.join(this.dir, `${process.pid}-${HOST_TAG}-${randomBytes(6).toString('hex')}.lease`);
      held.add(this.current);
    }
    // Another process's release() may remove the (empty) lease directory between our mkdir and
    // our write, or even inside our mkdir (a recursive mkdir that meets EEXIST looks again, finds
    // nothing and fails with ENOENT: seen under load in test/interop/concurrent-tags); then make it
    // again. The file itself is ours alone, so appending is safe.
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.mkdir(this.dir, { recursive: true });
        await fsp.appendFile(this.current, `${digest}\n`);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw fromFsError(err, this.dir, 'the lease directory', 'writing to');
      }
    }
  }

  /** Drop the lease, and the lease directory when it is empty, so a finished command leaves the layout as it found it. */
  async release(): Promise<void> {
    if (!this.current) return;
    const file = this.current;
    this.current = undefined;
    await fsp.rm(file, { force: true });
    held.delete(file);
    await fsp.rmdir(this.dir).catch(() => undefined); // ENOTEMPTY: another process holds a lease
  }
}

/**
 * Digests leased by live processes (see the rules above). Dead leases are
 * removed (unless `dryRun`), since nothing will ever release them. Only a
 * real lease directory is read (a symlinked one throws UNSAFE_LAYOUT), and
 * only regular files of the lease name forms count: a lease is read without
 * following a symlink, and removing one unlinks that name, never a target.
 */
export async function readLiveLeases(layoutDir: string, dryRun = false, except?: WriteLease): Promise<Set<string>> {
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
  const now = Date.now();
  for (const entry of entries) {
    const m = LEASE_NAME.exec(entry.name);
    if (!m || !entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    if (except !== undefined && file === except.file) continue;
    const dead = await isDeadLease(m, file, now);
    if (dead === undefined) continue;
    if (dead) {
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
