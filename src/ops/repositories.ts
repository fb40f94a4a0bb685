/**
 * `repo ls` and `repo tags`: the repositories a registry or a layout holds,
 * and a repository's tags a page at a time.
 *
 * On a registry both are the distribution API's listings (`_catalog`,
 * `tags/list`) with `n` (page size asked for) and `last` (start after this
 * name); every page is followed, so `n` shapes the requests, never the
 * answer. On a layout directory or archive the repositories are the ones its
 * index.json entries name (spec/index-entries' entryName, the one reading of
 * a name), and `last` keeps the names that sort after it, the same set a
 * registry would answer: one meaning of `--last` on every target.
 */
import { OcikitError } from '../errors.js';
import type { Reference } from '../reference.js';
import { entryName } from '../spec/index-entries.js';
import { readsIndex, type ReadTarget } from '../graph/target.js';
import { listCatalog } from '../registry/catalog.js';
import { registryClient, type RegistryOptions } from '../registry/client.js';
import type { NamePage } from '../registry/name-list.js';
import { openReadTarget, type OpenOptions } from '../targets/open.js';
import { RegistryTarget } from '../targets/registry.js';

export type { NamePage };

/** The repositories of a registry, in the registry's (lexical) order, every page followed. */
export function listRegistryRepositories(host: string, page: NamePage = {}, opts: RegistryOptions = {}): AsyncIterable<string> {
  return listCatalog(registryClient(host, opts), page);
}

/** The repositories a layout's (or archive's) index.json entries name: sorted, each once, after `page.last`. */
export async function listLayoutRepositories(target: ReadTarget, page: Pick<NamePage, 'last'> = {}): Promise<string[]> {
  if (!readsIndex(target)) {
    throw new OcikitError('UNSUPPORTED', `${target.description} keeps no index.json to read repository names from`);
  }
  const names = new Set<string>();
  for (const entry of (await target.readIndex()).manifests) {
    const { repository } = entryName(entry);
    if (repository !== undefined) names.add(repository);
  }
  return after([...names], page.last);
}

/**
 * The tags of REF's repository. On a registry, pages of `pageSize` from the
 * one after `last`; elsewhere the target's tags, and with `last` only those
 * that sort after it, in lexical order (as a registry lists them).
 */
export async function* listTagPage(ref: Reference, page: NamePage = {}, opts: OpenOptions = {}): AsyncGenerator<string> {
  if (ref.kind === 'registry') {
    yield* RegistryTarget.open(ref.registry!, ref.repository!, { registry: opts.registry }).tags(page);
    return;
  }
  const target = await openReadTarget(ref, opts);
  if (page.last === undefined) {
    yield* target.tags();
    return;
  }
  const tags: string[] = [];
  for await (const t of target.tags()) tags.push(t);
  yield* after(tags, page.last);
}

/** Sorted by code unit (Go's string order, which registries use), each once, after `last`. */
function after(names: string[], last: string | undefined): string[] {
  const sorted = [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return last === undefined ? sorted : sorted.filter((n) => n > last);
}
