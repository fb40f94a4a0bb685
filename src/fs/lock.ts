/**
 * A cross-process lock on a layout, so concurrent ocikit processes never lose
 * each other's index.json updates.
 *
 * The lock is a file whose content names its holder (`<pid> <host>
 * <token>`). It comes into existence complete: the holder writes a private
 * temp file and hard-links it to the lock path, which fails if the path
 * exists. (The first build used proper-lockfile's mkdir and then wrote an
 * owner file into the directory; a kill between the two left a lock nobody
 * could prove dead, and the next write waited 10 s: 2 of 39 kills in the
 * crash harness.)
 *
 * A holder keeps the lock's mtime fresh every 2 s. A waiter takes the lock
 * over when its owner is a process of this host that no longer runs (at
 * once), or when it is older than 10 s (a holder on another machine, which
 * cannot be asked, or a lock with no owner). Takeover is decided on what the
 * waiter saw: it moves the lock aside, and if what it moved is not the lock
 * it judged (someone took that over first), it puts it back.
 *
 * A holder can therefore lose its lock (it was stopped, or its event loop was
 * starved, for more than 10 s). So it never trusts that it holds the lock: it
 * confirms (`HeldLock.confirm`) immediately before each change it makes, that
 * the lock path is still its own file with its own token, and changes nothing
 * if not. Release and exit remove the lock only when it is still its own.
 *
 * Locks of older ocikit versions (a directory, maybe with an `owner` file)
 * are honoured and taken over by the same rules.
 */
import { randomBytes } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { OcikitError } from '../errors.js';
import { tempPathFor } from './atomic.js';
import { isProcessAlive } from './host-process.js';

/** A lock whose mtime is older than this is taken over (its holder refreshes every REFRESH_MS). */
const STALE_MS = 10_000;
const REFRESH_MS = 2_000;
/** Attempts and backoff while another live process holds the lock (~45 s in all, as before). */
const ATTEMPTS = 200;
const backoff = (attempt: number) => Math.min(250, 10 * 1.2 ** attempt) * (1 + Math.random());
/** link(2) unsupported by the filesystem: the lock is then created in place (with the old, narrow owner-less window). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export interface HeldLock {
  readonly path: string;
  /**
   * Throw LOCKED unless this process still holds the lock; refresh it if so.
   * Call immediately before every change made under the lock.
   */
  confirm(): Promise<void>;
}

export async function withLock<T>(lockPath: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquire(lockPath);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/** What a waiter saw at the lock path. */
interface Seen {
  ino: number;
  dev: number;
  mtimeMs: number;
  owner?: { pid: number; host: string };
}

async function acquire(lockPath: string): Promise<Lock> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await Lock.create(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lockPath, err);
    }
    const seen = await look(lockPath);
    if (attempt >= ATTEMPTS) throw busyError(lockPath);
    if (!seen) continue; // released meanwhile
    if (abandoned(seen)) {
      await takeOver(lockPath, seen);
      continue;
    }
    await new Promise((r) => setTimeout(r, backoff(attempt)));
  }
}

const OWNER = /^(\d+) (\S+)(?: ([0-9a-f]+))?\n$/;

async function look(lockPath: string): Promise<Seen | undefined> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(lockPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw lockError(lockPath, err);
  }
  // An older ocikit's lock is a directory with the owner in `owner`.
  const text = await fsp.readFile(st.isDirectory() ? path.join(lockPath, 'owner') : lockPath, 'utf8').catch(() => '');
  const m = OWNER.exec(text);
  return { ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs, ...(m ? { owner: { pid: Number(m[1]), host: m[2]! } } : {}) };
}

function abandoned(seen: Seen): boolean {
  if (seen.owner && seen.owner.host === hostname() && !isProcessAlive(seen.owner.pid)) return true;
  return seen.mtimeMs < Date.now() - STALE_MS;
}

/**
 * Remove the abandoned lock `seen`. Two waiters may judge the same lock
 * abandoned; the slower one must not remove the lock the faster one has just
 * made. So the lock is moved aside (atomic), compared with what was judged,
 * and put back if it is another one.
 */
async function takeOver(lockPath: string, seen: Seen): Promise<void> {
  const aside = tempPathFor(lockPath);
  try {
    await fsp.rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw lockError(lockPath, err);
  }
  const st = await fsp.lstat(aside);
  if (st.ino !== seen.ino || st.dev !== seen.dev) {
    // Someone else's fresh lock: back where it was, unless yet another one is there now (then its holder
    // finds its lock gone at its next confirm and writes nothing).
    if (st.isDirectory()) await fsp.rename(aside, lockPath).catch(() => undefined);
    else await fsp.link(aside, lockPath).catch(() => undefined);
  }
  await fsp.rm(aside, { recursive: true, force: true });
}

/** Locks this process holds, removed on exit (a process that is killed leaves them to the dead-owner rule). */
const held = new Set<Lock>();
let exitHook = false;

class Lock implements HeldLock {
  private timer?: NodeJS.Timeout;
  private lost?: string;
  private released = false;

  private constructor(
    readonly path: string,
    private readonly text: string,
    private readonly ino: number,
    private readonly dev: number,
  ) {}

  /** Create the lock with its owner in it, or fail with EEXIST. */
  static async create(lockPath: string): Promise<Lock> {
    const text = `${process.pid} ${hostname()} ${randomBytes(8).toString('hex')}\n`;
    const tmp = tempPathFor(lockPath);
    let st: fs.Stats;
    try {
      await fsp.writeFile(tmp, text, { flag: 'wx' });
      try {
        await fsp.link(tmp, lockPath);
      } catch (err) {
        if (!NO_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        await fsp.writeFile(lockPath, text, { flag: 'wx' });
      }
      // Nobody takes over a fresh lock of a live process, so what is at the path now is ours.
      st = await fsp.lstat(lockPath);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    const lock = new Lock(lockPath, text, st.ino, st.dev);
    lock.schedule();
    held.add(lock);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const l of held) l.releaseSync();
      });
    }
    return lock;
  }

  async confirm(): Promise<void> {
    if (!this.lost && !this.released) {
      const why = await this.check();
      if (why) this.lost = why;
      else await this.touch();
    }
    if (this.lost || this.released) {
      const why = this.lost ?? 'released';
      throw new OcikitError('LOCKED', `lost the lock on ${this.path} (${why}) before writing; nothing was changed, re-run the command`, {
        path: this.path,
        hint: 'another ocikit process took the lock over, as it does when a holder stops refreshing it for 10 s',
      });
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.stop();
    if (!(await this.check())) await fsp.rm(this.path, { force: true }).catch(() => undefined);
  }

  private releaseSync(): void {
    if (this.released) return;
    this.stop();
    try {
      const st = fs.lstatSync(this.path);
      if (st.ino === this.ino && st.dev === this.dev && fs.readFileSync(this.path, 'utf8') === this.text) fs.rmSync(this.path, { force: true });
    } catch {
      // Gone already, or not ours: nothing to do.
    }
  }

  private stop(): void {
    this.released = true;
    held.delete(this);
    clearTimeout(this.timer);
  }

  /** Why the lock is no longer ours, or undefined while it is. */
  private async check(): Promise<string | undefined> {
    try {
      const st = await fsp.lstat(this.path);
      if (st.ino !== this.ino || st.dev !== this.dev) return 'another process holds it now';
      if ((await fsp.readFile(this.path, 'utf8')) !== this.text) return 'its owner changed';
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'it was removed';
      return `it cannot be read: ${(err as Error).message}`;
    }
  }

  private async touch(): Promise<void> {
    const now = new Date();
    await fsp.utimes(this.path, now, now).catch(() => undefined);
  }

  /** Refresh while held; the timer does not keep the process alive. */
  private schedule(): void {
    this.timer = setTimeout(() => {
      void (async () => {
        if (this.released) return;
        const why = await this.check();
        if (this.released) return;
        if (why) {
          this.lost = why;
          return;
        }
        await this.touch();
        this.schedule();
      })();
    }, REFRESH_MS);
    this.timer.unref();
  }
}

/** The lock is held by a live process and stayed held for all our attempts. */
function busyError(lockPath: string): OcikitError {
  return new OcikitError('LOCKED', `could not lock ${lockPath}: another process holds it`, {
    path: lockPath,
    hint: 'wait for the other ocikit process to finish; a lock whose process is gone is taken over at once on this host, and after 10 s from another host',
  });
}

/** The lock could not be made or looked at (a read-only layout, say). */
function lockError(lockPath: string, cause: unknown): OcikitError {
  return new OcikitError('LOCKED', `could not lock ${lockPath}: ${(cause as Error).message}`, {
    path: lockPath,
    cause,
    hint: 'check that the layout directory is writable',
  });
}
