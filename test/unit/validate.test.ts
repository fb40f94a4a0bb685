import { describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/digest/digest.js';
import { IntegrityError, OcikitError } from '../../src/errors.js';
import { EMPTY_DESCRIPTOR, MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import {
  InvalidDocumentError,
  checkDescriptor,
  checkImageConfig,
  checkManifestDocument,
  checkOciLayoutFile,
  detectManifestMediaType,
  effectiveArtifactType,
  isMediaTypeGrammar,
  parseImageConfigBytes,
  parseManifestBytes,
  verifyDescriptorData,
  type Problem,
} from '../../src/spec/validate.js';

// ---------------------------------------------------------------------------
// Builders: every test starts from a valid document and breaks one thing.

type Doc = Record<string, unknown>;

function blob(content: string, mediaType: string = MediaType.LayerGzip): Descriptor {
  return { mediaType, digest: digestBytes(content), size: Buffer.byteLength(content) };
}

function withData(content: string, mediaType: string = MediaType.OctetStream): Descriptor {
  return { ...blob(content, mediaType), data: Buffer.from(content).toString('base64') };
}

function imageManifest(over: Doc = {}): Doc {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: blob('{"architecture":"amd64","os":"linux"}', MediaType.ImageConfig),
    layers: [blob('layer-0'), blob('layer-1')],
    ...over,
  };
}

function imageIndex(over: Doc = {}): Doc {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ImageIndex,
    manifests: [
      { ...blob('m-amd64', MediaType.ImageManifest), platform: { os: 'linux', architecture: 'amd64' } },
      { ...blob('m-arm64', MediaType.ImageManifest), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { ...blob('m-arm', MediaType.ImageManifest), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ],
    ...over,
  };
}

function artifactManifest(over: Doc = {}): Doc {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: 'application/vnd.example.sbom.v1+json',
    config: { ...EMPTY_DESCRIPTOR },
    layers: [blob('{"sbom":true}', 'application/spdx+json')],
    subject: blob('the image manifest', MediaType.ImageManifest),
    ...over,
  };
}

function legacyArtifact(over: Doc = {}): Doc {
  return {
    mediaType: MediaType.LegacyArtifactManifest,
    artifactType: 'application/vnd.example.signature',
    blobs: [blob('sig', 'application/octet-stream')],
    subject: blob('the image manifest', MediaType.ImageManifest),
    ...over,
  };
}

function config(over: Doc = {}): Doc {
  return {
    created: '2024-01-31T12:00:00.123456789Z',
    author: 'ocikit tests',
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '1000:1000',
      ExposedPorts: { '8080/tcp': {} },
      Env: ['PATH=/usr/bin'],
      Entrypoint: ['/bin/sh'],
      Cmd: null,
      Volumes: { '/data': {} },
      WorkingDir: '/',
      Labels: { 'org.example': 'yes' },
      StopSignal: 'SIGTERM',
      ArgsEscaped: false,
    },
    rootfs: { type: 'layers', diff_ids: [digestBytes('diff-0'), digestBytes('diff-1')] },
    history: [{ created: '2024-01-31T12:00:00Z', created_by: 'ADD file', empty_layer: false }, { comment: 'hi', author: 'me' }],
    ...over,
  };
}

const codes = (ps: Problem[]) => ps.map((p) => p.code);
const paths = (ps: Problem[]) => ps.map((p) => p.path);

function bytes(doc: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(doc));
}

function thrown(fn: () => unknown): OcikitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OcikitError) return err;
    throw err;
  }
  throw new Error('expected an OcikitError, nothing was thrown');
}

// ---------------------------------------------------------------------------

describe('isMediaTypeGrammar', () => {
  it.each([
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'text/plain',
    'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    'application/x-foo_bar^baz!#$&',
  ])('accepts %s', (mt) => expect(isMediaTypeGrammar(mt)).toBe(true));

  it.each([
    'text',
    'application/json; charset=utf-8',
    '/json',
    'application/',
    '-app/json',
    'application/json/extra',
    `application/${'x'.repeat(128)}`,
    '',
    42,
  ])('rejects %s', (mt) => expect(isMediaTypeGrammar(mt)).toBe(false));
});

describe('checkDescriptor', () => {
  it('accepts a minimal descriptor', () => {
    expect(checkDescriptor(blob('x'))).toEqual([]);
  });

  it('accepts every optional field when well formed', () => {
    const d = {
      ...withData('hello'),
      urls: ['https://example.com/blob', 'http://mirror.example/x?y=1'],
      annotations: { 'org.opencontainers.image.title': 'hello.txt', '': 'empty key is a string too' },
      platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234', 'os.features': ['win32k'], variant: 'v3', features: [] },
      artifactType: 'application/vnd.example+type',
    };
    expect(checkDescriptor(d)).toEqual([]);
  });

  it('allows unknown fields and leaves the object untouched', () => {
    const d = { ...blob('x'), 'com.example.extra': { nested: [1, 2] }, extra: 7 };
    const before = JSON.stringify(d);
    expect(checkDescriptor(d)).toEqual([]);
    expect(JSON.stringify(d)).toBe(before);
  });

  it('accepts a sha512 digest and size 0', () => {
    expect(checkDescriptor({ mediaType: 'text/plain', digest: digestBytes('', 'sha512'), size: 0 })).toEqual([]);
  });

  it.each([null, [], 'sha256:abc', 42, undefined])('rejects a non-object descriptor (%s)', (d) => {
    const ps = checkDescriptor(d, 'layers[0]');
    expect(codes(ps)).toEqual(['INVALID_MANIFEST']);
    expect(paths(ps)).toEqual(['layers[0]']);
  });

  it('reports each missing required field', () => {
    const ps = checkDescriptor({});
    expect(paths(ps).sort()).toEqual(['digest', 'mediaType', 'size']);
    expect(codes(ps)).toEqual(['INVALID_MANIFEST', 'INVALID_MANIFEST', 'INVALID_MANIFEST']);
  });

  it('prefixes problem paths with the given path', () => {
    const ps = checkDescriptor({ ...blob('x'), size: -1, annotations: { 'a.b': 1 } }, 'manifests[2]');
    expect(paths(ps)).toEqual(['manifests[2].size', 'manifests[2].annotations["a.b"]']);
  });

  it.each(['text', 'application/json; charset=utf-8', 'a/b/c', 7])('rejects mediaType %s', (mediaType) => {
    const ps = checkDescriptor({ ...blob('x'), mediaType });
    expect(ps).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'mediaType' })]);
  });

  it.each([
    ['sha256:abc', 'INVALID_DIGEST'],
    [`sha256:${'A'.repeat(64)}`, 'INVALID_DIGEST'],
    [`sha256:${'a'.repeat(63)}`, 'INVALID_DIGEST'],
    [`sha512:${'a'.repeat(64)}`, 'INVALID_DIGEST'],
    ['sha256', 'INVALID_DIGEST'],
    ['SHA256:abc', 'INVALID_DIGEST'],
    ['', 'INVALID_DIGEST'],
    [42, 'INVALID_DIGEST'],
    [`md5:${'a'.repeat(32)}`, 'UNSUPPORTED_DIGEST'],
    ['multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8', 'UNSUPPORTED_DIGEST'],
    ['sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564', 'UNSUPPORTED_DIGEST'],
  ])('rejects digest %s with %s', (digest, code) => {
    const ps = checkDescriptor({ ...blob('x'), digest });
    expect(ps).toEqual([expect.objectContaining({ code, path: 'digest' })]);
  });

  it.each([-1, 1.5, '5', 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, null, true])('rejects size %s', (size) => {
    const ps = checkDescriptor({ ...blob('x'), size });
    expect(ps).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'size' })]);
  });

  it.each([
    ['not an array', 'https://example.com', 'urls'],
    ['a non-string entry', ['https://example.com', 5], 'urls[1]'],
    ['a relative reference', ['/blobs/x'], 'urls[0]'],
    ['whitespace', ['https://example.com/a b'], 'urls[0]'],
  ])('rejects urls with %s', (_what, urls, path) => {
    expect(checkDescriptor({ ...blob('x'), urls })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path })]);
  });

  it.each([
    [['a'], 'annotations'],
    ['k=v', 'annotations'],
    [{ k: 1 }, 'annotations.k'],
    [{ k: null }, 'annotations.k'],
    [{ 'org.example': { nested: true } }, 'annotations["org.example"]'],
  ])('rejects annotations %j', (annotations, path) => {
    expect(checkDescriptor({ ...blob('x'), annotations })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path })]);
  });

  it.each([
    [{ architecture: 'amd64' }, 'platform.os'],
    [{ os: 'linux' }, 'platform.architecture'],
    [{ os: 'linux', architecture: 64 }, 'platform.architecture'],
    [{ os: '', architecture: 'amd64' }, 'platform.os'],
    [{ os: 'linux', architecture: 'arm', variant: 7 }, 'platform.variant'],
    [{ os: 'windows', architecture: 'amd64', 'os.version': 10 }, 'platform["os.version"]'],
    [{ os: 'windows', architecture: 'amd64', 'os.features': 'win32k' }, 'platform["os.features"]'],
    [{ os: 'windows', architecture: 'amd64', 'os.features': [1] }, 'platform["os.features"][0]'],
    ['linux/amd64', 'platform'],
  ])('rejects platform %j', (platform, path) => {
    expect(checkDescriptor({ ...blob('x'), platform })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path })]);
  });

  it.each(['sbom', 'application/vnd.example; v=1', 1])('rejects artifactType %s', (artifactType) => {
    expect(checkDescriptor({ ...blob('x'), artifactType })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'artifactType' })]);
  });

  describe('data', () => {
    it('accepts data matching digest and size (the empty descriptor)', () => {
      expect(checkDescriptor({ ...EMPTY_DESCRIPTOR })).toEqual([]);
    });

    it('reports data whose length differs from size as SIZE_MISMATCH', () => {
      const d = { ...withData('hello'), data: Buffer.from('hello!').toString('base64') };
      expect(checkDescriptor(d)).toEqual([expect.objectContaining({ code: 'SIZE_MISMATCH', path: 'data' })]);
    });

    it('reports data with the right length but other bytes as DIGEST_MISMATCH', () => {
      const d = { ...withData('hello'), data: Buffer.from('HELLO').toString('base64') };
      expect(checkDescriptor(d, 'config')).toEqual([expect.objectContaining({ code: 'DIGEST_MISMATCH', path: 'config.data' })]);
    });

    it.each(['e30', 'e30==', '!!!!', 'e3 0=', 'e30=\n', 'e_0='])('reports malformed base64 %j as INVALID_MANIFEST', (data) => {
      expect(checkDescriptor({ ...EMPTY_DESCRIPTOR, data })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'data' })]);
    });

    it('reports non-string data', () => {
      expect(checkDescriptor({ ...EMPTY_DESCRIPTOR, data: [123, 125] })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'data' })]);
    });

    it('does not compare data against a digest or size that is itself invalid', () => {
      const ps = checkDescriptor({ ...EMPTY_DESCRIPTOR, digest: 'sha256:short' });
      expect(ps).toEqual([expect.objectContaining({ code: 'INVALID_DIGEST', path: 'digest' })]);
      const ps2 = checkDescriptor({ ...EMPTY_DESCRIPTOR, size: -2 });
      expect(ps2).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'size' })]);
    });
  });
});

describe('verifyDescriptorData', () => {
  it('does nothing without data', () => {
    expect(() => verifyDescriptorData(blob('x'))).not.toThrow();
  });

  it('accepts matching data, sha256 and sha512', () => {
    expect(() => verifyDescriptorData({ ...EMPTY_DESCRIPTOR })).not.toThrow();
    const d: Descriptor = { mediaType: 'text/plain', digest: digestBytes('hi', 'sha512'), size: 2, data: 'aGk=' };
    expect(() => verifyDescriptorData(d)).not.toThrow();
  });

  it('accepts empty data for empty content', () => {
    expect(() => verifyDescriptorData({ mediaType: 'text/plain', digest: digestBytes(''), size: 0, data: '' })).not.toThrow();
  });

  it('throws SIZE_MISMATCH as an IntegrityError with expected and actual sizes', () => {
    const err = thrown(() => verifyDescriptorData({ ...EMPTY_DESCRIPTOR, size: 3 }));
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.code).toBe('SIZE_MISMATCH');
    expect(err.expected).toBe(3);
    expect(err.actual).toBe(2);
  });

  it('throws DIGEST_MISMATCH as an IntegrityError naming both digests', () => {
    const err = thrown(() => verifyDescriptorData({ ...EMPTY_DESCRIPTOR, data: 'W10=' /* [] */ }));
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.expected).toBe(EMPTY_DESCRIPTOR.digest);
    expect(err.actual).toBe(digestBytes('[]'));
  });

  it('throws INVALID_MANIFEST for data that is not base64', () => {
    expect(thrown(() => verifyDescriptorData({ ...EMPTY_DESCRIPTOR, data: 'e30' })).code).toBe('INVALID_MANIFEST');
  });

  it('throws the digest parse error for an unsupported algorithm', () => {
    const d: Descriptor = { mediaType: 'text/plain', digest: 'blake3:abcd', size: 2, data: 'aGk=' };
    expect(thrown(() => verifyDescriptorData(d)).code).toBe('UNSUPPORTED_DIGEST');
  });
});

describe('detectManifestMediaType', () => {
  it.each([
    [{ mediaType: 'application/x-anything' }, 'application/x-anything'],
    [{ manifests: [] }, MediaType.ImageIndex],
    [{ config: {}, layers: [] }, MediaType.ImageManifest],
    [{ blobs: [], artifactType: 'application/x-sig' }, MediaType.LegacyArtifactManifest],
    [{ config: {} }, undefined],
    [{ blobs: [] }, undefined],
    [{}, undefined],
    [{ mediaType: 7, manifests: [] }, MediaType.ImageIndex],
  ])('%j -> %s', (doc, expected) => {
    expect(detectManifestMediaType(doc)).toBe(expected);
  });
});

describe('checkManifestDocument: image manifests', () => {
  it('accepts a valid image manifest, with and without the expected media type', () => {
    expect(checkManifestDocument(imageManifest())).toEqual([]);
    expect(checkManifestDocument(imageManifest(), MediaType.ImageManifest)).toEqual([]);
  });

  it('accepts a manifest without mediaType (it is only a SHOULD)', () => {
    const m = imageManifest();
    delete m['mediaType'];
    expect(checkManifestDocument(m)).toEqual([]);
    expect(checkManifestDocument(m, MediaType.ImageManifest)).toEqual([]);
  });

  it('accepts empty layers (the spec says SHOULD have one, not MUST)', () => {
    expect(checkManifestDocument(imageManifest({ layers: [] }))).toEqual([]);
  });

  it('accepts unknown fields, unknown layer media types and unknown config media types', () => {
    const m = imageManifest({
      'com.example.extension': { any: 'thing' },
      config: blob('{}', 'application/vnd.example.config.v1+json'),
      layers: [blob('x', 'application/vnd.example.unknown.layer')],
    });
    expect(checkManifestDocument(m)).toEqual([]);
  });

  it('accepts a Docker v2 schema 2 manifest', () => {
    const m = imageManifest({
      mediaType: MediaType.DockerManifest,
      config: blob('{}', MediaType.DockerConfig),
      layers: [blob('l', MediaType.DockerLayerGzip)],
    });
    expect(checkManifestDocument(m)).toEqual([]);
    expect(checkManifestDocument(m, MediaType.DockerManifest)).toEqual([]);
  });

  it('accepts a manifest with a subject, annotations and an artifactType', () => {
    expect(checkManifestDocument(artifactManifest({ annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } }))).toEqual([]);
  });

  it('requires artifactType when config.mediaType is the empty media type', () => {
    const m = artifactManifest();
    delete m['artifactType'];
    expect(checkManifestDocument(m)).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'artifactType' })]);
  });

  it('does not require artifactType for other config media types', () => {
    const m = artifactManifest({ config: blob('{}', 'application/vnd.example.config.v1+json') });
    delete m['artifactType'];
    expect(checkManifestDocument(m)).toEqual([]);
  });

  it('reports a mediaType that disagrees with the expected one', () => {
    expect(checkManifestDocument(imageManifest(), MediaType.DockerManifest)).toEqual([
      expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'mediaType' }),
    ]);
  });

  it.each([
    [undefined, 'schemaVersion'],
    [1, 'schemaVersion'],
    ['2', 'schemaVersion'],
    [3, 'schemaVersion'],
  ])('rejects schemaVersion %s', (schemaVersion, path) => {
    const m = imageManifest({ schemaVersion });
    if (schemaVersion === undefined) delete m['schemaVersion'];
    expect(checkManifestDocument(m)).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path })]);
  });

  it('requires config and layers', () => {
    const m = imageManifest();
    delete m['config'];
    delete m['layers'];
    const ps = checkManifestDocument(m, MediaType.ImageManifest);
    expect(paths(ps).sort()).toEqual(['config', 'layers']);
    expect(new Set(codes(ps))).toEqual(new Set(['INVALID_MANIFEST']));
  });

  it.each([
    [{ layers: {} }, 'layers', 'INVALID_MANIFEST'],
    [{ layers: [blob('a'), 'sha256:x'] }, 'layers[1]', 'INVALID_MANIFEST'],
    [{ layers: [blob('a'), { ...blob('b'), digest: 'sha256:123' }] }, 'layers[1].digest', 'INVALID_DIGEST'],
    [{ layers: [{ ...blob('b'), digest: `sha1:${'a'.repeat(40)}` }] }, 'layers[0].digest', 'UNSUPPORTED_DIGEST'],
    [{ config: 'sha256:abc' }, 'config', 'INVALID_MANIFEST'],
    [{ config: { ...blob('c'), mediaType: 'config' } }, 'config.mediaType', 'INVALID_MANIFEST'],
    [{ config: { ...withData('{}', MediaType.ImageConfig), data: 'W10=' } }, 'config.data', 'DIGEST_MISMATCH'],
    [{ layers: [{ ...withData('abc'), size: 4 }] }, 'layers[0].data', 'SIZE_MISMATCH'],
    [{ subject: { ...blob('s'), size: '1' } }, 'subject.size', 'INVALID_MANIFEST'],
    [{ subject: 'sha256:abc' }, 'subject', 'INVALID_MANIFEST'],
    [{ artifactType: 'not-a-media-type' }, 'artifactType', 'INVALID_MANIFEST'],
    [{ annotations: { k: 5 } }, 'annotations.k', 'INVALID_MANIFEST'],
    [{ annotations: [] }, 'annotations', 'INVALID_MANIFEST'],
    [{ mediaType: 'nonsense' }, 'mediaType', 'INVALID_MANIFEST'],
    [{ mediaType: 5 }, 'mediaType', 'INVALID_MANIFEST'],
  ])('rejects %j at %s with %s', (over, path, code) => {
    expect(checkManifestDocument(imageManifest(over))).toEqual([expect.objectContaining({ code, path })]);
  });

  it('collects every problem, not only the first', () => {
    const m = imageManifest({
      schemaVersion: 1,
      layers: [{ ...blob('a'), digest: 'sha256:1' }, { ...blob('b'), size: -5 }],
      annotations: { a: 1 },
    });
    const ps = checkManifestDocument(m);
    expect(ps.map((p) => [p.path, p.code])).toEqual([
      ['schemaVersion', 'INVALID_MANIFEST'],
      ['layers[0].digest', 'INVALID_DIGEST'],
      ['layers[1].size', 'INVALID_MANIFEST'],
      ['annotations.a', 'INVALID_MANIFEST'],
    ]);
  });
});

describe('checkManifestDocument: image indexes', () => {
  it('accepts a valid index, an empty index and a nested index entry', () => {
    expect(checkManifestDocument(imageIndex())).toEqual([]);
    expect(checkManifestDocument(imageIndex({ manifests: [] }), MediaType.ImageIndex)).toEqual([]);
    expect(checkManifestDocument(imageIndex({ manifests: [blob('child', MediaType.ImageIndex)] }))).toEqual([]);
  });

  it('accepts entries of unknown media type (the spec says they must not be an error)', () => {
    expect(checkManifestDocument(imageIndex({ manifests: [blob('x', 'application/vnd.example.future+json')] }))).toEqual([]);
  });

  it('accepts an index with artifactType, subject and annotations', () => {
    const ix = imageIndex({ artifactType: 'application/vnd.example.bundle', subject: blob('s', MediaType.ImageManifest), annotations: { a: 'b' } });
    expect(checkManifestDocument(ix)).toEqual([]);
  });

  it('accepts a Docker manifest list, declared or expected', () => {
    const list = imageIndex({ mediaType: MediaType.DockerManifestList, manifests: [{ ...blob('m', MediaType.DockerManifest), platform: { os: 'linux', architecture: 'amd64' } }] });
    expect(checkManifestDocument(list)).toEqual([]);
    const noType = { ...list };
    delete noType['mediaType'];
    expect(checkManifestDocument(noType, MediaType.DockerManifestList)).toEqual([]);
  });

  it.each([
    [{ manifests: undefined }, 'manifests', 'INVALID_MANIFEST'],
    [{ manifests: {} }, 'manifests', 'INVALID_MANIFEST'],
    [{ manifests: [blob('a', MediaType.ImageManifest), blob('b', MediaType.ImageManifest), { ...blob('c', MediaType.ImageManifest), digest: 'sha256:zz' }] }, 'manifests[2].digest', 'INVALID_DIGEST'],
    [{ manifests: [{ ...blob('a', MediaType.ImageManifest), platform: { os: 'linux' } }] }, 'manifests[0].platform.architecture', 'INVALID_MANIFEST'],
    [{ manifests: [null] }, 'manifests[0]', 'INVALID_MANIFEST'],
    [{ schemaVersion: 1 }, 'schemaVersion', 'INVALID_MANIFEST'],
    [{ subject: {} }, 'subject.mediaType', 'INVALID_MANIFEST'],
  ])('rejects %j at %s', (over, path, code) => {
    const ix = imageIndex(over);
    if ('manifests' in over && over.manifests === undefined) delete ix['manifests'];
    const ps = checkManifestDocument(ix);
    expect(ps[0]).toEqual(expect.objectContaining({ code, path }));
  });

  it('reports an index expected to be a manifest (and the reverse)', () => {
    expect(codes(checkManifestDocument(imageIndex(), MediaType.ImageManifest))).toContain('INVALID_MANIFEST');
    expect(paths(checkManifestDocument(imageIndex(), MediaType.ImageManifest))).toContain('mediaType');
    const m = imageManifest();
    delete m['mediaType'];
    expect(paths(checkManifestDocument(m, MediaType.ImageIndex))).toEqual(['manifests']);
  });
});

describe('checkManifestDocument: legacy artifact manifests and unknown documents', () => {
  it('accepts a legacy artifact manifest without schemaVersion', () => {
    expect(checkManifestDocument(legacyArtifact())).toEqual([]);
    expect(checkManifestDocument(legacyArtifact({ blobs: undefined }))).toEqual([]);
  });

  it('requires the legacy mediaType in the document', () => {
    const a = legacyArtifact();
    delete a['mediaType'];
    expect(checkManifestDocument(a)).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'mediaType' })]);
    expect(checkManifestDocument(a, MediaType.LegacyArtifactManifest)).toEqual([expect.objectContaining({ path: 'mediaType' })]);
  });

  it('checks blobs and subject', () => {
    const ps = checkManifestDocument(legacyArtifact({ blobs: [{ ...blob('x'), digest: 'sha256:0' }], subject: { ...blob('y'), size: -1 } }));
    expect(ps.map((p) => [p.path, p.code])).toEqual([
      ['blobs[0].digest', 'INVALID_DIGEST'],
      ['subject.size', 'INVALID_MANIFEST'],
    ]);
  });

  it.each([
    MediaType.ImageConfig,
    'application/vnd.docker.distribution.manifest.v1+prettyjws',
    'application/vnd.example.unknown+json',
  ])('rejects the media type %s as not a manifest', (mediaType) => {
    expect(checkManifestDocument({ ...imageManifest(), mediaType })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: 'mediaType' })]);
  });

  it('rejects a document whose kind cannot be told', () => {
    expect(checkManifestDocument({ schemaVersion: 2 })).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: '' })]);
  });

  it.each([null, [], 'manifest', 2])('rejects a non-object document %j', (doc) => {
    expect(checkManifestDocument(doc)).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: '' })]);
  });
});

describe('parseManifestBytes', () => {
  it('returns kind, media type and the document with unknown fields kept', () => {
    const m = imageManifest({ 'com.example.unknown': [1, 2, 3] });
    const parsed = parseManifestBytes(bytes(m), MediaType.ImageManifest, 'oci:./x@sha256:abc');
    expect(parsed.kind).toBe('manifest');
    expect(parsed.mediaType).toBe(MediaType.ImageManifest);
    expect(parsed.doc).toEqual(m);
  });

  it.each([
    [imageIndex(), undefined, 'index', MediaType.ImageIndex],
    [{ ...imageIndex(), mediaType: undefined }, MediaType.DockerManifestList, 'index', MediaType.DockerManifestList],
    [{ ...imageManifest(), mediaType: undefined }, undefined, 'manifest', MediaType.ImageManifest],
    [{ ...imageManifest(), mediaType: MediaType.DockerManifest }, undefined, 'manifest', MediaType.DockerManifest],
    [legacyArtifact(), undefined, 'legacy-artifact', MediaType.LegacyArtifactManifest],
    [artifactManifest(), MediaType.ImageManifest, 'manifest', MediaType.ImageManifest],
  ])('classifies %#', (doc, expected, kind, mediaType) => {
    const parsed = parseManifestBytes(bytes(doc), expected);
    expect(parsed.kind).toBe(kind);
    expect(parsed.mediaType).toBe(mediaType);
  });

  it('throws INVALID_MANIFEST with every problem and the source', () => {
    const m = imageManifest({ schemaVersion: 1, layers: [{ ...blob('a'), digest: 'sha256:1' }] });
    const err = thrown(() => parseManifestBytes(bytes(m), undefined, 'layout ./x'));
    expect(err).toBeInstanceOf(InvalidDocumentError);
    expect(err.code).toBe('INVALID_MANIFEST');
    expect(err.path).toBe('layout ./x');
    expect((err as InvalidDocumentError).problems.map((p) => p.code)).toEqual(['INVALID_MANIFEST', 'INVALID_DIGEST']);
  });

  it('throws INVALID_MANIFEST (not the inner code) when a data field does not match', () => {
    const m = imageManifest({ config: { ...EMPTY_DESCRIPTOR, data: 'W10=' }, artifactType: 'application/x-a' });
    const err = thrown(() => parseManifestBytes(bytes(m)));
    expect(err.code).toBe('INVALID_MANIFEST');
    expect((err as InvalidDocumentError).problems[0]!.code).toBe('DIGEST_MISMATCH');
  });

  it.each([
    ['invalid JSON', Buffer.from('{"schemaVersion": 2,')],
    ['empty input', Buffer.from('')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ['a JSON array', Buffer.from('[]')],
    ['a JSON string', Buffer.from('"manifest"')],
    ['JSON null', Buffer.from('null')],
    ['an image config', bytes(config())],
  ])('throws INVALID_MANIFEST for %s', (_what, input) => {
    const err = thrown(() => parseManifestBytes(input));
    expect(err).toBeInstanceOf(InvalidDocumentError);
    expect(err.code).toBe('INVALID_MANIFEST');
  });

  it('throws when the declared media type disagrees with the expected one', () => {
    expect(thrown(() => parseManifestBytes(bytes(imageIndex()), MediaType.ImageManifest)).code).toBe('INVALID_MANIFEST');
  });
});

describe('effectiveArtifactType', () => {
  it('prefers artifactType', () => {
    expect(effectiveArtifactType(artifactManifest() as never)).toBe('application/vnd.example.sbom.v1+json');
  });

  it('falls back to config.mediaType (the referrers API rule)', () => {
    const m = artifactManifest({ config: blob('{}', 'application/vnd.example.config.v1+json') });
    delete m['artifactType'];
    expect(effectiveArtifactType(m as never)).toBe('application/vnd.example.config.v1+json');
    expect(effectiveArtifactType(imageManifest() as never)).toBe(MediaType.ImageConfig);
  });

  it('is undefined for an index without artifactType and reads legacy artifacts', () => {
    expect(effectiveArtifactType(imageIndex() as never)).toBeUndefined();
    expect(effectiveArtifactType(imageIndex({ artifactType: 'application/x-b' }) as never)).toBe('application/x-b');
    expect(effectiveArtifactType(legacyArtifact() as never)).toBe('application/vnd.example.signature');
  });
});

describe('checkImageConfig', () => {
  it('accepts a complete config and a minimal one', () => {
    expect(checkImageConfig(config())).toEqual([]);
    expect(checkImageConfig({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })).toEqual([]);
  });

  it("accepts the empty image config go-containerregistry writes under every cosign signature (issue 17)", () => {
    const payload = 'sha256:' + 'ab'.repeat(32);
    const cosignConfig = {
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [payload] },
      config: {},
    };
    expect(checkImageConfig(cosignConfig)).toEqual([]);
  });

  it('accepts null Entrypoint, Cmd, Volumes and Labels (Docker writes them)', () => {
    const c = config({ config: { Entrypoint: null, Cmd: null, Volumes: null, Labels: null } });
    expect(checkImageConfig(c)).toEqual([]);
  });

  it.each(['2024-01-31T12:00:00Z', '2024-01-31t12:00:00+01:00', '2024-02-29T23:59:60.5-05:30', '2024-01-31 12:00:00Z'])('accepts created %s', (created) => {
    expect(checkImageConfig(config({ created }))).toEqual([]);
  });

  it.each([
    [{ architecture: undefined }, 'architecture', 'INVALID_MANIFEST'],
    [{ os: 5 }, 'os', 'INVALID_MANIFEST'],
    [{ rootfs: undefined }, 'rootfs', 'INVALID_MANIFEST'],
    [{ rootfs: { type: 'layers' } }, 'rootfs.diff_ids', 'INVALID_MANIFEST'],
    [{ rootfs: { type: 'tar', diff_ids: [] } }, 'rootfs.type', 'INVALID_MANIFEST'],
    [{ rootfs: { diff_ids: [] } }, 'rootfs.type', 'INVALID_MANIFEST'],
    [{ rootfs: { type: 'layers', diff_ids: ['sha256:abc'] } }, 'rootfs.diff_ids[0]', 'INVALID_DIGEST'],
    [{ rootfs: { type: 'layers', diff_ids: [5] } }, 'rootfs.diff_ids[0]', 'INVALID_MANIFEST'],
    [{ created: 'yesterday' }, 'created', 'INVALID_MANIFEST'],
    [{ created: '2023-02-29T00:00:00Z' }, 'created', 'INVALID_MANIFEST'],
    [{ created: '2024-01-31T25:00:00Z' }, 'created', 'INVALID_MANIFEST'],
    [{ created: '2024-01-31T12:00:00' }, 'created', 'INVALID_MANIFEST'],
    [{ 'os.features': 'win32k' }, '["os.features"]', 'INVALID_MANIFEST'],
    [{ config: [] }, 'config', 'INVALID_MANIFEST'],
    [{ config: { Env: null } }, 'config.Env', 'INVALID_MANIFEST'],
    [{ config: { Env: ['A=1', 2] } }, 'config.Env[1]', 'INVALID_MANIFEST'],
    [{ config: { Cmd: 'sh -c true' } }, 'config.Cmd', 'INVALID_MANIFEST'],
    [{ config: { ExposedPorts: { '80/tcp': true } } }, 'config.ExposedPorts["80/tcp"]', 'INVALID_MANIFEST'],
    [{ config: { Labels: { a: 1 } } }, 'config.Labels.a', 'INVALID_MANIFEST'],
    [{ config: { ArgsEscaped: 'yes' } }, 'config.ArgsEscaped', 'INVALID_MANIFEST'],
    [{ history: {} }, 'history', 'INVALID_MANIFEST'],
    [{ history: ['ADD'] }, 'history[0]', 'INVALID_MANIFEST'],
    [{ history: [{ empty_layer: 'true' }] }, 'history[0].empty_layer', 'INVALID_MANIFEST'],
    [{ history: [{}, { created: 'now' }] }, 'history[1].created', 'INVALID_MANIFEST'],
  ])('rejects %j at %s', (over, path, code) => {
    const c = config(over);
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete c[k];
    expect(checkImageConfig(c)).toEqual([expect.objectContaining({ code, path })]);
  });

  it.each([null, [], 'config'])('rejects a non-object %j', (doc) => {
    expect(checkImageConfig(doc)).toEqual([expect.objectContaining({ code: 'INVALID_MANIFEST', path: '' })]);
  });

  it('keeps unknown fields', () => {
    const c = config({ 'moby.buildkit.buildinfo.v1': 'abc', config: { OnBuild: null, Healthcheck: { Test: ['NONE'] } } });
    expect(checkImageConfig(c)).toEqual([]);
    expect(parseImageConfigBytes(bytes(c))).toEqual(c);
  });
});

describe('parseImageConfigBytes', () => {
  it('parses a valid config', () => {
    expect(parseImageConfigBytes(bytes(config())).architecture).toBe('amd64');
  });

  it.each([
    ['invalid JSON', Buffer.from('{')],
    ['a manifest', bytes(imageManifest())],
    ['a bad diff_id', bytes(config({ rootfs: { type: 'layers', diff_ids: ['nope'] } }))],
  ])('throws INVALID_MANIFEST for %s, naming the source', (_what, input) => {
    const err = thrown(() => parseImageConfigBytes(input, 'blob sha256:abc'));
    expect(err).toBeInstanceOf(InvalidDocumentError);
    expect(err.code).toBe('INVALID_MANIFEST');
    expect(err.path).toBe('blob sha256:abc');
  });
});

describe('checkOciLayoutFile', () => {
  it.each(['1.0.0', '1.1.0', '1.0.12'])('accepts imageLayoutVersion %s', (v) => {
    expect(checkOciLayoutFile({ imageLayoutVersion: v })).toEqual([]);
  });

  it('accepts unknown fields', () => {
    expect(checkOciLayoutFile({ imageLayoutVersion: '1.0.0', 'com.example': true })).toEqual([]);
  });

  it.each([['2.0.0'], ['1.0'], ['0.9.0'], ['1.0.0-rc1'], [1], [null], ['']])('rejects imageLayoutVersion %j', (v) => {
    expect(checkOciLayoutFile({ imageLayoutVersion: v })).toEqual([expect.objectContaining({ code: 'INVALID_LAYOUT', path: 'imageLayoutVersion' })]);
  });

  it('rejects a missing version and a non-object file', () => {
    expect(checkOciLayoutFile({})).toEqual([expect.objectContaining({ code: 'INVALID_LAYOUT', path: 'imageLayoutVersion' })]);
    expect(checkOciLayoutFile([])).toEqual([expect.objectContaining({ code: 'INVALID_LAYOUT', path: '' })]);
  });
});
