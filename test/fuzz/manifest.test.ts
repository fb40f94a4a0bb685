/**
 * Manifest and index validation under generated input: arbitrary bytes and
 * arbitrary JSON either validate or fail with INVALID_MANIFEST (never
 * another exception); documents built from generated valid descriptors
 * validate; the same documents with one rule broken fail, and say where.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestBytes } from '../../src/digest/digest.js';
import { MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import { InvalidDocumentError, checkImageConfig, checkManifestDocument, checkOciLayoutFile, parseImageConfigBytes, parseManifestBytes } from '../../src/spec/validate.js';
import { ERROR_CODES, fuzzParams, fuzzTimeout, outcome, validDigest } from '../helpers/fuzz.js';

type Doc = Record<string, unknown>;

const RESTRICTED = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split('');
const restrictedName = fc
  .tuple(fc.constantFrom(...RESTRICTED), fc.string({ unit: fc.constantFrom(...RESTRICTED, ...'!#$&^_.+-'.split('')), maxLength: 30 }))
  .map(([a, b]) => a + b);
const mediaType = fc.oneof(
  fc.constantFrom(MediaType.LayerGzip, MediaType.ImageConfig, MediaType.OctetStream, 'application/vnd.example.sbom+json'),
  fc.tuple(restrictedName, restrictedName).map(([t, s]) => `${t}/${s}`),
);
const annotations = fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 3 });
const platform = fc.record(
  { architecture: fc.string({ minLength: 1, maxLength: 8 }), os: fc.string({ minLength: 1, maxLength: 8 }), variant: fc.string({ maxLength: 4 }), 'os.features': fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }) },
  { requiredKeys: ['architecture', 'os'] },
);

/** A valid descriptor: random digest and size, or embedded data whose digest and size match. */
const descriptor: fc.Arbitrary<Descriptor> = fc
  .record(
    {
      mediaType,
      ref: fc.oneof(fc.record({ digest: validDigest, size: fc.maxSafeNat() }), fc.uint8Array({ maxLength: 40 }).map((b) => ({ bytes: Buffer.from(b) }))),
      annotations,
      urls: fc.array(fc.webUrl(), { maxLength: 2 }),
      artifactType: mediaType,
      platform,
    },
    { requiredKeys: ['mediaType', 'ref'] },
  )
  .map(({ ref, ...rest }) => {
    const d = { ...rest } as Descriptor & Doc;
    delete d['ref'];
    if ('bytes' in ref) Object.assign(d, { digest: digestBytes(ref.bytes), size: ref.bytes.length, data: ref.bytes.toString('base64') });
    else Object.assign(d, ref);
    return d;
  });

const subject = descriptor.map((d) => ({ ...d, mediaType: MediaType.ImageManifest }));

const imageManifest: fc.Arbitrary<Doc> = fc
  .record(
    {
      mediaType: fc.constantFrom(MediaType.ImageManifest, MediaType.DockerManifest),
      config: descriptor,
      layers: fc.array(descriptor, { maxLength: 4 }),
      subject,
      annotations,
      artifactType: mediaType,
    },
    { requiredKeys: ['config', 'layers'] },
  )
  .map((m) => {
    const doc: Doc = { schemaVersion: 2, ...m };
    // An empty config needs an artifactType (manifest.md): give it one rather than filter the case out.
    if ((m.config as Descriptor).mediaType === MediaType.Empty && doc['artifactType'] === undefined) doc['artifactType'] = 'application/vnd.example';
    return doc;
  });

const imageIndex: fc.Arbitrary<Doc> = fc
  .record(
    { mediaType: fc.constantFrom(MediaType.ImageIndex, MediaType.DockerManifestList), manifests: fc.array(descriptor, { maxLength: 4 }), subject, annotations, artifactType: mediaType },
    { requiredKeys: ['manifests'] },
  )
  .map((m) => ({ schemaVersion: 2, ...m }));

const document = fc.oneof(imageManifest, imageIndex);

const bytesOf = (doc: unknown) => Buffer.from(JSON.stringify(doc));

/** parseManifestBytes never throws anything but INVALID_MANIFEST, and agrees with checkManifestDocument. */
function parseChecked(bytes: Uint8Array) {
  const r = outcome(() => parseManifestBytes(bytes), ['INVALID_MANIFEST']);
  if (!r.ok) {
    const err = r.error as InvalidDocumentError;
    expect(err).toBeInstanceOf(InvalidDocumentError);
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(ERROR_CODES).toContain(p.code);
  }
  return r;
}

/** One way to break a valid document, and the problem path it must be reported at. */
interface Breakage {
  at: string;
  apply(doc: Doc): void;
}

function breakages(doc: Doc): Breakage[] {
  const list = (doc['layers'] ?? doc['manifests']) as Descriptor[];
  const key = doc['layers'] !== undefined ? 'layers' : 'manifests';
  // Without a mediaType, a document missing its config or list cannot be told apart: the problem is the document's.
  const shapeless = doc['mediaType'] === undefined ? '' : undefined;
  const out: Breakage[] = [
    { at: 'schemaVersion', apply: (d) => (d['schemaVersion'] = 1) },
    { at: 'schemaVersion', apply: (d) => delete d['schemaVersion'] },
    { at: key, apply: (d) => (d[key] = {}) },
    { at: shapeless ?? key, apply: (d) => delete d[key] },
    { at: 'mediaType', apply: (d) => (d['mediaType'] = 'not a media type') },
    { at: 'annotations.x', apply: (d) => (d['annotations'] = { x: 1 }) },
    { at: 'subject.digest', apply: (d) => (d['subject'] = { mediaType: MediaType.ImageManifest, digest: 'sha256:abc', size: 1 }) },
  ];
  if (key === 'layers') out.push({ at: shapeless ?? 'config', apply: (d) => delete d['config'] }, { at: 'config.size', apply: (d) => ((d['config'] as Doc)['size'] = -1) });
  if (list.length > 0) {
    const i = list.length - 1;
    out.push(
      { at: `${key}[${i}].digest`, apply: (d) => ((d[key] as Doc[])[i]!['digest'] = 'sha256:' + 'A'.repeat(64)) },
      { at: `${key}[${i}].size`, apply: (d) => ((d[key] as Doc[])[i]!['size'] = 1.5) },
      { at: `${key}[${i}].size`, apply: (d) => ((d[key] as Doc[])[i]!['size'] = '12') },
      { at: `${key}[${i}].mediaType`, apply: (d) => delete (d[key] as Doc[])[i]!['mediaType'] },
      { at: `${key}[${i}].platform.os`, apply: (d) => ((d[key] as Doc[])[i]!['platform'] = { architecture: 'amd64', os: '' }) },
      { at: `${key}[${i}].urls[0]`, apply: (d) => ((d[key] as Doc[])[i]!['urls'] = ['not a uri']) },
      { at: `${key}[${i}]`, apply: (d) => ((d[key] as unknown[])[i] = 'sha256:abc') },
    );
  }
  return out;
}

describe('manifest validation (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('arbitrary bytes: a parsed manifest or INVALID_MANIFEST', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s))), (bytes) => {
        parseChecked(bytes);
      }),
      fuzzParams(3000),
    );
  });

  it('arbitrary JSON: a parsed manifest or INVALID_MANIFEST, as checkManifestDocument says', () => {
    // JSON values shaped a little like manifests, so that validation gets past the first field.
    const key = fc.constantFrom('schemaVersion', 'mediaType', 'config', 'layers', 'manifests', 'blobs', 'subject', 'artifactType', 'annotations', 'digest', 'size', 'data', 'urls', 'platform', '__proto__', 'constructor');
    const shaped = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        validDigest,
        fc.constantFrom(2, -1, 1e300, MediaType.ImageManifest, MediaType.ImageIndex, MediaType.Empty, MediaType.LegacyArtifactManifest, 'e30='),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), shaped), fc.option(fc.constantFrom(MediaType.ImageManifest, MediaType.ImageIndex, 'text/plain'), { nil: undefined }), (doc, expected) => {
        const bytes = bytesOf(doc);
        const problems = checkManifestDocument(JSON.parse(bytes.toString('utf8')), expected);
        const r = outcome(() => parseManifestBytes(bytes, expected), ['INVALID_MANIFEST']);
        expect(r.ok).toBe(problems.length === 0);
      }),
      fuzzParams(3000),
    );
  });

  it('documents built from valid descriptors validate', () => {
    fc.assert(
      fc.property(document, (doc) => {
        expect(checkManifestDocument(doc)).toEqual([]);
        const r = parseChecked(bytesOf(doc));
        expect(r.ok && r.value.kind).toBe(doc['layers'] !== undefined ? 'manifest' : 'index');
      }),
      fuzzParams(2000),
    );
  });

  it('a valid document with one rule broken fails, naming the broken field', () => {
    const withBreakage = document.chain((doc) => fc.record({ doc: fc.constant(doc), which: fc.nat({ max: breakages(doc).length - 1 }) }));
    fc.assert(
      fc.property(withBreakage, ({ doc, which }) => {
        const broken = structuredClone(doc);
        const b = breakages(broken)[which]!;
        b.apply(broken);
        const r = parseChecked(bytesOf(broken));
        expect(r.ok).toBe(false);
        if (!r.ok) expect((r.error as InvalidDocumentError).problems.map((p) => p.path)).toContain(b.at);
      }),
      fuzzParams(2000),
    );
  });

  it('byte-level damage to a valid document: still valid or INVALID_MANIFEST', () => {
    const damage = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('set', 'delete', 'insert') }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(document, damage, fc.nat(), (doc, edits, cut) => {
        let bytes = [...bytesOf(doc)];
        for (const e of edits) {
          const i = e.at % (bytes.length + 1);
          if (e.kind === 'set') bytes[i] = e.byte;
          else if (e.kind === 'delete') bytes.splice(i, 1);
          else bytes.splice(i, 0, e.byte);
        }
        if (cut % 4 === 0) bytes = bytes.slice(0, cut % (bytes.length + 1));
        parseChecked(Uint8Array.from(bytes));
      }),
      fuzzParams(3000),
    );
  });

  it('image configs and oci-layout files: problems are reported, never thrown', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        for (const p of [...checkImageConfig(doc), ...checkOciLayoutFile(doc)]) expect(ERROR_CODES).toContain(p.code);
        outcome(() => parseImageConfigBytes(bytesOf(doc)), ['INVALID_MANIFEST']);
      }),
      fuzzParams(2000),
    );
  });
});
