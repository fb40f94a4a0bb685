/**
 * Referrers computed offline, the way a registry's referrers API answers:
 * every manifest reachable from index.json whose `subject` names the digest.
 * Reachable includes children of indexes, so the referrers fallback-tag form
 * (an index tagged `sha256-<hex>` listing artifacts, as regclient writes) is
 * found by the same walk, and legacy artifact manifests count too.
 */
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { effectiveArtifactType } from '../spec/validate.js';
import { isFallbackTagEntry, tagOf } from '../spec/index-entries.js';
import { WorkQueue } from '../util/limit.js';
import { fetchManifest, fetchManifestSync, type FetchedManifest } from './content.js';
import { isWalkable, successors } from './successors.js';
import type { LayoutReadTarget, ReferrersFilter } from './target.js';

export interface ManifestNode {
  descriptor: Descriptor;
  manifest: FetchedManifest;
}

export interface WalkOptions {
  /** Reads at once (default 16): small files, so the cost is per-read latency, not bandwidth. */
  concurrency?: number;
  onError?: (desc: Descriptor, err: unknown) => void;
  /** index.json when the caller has already read it (a 10,000-entry index takes a while to parse). */
  index?: ImageIndex;
}

/**
 * Walk every manifest reachable from index.json, each once (cycles and shared
 * children are visited once), with bounded concurrency. Manifests that cannot
 * be read are reported to `onError` and skipped, so one bad blob does not hide
 * every other referrer. A work queue rather than waves: one slow read holds up
 * one slot, not a whole batch, and waiting manifests cost no suspended calls.
 */
async function walkManifests(target: LayoutReadTarget, visit: (node: ManifestNode) => void, opts: WalkOptions = {}): Promise<void> {
  const index = opts.index ?? (await target.readIndex());
  if (target.fetchBytesSync) return walkLocally(target, index, visit, opts);
  const queue = new WorkQueue<Descriptor>(opts.concurrency ?? 16, async (desc) => {
    let manifest: FetchedManifest;
    try {
      manifest = await fetchManifest(target, desc);
    } catch (err) {
      opts.onError?.(desc, err);
      return;
    }
    visit({ descriptor: desc, manifest });
    for (const child of successors(manifest)) enqueue(child);
  });
  const enqueue = (desc: Descriptor): void => {
    if (isWalkable(desc)) queue.pushNew(desc.digest, desc);
  };
  for (const d of index.manifests) enqueue(d);
  await queue.drained();
}

/** Manifests read between two turns of the event loop in a local walk (a server stays responsive). */
const LOCAL_BATCH = 1000;

/**
 * The walk for a target that reads small files synchronously (a layout
 * directory): a plain depth-first loop. Per-manifest promise chains cost as
 * much as the read itself at 10,000 manifests, and concurrent reads gain
 * nothing on a local disk (measured; the kernel's page cache answers).
 */
async function walkLocally(target: LayoutReadTarget, index: ImageIndex, visit: (node: ManifestNode) => void, opts: WalkOptions): Promise<void> {
  const seen = new Set<string>();
  const stack = [...index.manifests].reverse();
  let batch = 0;
  while (stack.length > 0) {
    const desc = stack.pop()!;
    if (!isWalkable(desc) || seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    let manifest: FetchedManifest;
    try {
      manifest = fetchManifestSync(target, desc) ?? (await fetchManifest(target, desc));
    } catch (err) {
      opts.onError?.(desc, err);
      continue;
    }
    visit({ descriptor: desc, manifest });
    const children = successors(manifest);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    if (++batch === LOCAL_BATCH) {
      batch = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** The descriptor a referrers API lists for a manifest. */
function referrerDescriptor(node: ManifestNode): Descriptor {
  const doc = node.manifest.doc;
  const desc: Descriptor = { mediaType: node.manifest.mediaType, digest: node.descriptor.digest, size: node.descriptor.size };
  const artifactType = effectiveArtifactType(doc);
  if (artifactType) desc.artifactType = artifactType;
  if (doc.annotations && Object.keys(doc.annotations).length > 0) desc.annotations = { ...doc.annotations };
  return desc;
}

/**
 * The referrers tag schema: `<alg>-<encoded, truncated to 64>` names an index
 * listing the referrers of the digest it encodes.
 */
export function fallbackTagFor(digest: string): string {
  const [alg, encoded] = digest.split(':') as [string, string];
  return `${alg}-${encoded.slice(0, 64)}`;
}

/** The key a subject is filed under: the full digest, or for a fallback tag its (possibly truncated) form. */
function fallbackKey(digest: string): string {
  return `fallback:${fallbackTagFor(digest)}`;
}

/**
 * An in-memory map subject -> referrer descriptors, built by one walk:
 * manifests with a `subject`, plus descriptors listed in fallback-tag indexes
 * (which registries without the referrers API use; the listing is what
 * clients see there, so it counts even when its entries have no subject).
 * The fallback indexes are read by the same walk (they are index.json
 * entries), not fetched a second time. Cost: one read per reachable manifest.
 */
export async function buildReferrersMap(target: LayoutReadTarget, index?: ImageIndex): Promise<Map<string, Descriptor[]>> {
  index ??= await target.readIndex();
  const collector = new ReferrersCollector(index);
  // An unreadable manifest hides only what it would have listed; verify reports it.
  await walkManifests(target, (node) => collector.add(node), { index });
  return collector.map();
}

/**
 * What buildReferrersMap gathers, for a caller that walks every manifest
 * index.json reaches anyway (inspect's catalog) and so need not walk twice:
 * `add` each manifest read, then take the `map`.
 */
export class ReferrersCollector {
  // Keyed by digest inside each list, so that adding stays O(1) however many referrers a subject has.
  private readonly found = new Map<string, Map<string, Descriptor>>();
  // digest -> the fallback tags it is listed under (one index may serve as several subjects' listing).
  private readonly fallbackTags = new Map<string, string[]>();

  constructor(index: ImageIndex) {
    for (const entry of index.manifests) {
      if (isFallbackTagEntry(entry)) this.fallbackTags.set(entry.digest, [...(this.fallbackTags.get(entry.digest) ?? []), tagOf(entry)!]);
    }
  }

  add(node: ManifestNode): void {
    const doc = node.manifest.doc;
    if (doc.subject && typeof doc.subject.digest === 'string') this.file(doc.subject.digest, referrerDescriptor(node));
    const tags = this.fallbackTags.get(node.descriptor.digest);
    if (tags && node.manifest.kind === 'index') {
      for (const tag of tags) for (const d of (doc as ImageIndex).manifests) this.file(`fallback:${tag}`, listedDescriptor(d));
    }
  }

  map(): Map<string, Descriptor[]> {
    const map = new Map<string, Descriptor[]>();
    for (const [key, list] of this.found) map.set(key, [...list.values()].sort(byDigest));
    return map;
  }

  private file(key: string, desc: Descriptor): void {
    let list = this.found.get(key);
    if (!list) this.found.set(key, (list = new Map()));
    if (!list.has(desc.digest)) list.set(desc.digest, desc);
  }
}

/** Referrers of `digest` in a map built by buildReferrersMap. */
export function lookupReferrers(map: Map<string, Descriptor[]>, digest: string): Descriptor[] {
  const direct = map.get(digest) ?? [];
  const listed = map.get(fallbackKey(digest)) ?? [];
  if (listed.length === 0) return direct;
  const have = new Set(direct.map((d) => d.digest));
  return [...direct, ...listed.filter((d) => !have.has(d.digest))].sort(byDigest);
}

function listedDescriptor(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations) out.annotations = { ...d.annotations };
  return out;
}

function byDigest(a: Descriptor, b: Descriptor): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

export function filterReferrers(list: Descriptor[], filter?: ReferrersFilter): Descriptor[] {
  if (!filter?.artifactType) return list;
  return list.filter((d) => d.artifactType === filter.artifactType);
}
