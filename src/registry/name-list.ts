/**
 * The two name listings of the distribution API, `GET /v2/<name>/tags/list`
 * and `GET /v2/_catalog`, walked the same way: pages of `n` names asked for,
 * starting after `last`, the registry's `Link: <...>; rel="next"` followed
 * (it carries `last` itself), every page within the bounds of one
 * ListingWalk, a name listed twice across pages given once, and a name
 * that does not sort after `last` dropped whoever sent it.
 */
import { OcikitError } from '../errors.js';
import type { RegistryClient } from './client.js';
import { drain } from './http.js';
import { nextLink } from './link.js';
import { ListingWalk } from './listing.js';

/** Where a listing starts and how big the pages asked for are. */
export interface NamePage {
  /** List the names after this one (lexical order, as the distribution spec orders them). */
  last?: string;
  /** `n`: names per page asked of the registry (default 1000, what distribution's catalog allows at most). */
  pageSize?: number;
}

export const DEFAULT_PAGE_SIZE = 1000;

export interface NameListing {
  client: RegistryClient;
  /** The first page's URL without `n` and `last`. */
  url: URL;
  /** The JSON field of a page that holds the names: `tags` or `repositories`. */
  field: 'tags' | 'repositories';
  /** The grammar every name must fit (tag, repository name). */
  valid: (name: string) => boolean;
  scopes: string[];
  /** "listing tags of HOST/REPO", for messages. */
  what: string;
  /** The error for a 404 (a repository that does not exist, a registry without a catalog). */
  notFound: () => OcikitError;
}

export async function* listNames(l: NameListing, page: NamePage = {}): AsyncGenerator<string> {
  const walk = new ListingWalk(l.what, l.client.opts.listingLimits);
  let url: URL | undefined = new URL(l.url);
  url.searchParams.set('n', String(page.pageSize ?? DEFAULT_PAGE_SIZE));
  if (page.last !== undefined) url.searchParams.set('last', page.last);
  const seen = new Set<string>();
  while (url) {
    walk.visit(url);
    const res = await l.client.request({ method: 'GET', url, headers: { Accept: 'application/json' }, scopes: l.scopes, what: l.what });
    if (res.status === 404) {
      drain(res.body);
      throw l.notFound();
    }
    if (res.status !== 200) await l.client.fail(res, l.what);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse((await walk.read(res)).toString('utf8')) as typeof doc;
    } catch (err) {
      if (err instanceof OcikitError) throw err;
      throw new OcikitError('REGISTRY_ERROR', `${l.what}: the answer is not JSON`);
    }
    const list = doc !== null && typeof doc === 'object' ? doc[l.field] : undefined;
    const names = Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : [];
    walk.count(names.length);
    // A name the listing's grammar refuses is an error, never printed: it would reach a terminal (escape sequences)
    // and be used in URLs and index.json (`../x`); dropping it would pass the rest off as the whole list.
    const bad = names.find((n) => !l.valid(n));
    if (bad !== undefined) {
      const shown = JSON.stringify(bad.length > 80 ? `${bad.slice(0, 77)}...` : bad);
      throw new OcikitError('REGISTRY_ERROR', `${l.what}: the registry listed ${shown}, which is not a valid ${l.field === 'tags' ? 'tag' : 'repository name'}`, {
        hint: 'the registry is broken or hostile; report it to its operator',
      });
    }
    for (const name of names) {
      // Registries that ignore `last` (distribution 2.8's tag list does) send the names before it too.
      if (seen.has(name) || (page.last !== undefined && name <= page.last)) continue;
      seen.add(name);
      yield name;
    }
    url = nextLink(res.headers.link, res.url);
  }
}
