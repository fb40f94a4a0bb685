/**
 * Repositories in a layout. A registry scopes tags by repository; a layout
 * has one flat index.json. The mapping, read from each index.json entry:
 *
 * - `io.containerd.image.name` (what `ctr export`, nerdctl and buildkit
 *   write, e.g. `docker.io/library/debian:10`) names the repository: the name
 *   without its registry host and without its tag or digest
 *   (`library/debian`). The first component is a host when it contains "."
 *   or ":" or is `localhost`, as in docker's reference grammar. No
 *   `library/` is added to single-component names: a layout holding
 *   `debian:10` serves it as `debian`.
 * - Entries without that annotation belong to the default repository (the
 *   `--repo` flag; by default the layout's directory or archive name).
 * - The tag is `org.opencontainers.image.ref.name` when it is a valid tag;
 *   older containerd releases wrote the whole name there, which is then read
 *   as a name; else the tag part of the containerd name.
 *
 * Blobs (and so manifests fetched by digest, and referrers) are shared by
 * every repository of a layout, as they are by the repositories of a
 * registry that deduplicates storage.
 */
import { parseImageName, type ImageName } from '../spec/image-name.js';
import path from 'node:path';
import { Annotation } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { isValidRepositoryName, isValidTag } from '../reference.js';
import { entryFor, tagOf } from '../spec/index-entries.js';


/** The repository and tag an index.json entry stands for. */
export function entryImageName(entry: Descriptor, defaultRepository: string): ImageName {
  const containerd = entry.annotations?.[Annotation.ContainerdImageName];
  const refName = tagOf(entry);
  const named = containerd !== undefined ? parseImageName(containerd) : undefined;
  const repository = named?.repository ?? defaultRepository;
  if (refName !== undefined && isValidTag(refName)) return { repository, tag: refName };
  if (refName !== undefined && named === undefined) {
    // Old containerd: the full name in ref.name and no containerd annotation.
    const fromRef = parseImageName(refName);
    if (fromRef?.tag !== undefined) return fromRef;
  }
  return named?.tag !== undefined ? { repository, tag: named.tag } : { repository };
}

/** Repository → tag → descriptor (index.json order; a tag listed twice resolves to its last entry, as LayoutDir.resolve does). */
export type Catalog = Map<string, Map<string, Descriptor>>;

export function buildCatalog(index: ImageIndex, defaultRepository: string): Catalog {
  const catalog: Catalog = new Map([[defaultRepository, new Map()]]);
  for (const entry of index.manifests) {
    const { repository, tag } = entryImageName(entry, defaultRepository);
    let tags = catalog.get(repository);
    if (!tags) catalog.set(repository, (tags = new Map()));
    if (tag !== undefined) tags.set(tag, entry);
  }
  return catalog;
}

export interface TagEdit {
  repository: string;
  tag: string;
  defaultRepository: string;
  /** `io.containerd.image.name` to write when the repository is not the default one, e.g. `127.0.0.1:5000/team/app:v1`. */
  imageName: string;
}

/**
 * Point `repository:tag` at `desc` in index.json, leaving the same tag of
 * other repositories alone (LayoutDir.tag's setTag knows no repositories).
 * An untagged entry for the same digest (an artifact listed for its subject)
 * becomes the tagged entry, so the manifest is never listed twice. Returns
 * the same object when nothing changes.
 */
export function setRepositoryTag(index: ImageIndex, desc: Descriptor, edit: TagEdit): ImageIndex {
  const nameOf = (e: Descriptor) => entryImageName(e, edit.defaultRepository);
  const isThisTag = (e: Descriptor) => {
    const n = nameOf(e);
    return n.repository === edit.repository && n.tag === edit.tag;
  };
  if (index.manifests.some((e) => isThisTag(e) && e.digest === desc.digest)) return index;
  const annotations: Record<string, string> = { [Annotation.RefName]: edit.tag };
  if (edit.repository !== edit.defaultRepository) annotations[Annotation.ContainerdImageName] = edit.imageName;

  const entries: Descriptor[] = [];
  let placed = false;
  for (const e of index.manifests) {
    if (isThisTag(e)) continue;
    if (e.digest === desc.digest && tagOf(e) === undefined) {
      if (!placed) entries.push({ ...e, annotations: { ...(e.annotations ?? {}), ...annotations } });
      placed = true;
      continue;
    }
    entries.push(e);
  }
  if (!placed) {
    const entry = entryFor(desc, edit.tag);
    entry.annotations = { ...(entry.annotations ?? {}), ...annotations };
    entries.push(entry);
  }
  return { ...index, manifests: entries };
}

const ARCHIVE_SUFFIX = /\.(tar|tar\.gz|tgz|tar\.zst)$/i;

/**
 * The repository a layout is served as when `--repo` is not given: its
 * directory (or archive) name, lowercased and fitted to the name grammar
 * (`My Images.tar.gz` → `my-images`). Falls back to `layout`.
 */
export function defaultRepositoryName(layoutPath: string): string {
  const base = path.basename(path.resolve(layoutPath)).replace(ARCHIVE_SUFFIX, '').toLowerCase();
  const relaxed = base.replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '');
  if (isValidRepositoryName(relaxed)) return relaxed;
  const strict = base.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return isValidRepositoryName(strict) ? strict : 'layout';
}
