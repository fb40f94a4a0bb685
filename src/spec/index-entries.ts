/**
 * Pure edits of a layout's index.json. The rules (design.md rule 5): entries
 * are tagged roots, untagged roots and untagged artifact manifests; a name is
 * a (repository, tag) pair, the repository possibly none, so the same tag may
 * name different images in different repositories (as skopeo's `oci:`,
 * containerd's export and `serve --writable` write); the same
 * (digest, repository, tag) is never listed twice. An entry that loses its tag
 * (untag, or the tag moved to another manifest) leaves index.json, as an
 * untagged image leaves a registry's tag list: its blobs stay until `gc`,
 * and so do its referrers, which `gc` drops along with it.
 * Unknown fields on the index and its entries are kept.
 */
import { OcikitError, UsageError } from '../errors.js';
import { isValidTag } from '../reference.js';
import { parseImageName, type ImageName } from './image-name.js';
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

/** A tag of the referrers tag schema's form (`sha256-<64 hex>`), in a layout or a registry's tag list. */
export function isFallbackTag(tag: string): boolean {
  return FALLBACK_TAG.test(tag);
}

export function isFallbackTagEntry(entry: Descriptor): boolean {
  const tag = tagOf(entry);
  return tag !== undefined && isFallbackTag(tag) && entry.mediaType === MediaType.ImageIndex;
}

/**
 * The repository and tag an index.json entry stands for: the repository from
 * `io.containerd.image.name` (what containerd, nerdctl and buildkit write),
 * else from a full name in `org.opencontainers.image.ref.name` (what older
 * containerd and skopeo's `oci:DIR:REPO:TAG` write), else none; the tag from
 * ref.name when it is a plain tag, else from the full name. The registry host
 * is not part of the repository (`docker.io/library/x:1` is `library/x`).
 */
export function entryName(entry: Descriptor): EntryName {
  const containerd = entry.annotations?.[Annotation.ContainerdImageName];
  const refName = tagOf(entry);
  const named = containerd !== undefined ? parseImageName(containerd) : undefined;
  const repository = named?.repository;
  if (refName !== undefined && isValidTag(refName)) return repository !== undefined ? { repository, tag: refName } : { tag: refName };
  if (refName !== undefined && named === undefined) {
    // Old containerd and skopeo: the full name in ref.name.
    const fromRef = parseImageName(refName);
    if (fromRef?.tag !== undefined) return fromRef;
  }
  if (repository === undefined) return refName !== undefined ? { tag: refName } : {};
  return named?.tag !== undefined ? { repository, tag: named.tag } : { repository };
}

export interface EntryName {
  repository?: string;
  tag?: string;
}

/** `entryName` with entries of no repository in `defaultRepository` (serve's `--repo`). */
export function entryImageName(entry: Descriptor, defaultRepository: string): ImageName {
  const { repository, tag } = entryName(entry);
  return { repository: repository ?? defaultRepository, ...(tag !== undefined ? { tag } : {}) };
}

/**
 * The name to give an entry's manifest elsewhere, as parseNameRef reads it
 * back: the plain tag of an entry with no repository, else the full image
 * name the entry records (host included) or `REPO:TAG`. Undefined when untagged.
 */
export function entryRef(entry: Descriptor): string | undefined {
  const n = entryName(entry);
  if (n.tag === undefined) return undefined;
  if (n.repository === undefined) return n.tag;
  for (const written of [entry.annotations?.[Annotation.ContainerdImageName], tagOf(entry)]) {
    const p = written !== undefined && !written.includes('@') ? parseImageName(written, { strictTag: true }) : undefined;
    if (p?.repository === n.repository && p.tag === n.tag) return written;
  }
  return fullName(n);
}

/** `REPO:TAG`, or the plain tag of an entry with no repository. */
export function fullName(name: { repository?: string; tag?: string }): string {
  return name.repository !== undefined ? `${name.repository}${name.tag !== undefined ? `:${name.tag}` : ''}` : (name.tag ?? '');
}

/** Where a name lives: the same tag in two repositories is two names. */
function nameKey(repository: string | undefined, tag: string): string {
  return `${repository ?? ''}\u0000${tag}`;
}

function entryKey(e: Descriptor): string | undefined {
  const { repository, tag } = entryName(e);
  return tag === undefined ? undefined : nameKey(repository, tag);
}

/** The repository a name edit records, and the full image name to write for it. */
export interface RepositoryName {
  repository?: string;
  /** `io.containerd.image.name` to write, e.g. `docker.io/team/app:v1`; by default `REPO:TAG` (`REPO` when untagged). */
  imageName?: string;
}

function nameAnnotations(base: Record<string, string> | undefined, tag: string | undefined, name: RepositoryName): Record<string, string> {
  // The name is the destination's, never one the manifest carried from elsewhere (ctr import and podman load read it).
  const { [Annotation.RefName]: _t, [Annotation.ContainerdImageName]: _n, ...annotations } = base ?? {};
  if (tag !== undefined) annotations[Annotation.RefName] = tag;
  if (name.repository !== undefined) annotations[Annotation.ContainerdImageName] = name.imageName ?? fullName({ repository: name.repository, tag });
  return annotations;
}

/** The descriptor to list in index.json for a manifest: its identity, the fields tools show, and its name. */
export function entryFor(desc: Descriptor, tag?: string, name: RepositoryName = {}): Descriptor {
  const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.platform) entry.platform = desc.platform;
  if (desc.artifactType) entry.artifactType = desc.artifactType;
  const annotations = nameAnnotations(desc.annotations, tag, name);
  if (Object.keys(annotations).length > 0) entry.annotations = annotations;
  return entry;
}

function renamed(e: Descriptor, tag: string, name: RepositoryName): Descriptor {
  return { ...e, annotations: nameAnnotations(e.annotations, tag, name) };
}

/** Collapse exact (digest, repository, tag) duplicates and drop untagged entries whose digest is listed with a tag. */
function normalizeEntries(entries: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  const keys = entries.map(entryKey);
  const tagged = new Set(entries.filter((_, i) => keys[i] !== undefined).map((e) => e.digest));
  const out: Descriptor[] = [];
  entries.forEach((e, i) => {
    const k = keys[i];
    if (k === undefined && tagged.has(e.digest)) return;
    const key = `${e.digest}\u0000${k ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(e);
  });
  return out;
}

/** Point `tag` (of `name.repository`, or of no repository) at `desc`; the same tag of other repositories stays. */
export function setTag(index: ImageIndex, desc: Descriptor, tag: string, name: RepositoryName = {}): ImageIndex {
  const k = nameKey(name.repository, tag);
  let entries = index.manifests.filter((e) => entryKey(e) !== k || e.digest === desc.digest);
  if (!entries.some((e) => e.digest === desc.digest && entryKey(e) === k)) {
    const untaggedAt = entries.findIndex((e) => e.digest === desc.digest && entryKey(e) === undefined);
    if (untaggedAt >= 0) {
      entries = entries.slice();
      entries[untaggedAt] = renamed(entries[untaggedAt]!, tag, name);
    } else {
      entries = [...entries, entryFor(desc, tag, name)];
    }
  }
  return { ...index, manifests: normalizeEntries(entries) };
}

/**
 * One naming step: `tag` (in `repository`, when given) on `desc`, or, without
 * a tag, `desc` listed untagged unless its digest is listed (addEntry); an
 * untagged edit with a repository records it (`io.containerd.image.name`
 * without a tag), so a manifest pushed by digest is listed and gc keeps it.
 */
export interface NameEdit extends RepositoryName {
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
 * normalised (no (digest, repository, tag) twice; an untagged entry only for
 * a digest with no tagged one), and on normalised entries every later setTag
 * and addEntry touches only the entries of its name or digest, which the maps
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
    const edit = edits[i]!;
    if (listed.has(edit.desc.digest)) continue;
    listed.add(edit.desc.digest);
    if (manifests === index.manifests) manifests = manifests.slice();
    manifests.push(entryFor(edit.desc, undefined, edit));
  }
  if (i === edits.length) return manifests === index.manifests ? index : { ...index, manifests };
  const first = edits[i]!;
  const names = new NormalizedEntries(setTag({ ...index, manifests }, first.desc, first.tag!, first).manifests);
  for (i++; i < edits.length; i++) {
    const edit = edits[i]!;
    if (edit.tag === undefined) names.add(edit);
    else names.setTag(edit, edit.tag);
  }
  return { ...index, manifests: names.entries() };
}

/** Normalised index entries in slots, with maps from name and digest to slots, so that each edit costs O(1) (plus the entries it drops). */
class NormalizedEntries {
  private readonly slots: Array<Descriptor | undefined>;
  /**
   * Name key (repository, tag) → slots holding it (nearly always one: a small
   * array, not a Set, since there is one per name and a layout may have
   * 50,000); each slot's key is kept so a drop need not parse annotations again.
   */
  private readonly byName = new Map<string, number[]>();
  private readonly keys: Array<string | undefined> = [];
  private readonly untagged = new Map<string, number>();
  /** Live entries per digest, tagged or not (addEntry's "is it listed"). */
  private readonly count = new Map<string, number>();

  constructor(entries: Descriptor[]) {
    this.slots = entries.slice();
    this.slots.forEach((e, slot) => this.index(e!, slot));
  }

  setTag(edit: NameEdit, tag: string): void {
    const { desc } = edit;
    const k = nameKey(edit.repository, tag);
    const holders = this.byName.get(k);
    if (holders) {
      for (const slot of [...holders]) if (this.slots[slot]!.digest !== desc.digest) this.drop(slot);
      // Whoever still holds the name has this digest: nothing to do.
      if (holders.length > 0) return;
    }
    const slot = this.untagged.get(desc.digest);
    if (slot !== undefined) {
      const e = this.slots[slot]!;
      this.drop(slot);
      this.slots[slot] = renamed(e, tag, edit);
      this.index(this.slots[slot]!, slot);
    } else {
      this.slots.push(entryFor(desc, tag, edit));
      this.index(this.slots[this.slots.length - 1]!, this.slots.length - 1);
    }
  }

  add(edit: NameEdit): void {
    if ((this.count.get(edit.desc.digest) ?? 0) > 0) return;
    this.slots.push(entryFor(edit.desc, undefined, edit));
    this.index(this.slots[this.slots.length - 1]!, this.slots.length - 1);
  }

  entries(): Descriptor[] {
    return this.slots.filter((e): e is Descriptor => e !== undefined);
  }

  private index(e: Descriptor, slot: number): void {
    const k = entryKey(e);
    this.keys[slot] = k;
    this.count.set(e.digest, (this.count.get(e.digest) ?? 0) + 1);
    if (k === undefined) {
      this.untagged.set(e.digest, slot);
      return;
    }
    const holders = this.byName.get(k);
    if (!holders) this.byName.set(k, [slot]);
    else if (!holders.includes(slot)) holders.push(slot);
  }

  private drop(slot: number): void {
    const e = this.slots[slot]!;
    const k = this.keys[slot];
    this.slots[slot] = undefined;
    this.count.set(e.digest, this.count.get(e.digest)! - 1);
    if (k === undefined) {
      this.untagged.delete(e.digest);
      return;
    }
    const holders = this.byName.get(k)!;
    holders.splice(holders.indexOf(slot), 1);
  }
}

/** Remove the entries `selectNamed` picks for `ref` (a tag, or `REPO:TAG`). */
export function removeTag(index: ImageIndex, ref: string, where = 'index.json'): { index: ImageIndex; removed: Descriptor[] } {
  const picked = new Set(selectNamed(index, ref, where));
  const removed = index.manifests.filter((e) => picked.has(e));
  const entries = index.manifests.filter((e) => !picked.has(e));
  return { index: { ...index, manifests: normalizeEntries(entries) }, removed };
}

/** Add an untagged entry (an artifact manifest, an untagged root, of `name.repository` if given) unless its digest is already listed. */
export function addEntry(index: ImageIndex, desc: Descriptor, name: RepositoryName = {}): ImageIndex {
  if (index.manifests.some((e) => e.digest === desc.digest)) return index;
  return { ...index, manifests: [...index.manifests, entryFor(desc, undefined, name)] };
}

/**
 * A name as users write it for a tag edit: `TAG`, or `REPO:TAG` / a full
 * image name (`docker.io/team/app:1`, recorded as written). Undefined when
 * it is neither.
 */
export function parseNameRef(ref: string): { tag: string } & RepositoryName | undefined {
  if (!ref.includes(':')) return isValidTag(ref) ? { tag: ref } : undefined;
  const named = parseImageName(ref, { strictTag: true });
  if (named?.tag === undefined) return undefined;
  return { tag: named.tag, repository: named.repository, imageName: ref };
}

/** parseNameRef, or a USAGE error for a string that is no tag or name. */
export function nameRef(ref: string): { tag: string } & RepositoryName {
  const name = parseNameRef(ref);
  if (!name) throw new UsageError(`"${ref}" is not a tag or REPO:TAG name`, { hint: 'tags use letters, digits, "_", "." and "-"; write REPO:TAG to name a repository' });
  return name;
}

/**
 * Every name of an index in order, once each: the plain tag when at most one
 * repository holds it, `REPO:TAG` for each repository when several do (so
 * each name printed resolves).
 */
export function namesOf(index: ImageIndex): string[] {
  const repositories = new Map<string, Set<string>>();
  const names: EntryName[] = [];
  for (const e of index.manifests) {
    const n = entryName(e);
    if (n.tag === undefined) continue;
    let r = repositories.get(n.tag);
    if (!r) repositories.set(n.tag, (r = new Set()));
    r.add(n.repository ?? '');
    names.push(n);
  }
  const out = new Set<string>();
  for (const n of names) out.add(repositories.get(n.tag!)!.size > 1 ? fullName(n) : n.tag!);
  return [...out];
}

/**
 * The entries a name selects: `REPO:TAG` (or the full image name as written
 * in the entry) selects that name; a plain tag selects it when one repository
 * (or none) holds it, and is AMBIGUOUS otherwise, listing the full names to
 * choose from. Several entries may come back (the same name listed twice:
 * the last one is what resolves). Empty when nothing matches.
 */
export function selectNamed(index: ImageIndex, ref: string, where = 'index.json'): Descriptor[] {
  if (ref.includes(':')) {
    const wanted = parseImageName(ref);
    return index.manifests.filter((e) => {
      if (tagOf(e) === ref || e.annotations?.[Annotation.ContainerdImageName] === ref) return true;
      if (wanted?.tag === undefined) return false;
      const n = entryName(e);
      return n.tag === wanted.tag && n.repository === wanted.repository;
    });
  }
  const matches = index.manifests.filter((e) => entryName(e).tag === ref);
  const names = [...new Set(matches.map((e) => fullName(entryName(e))))];
  if (names.length > 1) {
    throw new OcikitError('AMBIGUOUS', `tag "${ref}" is in ${names.length} repositories of ${where}: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`, {
      hint: `write the full name after the path, e.g. oci:PATH:${names[0]}`,
    });
  }
  return matches;
}

export function removeEntries(index: ImageIndex, digests: Set<string>): ImageIndex {
  return { ...index, manifests: index.manifests.filter((e) => !digests.has(e.digest)) };
}

/**
 * A fallback-tag index (`sha256-<hex>`, listing the referrers of a subject,
 * as regclient writes them into layouts) without `digest`, for a layout or
 * archive whose manifest goes: undefined when it does not list it, null when
 * nothing would be left (its entry goes too).
 */
export function fallbackListingWithout(doc: ImageIndex, digest: string): ImageIndex | null | undefined {
  if (!doc || !Array.isArray(doc.manifests) || !doc.manifests.some((m) => m?.digest === digest)) return undefined;
  const rest = doc.manifests.filter((m) => m?.digest !== digest);
  return rest.length === 0 ? null : { ...doc, manifests: rest };
}
