/** Media types ocikit understands. Unknown media types are carried, never dropped. */
export const MediaType = {
  ImageIndex: 'application/vnd.oci.image.index.v1+json',
  ImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  ImageConfig: 'application/vnd.oci.image.config.v1+json',
  Layer: 'application/vnd.oci.image.layer.v1.tar',
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  LayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  Empty: 'application/vnd.oci.empty.v1+json',
  /** OCI 1.1 release candidates only; read, never written. */
  LegacyArtifactManifest: 'application/vnd.oci.artifact.manifest.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  OctetStream: 'application/octet-stream',
} as const;

/** The empty descriptor's content is the two bytes `{}`. */
export const EMPTY_JSON_BYTES = Buffer.from('{}');
export const EMPTY_DESCRIPTOR = {
  mediaType: MediaType.Empty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
} as const;

const KNOWN = new Map<string, string>([...Object.values(MediaType), 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'].map((t) => [t, t]));

/**
 * The one copy of a well-known media type. JSON.parse makes a new string for
 * every occurrence, and a walk of 50,000 manifests keeps a descriptor of each:
 * the same 43 characters 100,000 times over are megabytes. Unknown types are
 * returned as they are, so the table never grows.
 */
export function internMediaType<T extends string | undefined>(mt: T): T {
  return typeof mt === 'string' ? ((KNOWN.get(mt) as T | undefined) ?? mt) : mt;
}

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ImageIndex || mt === MediaType.DockerManifestList;
}

export function isImageManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ImageManifest || mt === MediaType.DockerManifest;
}

/**
 * How a layer of this media type is compressed, or undefined when the type
 * is not a filesystem layer tar (an artifact's file, an unknown type). OCI's
 * `.tar`, `+gzip`, `+zstd` (distributable or not) and Docker's
 * `rootfs.diff.tar[.gzip]` (foreign or not).
 */
export function layerCompression(mt: string): 'none' | 'gzip' | 'zstd' | undefined {
  const m = /^application\/vnd\.(?:oci\.image\.layer\.(?:nondistributable\.)?v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.(?:foreign\.)?diff\.tar(\.gzip)?)$/.exec(mt);
  if (!m) return undefined;
  if (m[1] === '+zstd') return 'zstd';
  return m[1] === '+gzip' || m[2] === '.gzip' ? 'gzip' : 'none';
}

/** Any document that is a manifest in the registry sense (fetched from /manifests/). */
export function isManifestMediaType(mt: string | undefined): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt) || mt === MediaType.LegacyArtifactManifest;
}

/** Annotation keys with meaning to ocikit. */
export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Title: 'org.opencontainers.image.title',
  Created: 'org.opencontainers.image.created',
  ContainerdImageName: 'io.containerd.image.name',
} as const;
