/** Tag listing with `n` and `Link` pagination (`last` is carried inside the registry's next link). */
import { OcikitError } from '../errors.js';
import { drain, readBody } from './http.js';
import { nextLink } from './link.js';
import type { RepoAccess } from './blobs.js';

const MAX_PAGE_BYTES = 16 * 1024 * 1024;
/** A registry whose next links go round in circles must not keep us forever. */
const MAX_PAGES = 10_000;

export async function* listTags(r: RepoAccess, pageSize = 1000): AsyncGenerator<string> {
  let url: URL | undefined = r.client.url(r.repository, `tags/list?n=${pageSize}`);
  const seen = new Set<string>();
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const what = `listing tags of ${r.description}`;
    const res = await r.client.request({ method: 'GET', url, headers: { Accept: 'application/json' }, scopes: r.scopes, what });
    if (res.status === 404) {
      drain(res.body);
      throw new OcikitError('NOT_FOUND', `repository ${r.description} not found`, { status: 404 });
    }
    if (res.status !== 200) await r.client.fail(res, what);
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse((await readBody(res.body, MAX_PAGE_BYTES)).toString('utf8')) as typeof doc;
    } catch (err) {
      if (err instanceof OcikitError) throw err;
      throw new OcikitError('REGISTRY_ERROR', `${what}: the answer is not JSON`);
    }
    const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
    for (const t of tags) {
      if (seen.has(t)) continue;
      seen.add(t);
      yield t;
    }
    const next = nextLink(res.headers.link, res.url);
    url = next && next.href !== url.href ? next : undefined;
  }
}
