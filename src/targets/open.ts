/** From a parsed reference to a target, and from a reference to the manifest it names. */
import { OcikitError, UsageError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Descriptor, Platform } from '../spec/types.js';
import { isIndexMediaType } from '../spec/media-types.js';
import { formatPlatform, selectPlatform } from '../spec/platform.js';
import type { ImageIndex } from '../spec/types.js';
import { fetchManifest } from '../graph/content.js';
import { LayoutDir } from './layout-dir.js';
import type { ReadTarget, WriteTarget } from './target.js';

export interface OpenOptions {
  /** For a layout directory that does not exist yet: create it (destinations of copy, attach into a new dir...). */
  create?: boolean;
}

export async function openReadTarget(ref: Reference): Promise<ReadTarget> {
  switch (ref.kind) {
    case 'layout-dir':
      return LayoutDir.open(ref.path!);
    default:
      throw unsupportedKind(ref);
  }
}

export async function openWriteTarget(ref: Reference, opts: OpenOptions = {}): Promise<WriteTarget> {
  switch (ref.kind) {
    case 'layout-dir':
      return opts.create ? LayoutDir.init(ref.path!) : LayoutDir.open(ref.path!);
    default:
      throw unsupportedKind(ref, 'writing to');
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
 * image; then, when a platform is asked for and the descriptor is an index,
 * the index's child for that platform.
 */
export async function resolveReference(target: ReadTarget, ref: Reference, opts: ResolveOptions = {}): Promise<Descriptor> {
  let desc: Descriptor;
  if (ref.digest) desc = await target.resolve(ref.digest);
  else if (ref.tag) desc = await target.resolve(ref.tag);
  else if (target instanceof LayoutDir) desc = await target.resolveDefault();
  else throw new UsageError(`${ref.original} names no manifest; add :TAG or @DIGEST`);
  return opts.platform ? resolvePlatform(target, desc, opts.platform) : desc;
}

export async function resolvePlatform(target: ReadTarget, desc: Descriptor, platform: Platform): Promise<Descriptor> {
  if (!isIndexMediaType(desc.mediaType)) return desc;
  const { doc } = await fetchManifest(target, desc);
  const children = (doc as ImageIndex).manifests;
  const match = selectPlatform(platform, children);
  if (!match) {
    const available = children.filter((c) => c.platform).map((c) => formatPlatform(c.platform!));
    throw new OcikitError('NOT_FOUND', `no manifest for platform ${formatPlatform(platform)} in index ${desc.digest}`, {
      digest: desc.digest,
      hint: available.length > 0 ? `platforms available: ${available.join(', ')}` : 'the index lists no platforms',
    });
  }
  return match;
}
