/**
 * Referrers on a registry (distribution-spec v1.1):
 *
 * - the referrers API, `GET /v2/<name>/referrers/<digest>[?artifactType=]`,
 *   following `Link` pages; when the registry did not apply the filter (no
 *   `artifactType` in `OCI-Filters-Applied`) we filter ourselves;
 * - where the registry lacks the API (404 on that endpoint), the referrers
 *   tag schema: an image index tagged `<alg>-<encoded truncated to 64>`.
 *   Writers update it read-modify-write, conditionally (`If-Match`) where the
 *   registry sends ETags, serialized within this process, never listing a
 *   digest twice.
 */
import { OcikitError } from '../errors.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { fallbackTagFor } from '../graph/referrers.js';
import type { ReferrersFilter } from '../graph/target.js';
import { headerValue } from './client.js';
import { drain } from './http.js';
import { nextLink } from './link.js';
import { ListingWalk } from './listing.js';
import { getManifest, putManifest } from './manifests.js';
import type { RepoAccess } from './blobs.js';

/** Conditional updates that lose a race are retried this many times. */
const MAX_UPDATE_ATTEMPTS = 8;

/** What we learnt about one repository's referrers support (undefined: not asked yet). */
export interface ReferrersState {
  api?: boolean;
}

export async function* listReferrers(r: RepoAccess, subject: Descriptor, filter: ReferrersFilter | undefined, state: ReferrersState): AsyncGenerator<Descriptor> {
  if (state.api !== false) {
    const page = await referrersApi(r, subject, filter);
    if (page !== undefined) {
      state.api = true;
      yield* page;
      return;
    }
    state.api = false;
  }
  yield* fromFallbackTag(r, subject.digest, filter);
}

/** Every referrer the API lists, or undefined when the registry has no referrers API. */
async function referrersApi(r: RepoAccess, subject: Descriptor, filter: ReferrersFilter | undefined): Promise<Descriptor[] | undefined> {
  const query = filter?.artifactType ? `?artifactType=${encodeURIComponent(filter.artifactType)}` : '';
  const what = `listing referrers of ${subject.digest} in ${r.description}`;
  const walk = new ListingWalk(what, r.client.opts.listingLimits);
  let url: URL | undefined = r.client.url(r.repository, `referrers/${subject.digest}${query}`);
  const out: Descriptor[] = [];
  const seen = new Set<string>();
  for (let page = 0; url; page++) {
    walk.visit(url);
    const res = await r.client.request({ method: 'GET', url, headers: { Accept: MediaType.ImageIndex }, scopes: r.scopes, what });
    if (res.status === 404 && page === 0) {
      drain(res.body);
      return undefined;
    }
    if (res.status !== 200) await r.client.fail(res, what);
    const applied = (headerValue(res.headers['oci-filters-applied']) ?? '').split(',').map((s) => s.trim());
    const index = parseIndex((await walk.read(res)).toString('utf8'), what);
    walk.count(index.manifests.length);
    for (const d of index.manifests) {
      if (!isDescriptor(d) || seen.has(d.digest)) continue;
      if (filter?.artifactType && !applied.includes('artifactType') && d.artifactType !== filter.artifactType) continue;
      seen.add(d.digest);
      out.push(listed(d));
    }
    url = nextLink(res.headers.link, res.url);
  }
  return out;
}

async function* fromFallbackTag(r: RepoAccess, digest: string, filter: ReferrersFilter | undefined): AsyncGenerator<Descriptor> {
  const got = await getManifest(r, fallbackTagFor(digest));
  if (!got) return;
  const index = parseIndex(got.bytes.toString('utf8'), `reading referrers tag ${fallbackTagFor(digest)} in ${r.description}`);
  const seen = new Set<string>();
  for (const d of index.manifests) {
    if (!isDescriptor(d) || seen.has(d.digest)) continue;
    if (filter?.artifactType && d.artifactType !== filter.artifactType) continue;
    seen.add(d.digest);
    yield listed(d);
  }
}

/**
 * Whether the registry answers the referrers API, asked once per repository
 * (with `subject` as the probe) and remembered in `state`.
 */
export async function hasReferrersApi(r: RepoAccess, subject: Descriptor, state: ReferrersState): Promise<boolean> {
  if (state.api === undefined) state.api = (await referrersApi(r, subject, undefined)) !== undefined;
  return state.api;
}

/** Add `referrer` to the referrers index of `subjectDigest` (fallback tag schema). */
export function addToFallbackTag(r: RepoAccess, subjectDigest: string, referrer: Descriptor): Promise<void> {
  return editFallbackTag(r, subjectDigest, (manifests) =>
    manifests.some((d) => isDescriptor(d) && d.digest === referrer.digest) ? undefined : [...manifests, listed(referrer)],
  );
}

/**
 * Remove `referrerDigest` from the referrers index of `subjectDigest`. An
 * index left empty is stored empty: the tag is the registry's to delete,
 * and an empty listing answers the same as none.
 */
export function removeFromFallbackTag(r: RepoAccess, subjectDigest: string, referrerDigest: string): Promise<void> {
  return editFallbackTag(r, subjectDigest, (manifests) => {
    const rest = manifests.filter((d) => !(isDescriptor(d) && d.digest === referrerDigest));
    return rest.length === manifests.length ? undefined : rest;
  });
}

/** Serializes fallback-tag updates per registry repository and tag within this process. */
const updateQueues = new Map<string, Promise<unknown>>();

/** One read-modify-write of a fallback tag; `edit` returns the new list, or undefined for no change. */
async function editFallbackTag(r: RepoAccess, subjectDigest: string, edit: FallbackEdit): Promise<void> {
  const tag = fallbackTagFor(subjectDigest);
  const key = `${r.client.host}/${r.repository}:${tag}`;
  const previous = updateQueues.get(key) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => updateFallbackTag(r, tag, edit));
  updateQueues.set(key, run);
  try {
    await run;
  } finally {
    if (updateQueues.get(key) === run) updateQueues.delete(key);
  }
}

type FallbackEdit = (manifests: Descriptor[]) => Descriptor[] | undefined;

async function updateFallbackTag(r: RepoAccess, tag: string, edit: FallbackEdit): Promise<void> {
  const what = `updating referrers tag ${tag} in ${r.description}`;
  for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
    const current = await getManifest(r, tag);
    const index: ImageIndex = current ? parseIndex(current.bytes.toString('utf8'), what) : { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };
    const manifests = edit(index.manifests);
    if (manifests === undefined) return;
    const next: ImageIndex = { ...index, schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
    const res = await putManifest(r, tag, MediaType.ImageIndex, Buffer.from(JSON.stringify(next)), { ifMatch: current?.etag, what });
    if (res.status !== 412) return;
    // Someone else updated it between our read and write: read again.
  }
  throw new OcikitError('REGISTRY_ERROR', `${what}: it kept changing under us (${MAX_UPDATE_ATTEMPTS} attempts)`);
}

function parseIndex(text: string, what: string): ImageIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OcikitError('REGISTRY_ERROR', `${what}: the referrers index is not JSON`);
  }
  const idx = doc as ImageIndex;
  if (!idx || typeof idx !== 'object' || !Array.isArray(idx.manifests)) throw new OcikitError('REGISTRY_ERROR', `${what}: the answer is not an image index`);
  return idx;
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return !!x && typeof x === 'object' && typeof x.digest === 'string' && typeof x.mediaType === 'string' && typeof x.size === 'number';
}

/** The fields a referrers listing carries. */
function listed(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  return out;
}
