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
      valid: isListableTag,
      scopes: r.scopes,
      what: `listing tags of ${r.description}`,
      notFound: () => new OcikitError('NOT_FOUND', `repository ${r.description} not found`, { status: 404 }),
    },
    page,
  );
}

/**
 * Tags as listed are taken loosely: `serve` lists a layout's ref.name values,
 * which the image-spec allows beyond the distribution tag grammar. Only what
 * no tag can hold is refused: nothing, and control characters (a terminal
 * would act on them when the list is printed).
 */
function isListableTag(tag: string): boolean {
  return tag !== '' && !/[\u0000-\u001f\u007f-\u009f]/.test(tag);
}
