/**
 * Which process made a file ocikit leaves in a shared directory (temp files,
 * write leases): a pid and a tag of the host it runs on. A pid only means
 * something on its own host (another machine or container sharing the
 * filesystem has its own pid space), so a file is judged abandoned by pid
 * only when its host tag is this host's.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A short hash of the host name: tells this host's files from another's
 * without writing the host name itself into the directory.
 */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** The form of HOST_TAG, for the name grammars that carry one. */
export const HOST_TAG_PATTERN = '[0-9a-f]{8}';

/** Whether process `pid` of this host runs (one we may not signal runs too). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
