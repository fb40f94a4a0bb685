/**
 * Tag listing with `n`, `last` and `Link` pagination (name-list.ts), within
 * the bounds of a ListingWalk.
 */
import { OcikitError } from '../errors.js';
import { listNames, type NamePage } from './name-list.js';
import type { RepoAccess } from './blobs.js';

export function listTags(r: RepoAccess, page: NamePage = {}): AsyncGenerator<string> {
  return listNames(
    {
      client: r.client,
      url: r.client.url(r.repository, 'tags/list'),
      field: 'tags',
      scopes: r.scopes,
      what: `listing tags of ${r.description}`,
      notFound: () => new OcikitError('NOT_FOUND', `repository ${r.description} not found`, { status: 404 }),
    },
    page,
  );
}
