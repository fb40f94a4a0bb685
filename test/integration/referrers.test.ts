/**
 * `ocikit referrers` and `ocikit discover` through the built CLI, on private
 * copies of the fixtures: the referrers API answer checked field by field
 * against hand-written expectations (digests from fixtures/expected.json),
 * validated against the image-index schema; fallback-tag and legacy
 * artifacts; discover's tree, table and JSON forms, depth and filter; and a
 * referrers cycle, which must be reported, not followed forever.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFixture, expectedDigests, ocikit, tempDir } from '../helpers/cli.js';
import { ocikitOk } from '../helpers/peers.js';
import { describeWithSchema, validateAgainstSchema } from '../helpers/schema.js';
import { expectFailure, expectJson, expectSuccess } from './_support.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const LEGACY = 'application/vnd.oci.artifact.manifest.v1+json';
const SPDX = 'application/spdx+json';
const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const NOTARY = 'application/vnd.cncf.notary.signature';
const CREATED = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' };

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}
interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
  [extra: string]: unknown;
}
interface ReferrerNode extends Descriptor {
  referrers: ReferrerNode[];
  cycle?: true;
}

interface Names {
  image: string;
  sbom: string;
  signature: string;
  sbomSignature: string;
  artifact: string;
  blobs: Record<string, number>;
  legacyBlobs: Record<string, number>;
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let names: Names;
const layouts: Record<string, string> = {};

beforeAll(async () => {
  tmp = await tempDir('ocikit-referrers-');
  const all = await expectedDigests();
  const wr = all['with-referrers']!;
  names = {
    image: wr['image'] as string,
    sbom: wr['sbom'] as string,
    signature: wr['signature'] as string,
    sbomSignature: wr['sbomSignature'] as string,
    artifact: all['legacy-artifact']!['artifact'] as string,
    blobs: wr['blobs'] as Record<string, number>,
    legacyBlobs: all['legacy-artifact']!['blobs'] as Record<string, number>,
  };
  for (const f of ['with-referrers', 'referrers-fallback', 'legacy-artifact', 'single-image', 'multi-platform']) layouts[f] = await copyFixture(f, tmp.dir);
});
afterAll(async () => tmp?.cleanup());

/** The referrers API answer for REF, parsed from `ocikit referrers` (text output: it is JSON either way). */
async function referrers(ref: string, ...flags: string[]): Promise<ReferrersIndex> {
  return JSON.parse((await ocikitOk(['referrers', ref, ...flags])).stdout) as ReferrersIndex;
}

/** Field by field: the same keys at the top, and per descriptor exactly the expected fields and values, in any order of manifests. */
function expectSameIndex(actual: ReferrersIndex, expected: ReferrersIndex): void {
  expect(Object.keys(actual).sort()).toEqual(['manifests', 'mediaType', 'schemaVersion']);
  expect(actual.schemaVersion).toBe(2);
  expect(actual.mediaType).toBe(INDEX);
  const byDigest = new Map(actual.manifests.map((d) => [d.digest, d]));
  expect(actual.manifests).toHaveLength(expected.manifests.length);
  expect(byDigest.size, 'no referrer listed twice').toBe(actual.manifests.length);
  for (const want of expected.manifests) {
    const got = byDigest.get(want.digest);
    expect(got, `referrer ${want.digest}`).toBeDefined();
    expect(Object.keys(got!).sort(), `fields of ${want.digest}`).toEqual(Object.keys(want).sort());
    for (const field of Object.keys(want)) expect(got![field], `${field} of ${want.digest}`).toEqual(want[field]);
  }
}

/** What the referrers API returns for the with-referrers image, written out by hand. */
function expectedImageReferrers(): ReferrersIndex {
  return {
    schemaVersion: 2,
    mediaType: INDEX,
    manifests: [
      { mediaType: MANIFEST, digest: names.sbom, size: names.blobs[names.sbom]!, artifactType: SPDX, annotations: CREATED },
      { mediaType: MANIFEST, digest: names.signature, size: names.blobs[names.signature]!, artifactType: COSIGN, annotations: CREATED },
    ],
  };
}

describe.concurrent('referrers', () => {
  it('of the with-referrers image: the SBOM and the signature, field by field (not the SBOM signature)', async () => {
    const got = await referrers(`oci:${layouts['with-referrers']}:v1`);
    expectSameIndex(got, expectedImageReferrers());
    // The same answer by digest, and with --format json.
    const byDigest = await expectJson<ReferrersIndex>(['referrers', `oci:${layouts['with-referrers']}@${names.image}`]);
    expect(byDigest).toEqual(got);
  });

  it('of the SBOM: its signature; of either signature: an empty manifests list', async () => {
    const dir = layouts['with-referrers'];
    expectSameIndex(await referrers(`oci:${dir}@${names.sbom}`), {
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ mediaType: MANIFEST, digest: names.sbomSignature, size: names.blobs[names.sbomSignature]!, artifactType: COSIGN, annotations: CREATED }],
    });
    for (const d of [names.signature, names.sbomSignature]) {
      expect(await referrers(`oci:${dir}@${d}`)).toEqual({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    }
  });

  it('--artifact-type keeps only referrers of that type; an unknown type gives an empty list', async () => {
    const ref = `oci:${layouts['with-referrers']}:v1`;
    const [spdx, cosign, none] = await Promise.all([referrers(ref, '--artifact-type', SPDX), referrers(ref, '--artifact-type', COSIGN), referrers(ref, '--artifact-type', 'application/x.none')]);
    const [sbomDesc, sigDesc] = expectedImageReferrers().manifests;
    expectSameIndex(spdx, { schemaVersion: 2, mediaType: INDEX, manifests: [sbomDesc!] });
    expectSameIndex(cosign, { schemaVersion: 2, mediaType: INDEX, manifests: [sigDesc!] });
    expect(none.manifests).toEqual([]);
  });

  it('an image without referrers has an empty manifests list', async () => {
    expect(await referrers(`oci:${layouts['single-image']}:v1`)).toEqual({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    expect((await referrers(`oci:${layouts['multi-platform']}:10`)).manifests).toEqual([]);
  });

  it('found through a sha256-<hex> fallback-tag index: the SBOM', async () => {
    const got = await referrers(`oci:${layouts['referrers-fallback']}:v1`);
    expectSameIndex(got, { schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: names.sbom, size: 712, artifactType: SPDX, annotations: CREATED }] });
    expect((await referrers(`oci:${layouts['referrers-fallback']}:v1`, '--artifact-type', COSIGN)).manifests).toEqual([]);
  });

  it('a legacy application/vnd.oci.artifact.manifest.v1+json artifact is a referrer, with its artifactType', async () => {
    const got = await referrers(`oci:${layouts['legacy-artifact']}:v1`);
    expectSameIndex(got, {
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ mediaType: LEGACY, digest: names.artifact, size: names.legacyBlobs[names.artifact]!, artifactType: NOTARY, annotations: CREATED }],
    });
  });

  it('bad input: unknown tag (exit 1), malformed reference (exit 2); nothing is written', async () => {
    const dir = layouts['with-referrers']!;
    await expectFailure(['referrers', `oci:${dir}:nope`], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    await expectFailure(['referrers', `oci:${dir}@sha256:abc`], { exit: 2, unchanged: dir });
  });
});

describeWithSchema('referrers output validates against the image-index JSON Schema', () => {
  it('for every fixture with referrers, and for an empty answer', async () => {
    const answers = await Promise.all([
      referrers(`oci:${layouts['with-referrers']}:v1`),
      referrers(`oci:${layouts['referrers-fallback']}:v1`),
      referrers(`oci:${layouts['legacy-artifact']}:v1`),
      referrers(`oci:${layouts['single-image']}:v1`),
    ]);
    for (const a of answers) expect(validateAgainstSchema('index', a)).toEqual([]);
  });
});

describe.concurrent('discover', () => {
  const ref = () => `oci:${layouts['with-referrers']}:v1`;

  it('-o json: image -> {SBOM -> {SBOM signature}, signature}, each node the referrers API descriptor plus its referrers', async () => {
    const doc = await expectJson<{ subject: Descriptor; referrers: ReferrerNode[] }>(['discover', ref()]);
    expect(doc.subject).toEqual({ mediaType: MANIFEST, digest: names.image, size: names.blobs[names.image] });
    const [sbomDesc, sigDesc] = expectedImageReferrers().manifests;
    const sbomSig = { mediaType: MANIFEST, digest: names.sbomSignature, size: names.blobs[names.sbomSignature]!, artifactType: COSIGN, annotations: CREATED };
    const sorted = [...doc.referrers].sort((a, b) => a.digest.localeCompare(b.digest));
    expect(sorted).toEqual(
      [
        { ...sbomDesc!, referrers: [{ ...sbomSig, referrers: [] }] },
        { ...sigDesc!, referrers: [] },
      ].sort((a, b) => a.digest.localeCompare(b.digest)),
    );
  });

  it('-o tree (the default) groups referrers by artifact type under the subject, one level deeper per referrer', async () => {
    const lines = (await ocikitOk(['discover', ref()])).stdout.trimEnd().split('\n');
    expect(lines[0]).toContain(names.image);
    // Depth from the indentation (4 columns a level), content without the drawing.
    const rows = lines.slice(1).map((l) => {
      const content = l.replace(/^[│├└─\s]+/, '');
      return [(l.length - content.length) / 4, content] as const;
    });
    expect(rows).toEqual([
      [1, SPDX],
      [2, names.sbom],
      [3, COSIGN],
      [4, names.sbomSignature],
      [1, COSIGN],
      [2, names.signature],
    ]);
    expect((await ocikitOk(['discover', ref(), '--format', 'tree'])).stdout).toBe(lines.join('\n') + '\n');
  });

  it('-o table: one row per referrer with its depth and subject', async () => {
    const lines = (await ocikitOk(['discover', ref(), '--format', 'table'])).stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['DEPTH', 'DIGEST', 'ARTIFACT TYPE', 'SUBJECT']);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    expect(rows.sort((a, b) => a[1]!.localeCompare(b[1]!))).toEqual(
      [
        ['1', names.sbom, SPDX, names.image],
        ['2', names.sbomSignature, COSIGN, names.sbom],
        ['1', names.signature, COSIGN, names.image],
      ].sort((a, b) => a[1]!.localeCompare(b[1]!)),
    );
  });

  it('--depth 1 stops at the first level', async () => {
    const doc = await expectJson<{ referrers: ReferrerNode[] }>(['discover', ref(), '--depth', '1']);
    expect(doc.referrers.map((r) => r.digest).sort()).toEqual([names.sbom, names.signature].sort());
    for (const r of doc.referrers) expect(r.referrers).toEqual([]);
    const deeper = await expectJson<{ referrers: ReferrerNode[] }>(['discover', ref(), '--depth', '2']);
    expect(deeper.referrers.find((r) => r.digest === names.sbom)!.referrers.map((r) => r.digest)).toEqual([names.sbomSignature]);
  });

  it('--artifact-type filters every level', async () => {
    const spdx = await expectJson<{ referrers: ReferrerNode[] }>(['discover', ref(), '--artifact-type', SPDX]);
    // The SBOM, but not its (cosign) signature.
    expect(spdx.referrers.map((r) => [r.digest, r.referrers.length])).toEqual([[names.sbom, 0]]);
    const cosign = await expectJson<{ referrers: ReferrerNode[] }>(['discover', ref(), '--artifact-type', COSIGN]);
    expect(cosign.referrers.map((r) => r.digest)).toEqual([names.signature]);
  });

  it('finds fallback-tag and legacy referrers too', async () => {
    const fb = await expectJson<{ referrers: ReferrerNode[] }>(['discover', `oci:${layouts['referrers-fallback']}:v1`]);
    expect(fb.referrers.map((r) => [r.digest, r.artifactType])).toEqual([[names.sbom, SPDX]]);
    const legacy = await expectJson<{ referrers: ReferrerNode[] }>(['discover', `oci:${layouts['legacy-artifact']}:v1`]);
    expect(legacy.referrers.map((r) => [r.digest, r.mediaType, r.artifactType])).toEqual([[names.artifact, LEGACY, NOTARY]]);
  });

  it('no referrers: an empty tree, table and list', async () => {
    const dir = layouts['single-image'];
    expect((await expectJson<{ referrers: unknown[] }>(['discover', `oci:${dir}:v1`])).referrers).toEqual([]);
    expect((await ocikitOk(['discover', `oci:${dir}:v1`])).stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('bad input: --depth 0, an unknown -o format, an unknown tag', async () => {
    const dir = layouts['with-referrers']!;
    await expectFailure(['discover', ref(), '--depth', '0'], { exit: 2, code: 'USAGE', unchanged: dir });
    await expectFailure(['discover', ref(), '--depth', '1.5'], { exit: 2, code: 'USAGE', unchanged: dir });
    const r = await ocikit(['discover', ref(), '-o', 'yaml']);
    expect(r.code).toBe(2);
    await expectFailure(['discover', `oci:${dir}:nope`], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
  });
});

describe('a referrers cycle made of fallback-tag indexes', () => {
  let layout: string;
  let a: string;
  let b: string;

  beforeAll(async () => {
    // Two platform manifests of the index fixture: A's fallback listing names B and B's names A.
    layout = await copyFixture('multi-platform', path.join(tmp.dir, 'cycle'));
    const mp = (await expectedDigests())['multi-platform']!['manifests'] as Record<string, { image: string }>;
    a = mp['linux/amd64']!.image;
    b = mp['linux/arm/v7']!.image;
    const size = async (d: string) => (await readFile(path.join(layout, 'blobs', 'sha256', d.slice(7)))).length;
    const listing = async (d: string) =>
      JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: MANIFEST, digest: d, size: await size(d), artifactType: 'application/vnd.example.loop' }] });
    await writeFile(path.join(tmp.dir, 'a-lists-b.json'), await listing(b));
    await writeFile(path.join(tmp.dir, 'b-lists-a.json'), await listing(a));
    await ocikitOk(['manifest', 'push', `oci:${layout}:sha256-${a.slice(7)}`, path.join(tmp.dir, 'a-lists-b.json')]);
    await ocikitOk(['manifest', 'push', `oci:${layout}:sha256-${b.slice(7)}`, path.join(tmp.dir, 'b-lists-a.json')]);
  });

  it('referrers answers one level: A is referred to by B, B by A', async () => {
    expect((await referrers(`oci:${layout}@${a}`)).manifests.map((m) => m.digest)).toEqual([b]);
    expect((await referrers(`oci:${layout}@${b}`)).manifests.map((m) => m.digest)).toEqual([a]);
  });

  it('discover terminates, marks the cycle, warns on stderr, and exits 0', async () => {
    const r = await expectSuccess(['discover', `oci:${layout}@${a}`, '--format', 'json'], { timeoutMs: 20_000 });
    const doc = JSON.parse(r.stdout) as { referrers: ReferrerNode[] };
    expect(doc.referrers).toHaveLength(1);
    expect(doc.referrers[0]!.digest).toBe(b);
    expect(doc.referrers[0]!.referrers).toEqual([expect.objectContaining({ digest: a, cycle: true, referrers: [] })]);
    expect(r.stderr).toMatch(/^ocikit: warning: /m);
    for (const format of ['tree', 'table']) {
      const t = await expectSuccess(['discover', `oci:${layout}@${a}`, '-o', format], { timeoutMs: 20_000 });
      expect(t.stdout).toContain(b);
      expect(t.stderr).toMatch(/^ocikit: warning: /m);
    }
  });

  it('gc treats the tagged listings as roots and removes nothing', async () => {
    const r = await expectJson<{ removedBlobs: unknown[]; removedEntries: unknown[] }>(['gc', layout, '--dry-run']);
    expect(r.removedBlobs).toEqual([]);
    expect(r.removedEntries).toEqual([]);
  });
});
