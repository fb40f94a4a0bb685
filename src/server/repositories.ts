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
 *   as a name; else the tag part of the containerd name (spec/index-entries'
 *   entryName, the one reading of a name every command uses).
 * - Pushes name entries with the same function as every other command
 *   (applyNames): a tag of one repository never moves another's.
 *
 * Blobs (and so manifests fetched by digest, and referrers) are shared by
 * every repository of a layout, as they are by the repositories of a
 * registry that deduplicates storage.
 */
import path from 'node:path';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { isValidRepositoryName } from '../reference.js';
import { entryImageName } from '../spec/index-entries.js';

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
