/**
 * `push`: a whole layout (directory or archive) into a registry. Every tagged
 * entry goes under its tag, untagged roots by digest, and the referrers of
 * everything pushed, recursively, through the one transfer (ops/transfer.ts),
 * root by root. The destination is one repository, or, in mirror mode, the repository each
 * entry's `io.containerd.image.name` names, re-homed on the registry.
 *
 * Roots run side by side, but blob transfers share one limit (`concurrency`)
 * across all of them, and the registry target remembers what it has seen, so
 * 200 images over the same base layers upload those layers once.
 */
import { parseImageName } from '../spec/image-name.js';
import { OcikitError, UsageError } from '../errors.js';
import { Annotation } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { throwIfReferrersFailed, transfer } from './transfer.js';
import { announceGraph } from '../graph/announce.js';
import type { FailedReferrer } from '../graph/copy.js';
import { fetchManifest } from '../graph/content.js';
import { isWalkable } from '../graph/successors.js';
import { isFallbackTagEntry, tagOf } from '../spec/index-entries.js';
import { RegistryTarget } from '../targets/registry.js';
import type { LayoutReadTarget, WriteTarget } from '../graph/target.js';
import { limiter, mapBounded } from '../util/limit.js';
import { DigestIndex } from '../util/digest-index.js';
import { registryClient, type RegistryOptions } from '../registry/client.js';
import { countEvent, emptyStats, type TransferStats } from './transfer-stats.js';

export interface PushLayoutOptions {
  /** Push only the entries with these tags. */
  tags?: string[];
  /** Bring referrers along (default true). */
  referrers?: boolean;
  /** Blobs transferred at once (default 5). */
  concurrency?: number;
  registry?: RegistryOptions;
  onEvent?: (e: CopyEvent) => void;
}

export interface PushedImage {
  /** `HOST/REPO:TAG` or `HOST/REPO@DIGEST`. */
  reference: string;
  digest: string;
  mediaType: string;
}

export interface PushLayoutResult extends TransferStats {
  images: PushedImage[];
}

interface Job {
  entry: Descriptor;
  repository: string;
  tag?: string;
}

/**
 * Push `src` to `registry` (HOST[:PORT]); into `repository` when given, else
 * mirror mode. Throws before sending anything when an entry has no
 * destination, so a mirror push never goes half way for a naming problem.
 */
export async function pushLayout(src: LayoutReadTarget, registry: string, repository: string | undefined, opts: PushLayoutOptions = {}): Promise<PushLayoutResult> {
  const concurrency = opts.concurrency ?? 5;
  const jobs = await planJobs(src, repository, opts);
  const client = registryClient(registry, opts.registry);
  // One limit for the blob transfers of every root: roots run side by side, uploads stay under `concurrency`.
  const blobSlots = limiter(concurrency);
  const targets = new Map<string, WriteTarget>();
  const targetFor = (repo: string): WriteTarget => {
    let t = targets.get(repo);
    if (!t) targets.set(repo, (t = new RegistryTarget(client, repo, true)));
    return t;
  };
  const stats = emptyStats();
  // Two tags of one digest are two roots, each transferring the same manifest and blobs (side by
  // side, both may upload): each object is counted once per repository, so the summary says what moved.
  // Digests as numbers (DigestIndex), not a `repo@digest` string each: 50,000 images are 100,000 objects.
  const counted = new Map<string, DigestIndex>();
  const eventsOf = (repo: string) => {
    let seen = counted.get(repo);
    if (!seen) counted.set(repo, (seen = new DigestIndex()));
    const inRepo = seen;
    return (e: CopyEvent) => {
      if (e.type === 'done' || e.type === 'skip') {
        const before = inRepo.size;
        if (inRepo.add(e.descriptor.digest) === before) countEvent(stats, e);
      }
      opts.onEvent?.(e);
    };
  };
  // Every root's content found up front, for a display's total: the roots themselves start a few at a time.
  if (opts.onEvent) await announceGraph(src, jobs.map((job) => stripName(job.entry)), opts.onEvent);
  const referrersSeen = new Set<string>();
  const failedReferrers: FailedReferrer[] = [];
  const images: PushedImage[] = [];
  // Roots in parallel (their blob transfers are bounded by the shared blob slots); waiting roots are
  // plain values (mapBounded), not 50,000 suspended calls, and a failure starts no further root.
  await mapBounded(jobs, concurrency, async (job) => {
    const dst = targetFor(job.repository);
    const desc = stripName(job.entry);
    // The one transfer: a repository keeps no index, so naming is the tag (an untagged root stays by digest).
    const r = await transfer(src, dst, [{ descriptor: desc, tags: job.tag !== undefined ? [job.tag] : [] }], { limit: blobSlots, referrers: opts.referrers !== false, onEvent: eventsOf(job.repository), returnFailedReferrers: true });
    for (const d of r.referrers) referrersSeen.add(`${job.repository}@${d.digest}`);
    failedReferrers.push(...(r.failedReferrers ?? []));
    images.push({ reference: `${registry}/${job.repository}${job.tag !== undefined ? `:${job.tag}` : `@${desc.digest}`}`, digest: desc.digest, mediaType: desc.mediaType });
  });
  stats.referrers = referrersSeen.size;
  // A referrer the registry refused is reported after every image, tag and other referrer is pushed.
  throwIfReferrersFailed(failedReferrers, `registry ${registry}`);
  return { ...stats, images };
}

async function planJobs(src: LayoutReadTarget, repository: string | undefined, opts: PushLayoutOptions): Promise<Job[]> {
  const entries = (await src.readIndex()).manifests;
  const wanted = opts.tags && opts.tags.length > 0 ? new Set(opts.tags) : undefined;
  if (wanted) {
    const have = new Set(entries.map(tagOf).filter((t): t is string => t !== undefined));
    const missing = [...wanted].filter((t) => !have.has(t));
    if (missing.length > 0) throw new OcikitError('NOT_FOUND', `tag${missing.length > 1 ? 's' : ''} ${missing.map((t) => `"${t}"`).join(', ')} not found in ${src.description}`);
  }
  const jobs: Job[] = [];
  for (const entry of entries) {
    // The referrers tag of a registry without the API is bookkeeping; the destination keeps its own.
    if (isFallbackTagEntry(entry)) continue;
    const tag = tagOf(entry);
    if (wanted && (tag === undefined || !wanted.has(tag))) continue;
    // Untagged artifacts are referrers: they travel with their subject, not as roots.
    if (tag === undefined && isWalkable(entry) && (await fetchManifest(src, entry)).doc.subject !== undefined) continue;
    if (repository !== undefined) {
      jobs.push({ entry, repository, ...(tag !== undefined ? { tag } : {}) });
      continue;
    }
    const named = mirrorName(entry, src.description);
    jobs.push({ entry, repository: named.repository, ...((tag ?? named.tag) !== undefined ? { tag: tag ?? named.tag } : {}) });
  }
  if (jobs.length === 0) throw new OcikitError('NOT_FOUND', `${src.description} has nothing to push${wanted ? ' with those tags' : ''}`);
  return jobs;
}

/**
 * The repository (and tag) an entry's `io.containerd.image.name` names, with
 * its registry host dropped: `docker.io/library/debian:10` -> `library/debian`, `10`.
 */
function mirrorName(entry: Descriptor, where: string): { repository: string; tag?: string } {
  const name = entry.annotations?.[Annotation.ContainerdImageName];
  if (name === undefined || name === '') {
    throw new UsageError(`${entry.digest}${tagOf(entry) ? ` (tag ${tagOf(entry)})` : ''} in ${where} has no ${Annotation.ContainerdImageName} annotation, so it has no repository to go to`, {
      hint: 'give the repository: ocikit push SRC REGISTRY/REPO',
    });
  }
  const parsed = parseImageName(name, { strictTag: true });
  if (!parsed) {
    throw new UsageError(`${Annotation.ContainerdImageName} "${name}" of ${entry.digest} in ${where} is not a valid image name`, {
      hint: 'give the repository: ocikit push SRC REGISTRY/REPO',
    });
  }
  return parsed;
}

/** An index.json entry as the descriptor of its manifest: its naming annotations belong to the layout. */
function stripName(entry: Descriptor): Descriptor {
  const { annotations, ...rest } = entry;
  const desc: Descriptor = { ...rest };
  if (annotations) {
    const { [Annotation.RefName]: _t, [Annotation.ContainerdImageName]: _n, ...others } = annotations;
    if (Object.keys(others).length > 0) desc.annotations = others;
  }
  return desc;
}

