/**
 * `ocikit inspect`: the tree tag -> index -> platform manifests -> config
 * summary, with referrers (SBOM format, signature, attestation predicate)
 * under each manifest; text, JSON, and a self-contained HTML file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import { caseDirs, expectedDigests, FIXTURES, ocikit, tempDir } from '../helpers/cli.js';
import { addArtifact, blobFile, dsseEnvelope, inTotoStatement, OCI_MANIFEST } from '../helpers/audit-layouts.js';

interface Node {
  digest: string;
  mediaType: string;
  size: number;
  kind: string;
  platform?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  config?: { digest: string; created?: string; labels?: Record<string, string>; status?: string };
  layers?: Array<{ digest: string; size: number; title?: string; status?: string }>;
  layerCount?: number;
  layersSize?: number;
  artifact?: { category: string; format?: string; predicateType?: string; signedDigest?: string; payloadSize: number };
  children?: Node[];
  referrers?: Node[];
  status?: string;
}
interface Report {
  target: string;
  roots: Array<{ tags: string[]; orphan?: true; node: Node }>;
  summary: Record<string, number>;
  verification?: { ok: boolean; errors: number; findings: Array<{ code: string; object: string }> };
}

let expected: Awaited<ReturnType<typeof expectedDigests>>;
let work: { dir: string; cleanup: () => Promise<void> };
const { fixture: copy } = caseDirs(() => work.dir);
const e = (fixture: string, key: string) => expected[fixture]![key] as string;

async function inspectJson(args: string[]): Promise<Report> {
  const r = await ocikit(['inspect', ...args, '--format', 'json']);
  if (r.code !== 0) throw new Error(`inspect exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

beforeAll(async () => {
  expected = await expectedDigests();
  work = await tempDir('ocikit-inspect-');
});
afterAll(async () => work.cleanup());

describe('inspect: with-referrers', () => {
  it('JSON: the image, its config summary, and its referrers with what each one is', async () => {
    const report = await inspectJson([path.join(FIXTURES, 'with-referrers')]);
    expect(report.roots).toHaveLength(1);
    const root = report.roots[0]!;
    expect(root.tags).toEqual(['v1']);
    const image = root.node;
    expect(image).toMatchObject({ digest: e('with-referrers', 'image'), kind: 'image', platform: 'linux/amd64', layerCount: 2 });
    expect(image.config).toMatchObject({ digest: e('single-image', 'config'), created: '2024-01-01T00:00:00Z' });
    expect(Object.keys(image.config!.labels ?? {})).toContain('org.opencontainers.image.version');
    const blobs = expected['with-referrers']!['blobs'] as Record<string, number>;
    expect(image.layersSize).toBe((expected['single-image']!['layers'] as string[]).reduce((s, d) => s + blobs[d]!, 0));

    const byDigest = new Map((image.referrers ?? []).map((r) => [r.digest, r]));
    expect([...byDigest.keys()].sort()).toEqual([e('with-referrers', 'sbom'), e('with-referrers', 'signature')].sort());
    const sbom = byDigest.get(e('with-referrers', 'sbom'))!;
    expect(sbom).toMatchObject({ kind: 'artifact', artifactType: 'application/spdx+json', artifact: { category: 'sbom', format: 'SPDX-2.3', payloadSize: blobs[e('with-referrers', 'sbomBlob')] } });
    expect(sbom.annotations).toEqual({ 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
    expect(sbom.layers?.[0]).toMatchObject({ digest: e('with-referrers', 'sbomBlob'), title: 'sbom.spdx.json' });
    const signature = byDigest.get(e('with-referrers', 'signature'))!;
    expect(signature.artifact).toMatchObject({ category: 'signature', format: 'cosign', signedDigest: e('with-referrers', 'image') });
    // A referrer of a referrer: the SBOM's signature, under the SBOM.
    expect(sbom.referrers?.map((r) => [r.digest, r.artifact?.category])).toEqual([[e('with-referrers', 'sbomSignature'), 'signature']]);
    expect(report.summary).toMatchObject({ tags: 1, images: 1, artifacts: 3, manifests: 4, blobs: 11 });
  });

  it('text: the tree with referrers grouped by artifact type, nested under their subject', async () => {
    const r = await ocikit(['inspect', path.join(FIXTURES, 'with-referrers')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const lineOf = (s: string) => lines.findIndex((l) => l.includes(s));
    const indent = (i: number) => lines[i]!.search(/[^│├└─\s]/);
    const image = lineOf(e('with-referrers', 'image'));
    const sbom = lineOf(e('with-referrers', 'sbom'));
    const sbomSig = lineOf(e('with-referrers', 'sbomSignature'));
    expect(lines[image]).toMatch(/v1 .*linux\/amd64.*image, 2 layers/);
    expect(lines[sbom]).toContain('SBOM SPDX-2.3');
    // The signature's own row (the image's notes name it too, saying whether it was checked).
    const rowOf = (digest: string) => lines.findIndex((l) => l.replace(/^[│├└─\s]+/, '').startsWith(digest));
    expect(lines[rowOf(e('with-referrers', 'signature'))]).toContain('signature (cosign)');
    expect(lineOf('referrers: application/spdx+json')).toBeGreaterThan(image);
    expect(indent(sbom)).toBeGreaterThan(indent(image));
    expect(indent(sbomSig)).toBeGreaterThan(indent(sbom));
    expect(r.stdout).toMatch(/labels: .*org\.opencontainers\.image\.version=1\.0\.0/);
    expect(r.stdout).toContain('annotations: org.opencontainers.image.created=2024-01-01T00:00:00Z');
  });
});

describe('inspect: multi-platform and other fixtures', () => {
  it('JSON: one root for two tags, the index, and each platform image with its config summary', async () => {
    const report = await inspectJson([path.join(FIXTURES, 'multi-platform')]);
    expect(report.roots).toHaveLength(1);
    const root = report.roots[0]!;
    expect(root.tags).toEqual(['10', 'buster']);
    expect(root.node).toMatchObject({ digest: e('multi-platform', 'index'), kind: 'index' });
    const manifests = expected['multi-platform']!['manifests'] as Record<string, { image: string; config: string; layers: string[] }>;
    expect(root.node.children!.map((c) => c.platform)).toEqual(expected['multi-platform']!['platforms']);
    for (const child of root.node.children!) {
      const want = manifests[child.platform!]!;
      expect(child).toMatchObject({ digest: want.image, kind: 'image', layerCount: 1, config: { digest: want.config, created: '2024-01-01T00:00:00Z' } });
    }
    expect(report.summary).toMatchObject({ tags: 2, images: 7, indexes: 1, artifacts: 0, blobs: 22 });
  });

  it('text: every platform under its index', async () => {
    const r = await ocikit(['inspect', path.join(FIXTURES, 'multi-platform')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/10, buster .*index, 7 manifests/);
    for (const p of expected['multi-platform']!['platforms'] as string[]) expect(r.stdout).toMatch(new RegExp(`── ${p.replace(/\//g, '\\/')}  sha256:`));
  });

  it('a reference with a tag inspects only that tag', async () => {
    const layout = await copy('with-referrers');
    const report = await inspectJson([`${layout}:v1`]);
    expect(report.roots.map((r) => r.tags)).toEqual([['v1']]);
  });

  it('referrers-fallback: the SBOM listed by the fallback tag appears under the image; the fallback index is not a root', async () => {
    const report = await inspectJson([path.join(FIXTURES, 'referrers-fallback')]);
    expect(report.roots.map((r) => r.tags)).toEqual([['v1']]);
    expect(report.roots[0]!.node.referrers?.map((r) => [r.digest, r.artifact?.category])).toEqual([[e('referrers-fallback', 'sbom'), 'sbom']]);
  });

  it('legacy-artifact: the notary signature under the image', async () => {
    const report = await inspectJson([path.join(FIXTURES, 'legacy-artifact')]);
    expect(report.roots[0]!.node.referrers?.map((r) => [r.digest, r.artifact?.category, r.artifact?.format])).toEqual([[e('legacy-artifact', 'artifact'), 'signature', 'notation']]);
  });

  it('docker-v2: the list and its two Docker images', async () => {
    const report = await inspectJson([path.join(FIXTURES, 'docker-v2')]);
    expect(report.roots[0]!.node.children!.map((c) => [c.platform, c.kind])).toEqual([
      ['linux/amd64', 'image'],
      ['linux/arm64/v8', 'image'],
    ]);
  });
});

describe('inspect: attestations and verification', () => {
  it('reads the predicate type of an in-toto statement and of one inside a DSSE envelope', async () => {
    const layout = await copy('with-referrers');
    const subject = { mediaType: OCI_MANIFEST, digest: e('with-referrers', 'image'), size: expected['single-image']!['imageSize'] as number };
    const plain = await addArtifact(layout, {
      artifactType: 'application/vnd.in-toto+json',
      subject,
      layers: [{ bytes: inTotoStatement('https://slsa.dev/provenance/v1', subject), mediaType: 'application/vnd.in-toto+json' }],
    });
    const dsse = await addArtifact(layout, {
      artifactType: 'application/vnd.dsse.envelope.v1+json',
      subject,
      layers: [{ bytes: dsseEnvelope(inTotoStatement('https://openvex.dev/ns/v0.2.0', subject)), mediaType: 'application/vnd.dsse.envelope.v1+json' }],
    });
    const report = await inspectJson([layout]);
    const referrers = new Map(report.roots[0]!.node.referrers!.map((r) => [r.digest, r.artifact]));
    expect(referrers.get(plain.digest)).toMatchObject({ category: 'attestation', predicateType: 'https://slsa.dev/provenance/v1' });
    expect(referrers.get(dsse.digest)).toMatchObject({ category: 'attestation', predicateType: 'https://openvex.dev/ns/v0.2.0' });
    const text = await ocikit(['inspect', layout]);
    expect(text.stdout).toContain('attestation https://slsa.dev/provenance/v1');
  });

  it('--verify attaches a status to every manifest, config and layer', async () => {
    const layout = await copy('multi-platform');
    const s390x = (expected['multi-platform']!['manifests'] as Record<string, { layers: string[] }>)['linux/s390x']!.layers[0]!;
    await truncate(blobFile(layout, s390x), 3);
    // The report is printed whole, and the error fails the command as it fails verify.
    const r = await ocikit(['inspect', layout, '--verify', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.verification).toMatchObject({ ok: false, errors: 1 });
    const children = report.roots[0]!.node.children!;
    expect(report.roots[0]!.node.status).toBe('ok');
    for (const c of children) {
      expect(c.status).toBe('ok');
      expect(c.config?.status).toBe('ok');
      expect(c.layers![0]!.status).toBe(c.platform === 'linux/s390x' ? 'corrupt' : 'ok');
    }
  });
});

describe('inspect --html', () => {
  it('writes one self-contained HTML file (no external assets, no network) and still prints the tree', async () => {
    const file = path.join(work.dir, 'report.html');
    const r = await ocikit(['inspect', path.join(FIXTURES, 'with-referrers'), '--html', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(e('with-referrers', 'sbom'));
    const html = await readFile(file, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain("default-src 'none'");
    // Nothing to load: no src/href attributes, no stylesheets, no CSS urls, no imports.
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
    expect(html).not.toMatch(/<link|url\(|@import|import\(/i);
    for (const d of [e('with-referrers', 'image'), e('with-referrers', 'sbom'), e('with-referrers', 'signature'), e('with-referrers', 'sbomSignature')]) expect(html).toContain(d);
  });

  it('escapes what the layout says: an annotation cannot end the data script or inject markup', async () => {
    const layout = await copy('with-referrers');
    const subject = { mediaType: OCI_MANIFEST, digest: e('with-referrers', 'image'), size: expected['single-image']!['imageSize'] as number };
    await addArtifact(layout, {
      artifactType: 'application/vnd.example+json',
      subject,
      layers: [{ bytes: '{}', mediaType: 'application/json' }],
      annotations: { note: '</script><script>alert(1)</script><img src=x onerror=alert(2)>' },
    });
    const file = path.join(work.dir, 'hostile.html');
    expect((await ocikit(['inspect', layout, '--html', file])).code).toBe(0);
    const html = await readFile(file, 'utf8');
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).not.toContain('<img');
  });
});
