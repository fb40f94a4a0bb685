/**
 * From a raw request target (`/v2/<name>/manifests/<reference>?...`) to a
 * route whose every part has been checked against the spec's grammars. This
 * is the only place that reads the URL path: handlers get a repository name
 * that fits the name grammar and digests that parseDigest accepted (so a
 * blob path built from one is `blobs/<alg>/<hex>` and nothing else), or the
 * request is refused here with a 400/404 and an OCI error body.
 *
 * The path is split on "/" before percent-decoding, so an encoded "%2F" can
 * never add a path component, and "." / ".." components are refused outright.
 */
import { parseDigest } from '../digest/digest.js';
import { OcikitError } from '../errors.js';
import { isValidRepositoryName, isValidTag } from '../reference.js';
import { RegistryHttpError } from './errors.js';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; tag?: string; digest?: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; session: string }
  | { kind: 'referrers'; name: string; digest: string };

export interface ParsedRequest {
  route: Route;
  query: URLSearchParams;
  /** The path as received, for logs. */
  path: string;
}

/** Upload session ids are random UUIDs (crypto.randomUUID); anything else cannot be one of ours. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Longest request target we read: a 255-character name plus a sha512 digest fit easily. */
const MAX_TARGET_LENGTH = 4096;

export function parseRequestTarget(target: string | undefined): ParsedRequest {
  const raw = target ?? '/';
  if (raw.length > MAX_TARGET_LENGTH) throw new RegistryHttpError(400, 'NAME_INVALID', `request path is longer than ${MAX_TARGET_LENGTH} characters`);
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { route: matchPath(path), query, path };
}

function matchPath(path: string): Route {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) throw noEndpoint(path);
  const segments = path.slice('/v2/'.length).split('/').map(decodeSegment);
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new RegistryHttpError(400, 'NAME_INVALID', 'request path contains a "." or ".." component');
  }
  const n = segments.length;
  const last = segments[n - 1]!;
  const at = (i: number) => segments[n - i];

  if (n === 1 && last === '_catalog') return { kind: 'catalog' };
  if (n >= 3 && at(2) === 'tags' && last === 'list') return { kind: 'tags', name: repositoryName(segments.slice(0, n - 2)) };
  // `/blobs/uploads/` (POST) and `/blobs/uploads/<session>`: checked before `/blobs/<digest>`.
  if (n >= 4 && at(3) === 'blobs' && at(2) === 'uploads' && last === '') return { kind: 'uploads', name: repositoryName(segments.slice(0, n - 3)) };
  if (n >= 3 && at(2) === 'blobs' && last === 'uploads') return { kind: 'uploads', name: repositoryName(segments.slice(0, n - 2)) };
  if (n >= 4 && at(3) === 'blobs' && at(2) === 'uploads') {
    const name = repositoryName(segments.slice(0, n - 3));
    if (!SESSION_ID.test(last)) throw new RegistryHttpError(404, 'BLOB_UPLOAD_UNKNOWN', 'no such upload session');
    return { kind: 'upload', name, session: last };
  }
  if (n >= 3 && at(2) === 'blobs') return { kind: 'blob', name: repositoryName(segments.slice(0, n - 2)), digest: digestParam(last) };
  if (n >= 3 && at(2) === 'referrers') return { kind: 'referrers', name: repositoryName(segments.slice(0, n - 2)), digest: digestParam(last) };
  if (n >= 3 && at(2) === 'manifests') {
    const name = repositoryName(segments.slice(0, n - 2));
    if (last.includes(':')) return { kind: 'manifest', name, digest: digestParam(last) };
    if (!isValidTag(last)) {
      throw new RegistryHttpError(400, 'MANIFEST_INVALID', `invalid tag ${JSON.stringify(last.slice(0, 140))}: a tag is 1-128 of [a-zA-Z0-9_.-], not starting with "." or "-"`);
    }
    return { kind: 'manifest', name, tag: last };
  }
  throw noEndpoint(path);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RegistryHttpError(400, 'NAME_INVALID', 'request path has a malformed percent-encoding');
  }
}

function repositoryName(components: string[]): string {
  const name = components.join('/');
  if (!isValidRepositoryName(name)) {
    throw new RegistryHttpError(400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(name.slice(0, 300))}: components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"`, {
      detail: { name: name.slice(0, 300) },
    });
  }
  return name;
}

/** A digest from the path or the query: grammar and algorithm checked (sha256/sha512 only), else 400 DIGEST_INVALID. */
export function digestParam(s: string): string {
  try {
    return parseDigest(s).digest;
  } catch (err) {
    const message = err instanceof OcikitError ? err.message : `invalid digest ${JSON.stringify(s.slice(0, 160))}`;
    throw new RegistryHttpError(400, 'DIGEST_INVALID', message, { detail: { digest: s.slice(0, 160) }, cause: err });
  }
}

function noEndpoint(path: string): RegistryHttpError {
  return new RegistryHttpError(404, 'UNSUPPORTED', `no registry API endpoint at ${JSON.stringify(path.slice(0, 200))}`);
}
