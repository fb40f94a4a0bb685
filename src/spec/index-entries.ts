/**
 * Pure edits of a layout's index.json. The rules (design.md rule 5): entries
 * are tagged roots, untagged roots and untagged artifact manifests; the same
 * (digest, tag) pair is never listed twice. An entry that loses its tag
 * (untag, or the tag moved to another manifest) leaves index.json, as an
 * untagged image leaves a registry's tag list: its blobs stay until `gc`,
 * and so do its referrers, which `gc` drops along with it.
 * Unknown fields on the index and its entries are kept.
 */
import { Annotation, MediaType } from './media-types.js';
import type { Descriptor, ImageIndex } from './types.js';

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

/** One naming step: `tag` on `desc`, or, without a tag, `desc` listed untagged unless its digest is listed (addEntry). */
export interface NameEdit {
  desc: Descriptor;
  tag?: string;
}

/**
 * The same result as applying `edits` one by one with setTag and addEntry,
 * in one pass instead of one pass over the whole index per edit: unpacking an
 * archive with 8,000 tags took 19 s, nearly all of it here, blocking the event
 * loop (and with it the lock's refresh and signal handling) the whole time.
 *
 * Why the shortcut is exact: setTag's first call leaves the entries
 * normalised (no (digest, tag) twice; an untagged entry only for a digest
 * with no tagged one), and on normalised entries every later setTag and
 * addEntry touches only the entries of its tag or digest, which the maps
 * below find directly. The first setTag runs as it is, since on raw input
 * its normalisation is what decides the order. A unit test compares this with
 * the step-by-step result on random inputs.
 */
export function applyNames(index: ImageIndex, edits: readonly NameEdit[]): ImageIndex {
  // Until the first setTag the entries may be raw, and addEntry only appends.
  const listed = new Set(index.manifests.map((e) => e.digest));
  let manifests = index.manifests;
  let i = 0;
  for (; i < edits.length && edits[i]!.tag === undefined; i++) {
    const { desc } = edits[i]!;
    if (listed.has(desc.digest)) continue;
    listed.add(desc.digest);
    if (manifests === index.manifests) manifests = manifests.slice();
    manifests.push(entryFor(desc));
  }
  if (i === edits.length) return manifests === index.manifests ? index : { ...index, manifests };
  const first = edits[i]!;
  const names = new NormalizedEntries(setTag({ ...index, manifests }, first.desc, first.tag!).manifests);
  for (i++; i < edits.length; i++) {
    const { desc, tag } = edits[i]!;
    if (tag === undefined) names.add(desc);
    else names.setTag(desc, tag);
  }
  return { ...index, manifests: names.entries() };
}

/** Normalised index entries in slots, with maps from tag and digest to slots, so that each edit costs O(1) (plus the entries it drops). */
class NormalizedEntries {
  private readonly slots: Array<Descriptor | undefined>;
  private readonly byTag = new Map<string, Set<number>>();
  private readonly byDigestTag = new Map<string, number>();
  private readonly untagged = new Map<string, number>();
  /** Live entries per digest, tagged or not (addEntry's "is it listed"). */
  private readonly count = new Map<string, number>();

  constructor(entries: Descriptor[]) {
    this.slots = entries.slice();
    this.slots.forEach((e, slot) => this.index(e!, slot));
  }

  setTag(desc: Descriptor, tag: string): void {
    const holders = this.byTag.get(tag);
    if (holders) {
      for (const slot of [...holders]) if (this.slots[slot]!.digest !== desc.digest) this.drop(slot);
    }
    if (this.byDigestTag.has(key(desc.digest, tag))) return;
    const slot = this.untagged.get(desc.digest);
    if (slot !== undefined) {
      const e = this.slots[slot]!;
      this.drop(slot);
      this.slots[slot] = { ...e, annotations: { ...(e.annotations ?? {}), [Annotation.RefName]: tag } };
      this.index(this.slots[slot]!, slot);
    } else {
      this.slots.push(entryFor(desc, tag));
      this.index(this.slots[this.slots.length - 1]!, this.slots.length - 1);
    }
  }

  add(desc: Descriptor): void {
    if ((this.count.get(desc.digest) ?? 0) > 0) return;
    this.slots.push(entryFor(desc));
    this.index(this.slots[this.slots.length - 1]!, this.slots.length - 1);
  }

  entries(): Descriptor[] {
    return this.slots.filter((e): e is Descriptor => e !== undefined);
  }

  private index(e: Descriptor, slot: number): void {
    const tag = tagOf(e);
    this.count.set(e.digest, (this.count.get(e.digest) ?? 0) + 1);
    if (tag === undefined) {
      this.untagged.set(e.digest, slot);
      return;
    }
    this.byDigestTag.set(key(e.digest, tag), slot);
    let holders = this.byTag.get(tag);
    if (!holders) this.byTag.set(tag, (holders = new Set()));
    holders.add(slot);
  }

  private drop(slot: number): void {
    const e = this.slots[slot]!;
    const tag = tagOf(e);
    this.slots[slot] = undefined;
    this.count.set(e.digest, this.count.get(e.digest)! - 1);
    if (tag === undefined) {
      this.untagged.delete(e.digest);
      return;
    }
    this.byDigestTag.delete(key(e.digest, tag));
    this.byTag.get(tag)!.delete(slot);
  }
}

const key = (digest: string, tag: string) => `${digest}\u0000${tag}`;

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
