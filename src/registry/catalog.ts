/**
 * The registry's repository catalog, `GET /v2/_catalog?n=&last=`, followed
 * through its `Link` pages (name-list.ts). Token registries grant it under
 * the scope `registry:catalog:*`, not under any repository's.
 */
import { OcikitError } from '../errors.js';
import { isValidRepositoryName } from '../reference.js';
import type { RegistryClient } from './client.js';
import { listNames, type NamePage } from './name-list.js';

export const CATALOG_SCOPE = 'registry:catalog:*';

export function listCatalog(client: RegistryClient, page: NamePage = {}): AsyncGenerator<string> {
  return listNames(
    {
      client,
      url: new URL('_catalog', client.rootUrl()),
      field: 'repositories',
      valid: isValidRepositoryName,
      scopes: [CATALOG_SCOPE],
      what: `listing the repositories of ${client.host}`,
      notFound: () =>
        new OcikitError('UNSUPPORTED', `${client.host} does not list its repositories (GET /v2/_catalog answered 404)`, {
          status: 404,
          hint: 'the registry has no catalog API, or it is turned off; list a repository\'s tags with ocikit repo tags HOST/REPO',
        }),
    },
    page,
  );
}
