/** From a parsed reference to a target, and from a reference to the manifest it names. */
import { NotFoundError, OcikitError, UsageError } from '../errors.js';
import { layoutName, type Reference } from '../reference.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../spec/types.js';
import { isIndexMediaType, MediaType } from '../spec/media-types.js';
import { formatPlatform, platformMatches, selectPlatform } from '../spec/platform.js';
import { MAX_NESTING_DEPTH, nestingTooDeep } from '../spec/nesting.js';
import type { ImageIndex } from '../spec/types.js';
// A child stored only as its descriptor's `data` is content the target has (see embeddedContent).
import { fetchDocumentOrEmbedded, fetchManifestOrEmbedded } from '../graph/content.js';
import { LayoutDir } from './layout-dir.js';
import { LayoutArchive } from './layout-archive.js';
import { ArchiveEditor } from './archive-editor.js';
import { DockerArchive } from './docker-archive.js';
import { RegistryTarget } from './registry.js';
import type { RegistryOptions } from '../registry/client.js';
import { resolvesDefault, type ReadTarget, type WriteTarget } from '../graph/target.js';
import type { Editor } from '../graph/editor.js';

export interface OpenOptions {
  /** For a layout directory that does not exist yet: create it (destinations of copy, attach into a new dir...). */
  create?: boolean;
  /**
   * Archives: where a compressed one is decompressed to, a temporary file
   * read in place (default: the system temp directory; archive/compression.ts).
   */
  spoolDir?: string;
  /** Registries: TLS, credentials, retries, debug log (the CLI's global flags). */
  registry?: RegistryOptions;
  /**
   * openEditor on an archive that does not exist (or an empty file): start a
   * new one instead of NOT_FOUND (blob push, manifest push, artifact push,
   * as oras creates its --oci-layout). Nothing is written unless the edit
   * commits.
   */
  createArchive?: boolean;
}

export async function openReadTarget(ref: Reference, opts: OpenOptions = {}): Promise<ReadTarget> {
  switch (ref.kind) {
    case 'layout-dir':
      return LayoutDir.open(ref.path!);
    case 'layout-archive':
      return LayoutArchive.open(ref.path!, opts);
    case 'docker-archive':
      return DockerArchive.open(ref.path!, opts);
    case 'registry':
      return RegistryTarget.open(ref.registry!, ref.repository!, { registry: opts.registry });
    default:
      throw unsupportedKind(ref);
  }
}

export async function openWriteTarget(ref: Reference, opts: OpenOptions = {}): Promise<WriteTarget> {
  switch (ref.kind) {
    case 'layout-dir':
      return opts.create ? LayoutDir.init(ref.path!) : LayoutDir.open(ref.path!);
    case 'layout-archive':
      // An archive is written whole, as a stream, and is complete only once committed.
      throw new OcikitError('UNSUPPORTED', `${ref.original} is an archive; this command changes a target in place, and archives are written whole`, {
        hint: 'write archives with ocikit pack SRC ARCHIVE or ocikit copy SRC oci-archive:FILE',
      });
    case 'registry':
      return RegistryTarget.open(ref.registry!, ref.repository!, { writable: true, registry: opts.registry });
    default:
      throw unsupportedKind(ref, 'writing to');
  }
}

/**
 * The Editor for a reference (every write verb: attach, blob push, manifest
 * push, index create, tag, untag, manifest delete, blob delete): a layout
 * directory edited in place under its lock, or a registry repository.
 */
export async function openEditor(ref: Reference, opts: OpenOptions = {}): Promise<Editor> {
  switch (ref.kind) {
    case 'layout-dir':
      return opts.create ? LayoutDir.init(ref.path!) : LayoutDir.open(ref.path!);
    case 'registry':
      return RegistryTarget.open(ref.registry!, ref.repository!, { writable: true, registry: opts.registry });
    case 'layout-archive':
      // Rewritten whole: a new archive beside the old one, renamed over it on commit.
      return ArchiveEditor.open(ref.path!, { create: opts.createArchive });
    default:
      throw unsupportedKind(ref, 'changing');
  }
}

/** Open a reference that must be a layout directory (commands that edit index.json). */
export async function openLayoutDir(ref: Reference, opts: OpenOptions = {}): Promise<LayoutDir> {
  if (ref.kind !== 'layout-dir') {
    throw new UsageError(`${ref.original} is not a layout directory; this command edits a layout directory in place`, {
      hint: 'unpack an archive first with: ocikit unpack ARCHIVE DIR',
    });
  }
  return opts.create ? LayoutDir.init(ref.path!) : LayoutDir.open(ref.path!);
}

function unsupportedKind(ref: Reference, verb = 'reading'): OcikitError {
  return new OcikitError('UNSUPPORTED', `${verb} ${ref.kind} targets is not supported yet (${ref.original})`);
}

export interface ResolveOptions {
  platform?: Platform;
}

/**
 * The descriptor a reference names: by digest, by tag, or the layout's only
 * image; then, when a platform is asked for, the index's child for that
 * platform, or the image itself when it is for that platform.
 */
export async function resolveReference(target: ReadTarget, ref: Reference, opts: ResolveOptions = {}): Promise<Descriptor> {
  let desc: Descriptor;
  if (ref.digest) desc = await target.resolve(ref.digest);
  else if (ref.tag) desc = await target.resolve(layoutName(ref)!);
  else if (ref.dockerName) desc = await target.resolve(ref.dockerName);
  else if (resolvesDefault(target)) desc = await target.resolveDefault();
  else throw new UsageError(`${ref.original} names no manifest; add :TAG or @DIGEST`);
  return opts.platform ? resolvePlatform(target, desc, opts.platform) : desc;
}

export async function resolvePlatform(target: ReadTarget, desc: Descriptor, platform: Platform, depth = 0): Promise<Descriptor> {
  if (!isIndexMediaType(desc.mediaType)) {
    // A single image must be for the platform asked for (as oras checks): handing back
    // another architecture would make `--platform` silently mean nothing.
    const have = await imagePlatform(target, desc);
    if (!have || !platformMatches(platform, have)) {
      throw new NotFoundError(`${desc.digest} is ${have ? `an image for ${formatPlatform(have)}` : 'not an image with a platform'}, not for ${formatPlatform(platform)}`, {
        digest: desc.digest,
      });
    }
    return desc;
  }
  const { doc } = await fetchManifestOrEmbedded(target, desc);
  const children = (doc as ImageIndex).manifests;
  const match = selectPlatform(platform, children);
  if (!match) {
    const available = children.filter((c) => c.platform).map((c) => formatPlatform(c.platform!));
    throw new NotFoundError(`no manifest for platform ${formatPlatform(platform)} in index ${desc.digest}`, {
      digest: desc.digest,
      hint: available.length > 0 ? `platforms available: ${available.join(', ')}` : 'the index lists no platforms',
    });
  }
  if (!isIndexMediaType(match.mediaType)) return match;
  // An index may list another index for a platform; `desc` is level depth + 1, `match` one below it.
  if (depth + 2 >= MAX_NESTING_DEPTH) throw nestingTooDeep(`the index path to ${formatPlatform(platform)}`, match.digest);
  return resolvePlatform(target, match, platform, depth + 1);
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);

/** The platform an image manifest's config states, or undefined (an index, an artifact, a config without os/architecture). */
export async function imagePlatform(target: ReadTarget, desc: Descriptor): Promise<Platform | undefined> {
  if (isIndexMediaType(desc.mediaType)) return undefined;
  const m = await fetchManifestOrEmbedded(target, desc);
  if (m.kind !== 'manifest') return undefined;
  const config = (m.doc as ImageManifest).config;
  if (!IMAGE_CONFIG_TYPES.has(config.mediaType)) return undefined;
  // Only os/architecture/variant matter here; full config validation is verify's job, not a reason to refuse a platform match.
  let doc: Partial<ImageConfig>;
  try {
    doc = JSON.parse((await fetchDocumentOrEmbedded(target, config)).toString('utf8')) as Partial<ImageConfig>;
  } catch (err) {
    if (err instanceof OcikitError) throw err;
    throw new OcikitError('INVALID_MANIFEST', `config ${config.digest} in ${target.description} is not valid JSON`, { digest: config.digest, cause: err });
  }
  if (!doc || typeof doc.os !== 'string' || typeof doc.architecture !== 'string') return undefined;
  const p: Platform = { architecture: doc.architecture, os: doc.os };
  if (doc.variant) p.variant = doc.variant;
  if (doc['os.version']) p['os.version'] = doc['os.version'];
  return p;
}
