/**
 * Pure edits of a layout's index.json. The rules (design.md rule 5): entries
 * are tagged roots, untagged roots and untagged artifact manifests; the same
 * (digest, tag) pair is never listed twice. An entry that loses its tag
 * (untag, or the tag moved to another manifest) leaves index.json, as an
 * untagged image leaves a registry's tag list: its blobs stay until `gc`,
 * and so do its referrers, which `gc` drops along with it.
 * Unknown fields on the index and its entries are kept.
 */
import { Annotation, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';

export function tagOf(entry: Descriptor): string | undefined {
  return entry.annotations?.[Annotation.RefName];
}

/**
 * The referrers tag schema (distribution-spec): an index tagged
 * `<alg>-<first 64 hex of the subject digest>` lists the referrers of that
 * subject for registries without the referrers API. Such an entry is
 * bookkeeping, not an image a user means when naming the layout alone.
 */
const FALLBACK_TAG = /^[a-z0-9]+-[a-f0-9]{64}$/;

export function isFallbackTagEntry(entry: Descriptor): boolean {
  const tag = tagOf(entry);
  return tag !== undefined && FALLBACK_TAG.test(tag) && entry.mediaType === MediaType.ImageIndex;
}

/** The descriptor to list in index.json for a manifest: its identity and the fields tools show. */
export function entryFor(desc: Descriptor, tag?: string): Descriptor {
  const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.platform) entry.platform = desc.platform;
  if (desc.artifactType) entry.artifactType = desc.artifactType;
  const annotations = { ...(desc.annotations ?? {}) };
  delete annotations[Annotation.RefName];
  if (tag !== undefined) annotations[Annotation.RefName] = tag;
  if (Object.keys(annotations).length > 0) entry.annotations = annotations;
  return entry;
}

/** Collapse exact (digest, tag) duplicates and drop untagged entries whose digest is listed elsewhere. */
export function normalizeEntries(entries: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  const tagged = new Set(entries.filter((e) => tagOf(e) !== undefined).map((e) => e.digest));
  const out: Descriptor[] = [];
  for (const e of entries) {
    const tag = tagOf(e);
    if (tag === undefined && tagged.has(e.digest)) continue;
    const key = `${e.digest}\u0000${tag ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

export function setTag(index: ImageIndex, desc: Descriptor, tag: string): ImageIndex {
  let entries = index.manifests.filter((e) => tagOf(e) !== tag || e.digest === desc.digest);
  if (!entries.some((e) => e.digest === desc.digest && tagOf(e) === tag)) {
    const untaggedAt = entries.findIndex((e) => e.digest === desc.digest && tagOf(e) === undefined);
    if (untaggedAt >= 0) {
      const e = entries[untaggedAt]!;
      entries = entries.slice();
      entries[untaggedAt] = { ...e, annotations: { ...(e.annotations ?? {}), [Annotation.RefName]: tag } };
    } else {
      entries = [...entries, entryFor(desc, tag)];
    }
  }
  return { ...index, manifests: normalizeEntries(entries) };
}

export function removeTag(index: ImageIndex, tag: string): { index: ImageIndex; removed: Descriptor[] } {
  const removed = index.manifests.filter((e) => tagOf(e) === tag);
  const entries = index.manifests.filter((e) => tagOf(e) !== tag);
  return { index: { ...index, manifests: normalizeEntries(entries) }, removed };
}

/** Add an untagged entry (an artifact manifest, an untagged root) unless its digest is already listed. */
export function addEntry(index: ImageIndex, desc: Descriptor): ImageIndex {
  if (index.manifests.some((e) => e.digest === desc.digest)) return index;
  return { ...index, manifests: [...index.manifests, entryFor(desc)] };
}

export function removeEntries(index: ImageIndex, digests: Set<string>): ImageIndex {
  return { ...index, manifests: index.manifests.filter((e) => !digests.has(e.digest)) };
}
