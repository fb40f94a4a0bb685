/**
 * A cross-process lock on a layout, so concurrent ocikit processes never lose
 * each other's index.json updates. proper-lockfile uses an atomic mkdir plus
 * a refreshed mtime, which works on local and network filesystems and
 * recovers from a holder that crashed (its lock goes stale).
 */
import lockfile from 'proper-lockfile';
import { OcikitError } from '../errors.js';

const LOCK_OPTIONS = {
  stale: 10_000,
  update: 2_000,
  realpath: false,
  retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 250, randomize: true },
};

export async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  let compromised: Error | undefined;
  try {
    // The default onCompromised throws from a timer, which would crash the process; record it instead.
    release = await lockfile.lock(lockPath, { ...LOCK_OPTIONS, lockfilePath: lockPath, onCompromised: (err) => (compromised = err) });
  } catch (err) {
    throw new OcikitError('LOCKED', `could not lock ${lockPath}: another process holds it (${(err as Error).message})`, {
      path: lockPath,
      cause: err,
      hint: 'wait for the other ocikit process to finish; a lock left by a crashed process expires after 10 s',
    });
  }
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
