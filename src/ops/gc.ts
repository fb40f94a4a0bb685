/**
 * Garbage collection of a layout directory.
 *
 * Roots are tagged index.json entries and untagged entries without a subject.
 * An entry with a subject is live while its subject is live, recursively
 * (signatures of live SBOMs stay). Entries whose subject is gone are removed
 * from index.json, then every blob no live entry reaches is deleted. All of it
 * runs under the layout lock, index.json is rewritten before any blob goes
 * (a crash never leaves it pointing at nothing), and blobs leased by other
 * running ocikit processes are kept. A manifest that cannot be read aborts
 * the run: gc never guesses what an unreadable manifest needs.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isValidDigest, SUPPORTED_ALGORITHMS } from '../digest/digest.js';
import type { Descriptor } from '../spec/types.js';
import { tempPathFor } from '../fs/atomic.js';
import { readLiveLeases } from '../fs/lease.js';
import { isLeftoverTempFile } from '../fs/temp-files.js';
import { isPartialFileName } from '../fs/partial-download.js';
import type { LayoutDir } from '../targets/layout-dir.js';
import { removeEntries, tagOf } from '../spec/index-entries.js';
import { entryClosures, type EntryClosure } from '../graph/closure.js';

export { entryClosures, type EntryClosure };

export interface GcResult {
  dryRun: boolean;
  removedEntries: Descriptor[];
  removedBlobs: Array<{ digest: string; size: number }>;
  freedBytes: number;
  keptBlobs: number;
  /** Stale temp files of crashed ocikit processes removed. */
  removedTempFiles: string[];
  /**
   * Partial downloads removed (`.ocikit-partial-<alg>-<hex>`, kept by an
   * interrupted pull for the next one to resume). Every one lying there is
   * removed: a download in progress has taken its partial file over under a
   * temp name of its own, so none of these is in use; gc is asked for to
   * free space, and the next pull of such a blob simply downloads it whole.
   */
  removedPartials: Array<{ name: string; size: number }>;
}

export async function gc(layout: LayoutDir, opts: { dryRun?: boolean } = {}): Promise<GcResult> {
  const dryRun = opts.dryRun === true;
  return layout.exclusive(async (lock) => {
    const index = await layout.readIndex();
    const { live, removedEntries } = liveContent(index.manifests, await entryClosures(layout, index.manifests));

    // List blobs before reading leases: a blob renamed into place after the listing is not a candidate,
    // and one renamed before it was leased before it was renamed.
    const blobs = await listBlobs(layout);
    const leased = await readLiveLeases(layout.dir, dryRun);
    const doomed = blobs.filter((b) => !live.has(b.digest) && !leased.has(b.digest));

    if (!dryRun && removedEntries.length > 0) {
      await layout.writeIndexLocked(removeEntries(index, new Set(removedEntries.map((e) => e.digest))), lock);
    }
    // What is live was decided under the lock; a gc that lost it since (a writer may have tagged one of the doomed) deletes nothing.
    if (!dryRun && doomed.length > 0) await lock.confirm();
    const removedBlobs = dryRun ? doomed : await removeBlobs(layout, doomed);
    const removedTempFiles = await staleTempFiles(layout.dir);
    if (!dryRun) for (const f of removedTempFiles) await fsp.rm(path.join(layout.dir, f), { force: true });
    const removedPartials = await partialDownloads(layout.dir);
    if (!dryRun) for (const f of removedPartials) await fsp.rm(path.join(layout.dir, f.name), { force: true });

    return {
      dryRun,
      removedEntries,
      removedBlobs,
      freedBytes: removedBlobs.reduce((n, b) => n + b.size, 0),
      keptBlobs: blobs.length - removedBlobs.length,
      removedTempFiles,
      removedPartials,
    };
  });
}

/**
 * Delete blobs without pulling one from under a writer. Writers lease a
 * digest and then look whether the blob is there (LayoutDir.push, retain);
 * one whose lease came after our lease read but whose look came before our
 * unlink would skip a blob we then delete. So every doomed blob is first
 * renamed aside (a writer looking after that sees it missing and stores it
 * again), the leases are read a second time, and what got leased meanwhile
 * goes back; the rest is deleted. Returns the blobs deleted. (A gc killed
 * between the two steps leaves `.ocikit-tmp-` files the next gc removes.)
 */
async function removeBlobs(layout: LayoutDir, doomed: Array<{ digest: string; size: number }>): Promise<Array<{ digest: string; size: number }>> {
  const aside: Array<{ blob: { digest: string; size: number }; tmp: string }> = [];
  for (const blob of doomed) {
    const tmp = tempPathFor(layout.blobPath(blob.digest), layout.dir);
    try {
      await fsp.rename(layout.blobPath(blob.digest), tmp);
      aside.push({ blob, tmp });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const leased = await readLiveLeases(layout.dir);
  const removed: Array<{ digest: string; size: number }> = [];
  for (const { blob, tmp } of aside) {
    // Putting it back may replace a copy a writer stored meanwhile: the same bytes under the same digest.
    if (leased.has(blob.digest)) await fsp.rename(tmp, layout.blobPath(blob.digest));
    else {
      await fsp.rm(tmp, { force: true });
      removed.push(blob);
    }
  }
  return removed;
}

export interface LiveContent {
  /** Digests of every blob and manifest a live entry reaches. */
  live: Set<string>;
  /** Digests of the live index.json entries. */
  liveEntries: Set<string>;
  /** Entries that go: artifacts whose subject is not live. */
  removedEntries: Descriptor[];
}

/**
 * The pure part of gc: roots are tagged entries and untagged entries without
 * a subject; an entry with a subject is live while its subject is, found by
 * passes until nothing changes (a signature of a live SBOM stays).
 */
export function liveContent(entries: readonly Descriptor[], closures: ReadonlyMap<string, EntryClosure>): LiveContent {
  const live = new Set<string>();
  const liveEntries = new Set<string>();
  const mark = (digest: string) => {
    if (liveEntries.has(digest)) return false;
    liveEntries.add(digest);
    for (const d of closures.get(digest)!.closure) live.add(d);
    return true;
  };
  for (const entry of entries) {
    if (tagOf(entry) !== undefined || closures.get(entry.digest)!.subject === undefined) mark(entry.digest);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const [digest, info] of closures) {
      if (info.subject !== undefined && !liveEntries.has(digest) && live.has(info.subject)) changed = mark(digest) || changed;
    }
  }
  return { live, liveEntries, removedEntries: entries.filter((e) => !liveEntries.has(e.digest)) };
}

async function listBlobs(layout: LayoutDir): Promise<Array<{ digest: string; size: number }>> {
  const out: Array<{ digest: string; size: number }> = [];
  for (const alg of Object.keys(SUPPORTED_ALGORITHMS)) {
    const dir = path.join(layout.dir, 'blobs', alg);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const digest = `${alg}:${name}`;
      // Files that are not named like a blob are not ours to judge; leave them.
      if (!isValidDigest(digest)) continue;
      const st = await fsp.lstat(path.join(dir, name));
      if (st.isFile()) out.push({ digest, size: st.size });
    }
  }
  return out;
}

/**
 * Temp files (`.ocikit-tmp-<pid>-...`) left by ocikit processes of this host
 * that no longer run (fs/temp-files.ts). Only regular files: ocikit never
 * makes a temp directory or symlink, so one of those is somebody else's and
 * stays (verify lists it).
 */
async function staleTempFiles(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && isLeftoverTempFile(e.name, 'tmp', { legacy: true })).map((e) => e.name);
}

/** Partial downloads in the layout root (fs/partial-download.ts): regular files of that name only. */
async function partialDownloads(dir: string): Promise<Array<{ name: string; size: number }>> {
  const out: Array<{ name: string; size: number }> = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!e.isFile() || !isPartialFileName(e.name)) continue;
    const st = await fsp.lstat(path.join(dir, e.name)).catch(() => undefined); // taken over meanwhile
    if (st?.isFile()) out.push({ name: e.name, size: st.size });
  }
  return out;
}
