/**
 * Our validator against the image-spec's published JSON Schemas: both accept
 * the good documents and both reject the bad ones. Where the spec text and the
 * schemas differ (rules the schemas cannot express, or a stricter schema), the
 * test says so and checks that we follow the spec.
 */
import { expect, it } from 'vitest';
import { digestBytes } from '../../src/digest/digest.js';
import { EMPTY_DESCRIPTOR, MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import { checkDescriptor, checkImageConfig, checkManifestDocument, checkOciLayoutFile, type Problem } from '../../src/spec/validate.js';
import { describeWithSchema, validateAgainstSchema, type SchemaKind } from '../helpers/schema.js';

type Doc = Record<string, unknown>;

interface Case {
  name: string;
  kind: SchemaKind;
  doc: unknown;
  /** What the referring descriptor says the document is (manifests and indexes). */
  expectedMediaType?: string;
}

function ours(c: Case): Problem[] {
  switch (c.kind) {
    case 'manifest':
    case 'index':
      return checkManifestDocument(c.doc, c.expectedMediaType);
    case 'config':
      return checkImageConfig(c.doc);
    case 'layout':
      return checkOciLayoutFile(c.doc);
    case 'descriptor':
      return checkDescriptor(c.doc);
  }
}

const blob = (content: string, mediaType: string): Descriptor => ({ mediaType, digest: digestBytes(content), size: Buffer.byteLength(content) });

// --- good documents --------------------------------------------------------

const imageConfig: Doc = {
  created: '2024-05-13T00:00:00Z',
  architecture: 'arm64',
  variant: 'v8',
  os: 'linux',
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['bash'], Labels: null, ArgsEscaped: true },
  rootfs: { type: 'layers', diff_ids: [digestBytes('debian rootfs')] },
  history: [{ created: '2024-05-13T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:abc in / ' }, { created: '2024-05-13T00:00:01Z', created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true }],
};

const imageManifest: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.ImageManifest,
  config: blob(JSON.stringify(imageConfig), MediaType.ImageConfig),
  layers: [blob('debian rootfs.tar.gz', MediaType.LayerGzip)],
  annotations: { 'org.opencontainers.image.base.name': 'debian:10' },
};

/** debian:10 as Docker Hub serves it: a Docker manifest list with seven Linux platforms. */
const debianPlatforms = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm', os: 'linux', variant: 'v5' },
  { architecture: 'arm', os: 'linux', variant: 'v7' },
  { architecture: 'arm64', os: 'linux', variant: 'v8' },
  { architecture: '386', os: 'linux' },
  { architecture: 'ppc64le', os: 'linux' },
  { architecture: 's390x', os: 'linux' },
];
const debianList: Doc = {
  manifests: debianPlatforms.map((platform, i) => ({
    digest: digestBytes(`debian:10 ${platform.architecture}${platform.variant ?? ''}`),
    mediaType: MediaType.DockerManifest,
    platform,
    size: 529 + i,
  })),
  mediaType: MediaType.DockerManifestList,
  schemaVersion: 2,
};
/** The same index after conversion to OCI media types, as a layout stores it. */
const debianIndex: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.ImageIndex,
  manifests: (debianList['manifests'] as Descriptor[]).map((d) => ({ ...d, mediaType: MediaType.ImageManifest })),
  annotations: { 'org.opencontainers.image.ref.name': '10' },
};

const subject = blob(JSON.stringify(imageManifest), MediaType.ImageManifest);

/** An artifact in the 1.1 style: empty config, artifactType, subject. */
const artifact: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.ImageManifest,
  artifactType: 'application/vnd.example.sbom.v1+json',
  config: { ...EMPTY_DESCRIPTOR },
  layers: [{ ...blob('{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json'), annotations: { 'org.opencontainers.image.title': 'sbom.spdx.json' } }],
  subject,
  annotations: { 'org.opencontainers.image.created': '2024-05-13T00:00:00Z' },
};

/** What the referrers API answers for `subject`. */
const referrersIndex: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.ImageIndex,
  manifests: [{ ...blob(JSON.stringify(artifact), MediaType.ImageManifest), artifactType: artifact['artifactType'], annotations: artifact['annotations'] }],
};

const layoutIndex: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.ImageIndex,
  manifests: [
    { ...blob(JSON.stringify(debianIndex), MediaType.ImageIndex), annotations: { 'org.opencontainers.image.ref.name': 'debian:10', 'io.containerd.image.name': 'docker.io/library/debian:10' } },
    { ...blob(JSON.stringify(artifact), MediaType.ImageManifest), artifactType: artifact['artifactType'] },
  ],
};

const dockerManifest: Doc = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifest,
  config: blob('{}', MediaType.DockerConfig),
  layers: [{ ...blob('foreign', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'), urls: ['https://mcr.microsoft.com/v2/windows/blobs/sha256:0'] }],
};

const good: Case[] = [
  { name: 'OCI image manifest', kind: 'manifest', doc: imageManifest, expectedMediaType: MediaType.ImageManifest },
  { name: 'image manifest without mediaType, with unknown fields', kind: 'manifest', doc: { ...imageManifest, mediaType: undefined, 'com.example.x': [1] } },
  { name: 'Docker v2 manifest with a foreign layer', kind: 'manifest', doc: dockerManifest },
  { name: 'debian:10 Docker manifest list', kind: 'index', doc: debianList, expectedMediaType: MediaType.DockerManifestList },
  { name: 'debian:10 as an OCI index', kind: 'index', doc: debianIndex, expectedMediaType: MediaType.ImageIndex },
  { name: 'artifact with empty config, artifactType and subject', kind: 'manifest', doc: artifact },
  { name: 'referrers API response', kind: 'index', doc: referrersIndex },
  { name: 'layout index.json', kind: 'index', doc: layoutIndex },
  { name: 'empty index', kind: 'index', doc: { schemaVersion: 2, manifests: [] } },
  { name: 'index with artifactType and subject', kind: 'index', doc: { ...debianIndex, artifactType: 'application/vnd.example.bundle', subject } },
  { name: 'Windows index entry with os.version and os.features', kind: 'index', doc: { schemaVersion: 2, manifests: [{ ...subject, platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234', 'os.features': ['win32k'] } }] } },
  { name: 'image config', kind: 'config', doc: imageConfig },
  { name: 'minimal image config', kind: 'config', doc: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } },
  { name: 'oci-layout', kind: 'layout', doc: { imageLayoutVersion: '1.0.0' } },
  { name: 'empty descriptor with data', kind: 'descriptor', doc: { ...EMPTY_DESCRIPTOR } },
  { name: 'descriptor with every field', kind: 'descriptor', doc: { ...subject, urls: ['https://example.com/x'], annotations: { a: 'b' }, artifactType: 'application/x-y', platform: { os: 'linux', architecture: 'amd64' } } },
  { name: 'descriptor with a sha512 digest', kind: 'descriptor', doc: { mediaType: 'text/plain', digest: digestBytes('x', 'sha512'), size: 1 } },
];

// --- documents both reject -------------------------------------------------

const without = (doc: Doc, key: string): Doc => {
  const copy = { ...doc };
  delete copy[key];
  return copy;
};
const layer0 = (imageManifest['layers'] as Descriptor[])[0]!;

const bad: Case[] = [
  { name: 'manifest without config', kind: 'manifest', doc: without(imageManifest, 'config') },
  { name: 'manifest without layers', kind: 'manifest', doc: without(imageManifest, 'layers') },
  { name: 'manifest without schemaVersion', kind: 'manifest', doc: without(imageManifest, 'schemaVersion') },
  { name: 'manifest with schemaVersion 1', kind: 'manifest', doc: { ...imageManifest, schemaVersion: 1 } },
  { name: 'layers not an array', kind: 'manifest', doc: { ...imageManifest, layers: layer0 } },
  { name: 'layer without digest', kind: 'manifest', doc: { ...imageManifest, layers: [without(layer0, 'digest')] } },
  { name: 'layer digest without encoded part', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, digest: 'sha256' }] } },
  { name: 'layer digest with a bad character', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, digest: `sha256:${'a'.repeat(63)}/` }] } },
  { name: 'layer mediaType not type/subtype', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, mediaType: 'tar' }] } },
  { name: 'layer size as a string', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, size: '32654' }] } },
  { name: 'layer size fractional', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, size: 1.5 }] } },
  { name: 'layer urls with a number', kind: 'manifest', doc: { ...imageManifest, layers: [{ ...layer0, urls: [5] }] } },
  { name: 'annotation value not a string', kind: 'manifest', doc: { ...imageManifest, annotations: { a: true } } },
  { name: 'manifest artifactType not a media type', kind: 'manifest', doc: { ...artifact, artifactType: 'sbom' } },
  { name: 'subject without size', kind: 'manifest', doc: { ...artifact, subject: without(subject, 'size') } },
  { name: 'manifest mediaType with parameters', kind: 'manifest', doc: { ...imageManifest, mediaType: 'application/vnd.oci.image.manifest.v1+json; charset=utf-8' } },
  { name: 'index without manifests', kind: 'index', doc: without(debianIndex, 'manifests') },
  { name: 'index with schemaVersion "2"', kind: 'index', doc: { ...debianIndex, schemaVersion: '2' } },
  { name: 'index entry platform without os', kind: 'index', doc: { ...debianIndex, manifests: [{ ...subject, platform: { architecture: 'amd64' } }] } },
  { name: 'index entry platform architecture not a string', kind: 'index', doc: { ...debianIndex, manifests: [{ ...subject, platform: { os: 'linux', architecture: 64 } }] } },
  { name: 'index entry os.features not an array', kind: 'index', doc: { ...debianIndex, manifests: [{ ...subject, platform: { os: 'windows', architecture: 'amd64', 'os.features': 'win32k' } }] } },
  { name: 'index entry without mediaType', kind: 'index', doc: { ...debianIndex, manifests: [without(subject, 'mediaType')] } },
  { name: 'config without rootfs', kind: 'config', doc: without(imageConfig, 'rootfs') },
  { name: 'config without os', kind: 'config', doc: without(imageConfig, 'os') },
  { name: 'config rootfs.type not "layers"', kind: 'config', doc: { ...imageConfig, rootfs: { type: 'tar', diff_ids: [] } } },
  { name: 'config rootfs without diff_ids', kind: 'config', doc: { ...imageConfig, rootfs: { type: 'layers' } } },
  { name: 'config created not a date-time', kind: 'config', doc: { ...imageConfig, created: 'last tuesday' } },
  { name: 'config Env a string', kind: 'config', doc: { ...imageConfig, config: { Env: 'PATH=/bin' } } },
  { name: 'config history entry empty_layer a string', kind: 'config', doc: { ...imageConfig, history: [{ empty_layer: 'yes' }] } },
  { name: 'oci-layout version 2.0.0', kind: 'layout', doc: { imageLayoutVersion: '2.0.0' } },
  { name: 'oci-layout version as a number', kind: 'layout', doc: { imageLayoutVersion: 1 } },
  { name: 'oci-layout without version', kind: 'layout', doc: {} },
  { name: 'descriptor without mediaType', kind: 'descriptor', doc: without(subject, 'mediaType') },
  { name: 'descriptor with a relative url', kind: 'descriptor', doc: { ...subject, urls: ['blobs/sha256/x'] } },
];

// --- where the schemas cannot see a rule the spec text states ---------------

const oursOnly: Case[] = [
  { name: 'sha256 digest of the wrong length', kind: 'descriptor', doc: { ...subject, digest: 'sha256:abc' } },
  { name: 'sha256 digest in upper case', kind: 'descriptor', doc: { ...subject, digest: subject.digest.toUpperCase().replace('SHA256', 'sha256') } },
  { name: 'unsupported digest algorithm', kind: 'descriptor', doc: { ...subject, digest: 'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8' } },
  { name: 'negative size (the schema says int64)', kind: 'descriptor', doc: { ...subject, size: -1 } },
  { name: 'data that does not match the digest', kind: 'descriptor', doc: { ...EMPTY_DESCRIPTOR, data: 'W10=' } },
  { name: 'data that is not base64', kind: 'descriptor', doc: { ...EMPTY_DESCRIPTOR, data: 'e30' } },
  { name: 'empty config without artifactType', kind: 'manifest', doc: without(artifact, 'artifactType') },
  { name: 'manifest mediaType other than the expected one', kind: 'manifest', doc: imageManifest, expectedMediaType: MediaType.DockerManifest },
  { name: 'index declaring a manifest media type', kind: 'index', doc: { ...debianIndex, mediaType: MediaType.ImageManifest } },
  { name: 'diff_id that is not a digest', kind: 'config', doc: { ...imageConfig, rootfs: { type: 'layers', diff_ids: ['layer-1'] } } },
  { name: 'empty os in a platform', kind: 'index', doc: { ...debianIndex, manifests: [{ ...subject, platform: { os: '', architecture: 'amd64' } }] } },
];

// --- where the schemas are stricter than the spec text ----------------------

const schemaOnly: Case[] = [
  // manifest.md (v1.1): "For portability, layers SHOULD have at least one entry."; the schema says minItems 1.
  { name: 'manifest with empty layers', kind: 'manifest', doc: { ...artifact, layers: [] } },
  // A newer minor layout version still reads; the v1.1.1 schema enumerates only 1.0.0.
  { name: 'oci-layout version 1.1.0', kind: 'layout', doc: { imageLayoutVersion: '1.1.0' } },
];

describeWithSchema('schema oracle', () => {
  it.each(good.map((c) => [c.name, c] as const))('both accept: %s', (_n, c) => {
    expect(validateAgainstSchema(c.kind, c.doc)).toEqual([]);
    expect(ours(c)).toEqual([]);
  });

  it.each(bad.map((c) => [c.name, c] as const))('both reject: %s', (_n, c) => {
    expect(validateAgainstSchema(c.kind, c.doc)).not.toEqual([]);
    const problems = ours(c);
    expect(problems).not.toEqual([]);
    const structure = c.kind === 'layout' ? 'INVALID_LAYOUT' : 'INVALID_MANIFEST';
    for (const p of problems) expect([structure, 'INVALID_DIGEST']).toContain(p.code);
  });

  it.each(oursOnly.map((c) => [c.name, c] as const))('schema accepts, spec text (and we) reject: %s', (_n, c) => {
    expect(validateAgainstSchema(c.kind, c.doc)).toEqual([]);
    expect(ours(c)).not.toEqual([]);
  });

  it('reports the right codes for rules only the spec text states', () => {
    const code = (name: string) => ours(oursOnly.find((c) => c.name === name)!).map((p) => p.code);
    expect(code('sha256 digest of the wrong length')).toEqual(['INVALID_DIGEST']);
    expect(code('unsupported digest algorithm')).toEqual(['UNSUPPORTED_DIGEST']);
    expect(code('data that does not match the digest')).toEqual(['DIGEST_MISMATCH']);
    expect(code('empty config without artifactType')).toEqual(['INVALID_MANIFEST']);
    expect(code('diff_id that is not a digest')).toEqual(['INVALID_DIGEST']);
  });

  it.each(schemaOnly.map((c) => [c.name, c] as const))('schema rejects, spec text (and we) accept: %s', (_n, c) => {
    expect(validateAgainstSchema(c.kind, c.doc)).not.toEqual([]);
    expect(ours(c)).toEqual([]);
  });

  it('validates every Debian platform entry as a descriptor too', () => {
    for (const d of debianIndex['manifests'] as Descriptor[]) {
      expect(validateAgainstSchema('descriptor', d)).toEqual([]);
      expect(checkDescriptor(d)).toEqual([]);
    }
  });
});
