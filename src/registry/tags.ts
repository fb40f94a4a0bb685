/**
 * Tag listing with `n` and `Link` pagination (`last` is carried inside the
 * registry's next link), within the bounds of a ListingWalk.
 */
import { OcikitError } from '../errors.js';
import { drain } from './http.js';
import { nextLink } from './link.js';
import { ListingWalk } from './listing.js';
import type { RepoAccess } from './blobs.js';

export async function* listTags(r: RepoAccess, pageSize = 1000): AsyncGenerator<string> {
  const what = `listing tags of ${r.description}`;
  const walk = new ListingWalk(what, r.client.opts.listingLimits);
  let url: URL | undefined = r.client.url(r.repository, `tags/list?n=${pageSize}`);
  const seen = new Set<string>();
  while (url) {
    walk.visit(url);
    const res = await r.client.request({ method: 'GET', url, headers: { Accept: 'application/json' }, scopes: r.scopes, what });
    if (res.status === 404) {
      drain(res.body);
      throw new OcikitError('NOT_FOUND', `repository ${r.description} not found`, { status: 404 });
    }
    if (res.status !== 200) await r.client.fail(res, what);
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse((await walk.read(res)).toString('utf8')) as typeof doc;
    } catch (err) {
      if (err instanceof OcikitError) throw err;
      throw new OcikitError('REGISTRY_ERROR', `${what}: the answer is not JSON`);
    }
    const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
    walk.count(tags.length);
    for (const t of tags) {
      if (seen.has(t)) continue;
      seen.add(t);
      yield t;
    }
    url = nextLink(res.headers.link, res.url);
  }
}
