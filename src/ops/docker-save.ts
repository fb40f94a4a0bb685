/**
 * `copy SRC docker-archive:FILE[:NAME:TAG]`: images from any source written
 * as a `docker save` archive of the old format, which `docker load` reads on
 * every Docker version (targets/docker-archive-writer.ts has the format).
 *
 * What goes in, as skopeo does it:
 * - Images only: each root is an image manifest, or an index from which the
 *   image for `--platform` is taken, else the one for this machine
 *   (hostPlatform); an index without one is a usage error that lists the
 *   platforms it has. An artifact is refused (UNSUPPORTED).
 * - Names (RepoTags): the destination's NAME:TAG; else each name the source
 *   gives the image that includes a repository (a layout's
 *   `io.containerd.image.name`, `REPO:TAG`, a registry's HOST/REPO:TAG), in
 *   the familiar form `docker save` writes; an image with only a bare tag,
 *   or selected by digest, is written without a name (`RepoTags: null`, as
 *   `docker save IMAGE_ID` does), and the result says so.
 * - Layers are decompressed as they stream from the source into the
 *   archive, and must hash to the config's `diff_ids`: what `docker load`
 *   will check is checked before the archive exists.
 */
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { OcikitError, UsageError, isOcikitError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../spec/types.js';
import { MediaType, isImageManifestMediaType, isIndexMediaType, layerCompression } from '../spec/media-types.js';
import { formatPlatform, hostPlatform } from '../spec/platform.js';
import { familiarDockerName } from '../spec/image-name.js';
import { parseNameRef } from '../spec/index-entries.js';
import { decompressor } from '../archive/compression.js';
import type { CopyEvent } from '../graph/copy.js';
import { fetchDocumentOrEmbedded, fetchManifestOrEmbedded, fetchOrEmbedded } from '../graph/content.js';
import type { ReadTarget } from '../graph/target.js';
import { resolvePlatform } from '../targets/open.js';
import { DockerArchiveWriter } from '../targets/docker-archive-writer.js';
import type { Root, TransferResult } from './transfer.js';

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);

export interface DockerArchiveOptions {
  /** Replace a file already at the destination (default: refuse it, ALREADY_EXISTS). */
  overwrite?: boolean;
  /** The platform to take from an index (default: this machine's). */
  platform?: Platform;
  /** Entry mtime in seconds (default SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  onEvent?: (e: CopyEvent) => void;
}

/** One image written: its manifest, its config (the image ID docker shows), platform and names. */
export interface DockerArchiveImageResult {
  digest: string;
  config: string;
  platform?: string;
  /** True when the platform was taken from an index for this machine, not asked for. */
  hostPlatform?: boolean;
  repoTags: string[];
}

export interface DockerArchiveResult extends TransferResult {
  /** The file written. */
  archive: string;
  images: DockerArchiveImageResult[];
  /** Layers in the archive, and their uncompressed bytes. */
  layers: number;
  layerBytes: number;
}

/**
 * What a docker archive destination cannot take, found before the source
 * is opened: standard output, a bare tag (docker names are NAME:TAG),
 * referrers, --all-tags with a name, a file already there (unless `overwrite`).
 */
export async function checkDockerArchiveDestination(dst: Reference, opts: { referrers?: boolean; allTags?: boolean; overwrite?: boolean }): Promise<void> {
  const how = `write docker-archive:${dst.path}:NAME:TAG, e.g. docker-archive:${dst.path}:example/app:1.0, or leave the name out to keep the source's`;
  if (dst.path === '-') {
    // A layer's tar header needs its uncompressed size, known only once it has been written: the writer seeks back, which a pipe cannot.
    throw new UsageError('a docker archive is written to a file, not to standard output', { hint: `name a file: docker-archive:image.tar${dst.dockerName ? `:${dst.dockerName}` : ''}` });
  }
  if (dst.tag !== undefined) {
    throw new UsageError(`${dst.original}: a docker archive names its images NAME:TAG, and "${dst.tag}" is only a tag`, { hint: how });
  }
  if (opts.referrers) throw new UsageError('a docker archive holds images only, not referrers: drop -r/--recursive', { hint: 'copy to oci-archive:FILE to keep referrers' });
  if (opts.allTags && dst.dockerName !== undefined) throw new UsageError('--all-tags keeps the source names; drop NAME:TAG from the destination');
  await DockerArchiveWriter.check(dst.path!, opts);
}

/** Write `roots` of `src` as a docker archive at `dst.path` (checked with checkDockerArchiveDestination first). */
export async function writeDockerArchive(src: ReadTarget, srcRef: Reference, roots: Root[], dst: Reference, opts: DockerArchiveOptions = {}): Promise<DockerArchiveResult> {
  const writer = await DockerArchiveWriter.toFile(dst.path!, { overwrite: opts.overwrite, mtime: opts.mtime });
  const result: DockerArchiveResult = { roots: [], referrers: [], nodes: 0, bytesCopied: 0, resumedBytes: 0, archive: dst.path!, images: [], layers: 0, layerBytes: 0 };
  try {
    // Every root's image first (manifests only), so that an image reached twice (an index and its
    // child, two tags) is one manifest.json entry with every name.
    const images = new Map<string, { desc: Descriptor; platform?: Platform; fromHost: boolean; names: Set<string> }>();
    for (const root of roots) {
      const image = await imageOf(src, root.descriptor, opts.platform);
      const names = dst.dockerName !== undefined ? [familiarDockerName(dst.dockerName)] : dockerNames(root.tags, srcRef);
      const seen = images.get(image.desc.digest);
      if (seen) for (const n of names) seen.names.add(n);
      else images.set(image.desc.digest, { ...image, names: new Set(names) });
    }
    const layers = new Set<string>();
    for (const { desc, platform, fromHost, names: nameSet } of images.values()) {
      const names = [...nameSet];
      const written = await writeImage(src, desc, names, writer, opts.onEvent);
      // As the index lists it when one was chosen from, else as the config states it.
      const shown = platform ?? written.platform;
      result.nodes += 2 + written.diffIds.length;
      for (const d of written.diffIds) layers.add(d);
      result.roots.push({ digest: desc.digest, mediaType: desc.mediaType, tags: names });
      result.images.push({
        digest: desc.digest,
        config: written.config,
        ...(shown ? { platform: formatPlatform(shown) } : {}),
        ...(fromHost ? { hostPlatform: true } : {}),
        repoTags: names,
      });
    }
    await writer.commit();
    result.layers = layers.size;
    result.layerBytes = writer.bytes;
    result.bytesCopied = writer.bytes;
    return result;
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
}

/**
 * The image a root stands for: itself, or from an index the child for
 * `platform` (already taken by the copy's root selection when given), else
 * this machine's, as skopeo and docker pull choose.
 */
async function imageOf(src: ReadTarget, root: Descriptor, platform?: Platform): Promise<{ desc: Descriptor; platform?: Platform; fromHost: boolean }> {
  if (!isIndexMediaType(root.mediaType)) return { desc: root, platform: root.platform, fromHost: false };
  const host = platform ?? hostPlatform();
  try {
    const desc = await resolvePlatform(src, root, host);
    return { desc, platform: desc.platform ?? host, fromHost: platform === undefined };
  } catch (err) {
    if (platform !== undefined || !isOcikitError(err, 'NOT_FOUND')) throw err;
    throw new UsageError(`${root.digest} is an index with no image for this machine (${formatPlatform(host)}); a docker archive holds one image of it: choose it with --platform OS/ARCH[/VARIANT]`, {
      hint: err.hint,
    });
  }
}

/**
 * RepoTags for a root's names from the source: full names kept (familiar
 * form), a registry's bare tag completed with its HOST/REPO, a layout's bare
 * tag dropped (a tag alone is no docker name: docker would read `v1` as `v1:latest`).
 */
function dockerNames(tags: readonly string[], srcRef: Reference): string[] {
  const names = new Set<string>();
  for (const t of tags) {
    const name = parseNameRef(t);
    if (name?.repository !== undefined) names.add(familiarDockerName(t));
    else if (name && srcRef.kind === 'registry') names.add(familiarDockerName(`${srcRef.registry}/${srcRef.repository}:${name.tag}`));
  }
  return [...names];
}

/** Write one image's layers (those not yet in the archive) and config; returns its config digest, diff_ids and platform. */
async function writeImage(
  src: ReadTarget,
  desc: Descriptor,
  repoTags: string[],
  writer: DockerArchiveWriter,
  onEvent?: (e: CopyEvent) => void,
): Promise<{ config: string; diffIds: string[]; platform?: Platform }> {
  const fetched = await fetchManifestOrEmbedded(src, desc);
  const manifest = fetched.doc as ImageManifest;
  if (fetched.kind !== 'manifest' || !isImageManifestMediaType(desc.mediaType) || !IMAGE_CONFIG_TYPES.has(manifest.config?.mediaType)) {
    throw new OcikitError('UNSUPPORTED', `${desc.digest} is not a container image (config type ${manifest.config?.mediaType ?? 'none'}); a docker archive holds images only`, {
      digest: desc.digest,
      hint: 'copy artifacts to oci:DIR or oci-archive:FILE',
    });
  }
  onEvent?.({ type: 'start', descriptor: manifest.config });
  const configBytes = await fetchDocumentOrEmbedded(src, manifest.config);
  const { diffIds, platform } = readConfig(configBytes, manifest);
  onEvent?.({ type: 'done', descriptor: manifest.config });

  for (const [i, layer] of manifest.layers.entries()) {
    const diffId = diffIds[i]!;
    if (writer.hasLayer(diffId)) {
      onEvent?.({ type: 'skip', descriptor: layer });
      continue;
    }
    const compression = layerCompression(layer.mediaType);
    if (compression === undefined) {
      throw new OcikitError('UNSUPPORTED', `layer ${layer.digest} of ${desc.digest} has media type ${layer.mediaType}, not a layer tar that docker can load`, { digest: layer.digest });
    }
    onEvent?.({ type: 'start', descriptor: layer });
    // The source verifies the compressed blob against its digest; the writer, the tar against the diff_id.
    await writer.writeLayer(diffId, uncompressed(await fetchOrEmbedded(src, layer), compression, layer.digest));
    onEvent?.({ type: 'done', descriptor: layer });
  }
  await writer.addImage({ config: { digest: manifest.config.digest, bytes: configBytes }, diffIds, repoTags });
  return { config: manifest.config.digest, diffIds, platform };
}

/**
 * The layer's tar, decompressed as it streams. A damaged blob usually breaks
 * the decompressor before the source's digest check at its end: the rest is
 * then read out, so that the error reported is the digest mismatch, the real
 * cause; a blob that matches its digest but does not decompress is a layer
 * whose media type is wrong (INVALID_MANIFEST).
 */
function uncompressed(blob: Readable, compression: 'none' | 'gzip' | 'zstd', digest: string): Readable {
  if (compression === 'none') return blob;
  let inflate: Transform;
  try {
    inflate = decompressor(compression, `layer ${digest}`);
  } catch (err) {
    blob.destroy();
    throw err;
  }
  const out = new PassThrough();
  blob.on('error', (err) => out.destroy(err));
  inflate.on('error', (err) => {
    const notCompressed = () =>
      out.destroy(new OcikitError('INVALID_MANIFEST', `layer ${digest} is not ${compression} data, though its media type says so`, { digest, cause: err }));
    // A truncated stream fails only at its end, after the blob has been read whole and verified.
    if (blob.readableEnded) return notCompressed();
    blob.unpipe(inflate);
    blob.once('end', notCompressed);
    blob.resume();
  });
  // The writer giving up ends the read of the blob too (its file handle or connection).
  out.on('close', () => blob.destroy());
  blob.pipe(inflate).pipe(out);
  return out;
}

/** The config's diff_ids, one per layer of the manifest (docker load refuses an image otherwise), and its platform. */
function readConfig(configBytes: Buffer, manifest: ImageManifest): { diffIds: string[]; platform?: Platform } {
  let config: Partial<ImageConfig>;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as Partial<ImageConfig>;
  } catch (err) {
    throw new OcikitError('INVALID_MANIFEST', `config ${manifest.config.digest} is not valid JSON`, { digest: manifest.config.digest, cause: err });
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string') || diffIds.length !== manifest.layers.length) {
    throw new OcikitError('INVALID_MANIFEST', `config ${manifest.config.digest} lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} rootfs.diff_ids for ${manifest.layers.length} layers`, {
      digest: manifest.config.digest,
    });
  }
  const platform = typeof config.os === 'string' && typeof config.architecture === 'string' ? { os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' ? { variant: config.variant } : {}) } : undefined;
  return { diffIds, platform };
}
