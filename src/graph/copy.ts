/**
 * One graph copy for every command that moves content (copy, pull, push,
 * pack, unpack): walk the graph under a root, copy children before parents
 * (so the destination never holds a manifest whose content is missing), skip
 * what the destination already has, verify every byte, bound concurrency,
 * and, when asked, bring the referrers of every copied manifest along,
 * recursively.
 */
import type { Descriptor } from '../spec/types.js';
import { fetchesFrom, isRetained, keepsPartials, pushesTagged, type ReadTarget, type WriteTarget } from './target.js';
import { limiter } from '../util/limit.js';
import { fetchManifest, fetchManifestOrEmbedded, fetchOrEmbedded, type FetchedManifest } from './content.js';
import { isOcikitError } from '../errors.js';
import { isWalkable, successors } from './successors.js';
import { countBytes } from '../fs/count-bytes.js';
import { bytesReporter, type ProgressEvent } from './progress-events.js';

/** What a copy reports as it goes (graph/progress-events.ts). */
export type CopyEvent = ProgressEvent;

export interface CopyOptions {
  /** Blobs transferred at once (default 5). */
  concurrency?: number;
  /**
   * A limit shared with other copies running side by side (push's roots),
   * used instead of one of `concurrency` slots for this copy alone: their
   * blob transfers together stay under it.
   */
  limit?: <T>(task: () => Promise<T>) => Promise<T>;
  /** Also copy referrers of every manifest copied, recursively. */
  referrers?: boolean;
  /** Only copy referrers with this artifact type. */
  referrersFilter?: { artifactType?: string };
  /**
   * A referrer that fails to copy (a registry refusing its media type) does
   * not stop the copy: it is reported in `failedReferrers` and the other
   * referrers are copied. Off, the first failure fails the copy.
   */
  continuePastFailedReferrers?: boolean;
  /**
   * The tag the root will be given once copied. A destination that stores a
   * manifest under a tag in one step (pushesTagged: a registry) then stores
   * the root that way instead of by digest.
   */
  rootTag?: string;
  onEvent?: (e: CopyEvent) => void;
}

export interface CopyResult {
  root: Descriptor;
  /** Referrers copied (to list in a layout's index.json), in discovery order. */
  referrers: Descriptor[];
  /** Every descriptor the copy covered, copied or skipped. */
  nodes: number;
  bytesCopied: number;
  /** Of those, bytes taken from partial downloads an interrupted run kept. */
  resumedBytes: number;
  /** Referrers that could not be copied (with continuePastFailedReferrers), in discovery order. */
  failedReferrers: FailedReferrer[];
}

export interface FailedReferrer {
  referrer: Descriptor;
  /** The digest of the manifest it refers to. */
  subject: string;
  error: unknown;
}

/**
 * A manifest from the source (or the copy its descriptor embeds in `data`);
 * from the destination when only the destination has it: a delta bundle
 * lacks what its base already holds, and the walk still needs the manifest
 * to reach whatever else is missing.
 */
async function fetchManifestFrom(src: ReadTarget, dst: WriteTarget, desc: Descriptor): Promise<FetchedManifest> {
  try {
    return await fetchManifestOrEmbedded(src, desc);
  } catch (err) {
    if (isOcikitError(err, 'NOT_FOUND') && (await dst.exists(desc))) return fetchManifest(dst, desc);
    throw err;
  }
}

export async function copyGraph(src: ReadTarget, dst: WriteTarget, root: Descriptor, opts: CopyOptions = {}): Promise<CopyResult> {
  const run = opts.limit ?? limiter(opts.concurrency ?? 5);
  const done = new Map<string, Promise<void>>();
  const manifests = new Map<string, FetchedManifest>();
  let bytesCopied = 0;
  let resumedBytesTotal = 0;
  let nodes = 0;

  const copyNode = (desc: Descriptor): Promise<void> => {
    let p = done.get(desc.digest);
    if (!p) {
      p = (async () => {
        nodes++;
        opts.onEvent?.({ type: 'found', descriptor: desc });
        if (isWalkable(desc)) {
          // Read the manifest from the source even when the destination has it: its children may be missing there.
          const m = await run(() => fetchManifestFrom(src, dst, desc));
          manifests.set(desc.digest, m);
          await Promise.all(successors(m).map(copyNode));
          // isRetained, not exists: a layout's gc must not delete what this copy skipped and will list.
          if (await isRetained(dst, desc)) return opts.onEvent?.({ type: 'skip', descriptor: desc });
          opts.onEvent?.({ type: 'start', descriptor: desc });
          if (desc.digest === root.digest && opts.rootTag !== undefined && pushesTagged(dst)) await dst.pushTagged(desc, m.bytes, opts.rootTag);
          else await dst.push(desc, m.bytes);
          bytesCopied += m.bytes.length;
          opts.onEvent?.({ type: 'done', descriptor: desc });
          return;
        }
        await run(async () => {
          if (await isRetained(dst, desc)) return opts.onEvent?.({ type: 'skip', descriptor: desc });
          opts.onEvent?.({ type: 'start', descriptor: desc });
          const resumedBytes = await storeBlob(src, dst, desc, opts.onEvent);
          bytesCopied += desc.size;
          resumedBytesTotal += resumedBytes;
          opts.onEvent?.({ type: 'done', descriptor: desc, ...(resumedBytes > 0 ? { resumedBytes } : {}) });
        });
      })();
      done.set(desc.digest, p);
    }
    return p;
  };

  await settled(copyNode(root), done);
  const referrers: Descriptor[] = [];
  const failedReferrers: FailedReferrer[] = [];
  if (opts.referrers) {
    // Breadth-first over manifests copied so far; each referrer copied brings its own referrers.
    const visited = new Set<string>();
    let frontier = [...manifests.keys()];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const digest of frontier) {
        if (visited.has(digest)) continue;
        visited.add(digest);
        const m = manifests.get(digest)!;
        for await (const r of src.referrers(m.descriptor, opts.referrersFilter)) {
          if (done.has(r.digest)) continue;
          try {
            await settled(copyNode(r), done);
          } catch (error) {
            if (!opts.continuePastFailedReferrers) throw error;
            failedReferrers.push({ referrer: r, subject: digest, error });
            continue;
          }
          referrers.push(r);
          for (const d of manifests.keys()) if (!visited.has(d)) next.push(d);
        }
      }
      frontier = next;
    }
  }
  return { root, referrers, nodes, bytesCopied, resumedBytes: resumedBytesTotal, failedReferrers };
}

/**
 * Store one blob; returns the bytes resumed. From a source that can send a
 * blob from an offset (a registry) into a destination that keeps partial
 * downloads (a layout directory), the download resumes what an interrupted
 * run kept. A blob the source holds only as its descriptor's `data` is
 * written out from it (verified).
 */
async function storeBlob(src: ReadTarget, dst: WriteTarget, desc: Descriptor, onEvent?: (e: CopyEvent) => void): Promise<number> {
  if (desc.data === undefined && fetchesFrom(src) && keepsPartials(dst)) {
    const resumed = await dst.pushResumable(desc, async (offset) => {
      const rest = await src.fetchFrom(desc, offset);
      if (!onEvent) return rest;
      const report = bytesReporter(desc, onEvent);
      // The bytes kept from an earlier run count as done from the start.
      if (rest.start > 0) report(rest.start);
      return { start: rest.start, body: countBytes(rest.body, report) };
    });
    return resumed.resumedBytes;
  }
  // A blob the source holds only as its descriptor's `data` is written out from it (verified).
  const content = await fetchOrEmbedded(src, desc);
  await dst.push(desc, onEvent ? countBytes(content, bytesReporter(desc, onEvent)) : content);
  return 0;
}

/**
 * `work`, and when it fails, the failure only once every transfer the copy
 * started has finished or failed too: a sibling still streaming into a temp
 * file cleans up after itself before the caller (a CLI about to exit) hears
 * of the failure, so nothing half-written outlives the command.
 */
async function settled(work: Promise<void>, started: Map<string, Promise<void>>): Promise<void> {
  try {
    await work;
  } catch (err) {
    await Promise.allSettled(started.values());
    throw err;
  }
}
