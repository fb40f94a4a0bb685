/**
 * Deletes (distribution-spec "Content management"): DELETE of a manifest by
 * digest or by tag, DELETE of a blob. Registries are free to refuse them
 * (distribution answers 405 UNSUPPORTED unless `storage.delete.enabled`,
 * many hosted registries never delete blobs): a refusal is UNSUPPORTED,
 * carrying the registry's own answer, and nothing else is tried.
 */
import { OcikitError } from '../errors.js';
import { drain } from './http.js';
import type { RepoAccess } from './blobs.js';

/** DELETE /v2/<name>/manifests/<digest|tag>. NOT_FOUND when the registry has no such manifest or tag. */
export async function deleteManifestRef(r: RepoAccess, reference: string): Promise<void> {
  const what = reference.includes(':') ? `deleting manifest ${reference} from ${r.description}` : `deleting tag "${reference}" from ${r.description}`;
  await send(r, r.client.url(r.repository, `manifests/${reference}`), what);
}

/** DELETE /v2/<name>/blobs/<digest>. */
export async function deleteBlobDigest(r: RepoAccess, digest: string): Promise<void> {
  await send(r, r.client.url(r.repository, `blobs/${digest}`), `deleting blob ${digest} from ${r.description}`);
}

async function send(r: RepoAccess, url: URL, what: string): Promise<void> {
  // Token servers grant deletes as an action of their own (distribution's token auth checks "delete").
  const scopes = [...r.scopes, `repository:${r.repository}:delete`];
  const res = await r.client.request({ method: 'DELETE', url, scopes, what });
  if (res.status === 202 || res.status === 200 || res.status === 204) {
    drain(res.body);
    return;
  }
  try {
    await r.client.fail(res, what);
  } catch (err) {
    // 405 (and distribution's UNSUPPORTED code under another status) means "this registry does not delete": say so by code.
    if (err instanceof OcikitError && (res.status === 405 || /\bUNSUPPORTED\b/.test(err.message))) {
      throw new OcikitError('UNSUPPORTED', err.message, { status: res.status, cause: err, hint: 'the registry does not allow this deletion; nothing was changed' });
    }
    throw err;
  }
}
