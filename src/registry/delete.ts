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

/**
 * DELETE /v2/<name>/manifests/<digest|tag>. NOT_FOUND when the registry has
 * no such manifest or tag. Deleting a tag is newer than deleting by digest:
 * distribution 2.8 reads the tag as a digest and answers 400 DIGEST_INVALID,
 * which for a tag means "not supported here", and is reported so.
 */
export async function deleteManifestRef(r: RepoAccess, reference: string): Promise<void> {
  const url = r.client.url(r.repository, `manifests/${reference}`);
  if (reference.includes(':')) {
    await send(r, url, `deleting manifest ${reference} from ${r.description}`, [405], 'the registry does not allow deleting manifests; nothing was changed');
    return;
  }
  await send(r, url, `deleting tag "${reference}" from ${r.description}`, [400, 405], 'the registry does not delete tags; nothing was changed (ocikit manifest delete REF:TAG deletes the manifest and every tag of it)');
}

/** DELETE /v2/<name>/blobs/<digest>. */
export async function deleteBlobDigest(r: RepoAccess, digest: string): Promise<void> {
  await send(r, r.client.url(r.repository, `blobs/${digest}`), `deleting blob ${digest} from ${r.description}`, [405], 'the registry does not allow deleting blobs; nothing was changed');
}

/** One DELETE; `refusals` are the statuses that mean "this registry does not do that" (UNSUPPORTED, with `hint`). */
async function send(r: RepoAccess, url: URL, what: string, refusals: number[], hint: string): Promise<void> {
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
    // The registry's own words stay in the message; the code says what the caller can do about it.
    if (err instanceof OcikitError && (refusals.includes(res.status) || /\bUNSUPPORTED\b/.test(err.message))) {
      throw new OcikitError('UNSUPPORTED', err.message, { status: res.status, cause: err, hint });
    }
    throw err;
  }
}
