/**
 * References: the strings users write to name a target and, optionally, one
 * manifest in it. The forms and their precedence are those of the
 * "References" section of cli-contract.md:
 *
 *   oci:PATH[:TAG|:REPO:TAG|@DIGEST]          layout directory
 *   oci-archive:PATH[:TAG|:REPO:TAG|@DIGEST]  layout archive (.tar, .tar.gz, .tgz, .tar.zst)
 *   docker-archive:PATH[:TAG|:NAME:TAG]       `docker save` tarball; PATH ends at the first ":"
 *   docker://HOST[:PORT]/REPO[:TAG|@DIGEST]
 *   bare PATH[:TAG|@DIGEST]             when it exists, starts with "/", "./", "../" or has an archive extension
 *   bare HOST[:PORT]/REPO[:TAG|@DIGEST] when the first component has "." or ":" or is "localhost"
 *
 * The digest is split off at the last "@" after the last "/", then the tag at
 * the last ":" after the last "/". A string that exists on disk as a whole is a
 * path and is never split, so local names containing ":" or "@" keep working.
 * A layout holds many repositories, so its selector may also be `REPO:TAG`:
 * as in skopeo's `oci:` transport, after an `oci:`/`oci-archive:` prefix the
 * path ends at the first ":" (`oci:recv:rc/a:1`) unless a longer path exists;
 * a bare reference reads `PATH:REPO:TAG` only when PATH exists.
 *
 * Parsing is pure apart from the existence check, which callers (and tests)
 * can replace through `pathExists`. Every rejection is a one-line UsageError
 * that says what is wrong and how to write the reference, except digests,
 * which keep parseDigest's INVALID_DIGEST / UNSUPPORTED_DIGEST codes.
 */
import { statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { parseDigest } from './digest/digest.js';
import { OcikitError, UsageError } from './errors.js';

export type TargetKind = 'layout-dir' | 'layout-archive' | 'docker-archive' | 'registry';

export interface Reference {
  kind: TargetKind;
  /** For layout-dir, layout-archive and docker-archive; kept exactly as written (not resolved). */
  path?: string;
  /** `host[:port]` of a registry, as written. */
  registry?: string;
  /** A registry's repository; for a layout, the repository of `REPO:TAG` (always with `tag`). */
  repository?: string;
  tag?: string;
  /** A supported digest; when a tag is also given, the digest is what resolves. */
  digest?: string;
  /** docker-archive only: the `NAME:TAG` written after the path, e.g. "debian:10". */
  dockerName?: string;
  /** The string as given. */
  original: string;
}

export interface ParseReferenceOptions {
  /** The `--oci-layout` flag: a bare reference names a layout directory. Explicit transports still win. */
  ociLayout?: boolean;
  /** Whether a path exists, and as what. Defaults to a synchronous stat. */
  pathExists?: (p: string) => 'file' | 'dir' | undefined;
}

type PathExists = NonNullable<ParseReferenceOptions['pathExists']>;

const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_TAG_LENGTH = 128;
/** One path component of a distribution-spec repository name. */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** Registries and clients cap `host/name` (and so the name) at 255 characters. */
const MAX_NAME_LENGTH = 255;
const HOST_LABEL = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const ARCHIVE_EXTENSIONS = ['.tar', '.tar.gz', '.tgz', '.tar.zst'];

/**
 * Transports of skopeo/containers-image that ocikit does not read. Naming them
 * explicitly beats a confusing "bad registry host" error for `dir:/tmp/x`.
 */
const FOREIGN_TRANSPORTS = ['dir', 'docker-daemon', 'containers-storage', 'ostree', 'sif', 'tarball'];

const HOW = {
  oci: 'write oci:PATH[:TAG|@DIGEST]',
  ociArchive: 'write oci-archive:PATH[:TAG|@DIGEST]',
  dockerArchive: 'write docker-archive:PATH[:TAG|:NAME:TAG], e.g. docker-archive:img.tar:12 or docker-archive:img.tar:debian:12',
  registry: 'write HOST[:PORT]/REPO[:TAG|@DIGEST], e.g. localhost:5000/library/alpine:3.20',
  any: 'write oci:PATH[:TAG|@DIGEST] (or ./PATH) for a layout, oci-archive:PATH for an archive, or HOST[:PORT]/REPO[:TAG|@DIGEST] for a registry',
} as const;

// ---------------------------------------------------------------- validators

/** Distribution-spec tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export function isValidTag(s: string): boolean {
  return typeof s === 'string' && TAG_PATTERN.test(s);
}

/** Distribution-spec repository name grammar (no registry host), at most 255 characters. */
export function isValidRepositoryName(s: string): boolean {
  return typeof s === 'string' && repositoryProblem(s) === undefined;
}

/** `host`, IPv4 or `[ipv6]`, with an optional port 1-65535: the HOST[:PORT] of a registry reference. */
export function isValidRegistryHost(s: string): boolean {
  return typeof s === 'string' && hostProblem(s) === undefined;
}

function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'the tag after ":" is empty';
  if (tag.length > MAX_TAG_LENGTH) return `the tag is ${tag.length} characters long, the limit is ${MAX_TAG_LENGTH}`;
  if (!TAG_PATTERN.test(tag)) {
    return `tag ${quote(tag)} may use only letters, digits, "_", "." and "-", and must not start with "." or "-"`;
  }
  return undefined;
}

function repositoryProblem(name: string): string | undefined {
  if (name === '') return 'the repository name is empty';
  if (name.length > MAX_NAME_LENGTH) return `the repository name is longer than ${MAX_NAME_LENGTH} characters`;
  for (const component of name.split('/')) {
    if (component === '') return `repository ${quote(name)} has an empty path component`;
    if (!NAME_COMPONENT.test(component)) {
      return /[A-Z]/.test(component)
        ? `repository ${quote(name)} must be lowercase`
        : `repository ${quote(name)} may use only a-z, 0-9 and single ".", "_", "__" or "-" runs between them`;
    }
  }
  return undefined;
}

function hostProblem(host: string): string | undefined {
  if (host === '') return 'the registry host is empty';
  let name: string;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return `registry host ${quote(host)} is missing the closing "]"`;
    name = host.slice(1, end);
    const rest = host.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `unexpected ${quote(rest)} after the IPv6 address in ${quote(host)}`;
      port = rest.slice(1);
    }
    if (!isIPv6(name)) return `${quote(name)} is not an IPv6 address`;
  } else {
    const parts = host.split(':');
    if (parts.length > 2) return `registry host ${quote(host)} has more than one ":"; put IPv6 addresses in brackets, e.g. [::1]:5000`;
    name = parts[0]!;
    port = parts[1];
    const problem = hostnameProblem(name);
    if (problem) return problem;
  }
  if (port !== undefined && !isValidPort(port)) return `port ${quote(port)} is not a number from 1 to 65535`;
  return undefined;
}

function hostnameProblem(name: string): string | undefined {
  if (name === '') return 'the registry host name is empty';
  if (name.length > 253) return 'the registry host name is longer than 253 characters';
  const labels = name.split('.');
  if (!labels.every((l) => HOST_LABEL.test(l))) {
    return `registry host ${quote(name)} is not a valid host name or IPv4 address`;
  }
  // An all-numeric name can only be an IPv4 address: "300.1.1.1" or "1.2.3" is a typo, not a host.
  if (labels.every((l) => /^\d+$/.test(l)) && (labels.length !== 4 || labels.some((l) => Number(l) > 255))) {
    return `registry host ${quote(name)} is not a valid IPv4 address`;
  }
  return undefined;
}

function isValidPort(port: string): boolean {
  return /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
}

/** The contract's test for "this first component names a registry" (docker's rule). */
export function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

function hasArchiveExtension(p: string): boolean {
  const lower = p.toLowerCase();
  return ARCHIVE_EXTENSIONS.some((ext) => lower.endsWith(ext) && lower.length > ext.length);
}

/** Spelled as a local path: nobody writes a registry reference like this. */
function isExplicitPath(p: string): boolean {
  return p.startsWith('/') || p.startsWith('./') || p.startsWith('../') || p === '.' || p === '..';
}

function defaultPathExists(p: string): 'file' | 'dir' | undefined {
  try {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    // ENOTDIR, EACCES, ENAMETOOLONG...: not something we can use as a path.
    return undefined;
  }
}

// ----------------------------------------------------------------- splitting

/** Raw pieces of `BASE[:TAG][@DIGEST]`; tag and digest may be empty strings (validated later). */
interface Split {
  base: string;
  tag?: string;
  digest?: string;
  /** A layout's `REPO` of `PATH:REPO:TAG`. */
  repository?: string;
}

function splitTag(s: string): Split {
  const colon = s.lastIndexOf(':');
  return colon > s.lastIndexOf('/') ? { base: s.slice(0, colon), tag: s.slice(colon + 1) } : { base: s };
}

/** Digest at the last "@" after the last "/", then tag at the last ":" after the last "/". */
function splitSelector(s: string): Split {
  const at = s.lastIndexOf('@');
  if (at <= s.lastIndexOf('/')) return splitTag(s);
  return { ...splitTag(s.slice(0, at)), digest: s.slice(at + 1) };
}

/**
 * skopeo's `oci:` reading: the path ends at the first ":", and the rest is
 * `REPO:TAG` (optionally followed by `@DIGEST`). Undefined when the rest is
 * no valid `REPO:TAG` (repository `[HOST/]NAME`): the other readings cover
 * `:TAG` and `@DIGEST`, and report what is wrong with them.
 */
function splitRepositoryTag(s: string): Split | undefined {
  const at = s.lastIndexOf('@');
  const hasDigest = at > s.lastIndexOf('/');
  const rest = hasDigest ? s.slice(0, at) : s;
  const colon = rest.indexOf(':');
  const nameColon = rest.lastIndexOf(':');
  if (colon < 0 || nameColon === colon) return undefined;
  const repository = rest.slice(colon + 1, nameColon);
  const tag = rest.slice(nameColon + 1);
  if (colon === 0 || imageRepositoryProblem(repository) !== undefined || tagProblem(tag) !== undefined) return undefined;
  return { base: rest.slice(0, colon), repository, tag, ...(hasDigest ? { digest: s.slice(at + 1) } : {}) };
}

/** A repository as image names write it: `NAME`, or `HOST/NAME` when the first component looks like a host. */
function imageRepositoryProblem(name: string): string | undefined {
  const slash = name.indexOf('/');
  const host = slash > 0 ? name.slice(0, slash) : '';
  if (host !== '' && looksLikeHost(host)) return hostProblem(host) ?? repositoryProblem(name.slice(slash + 1));
  return repositoryProblem(name);
}

/**
 * Split a path reference, preferring readings whose path exists: the whole
 * string, then only a tag split off, then tag and digest, then the path up
 * to the first ":" with `REPO:TAG` after it. Without any existing reading,
 * `PATH:REPO:TAG` applies when `repositoryTag` (an explicit `oci:` or
 * `oci-archive:` prefix, skopeo's rule), else the plain split.
 */
function locatePath(body: string, exists: PathExists, repositoryTag: 'default' | 'if-exists' | 'never'): { split: Split; found?: 'file' | 'dir' } {
  const named = repositoryTag !== 'never' ? splitRepositoryTag(body) : undefined;
  const readings = [{ base: body }, splitTag(body), splitSelector(body), ...(named ? [named] : [])];
  const tried = new Set<string>();
  for (const split of readings) {
    if (split.base === '' || tried.has(split.base)) continue;
    tried.add(split.base);
    const found = exists(split.base);
    if (found) return { split, found };
  }
  return { split: repositoryTag === 'default' && named ? named : splitSelector(body) };
}

// ------------------------------------------------------------------- parsing

function quote(s: string): string {
  const shown = s.length > 200 ? `${s.slice(0, 197)}...` : s;
  return JSON.stringify(shown);
}

function usage(input: string, what: string, how: string): UsageError {
  return new UsageError(`invalid reference ${quote(input)}: ${what}; ${how}`);
}

/** Validate the tag and digest pieces; digests keep their own error codes. */
function selector(split: Split, input: string, how: string): Pick<Reference, 'tag' | 'digest' | 'repository'> {
  const out: Pick<Reference, 'tag' | 'digest' | 'repository'> = {};
  if (split.repository !== undefined) out.repository = split.repository;
  if (split.tag !== undefined) {
    const problem = tagProblem(split.tag);
    if (problem) throw usage(input, problem, how);
    out.tag = split.tag;
  }
  if (split.digest !== undefined) {
    if (split.digest === '') throw usage(input, 'the digest after "@" is empty', how);
    try {
      out.digest = parseDigest(split.digest).digest;
    } catch (err) {
      if (!(err instanceof OcikitError)) throw err;
      throw new OcikitError(err.code, `invalid reference ${quote(input)}: ${err.message}`, { digest: split.digest, cause: err });
    }
  }
  return out;
}

function pathReference(kind: TargetKind, split: Split, input: string, how: string): Reference {
  if (split.base === '') throw usage(input, 'the path is empty', how);
  return { kind, path: split.base, ...selector(split, input, how), original: input };
}

function layoutReference(kind: 'layout-dir' | 'layout-archive', body: string, input: string, exists: PathExists, how: string, repositoryTag: 'default' | 'if-exists' = 'default'): Reference {
  if (body === '') throw usage(input, 'the path is empty', how);
  return pathReference(kind, locatePath(body, exists, repositoryTag).split, input, how);
}

/** `HOST[:PORT]/REPO` plus selector. `strictHost` is for docker://, where the host is required. */
function registryReference(split: Split, input: string, how: string, strictHost: boolean): Reference {
  const slash = split.base.indexOf('/');
  if (slash < 0) throw usage(input, 'a registry reference needs a repository after the host', how);
  const registry = split.base.slice(0, slash);
  const repository = split.base.slice(slash + 1);
  const hostIssue = hostProblem(registry);
  if (hostIssue) throw usage(input, hostIssue, how);
  if (strictHost && !looksLikeHost(registry)) {
    // Other tools would silently read this as Docker Hub; ocikit never guesses a registry.
    throw usage(
      input,
      `${quote(registry)} does not look like a registry host (no "." or ":" and not localhost)`,
      `name the registry, e.g. docker://docker.io/${split.base}`,
    );
  }
  const repoIssue = repositoryProblem(repository);
  if (repoIssue) throw usage(input, repoIssue, how);
  if (split.base.length > MAX_NAME_LENGTH) throw usage(input, `HOST/REPO is longer than ${MAX_NAME_LENGTH} characters`, how);
  return { kind: 'registry', registry, repository, ...selector(split, input, how), original: input };
}

function dockerArchiveReference(body: string, input: string, exists: PathExists): Reference {
  const how = HOW.dockerArchive;
  if (body === '') throw usage(input, 'the path is empty', how);
  // PATH ends at the first ":", unless the whole string is an existing file.
  const colon = body.indexOf(':');
  if (colon < 0 || exists(body)) return { kind: 'docker-archive', path: body, original: input };
  const path = body.slice(0, colon);
  const dockerName = body.slice(colon + 1);
  if (path === '') throw usage(input, 'the path is empty', how);
  // A bare TAG, as `ls` and the hints print an archive's images (`tags: 1, v1`): the archive
  // resolves it when one image has it, and lists the full names when several do.
  if (isValidTag(dockerName)) return { kind: 'docker-archive', path, tag: dockerName, original: input };
  const problem = dockerNameProblem(dockerName);
  if (problem) throw usage(input, problem, how);
  return { kind: 'docker-archive', path, dockerName, original: input };
}

function dockerNameProblem(nameAndTag: string): string | undefined {
  if (nameAndTag === '') return 'nothing follows the ":" after the path';
  if (nameAndTag.includes('@')) return 'a docker archive image is selected by NAME:TAG, not by digest';
  const { base: name, tag } = splitTag(nameAndTag);
  if (tag === undefined) return `${quote(nameAndTag)} is neither a tag nor NAME:TAG`;
  const slash = name.indexOf('/');
  const host = slash > 0 ? name.slice(0, slash) : '';
  // Like docker, a first component that looks like a host is one ("localhost:5000/foo/bar").
  if (host !== '' && looksLikeHost(host)) {
    return hostProblem(host) ?? repositoryProblem(name.slice(slash + 1)) ?? tagProblem(tag);
  }
  return repositoryProblem(name) ?? tagProblem(tag);
}

function bareReference(input: string, opts: ParseReferenceOptions, exists: PathExists): Reference {
  if (opts.ociLayout) return layoutReference('layout-dir', input, input, exists, HOW.oci, 'if-exists');

  // `localhost:5000/app:1` stays a registry reference even when a directory `localhost` exists.
  const located = locatePath(input, exists, parses(() => registryReference(splitSelector(input), input, HOW.registry, true)) ? 'never' : 'if-exists');
  if (located.found) {
    return pathReference(located.found === 'dir' ? 'layout-dir' : 'layout-archive', located.split, input, HOW.any);
  }
  const split = located.split;
  if (split.base === '') throw usage(input, 'the path or repository before the tag or digest is empty', HOW.any);
  const archiveKind = hasArchiveExtension(split.base) ? 'layout-archive' : 'layout-dir';
  if (isExplicitPath(split.base)) return pathReference(archiveKind, split, input, HOW.any);

  rejectForeignTransport(input);

  const first = split.base.split('/')[0]!;
  const registryLike = split.base.includes('/') && looksLikeHost(first);
  if (registryLike) {
    if (archiveKind === 'layout-archive') {
      // Both rules match ("build.d/app.tar"); refuse to guess when both readings are valid.
      if (parses(() => registryReference(split, input, HOW.registry, false))) {
        throw usage(input, 'this could be an archive file or a registry repository', `write ./${split.base} or oci-archive:${split.base} for the file, docker://${input} for the registry`);
      }
      return pathReference(archiveKind, split, input, HOW.oci);
    }
    return registryReference(split, input, HOW.registry, false);
  }
  if (archiveKind === 'layout-archive') return pathReference(archiveKind, split, input, HOW.ociArchive);

  if (!split.base.includes('/') && looksLikeHost(input) && hostProblem(input.split('/')[0]!) === undefined) {
    throw usage(input, 'this names a registry host but no repository', HOW.registry);
  }
  throw usage(input, 'not an existing path and not a registry reference (a registry host has a "." or ":" or is localhost)', HOW.any);
}

/** Only reached when no reading of the string exists on disk. */
function rejectForeignTransport(input: string): void {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(input);
  if (scheme) {
    throw usage(input, `${quote(`${scheme[1]}://`)} is not a supported scheme`, 'write docker://HOST/REPO[:TAG] or HOST/REPO[:TAG] for a registry');
  }
  const colon = input.indexOf(':');
  const prefix = colon > 0 ? input.slice(0, colon) : '';
  if (FOREIGN_TRANSPORTS.includes(prefix)) {
    throw usage(input, `the ${quote(`${prefix}:`)} transport is not supported`, 'ocikit reads oci:, oci-archive:, docker-archive: and docker:// references');
  }
}

function parses(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/**
 * Parse a reference string. Throws UsageError (code USAGE) for malformed or
 * ambiguous references, and OcikitError INVALID_DIGEST / UNSUPPORTED_DIGEST
 * for a digest that is malformed or of an algorithm ocikit cannot verify.
 */
export function parseReference(input: string, opts: ParseReferenceOptions = {}): Reference {
  if (typeof input !== 'string') throw new UsageError(`invalid reference: expected a string, got ${typeof input}; ${HOW.any}`);
  if (input === '') throw usage(input, 'the reference is empty', HOW.any);
  if (input.includes('\0')) throw usage(input, 'it contains a NUL character', HOW.any);
  const exists = opts.pathExists ?? defaultPathExists;

  if (input.startsWith('oci:')) return layoutReference('layout-dir', input.slice(4), input, exists, HOW.oci);
  if (input.startsWith('oci-archive:')) return layoutReference('layout-archive', input.slice(12), input, exists, HOW.ociArchive);
  if (input.startsWith('docker-archive:')) return dockerArchiveReference(input.slice(15), input, exists);
  if (input.startsWith('docker://')) {
    const body = input.slice(9);
    if (body === '') throw usage(input, 'nothing follows docker://', 'write docker://HOST[:PORT]/REPO[:TAG|@DIGEST]');
    return registryReference(splitSelector(body), input, 'write docker://HOST[:PORT]/REPO[:TAG|@DIGEST]', true);
  }
  return bareReference(input, opts, exists);
}

// ---------------------------------------------------------------- formatting

/**
 * The canonical string for a reference: explicit transport, path or
 * host/repository as given, then `:TAG` (`:REPO:TAG` for a layout) and/or
 * `@DIGEST`. Parsing it gives the same reference back, provided a path
 * holding ":" (or "@" after its last "/") exists on disk: otherwise the path
 * ends at its first ":", as skopeo reads `oci:`, and no string could say it.
 */
export function formatReference(ref: Reference): string {
  const sel = (ref.tag !== undefined ? `:${ref.kind !== 'registry' && ref.repository !== undefined ? `${ref.repository}:` : ''}${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
  switch (ref.kind) {
    case 'layout-dir':
      return `oci:${requireField(ref, 'path')}${sel}`;
    case 'layout-archive':
      return `oci-archive:${requireField(ref, 'path')}${sel}`;
    case 'docker-archive':
      // Docker archives select by TAG or NAME:TAG; a digest has no spelling here.
      return `docker-archive:${requireField(ref, 'path')}${ref.dockerName !== undefined ? `:${ref.dockerName}` : ref.tag !== undefined ? `:${ref.tag}` : ''}`;
    case 'registry':
      return `docker://${requireField(ref, 'registry')}/${requireField(ref, 'repository')}${sel}`;
    default:
      throw new OcikitError('INVALID_REFERENCE', `cannot format a reference of unknown kind ${quote(String((ref as Reference).kind))}`);
  }
}

function requireField(ref: Reference, field: 'path' | 'registry' | 'repository'): string {
  const value = ref[field];
  if (value === undefined || value === '') {
    throw new OcikitError('INVALID_REFERENCE', `cannot format a ${ref.kind} reference without its ${field}`);
  }
  return value;
}

/** The same target with no tag, digest or docker NAME:TAG; `original` becomes its canonical form. */
export function withoutSelector(ref: Reference): Reference {
  const { tag: _tag, digest: _digest, dockerName: _dockerName, ...target } = ref;
  if (ref.kind !== 'registry') delete target.repository;
  const bare: Reference = { ...target, original: '' };
  bare.original = formatReference(bare);
  return bare;
}

/** The name a layout reference selects: `TAG`, or `REPO:TAG` when it names a repository (undefined without a tag). */
export function layoutName(ref: Reference): string | undefined {
  if (ref.tag === undefined) return undefined;
  return ref.kind !== 'registry' && ref.repository !== undefined ? `${ref.repository}:${ref.tag}` : ref.tag;
}
