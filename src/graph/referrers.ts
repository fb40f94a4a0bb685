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

/**
 * The referrers tag schema: `<alg>-<encoded, truncated to 64>` names an index
 * listing the referrers of the digest it encodes.
 */
export function fallbackTagFor(digest: string): string {
  const [alg, encoded] = digest.split(':') as [string, string];
  return `${alg}-${encoded.slice(0, 64)}`;
}

const FALLBACK_TAG = /^([a-z0-9]+)-([a-f0-9]{64})$/;

/** The key a subject is filed under: the full digest, or for a fallback tag its (possibly truncated) form. */
function fallbackKey(digest: string): string {
  return `fallback:${fallbackTagFor(digest)}`;
}

/**
 * An in-memory map subject -> referrer descriptors, built by one walk:
 * manifests with a `subject`, plus descriptors listed in fallback-tag indexes
 * (which registries without the referrers API use; the listing is what
 * clients see there, so it counts even when its entries have no subject).
 */
export async function buildReferrersMap(target: LayoutReadTarget): Promise<Map<string, Descriptor[]>> {
  const map = new Map<string, Descriptor[]>();
  const add = (key: string, desc: Descriptor) => {
    const list = map.get(key) ?? [];
    if (!list.some((d) => d.digest === desc.digest)) list.push(desc);
    map.set(key, list);
  };
  await walkManifests(target, (node) => {
    const subject = node.manifest.doc.subject;
    if (subject && typeof subject.digest === 'string') add(subject.digest, referrerDescriptor(node));
  });
  for (const entry of (await target.readIndex()).manifests) {
    const tag = entry.annotations?.['org.opencontainers.image.ref.name'];
    const m = tag === undefined ? null : FALLBACK_TAG.exec(tag);
    if (!m || entry.mediaType !== 'application/vnd.oci.image.index.v1+json') continue;
    try {
      const listing = await fetchManifest(target, entry);
      for (const d of (listing.doc as { manifests?: Descriptor[] }).manifests ?? []) add(`fallback:${tag}`, listedDescriptor(d));
    } catch {
      // An unreadable fallback index hides only its own listing; verify reports it.
    }
  }
  for (const list of map.values()) list.sort(byDigest);
  return map;
}

/** Referrers of `digest` in a map built by buildReferrersMap. */
export function lookupReferrers(map: Map<string, Descriptor[]>, digest: string): Descriptor[] {
  const direct = map.get(digest) ?? [];
  const listed = map.get(fallbackKey(digest)) ?? [];
  if (listed.length === 0) return direct;
  const merged = [...direct];
  for (const d of listed) if (!merged.some((x) => x.digest === d.digest)) merged.push(d);
  return merged.sort(byDigest);
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
