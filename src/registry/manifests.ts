/**
 * Manifests: HEAD to resolve tags and test existence, GET capped at 4 MiB and
 * verified (the digest asked for, and `Docker-Content-Digest` when the
 * registry sends one), PUT with the manifest's own media type.
 */
import { OcikitError } from '../errors.js';
import { digestBytes, parseDigest, type SupportedAlgorithm } from '../digest/digest.js';
import { IntegrityError } from '../errors.js';
import { isManifestMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { detectManifestMediaType } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { headerValue, mediaTypeOf } from './client.js';
import { drain, readBody, type HttpResponse } from './http.js';
import type { RepoAccess } from './blobs.js';

/** Every manifest type ocikit reads, so the registry never down-converts (a Docker registry would serve schema1 otherwise). */
const MANIFEST_ACCEPT = [
  MediaType.ImageManifest,
  MediaType.ImageIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
  MediaType.LegacyArtifactManifest,
].join(', ');

export interface FetchedRegistryManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  /** The ETag the registry sent, for conditional updates (If-Match). */
  etag?: string;
}

const isDigest = (ref: string) => ref.includes(':');

function manifestUrl(r: RepoAccess, reference: string): URL {
  return r.client.url(r.repository, `manifests/${reference}`);
}

/** Resolve a tag or digest with HEAD; undefined when absent. Falls back to GET when HEAD tells too little. */
export async function headManifest(r: RepoAccess, reference: string): Promise<Descriptor | undefined> {
  const what = `resolving ${reference} in ${r.description}`;
  const res = await r.client.request({ method: 'HEAD', url: manifestUrl(r, reference), headers: { Accept: MANIFEST_ACCEPT }, scopes: r.scopes, what });
  drain(res.body);
  if (res.status === 404) return undefined;
  if (res.status !== 200) return r.client.fail(res, what);
  const digest = headerValue(res.headers['docker-content-digest']);
  const mediaType = mediaTypeOf(res.headers['content-type']);
  const size = Number(headerValue(res.headers['content-length']));
  if (digest && mediaType && isManifestMediaType(mediaType) && Number.isSafeInteger(size) && (!isDigest(reference) || digest === reference)) {
    return { mediaType, digest, size };
  }
  // HEAD without a digest, a media type or a length (some registries): GET and compute.
  const got = await getManifest(r, reference);
  if (!got) return undefined;
  return { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length };
}

/** GET a manifest, verified; undefined when absent. `expected` pins digest and size (fetch by descriptor). */
export async function getManifest(r: RepoAccess, reference: string, expected?: Descriptor): Promise<FetchedRegistryManifest | undefined> {
  const what = `fetching manifest ${reference} from ${r.description}`;
  const res = await r.client.request({ method: 'GET', url: manifestUrl(r, reference), headers: { Accept: MANIFEST_ACCEPT }, scopes: r.scopes, what });
  if (res.status === 404) {
    drain(res.body);
    return undefined;
  }
  if (res.status !== 200) return r.client.fail(res, what);
  const declared = Number(headerValue(res.headers['content-length']));
  if (Number.isSafeInteger(declared) && declared > MAX_DOCUMENT_SIZE) {
    res.body.destroy();
    throw new OcikitError('MANIFEST_TOO_LARGE', `${what}: the manifest is ${declared} bytes; documents over ${MAX_DOCUMENT_SIZE} bytes are refused`, { expected: MAX_DOCUMENT_SIZE, actual: declared });
  }
  let bytes: Buffer;
  try {
    bytes = await readBody(res.body, MAX_DOCUMENT_SIZE);
  } catch (err) {
    if (err instanceof OcikitError) throw new OcikitError(err.code, `${what}: ${err.message}`, { cause: err });
    throw new OcikitError('REGISTRY_ERROR', `${what}: the connection broke while reading the manifest (${(err as Error).message})`, { cause: err });
  }
  const pinned = expected?.digest ?? (isDigest(reference) ? reference : undefined);
  const algorithm: SupportedAlgorithm = pinned ? parseDigest(pinned).algorithm : 'sha256';
  const digest = digestBytes(bytes, algorithm);
  if (expected && bytes.length !== expected.size) {
    throw new IntegrityError('SIZE_MISMATCH', `${what}: expected ${expected.size} bytes, got ${bytes.length}`, { digest: expected.digest, expected: expected.size, actual: bytes.length });
  }
  if (pinned && digest !== pinned) {
    throw new IntegrityError('DIGEST_MISMATCH', `${what}: the content hashes to ${digest}`, { digest: pinned, expected: pinned, actual: digest });
  }
  checkDigestHeader(res, digest, what);
  const mediaType = manifestMediaType(res, bytes, expected?.mediaType);
  const etag = headerValue(res.headers.etag);
  return { bytes, mediaType, digest, ...(etag ? { etag } : {}) };
}

export interface PutManifestResult {
  /** The registry processed the subject (OCI-Subject header): it maintains the referrers API itself. */
  subjectAccepted: boolean;
}

export async function putManifest(
  r: RepoAccess,
  reference: string,
  mediaType: string,
  bytes: Buffer,
  opts: { ifMatch?: string; what?: string } = {},
): Promise<PutManifestResult & { status: number }> {
  const what = opts.what ?? `pushing manifest ${isDigest(reference) ? reference : `${digestBytes(bytes)} as ${reference}`} to ${r.description}`;
  const headers: Record<string, string> = { 'Content-Type': mediaType };
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  const res = await r.client.request({ method: 'PUT', url: manifestUrl(r, reference), headers, body: bytes, scopes: r.scopes, what });
  if (res.status === 412 && opts.ifMatch) {
    drain(res.body);
    return { subjectAccepted: false, status: 412 };
  }
  if (res.status !== 201 && res.status !== 200 && res.status !== 204) await r.client.fail(res, what);
  drain(res.body);
  const algorithm = isDigest(reference) ? parseDigest(reference).algorithm : 'sha256';
  checkDigestHeader(res, digestBytes(bytes, algorithm), what);
  return { subjectAccepted: res.headers['oci-subject'] !== undefined, status: res.status };
}

/** A registry that names a different digest for what it sent or stored is not to be trusted with this content. */
function checkDigestHeader(res: HttpResponse, digest: string, what: string): void {
  const got = headerValue(res.headers['docker-content-digest']);
  if (!got) return;
  if (got.split(':')[0] !== digest.split(':')[0]) return; // another algorithm: nothing to compare
  if (got !== digest) {
    throw new IntegrityError('DIGEST_MISMATCH', `${what}: the registry says ${got}, the content hashes to ${digest}`, { digest, expected: got, actual: digest });
  }
}

/** The media type: the registry's Content-Type when it names a manifest type, else what the document says. */
function manifestMediaType(res: HttpResponse, bytes: Buffer, fallback?: string): string {
  const header = mediaTypeOf(res.headers['content-type']);
  if (header && isManifestMediaType(header)) return header;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const detected = detectManifestMediaType(doc);
    if (detected) return detected;
  } catch {
    // Not JSON: the parser downstream reports it with the digest.
  }
  return fallback ?? header ?? MediaType.ImageManifest;
}
