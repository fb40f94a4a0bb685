/**
 * Temporary files: how ocikit names them, which ones this process has open,
 * and which ones a process that is gone left behind.
 *
 * Names are `.ocikit-<kind>-<pid>-<host>-<random>`: `tmp` for a file written
 * beside its destination and renamed into place (fs/atomic.ts, archives),
 * `spool` for a decompressed copy of a compressed archive (archive/spool.ts).
 * `<host>` is a short hash of the host name (fs/host-process.ts), so that a
 * process sharing the directory from another machine or container (whose
 * pids mean nothing here) never has its files taken for leftovers; the host
 * name itself stays out of the directory.
 *
 * - A SIGINT or SIGTERM ends ocikit before its `finally` blocks run, so the
 *   files that are open are kept in a registry, and the CLI's signal handler
 *   removes them (removeTrackedTempFiles) before it exits. The library only
 *   adds and drops paths; it never installs a handler.
 * - One kind is kept, not removed: a blob download in progress
 *   (fs/partial-download.ts) is renamed to its partial name on a signal, so
 *   that the next pull resumes it instead of fetching it whole again.
 * - A SIGKILL leaves them behind. Their name says which process made them:
 *   removeLeftoverTempFiles deletes those of the exact form whose process,
 *   on this host, no longer runs. Nothing else is ever removed.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { HOST_TAG, HOST_TAG_PATTERN, isProcessAlive } from './host-process.js';

export type TempKind = 'tmp' | 'spool';

const NAME = new RegExp(`^\\.ocikit-(tmp|spool)-(\\d+)-(${HOST_TAG_PATTERN})-[0-9a-f]{12}$`);
/** The name ocikit gave temp files before the host tag: `.ocikit-tmp-<pid>-<random>`. */
const LEGACY_NAME = /^\.ocikit-tmp-(\d+)-[0-9a-f]{12}$/;

/** A fresh name of this process for a temporary file of `kind`. */
export function tempFileName(kind: TempKind): string {
  return `.ocikit-${kind}-${process.pid}-${HOST_TAG}-${randomBytes(6).toString('hex')}`;
}

/**
 * Whether `name` is a temp file of `kind` made on this host by a process that
 * no longer runs. `legacy` also accepts the older name without a host tag
 * (its pid is then taken to be of this host, as older ocikits did): gc of a
 * layout, where such files may still lie, accepts them.
 */
export function isLeftoverTempFile(name: string, kind: TempKind, opts: { legacy?: boolean } = {}): boolean {
  let pid: number;
  const m = NAME.exec(name);
  if (m) {
    if (m[1] !== kind || m[3] !== HOST_TAG) return false;
    pid = Number(m[2]);
  } else {
    const old = opts.legacy && kind === 'tmp' ? LEGACY_NAME.exec(name) : null;
    if (!old) return false;
    pid = Number(old[1]);
  }
  return pid !== process.pid && !isProcessAlive(pid);
}

/**
 * Remove the leftover temp files of `kind` in `dir` (see isLeftoverTempFile).
 * Best effort: a directory that cannot be read or a file that is already
 * gone is not an error. Returns the names removed.
 */
export async function removeLeftoverTempFiles(dir: string, kind: TempKind): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isLeftoverTempFile(name, kind)) continue;
    try {
      // unlink, not rm -r: only a file of that name is ours; a directory of that name is not.
      await fsp.unlink(path.join(dir, name));
      removed.push(name);
    } catch {
      // Removed by another process meanwhile, or not a file: leave it.
    }
  }
  return removed;
}

/** Tracked temp files, each with the name to keep it under on a signal (undefined: remove it). */
const tracked = new Map<string, string | undefined>();

/**
 * Note that `file` exists and is this process's to remove should it be
 * stopped by a signal; with `keepAs`, to rename there instead (when it holds
 * any bytes).
 */
export function trackTempFile(file: string, keepAs?: string): void {
  tracked.set(file, keepAs);
}

/** `file` was renamed into place or removed: a signal no longer concerns it. */
export function untrackTempFile(file: string): void {
  tracked.delete(file);
}

/**
 * Remove every tracked temp file (keeping those tracked with `keepAs` under
 * that name), synchronously: for a signal handler that exits right after.
 * Returns how many were removed and how many kept.
 */
export function removeTrackedTempFiles(): { removed: number; kept: number } {
  const files = [...tracked];
  tracked.clear();
  let removed = 0;
  let kept = 0;
  for (const [file, keepAs] of files) {
    try {
      if (keepAs !== undefined && statSync(file, { throwIfNoEntry: false })?.size) {
        renameSync(file, keepAs);
        kept++;
        continue;
      }
      rmSync(file, { force: true });
      removed++;
    } catch {
      // Nothing more can be done on the way out; gc or the next run removes it (its pid is dead by then).
    }
  }
  return { removed, kept };
}
