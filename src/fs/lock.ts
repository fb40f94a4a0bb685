/**
 * A cross-process lock on a layout, so concurrent ocikit processes never lose
 * each other's index.json updates. proper-lockfile uses an atomic mkdir plus
 * a refreshed mtime, which works on local and network filesystems and
 * recovers from a holder that crashed (its lock goes stale).
 *
 * Stale after 10 s is right for a holder on another machine, but a holder on
 * this machine that was killed is known to be gone at once: the crash harness
 * (test/crash) showed every re-run after a killed `gc` waiting out those 10 s.
 * So the holder writes `owner` (its pid and host name) into the lock
 * directory, and a waiter that finds the owner dead on this host removes the
 * lock and takes it right away. A lock without an owner file (the holder was
 * killed between mkdir and the write, or an older ocikit) still goes stale
 * after 10 s.
 */
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { OcikitError } from '../errors.js';
import { isProcessAlive } from './lease.js';

const OWNER_FILE = 'owner';

/**
 * proper-lockfile removes its lock (on release, on exit, and when it is
 * stale) with rmdir; with the owner file inside, the directory must go with
 * its contents.
 */
const lockFs = {
  ...fs,
  rmdir: (p: string, cb: (err: NodeJS.ErrnoException | null) => void) => fs.rm(p, { recursive: true, force: true }, cb),
  rmdirSync: (p: string) => fs.rmSync(p, { recursive: true, force: true }),
};

const LOCK_OPTIONS = { stale: 10_000, update: 2_000, realpath: false, fs: lockFs };
/** Attempts and backoff while another live process holds the lock (as proper-lockfile's retries were: ~45 s in all). */
const ATTEMPTS = 200;
const backoff = (attempt: number) => Math.min(250, 10 * 1.2 ** attempt) * (1 + Math.random());

export async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  let compromised: Error | undefined;
  // The default onCompromised throws from a timer, which would crash the process; record it instead.
  const release = await acquire(lockPath, (err) => (compromised = err));
  try {
    const result = await fn();
    if (compromised) {
      throw new OcikitError('LOCKED', `lost the lock on ${lockPath} while working (${compromised.message}); re-run the command`, { path: lockPath, cause: compromised });
    }
    return result;
  } finally {
    await release().catch(() => undefined);
  }
}

async function acquire(lockPath: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const release = await lockfile.lock(lockPath, { ...LOCK_OPTIONS, lockfilePath: lockPath, onCompromised });
      await writeOwner(lockPath);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockError(lockPath, err);
      if (await removeIfOwnerDead(lockPath)) continue;
      if (attempt >= ATTEMPTS) throw lockError(lockPath, err);
      await new Promise((r) => setTimeout(r, backoff(attempt)));
    }
  }
}

/**
 * Record who holds the lock. Creating a file changes its directory's mtime,
 * which proper-lockfile reads as "someone else touched my lock" (the lock is
 * then compromised); so the mtime it set is put back.
 */
async function writeOwner(lockPath: string): Promise<void> {
  try {
    const st = await fsp.stat(lockPath);
    await fsp.writeFile(path.join(lockPath, OWNER_FILE), `${process.pid} ${hostname()}\n`);
    await fsp.utimes(lockPath, st.atime, st.mtime);
  } catch {
    // Without an owner file the lock still works; it just goes stale after 10 s instead of at once.
  }
}

/**
 * Remove the lock when its owner file names a process of this host that no
 * longer runs. Two waiters may both see the same dead owner; the second
 * removal can then hit the first one's fresh lock, the same narrow race
 * proper-lockfile's own stale removal has, and only right after a crash.
 */
async function removeIfOwnerDead(lockPath: string): Promise<boolean> {
  const text = await fsp.readFile(path.join(lockPath, OWNER_FILE), 'utf8').catch(() => '');
  const m = /^(\d+) (.+)\n$/.exec(text);
  if (!m || m[2] !== hostname() || isProcessAlive(Number(m[1]))) return false;
  await fsp.rm(lockPath, { recursive: true, force: true });
  return true;
}

function lockError(lockPath: string, err: unknown): OcikitError {
  return new OcikitError('LOCKED', `could not lock ${lockPath}: another process holds it (${(err as Error).message})`, {
    path: lockPath,
    cause: err,
    hint: 'wait for the other ocikit process to finish; a lock left by a crashed process expires after 10 s',
  });
}
