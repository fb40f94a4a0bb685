/**
 * Referrers computed offline, the way a registry's referrers API answers:
 * every manifest reachable from index.json whose `subject` names the digest.
 * Reachable includes children of indexes, so the referrers fallback-tag form
 * (an index tagged `sha256-<hex>` listing artifacts, as regclient writes) is
 * found by the same walk, and legacy artifact manifests count too.
 */
import type { Descriptor } from '../spec/types.js';
import { effectiveArtifactType } from '../spec/validate.js';
import { fetchManifest, type FetchedManifest } from './content.js';
import { isWalkable, successors } from './successors.js';
import type { LayoutReadTarget, ReferrersFilter } from '../targets/target.js';

export interface ManifestNode {
  descriptor: Descriptor;
  manifest: FetchedManifest;
}

/**
 * Walk every manifest reachable from index.json, each once (cycles and shared
 * children are visited once), with bounded concurrency. Manifests that cannot
 * be read are reported to `onError` and skipped, so one bad blob does not hide
 * every other referrer.
 */
export async function walkManifests(
  target: LayoutReadTarget,
  visit: (node: ManifestNode) => void,
  opts: { concurrency?: number; onError?: (desc: Descriptor, err: unknown) => void } = {},
): Promise<void> {
  const index = await target.readIndex();
  const seen = new Set<string>();
  let queue: Descriptor[] = index.manifests.filter(isWalkable);
  const concurrency = opts.concurrency ?? 16;
  while (queue.length > 0) {
    const next: Descriptor[] = [];
    const batch = queue.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
    for (let i = 0; i < batch.length; i += concurrency) {
      await Promise.all(
        batch.slice(i, i + concurrency).map(async (desc) => {
          let manifest: FetchedManifest;
          try {
            manifest = await fetchManifest(target, desc);
          } catch (err) {
            opts.onError?.(desc, err);
            return;
          }
          visit({ descriptor: desc, manifest });
          for (const child of successors(manifest)) if (isWalkable(child) && !seen.has(child.digest)) next.push(child);
        }),
      );
    }
    queue = next;
  }
}

/** The descriptor a referrers API lists for a manifest. */
export function referrerDescriptor(node: ManifestNode): Descriptor {
  const doc = node.manifest.doc;
  const desc: Descriptor = { mediaType: node.manifest.mediaType, digest: node.descriptor.digest, size: node.descriptor.size };
  const artifactType = effectiveArtifactType(doc);
  if (artifactType) desc.artifactType = artifactType;
  if (doc.annotations && Object.keys(doc.annotations).length > 0) desc.annotations = { ...doc.annotations };
  return desc;
}

/** An in-memory map subject digest -> referrer descriptors, built by one walk. */
export async function buildReferrersMap(target: LayoutReadTarget): Promise<Map<string, Descriptor[]>> {
  const map = new Map<string, Descriptor[]>();
  await walkManifests(target, (node) => {
    const subject = node.manifest.doc.subject;
    if (!subject || typeof subject.digest !== 'string') return;
    const list = map.get(subject.digest) ?? [];
    if (!list.some((d) => d.digest === node.descriptor.digest)) list.push(referrerDescriptor(node));
    map.set(subject.digest, list);
  });
  for (const list of map.values()) list.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  return map;
}

export function filterReferrers(list: Descriptor[], filter?: ReferrersFilter): Descriptor[] {
  if (!filter?.artifactType) return list;
  return list.filter((d) => d.artifactType === filter.artifactType);
}
