/**
 * A `docker save` tarball as a read target, converted to OCI on the fly.
 *
 * Two formats exist:
 * - Docker 25+ (and containerd exports) write an OCI layout (`oci-layout`,
 *   `index.json`, `blobs/`) plus the legacy `manifest.json`; that layout is
 *   read as it is, with `io.containerd.image.name` annotations kept.
 * - Older Docker (and skopeo's docker-archive:) write only `manifest.json`
 *   (`[{Config, RepoTags, Layers}]`), configs as `<hex>.json` and layers as
 *   `<id>/layer.tar` or `<hex>.tar`, often joined by relative symlinks. Each
 *   image becomes an OCI image manifest whose config and layer digests are
 *   computed from the bytes in the archive (once, on first need); an
 *   uncompressed layer must hash to its config's `rootfs.diff_ids` entry.
 *
 * Links are resolved inside the archive (archive/tar-index.ts) and never
 * created on disk; a link leaving the archive is UNSAFE_ARCHIVE_ENTRY.
 *
 * Names: an image listed as `example/hello:v1` is tagged `v1`
 * (`org.opencontainers.image.ref.name`) with `io.containerd.image.name`
 * holding the full name, the convention Docker 25 uses in its own
 * index.json. A reference may name it by full name or by tag (what `ls` and
 * the hints print); a tag that several images share is AMBIGUOUS, and the
 * error lists their full names.
 */
import { VerifiedFileRange } from '../fs/file-range.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isOcikitError, NotFoundError, OcikitError, UsageError } from '../errors.js';
import { digestBytes, parseDigest } from '../digest/digest.js';
import { DigestingStream } from '../digest/verify-stream.js';
import { detectCompression, openArchiveFile } from '../archive/compression.js';
import { TarIndex } from '../archive/tar-index.js';
import type { TrailingData, TrailingDataSource } from '../archive/tar-end.js';
import type { TarEntry } from '../archive/tar-scan.js';
import { Annotation, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../spec/types.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { tagOf } from '../spec/index-entries.js';
import { LayoutArchive, verifiedStream, type LayoutArchiveOptions } from './layout-archive.js';
import { INDEX_FILE, OCI_LAYOUT_FILE } from './layout-dir.js';
import { defaultInIndex, resolveInIndex, stripTag, tagsOf } from './index-resolve.js';
import { abilities, type LayoutReadTarget, type ReferrersFilter } from '../graph/target.js';

const MANIFEST_JSON = 'manifest.json';

interface LegacyItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Where the bytes of a converted blob come from. */
type BlobSource = { bytes: Buffer } | { entry: TarEntry };

interface Converted {
  index: ImageIndex;
  blobs: Map<string, { size: number; source: BlobSource }>;
}

export class DockerArchive implements LayoutReadTarget, TrailingDataSource {
  readonly path: string;
  readonly description: string;

  get location(): string {
    return this.path;
  }

  /** Its index.json is synthesized from manifest.json's RepoTags. */
  readonly abilities = abilities('read-index', 'default-image', 'trailing-data');
  private readonly tar: TarIndex;
  /** Docker 25+: the OCI layout inside the archive. */
  private readonly layout?: LayoutArchive;
  /** Older format: manifest.json, converted on first need. */
  private readonly items?: LegacyItem[];
  private converted?: Promise<Converted>;

  private constructor(tar: TarIndex, layout?: LayoutArchive, items?: LegacyItem[]) {
    this.tar = tar;
    this.path = tar.path;
    this.description = `docker archive ${tar.path}`;
    this.layout = layout;
    this.items = items;
  }

  static async open(file: string, opts: LayoutArchiveOptions = {}): Promise<DockerArchive> {
    const { archive } = await openArchiveFile(file, opts);
    try {
      const tar = await TarIndex.build(archive, { allowLinks: true });
      if (tar.lookup(INDEX_FILE) && tar.lookup(OCI_LAYOUT_FILE)) return new DockerArchive(tar, await LayoutArchive.fromTar(tar));
      const manifestEntry = tar.lookup(MANIFEST_JSON);
      if (!manifestEntry) {
        throw new OcikitError('INVALID_LAYOUT', `not a docker save archive: ${file} has neither manifest.json nor index.json`, { path: file });
      }
      return new DockerArchive(tar, undefined, parseManifestJson(await tar.readSmall(manifestEntry, MAX_DOCUMENT_SIZE, MANIFEST_JSON), file));
    } catch (err) {
      await archive.close();
      throw err;
    }
  }

  /** Data after the tar's end-of-archive marker, which no entry covers (verify warns of it). */
  trailingData(): TrailingData | undefined {
    return this.tar.trailing;
  }

  /** True for the Docker 25+ format (an OCI layout inside). */
  get isOciLayout(): boolean {
    return this.layout !== undefined;
  }

  async readIndex(): Promise<ImageIndex> {
    if (this.layout) return this.layout.readIndex();
    return (await this.convert()).index;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (this.layout) return this.layout.fetch(desc);
    const blob = await this.legacyBlob(desc.digest);
    if (blob.size !== desc.size) {
      throw new OcikitError('SIZE_MISMATCH', `size mismatch for ${desc.digest} in ${this.description}: expected ${desc.size} bytes, it has ${blob.size}`, {
        digest: desc.digest,
        expected: desc.size,
        actual: blob.size,
      });
    }
    if ('bytes' in blob.source) return verifiedStream(Readable.from([blob.source.bytes]), desc, this.path);
    // A layer is a byte range of the archive: read it the way a layout archive's blobs are read.
    return new VerifiedFileRange(this.tar.range(blob.source.entry), { digest: desc.digest, size: desc.size, source: `${this.path}:${blob.source.entry.name}` });
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (this.layout) return this.layout.exists(desc);
    return (await this.convert()).blobs.get(desc.digest)?.size === desc.size;
  }

  async statBlob(digest: string): Promise<Descriptor> {
    if (this.layout) return this.layout.statBlob(digest);
    return { mediaType: MediaType.OctetStream, digest, size: (await this.legacyBlob(digest)).size };
  }

  /** A digest, a tag, or a docker name (`debian:12`, `docker.io/library/debian:12`). */
  async resolve(ref: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (ref.includes(':') && !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/.test(ref)) {
      const wanted = normalizeDockerName(ref);
      const match = index.manifests.filter((e) => {
        const name = e.annotations?.[Annotation.ContainerdImageName];
        return name !== undefined && normalizeDockerName(name) === wanted;
      });
      if (match.length === 0) {
        const names = index.manifests.map((e) => e.annotations?.[Annotation.ContainerdImageName]).filter(Boolean);
        throw new NotFoundError(`image ${JSON.stringify(ref)} not found in ${this.description}`, {
          hint: names.length > 0 ? `images present: ${names.slice(0, 10).join(', ')}` : 'the archive names no images',
        });
      }
      return stripTag(match[match.length - 1]!);
    }
    if (!ref.includes(':')) {
      // A bare tag may be shared by several images (`debian:12` and `ubuntu:12`): refuse to guess.
      const named = index.manifests.filter((e) => tagOf(e) === ref);
      const digests = new Set(named.map((e) => e.digest));
      if (digests.size > 1) {
        const names = named.map((e) => e.annotations?.[Annotation.ContainerdImageName]).filter((n): n is string => n !== undefined);
        throw new OcikitError('AMBIGUOUS', `tag "${ref}" names ${digests.size} images in ${this.description}`, {
          hint: `name one in full: ${names.slice(0, 10).map((n) => `docker-archive:${this.path}:${n}`).join(', ')}${names.length > 10 ? ', ...' : ''}`,
        });
      }
    }
    return resolveInIndex(this, index, ref);
  }

  async resolveDefault(): Promise<Descriptor> {
    const index = await this.readIndex();
    try {
      return defaultInIndex(this.description, index);
    } catch (err) {
      if (!isOcikitError(err, 'USAGE')) throw err;
      // Several images: the hint lists what selects each, a tag where only that image has it, else its full name.
      const selectors = selectorsOf(index);
      throw new UsageError(`${this.description} holds several images; say which one with :TAG or :NAME:TAG`, {
        hint: `write docker-archive:${this.path}:IMAGE, IMAGE one of ${selectors.slice(0, 10).join(', ')}${selectors.length > 10 ? ', ...' : ''}`,
      });
    }
  }

  async *tags(): AsyncIterable<string> {
    if (this.items) {
      // Names only: listing tags must not hash every layer.
      const seen = new Set<string>();
      for (const item of this.items) {
        for (const name of item.RepoTags ?? []) {
          const tag = dockerTagOf(name);
          if (!seen.has(tag)) {
            seen.add(tag);
            yield tag;
          }
        }
      }
      return;
    }
    yield* tagsOf(await this.readIndex());
  }

  async *referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor> {
    // `docker save` has no referrers; a Docker 25+ layout might (it is a layout).
    if (this.layout) yield* this.layout.referrers(subject, filter);
  }

  async close(): Promise<void> {
    await this.tar.close();
  }

  private async legacyBlob(digest: string): Promise<{ size: number; source: BlobSource }> {
    parseDigest(digest);
    const blob = (await this.convert()).blobs.get(digest);
    if (!blob) throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, path: this.path });
    return blob;
  }

  private convert(): Promise<Converted> {
    this.converted ??= convertLegacy(this.tar, this.items!);
    return this.converted;
  }
}

function parseManifestJson(bytes: Buffer, file: string): LegacyItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OcikitError('INVALID_LAYOUT', `invalid docker archive ${file}: manifest.json is not JSON`, { path: file, cause: err });
  }
  const ok =
    Array.isArray(doc) &&
    doc.every(
      (i) =>
        i &&
        typeof i === 'object' &&
        typeof i.Config === 'string' &&
        Array.isArray(i.Layers) &&
        i.Layers.every((l: unknown) => typeof l === 'string') &&
        (i.RepoTags === undefined || i.RepoTags === null || (Array.isArray(i.RepoTags) && i.RepoTags.every((t: unknown) => typeof t === 'string'))),
    );
  if (!ok) throw new OcikitError('INVALID_LAYOUT', `invalid docker archive ${file}: manifest.json is not a list of {Config, RepoTags, Layers}`, { path: file });
  return doc as LegacyItem[];
}

/** The file an archive path in manifest.json names (relative to the archive root, links followed). */
function requireFile(tar: TarIndex, name: string, what: string): TarEntry {
  const entry = tar.lookup(name.replace(/^\.?\//, ''));
  if (!entry) throw new OcikitError('INVALID_LAYOUT', `invalid docker archive ${tar.path}: ${what} ${JSON.stringify(name)} is not in the archive`, { path: tar.path });
  return entry;
}

const LAYER_TYPES = {
  none: MediaType.Layer,
  gzip: MediaType.LayerGzip,
  zstd: MediaType.LayerZstd,
} as const;

async function convertLegacy(tar: TarIndex, items: LegacyItem[]): Promise<Converted> {
  const blobs = new Map<string, { size: number; source: BlobSource }>();
  const manifests: Descriptor[] = [];
  /** Layers shared by several images are hashed once. */
  const layerDigests = new Map<TarEntry, Promise<string>>();

  for (const item of items) {
    const configEntry = requireFile(tar, item.Config, 'config');
    const configBytes = await tar.readSmall(configEntry, MAX_DOCUMENT_SIZE, `config ${item.Config}`);
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch (err) {
      throw new OcikitError('INVALID_LAYOUT', `invalid docker archive ${tar.path}: config ${item.Config} is not JSON`, { path: tar.path, cause: err });
    }
    const configDesc: Descriptor = { mediaType: MediaType.ImageConfig, digest: digestBytes(configBytes), size: configBytes.length };
    blobs.set(configDesc.digest, { size: configBytes.length, source: { bytes: configBytes } });

    const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs.diff_ids : [];
    const layers: Descriptor[] = [];
    for (const [i, layerPath] of item.Layers.entries()) {
      const entry = requireFile(tar, layerPath, 'layer');
      const compression = detectCompression(await tar.file.read(entry.offset, Math.min(4, entry.size)));
      let pending = layerDigests.get(entry);
      if (!pending) {
        pending = hashEntry(tar, entry);
        layerDigests.set(entry, pending);
      }
      const digest = await pending;
      if (compression === 'none' && diffIds[i] !== undefined && diffIds[i] !== digest) {
        throw new OcikitError('DIGEST_MISMATCH', `layer ${layerPath} in ${tar.path} hashes to ${digest}, but its config says ${diffIds[i]}`, {
          path: tar.path,
          expected: diffIds[i],
          actual: digest,
        });
      }
      layers.push({ mediaType: LAYER_TYPES[compression], digest, size: entry.size });
      blobs.set(digest, { size: entry.size, source: { entry } });
    }

    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ImageManifest, config: configDesc, layers };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const desc: Descriptor = { mediaType: MediaType.ImageManifest, digest: digestBytes(bytes), size: bytes.length };
    blobs.set(desc.digest, { size: bytes.length, source: { bytes } });
    if (config.os && config.architecture) desc.platform = { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
    const names = item.RepoTags ?? [];
    if (names.length === 0) manifests.push(desc);
    for (const name of names) {
      manifests.push({ ...desc, annotations: { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: dockerTagOf(name) } });
    }
  }
  return { index: { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests }, blobs };
}

/** For each named image, the shortest reference suffix that selects it: its tag when no other image has that tag, else its full name. */
function selectorsOf(index: ImageIndex): string[] {
  const digestsByTag = new Map<string, Set<string>>();
  for (const e of index.manifests) {
    const tag = tagOf(e);
    if (tag !== undefined) digestsByTag.set(tag, (digestsByTag.get(tag) ?? new Set()).add(e.digest));
  }
  const out = new Set<string>();
  for (const e of index.manifests) {
    const tag = tagOf(e);
    const name = e.annotations?.[Annotation.ContainerdImageName];
    if (tag !== undefined && digestsByTag.get(tag)!.size === 1) out.add(tag);
    else if (name !== undefined) out.add(name);
  }
  return [...out];
}

async function hashEntry(tar: TarIndex, entry: TarEntry): Promise<string> {
  const hasher = new DigestingStream('sha256');
  await pipeline(tar.stream(entry), hasher, async function* (source) {
    for await (const _ of source) {
      // drain: only the digest matters
    }
  });
  return hasher.digest;
}

/** The tag of a docker name (`example/hello:v1` -> `v1`; no tag means `latest`). */
function dockerTagOf(name: string): string {
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
}

/**
 * A docker name in full, as Docker 25 writes `io.containerd.image.name`:
 * `debian:12` -> `docker.io/library/debian:12`, `me/app` -> `docker.io/me/app:latest`.
 */
function normalizeDockerName(name: string): string {
  let repo = name;
  let tag = 'latest';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    repo = name.slice(0, colon);
    tag = name.slice(colon + 1);
  }
  const slash = repo.indexOf('/');
  const first = slash < 0 ? '' : repo.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  let host = hasHost ? first : 'docker.io';
  let path = hasHost ? repo.slice(slash + 1) : repo;
  if (host === 'index.docker.io') host = 'docker.io';
  // Docker Hub's official images live under library/.
  if (host === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${host}/${path}:${tag}`;
}

