/**
 * `ocikit diff A B`: tags added/removed/moved, manifests and platforms
 * added/removed, layers with sizes, referrers per subject, config changes;
 * across forms (a layout against an archive of itself).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { copyFixture, expectedDigests, FIXTURES, ocikit, run, tempDir } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';
import { addArtifact, editIndex, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, readJson, storeBlob, storeJson, tagged, type Desc } from '../helpers/audit-layouts.js';

interface DiffJson {
  identical: boolean;
  tags: { added: Array<{ tag: string; digest: string }>; removed: Array<{ tag: string; digest: string }>; moved: Array<{ tag: string; from: string; to: string }> };
  manifests: { added: Array<{ digest: string; kind: string; platform?: string }>; removed: Array<{ digest: string; kind: string }> };
  platforms: Array<{ tag: string; added: string[]; removed: string[]; changed: Array<{ platform: string; from: string; to: string }> }>;
  layers: { added: Array<{ digest: string; size: number }>; removed: Array<{ digest: string; size: number }>; addedSize: number; removedSize: number };
  referrers: Array<{ subject: string; added: Array<{ digest: string; artifactType?: string }>; removed: Array<{ digest: string }> }>;
  configs: Array<Record<string, unknown>>;
}

let expected: Awaited<ReturnType<typeof expectedDigests>>;
let work: { dir: string; cleanup: () => Promise<void> };

async function diffJson(a: string, b: string): Promise<DiffJson> {
  const r = await ocikit(['diff', a, b, '--format', 'json']);
  if (r.code !== 0) throw new Error(`diff exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as DiffJson;
}

/**
 * B: multi-platform where tag 10 moved to a new index that drops s390x, adds
 * riscv64 (a new layer) and rebuilds amd64 with a changed config, which gets
 * an SBOM; a new tag `latest`; `buster` still names the old index.
 */
interface Changed {
  layout: string;
  index: Desc;
  amd64: Desc;
  riscv: Desc;
  riscvLayer: Desc;
  sbom: Desc;
}

let changed: Changed;

async function buildChanged(): Promise<Changed> {
  await mkdir(path.join(work.dir, 'b'));
  const layout = await copyFixture('multi-platform', path.join(work.dir, 'b'));
  const mp = expected['multi-platform']!;
  const manifests = mp['manifests'] as Record<string, { image: string; config: string }>;
  const oldIndex = await readJson<{ manifests: Desc[] }>(layout, mp['index'] as string);

  const amd = await readJson<{ config: Desc; layers: Desc[] }>(layout, manifests['linux/amd64']!.image);
  const cfg = await readJson<{ config: { Env?: string[]; Labels?: Record<string, string>; Entrypoint?: string[] } }>(layout, manifests['linux/amd64']!.config);
  cfg.config.Env = [...(cfg.config.Env ?? []), 'FOO=bar'];
  cfg.config.Labels = { ...(cfg.config.Labels ?? {}), 'org.example.release': '2' };
  cfg.config.Entrypoint = ['/bin/sh', '-c'];
  const newCfg = await storeJson(layout, cfg, OCI_CONFIG);
  const amd64 = await storeJson(layout, { ...amd, config: newCfg }, OCI_MANIFEST);

  const riscvLayer = await storeBlob(layout, Buffer.alloc(5000, 7), 'application/vnd.oci.image.layer.v1.tar');
  const riscvCfg = await storeJson(layout, { architecture: 'riscv64', os: 'linux', rootfs: { type: 'layers', diff_ids: [riscvLayer.digest] } }, OCI_CONFIG);
  const riscv = await storeJson(layout, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: riscvCfg, layers: [riscvLayer] }, OCI_MANIFEST);

  const children = oldIndex.manifests
    .filter((c) => c.digest !== manifests['linux/s390x']!.image)
    .map((c) => (c.digest === manifests['linux/amd64']!.image ? { ...amd64, platform: c['platform'] } : c));
  children.push({ ...riscv, platform: { architecture: 'riscv64', os: 'linux' } });
  const index = await storeJson(layout, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children }, OCI_INDEX);
  await editIndex(layout, (i) => {
    i.manifests = i.manifests.map((m) => (m.annotations?.['org.opencontainers.image.ref.name'] === '10' ? tagged(index, '10') : m));
    i.manifests.push(tagged(index, 'latest'));
  });
  const sbom = await addArtifact(layout, { artifactType: 'application/spdx+json', subject: amd64, layers: [{ bytes: '{"spdxVersion":"SPDX-2.3"}', mediaType: 'application/spdx+json' }] });
  return { layout, index, amd64, riscv, riscvLayer, sbom };
}

beforeAll(async () => {
  expected = await expectedDigests();
  work = await tempDir('ocikit-diff-');
  changed = await buildChanged();
});
afterAll(async () => work.cleanup());

describe('diff', () => {
  it('a layout against itself: identical', async () => {
    const d = await diffJson(path.join(FIXTURES, 'multi-platform'), path.join(FIXTURES, 'multi-platform'));
    expect(d.identical).toBe(true);
    const text = await ocikit(['diff', path.join(FIXTURES, 'with-referrers'), path.join(FIXTURES, 'with-referrers')]);
    expect(text.code).toBe(0);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('no differences');
  });

  it('tags moved and added, platforms added, removed and changed, layers, referrers and config changes', async () => {
    const mp = expected['multi-platform']!;
    const manifests = mp['manifests'] as Record<string, { image: string }>;
    const d = await diffJson(path.join(FIXTURES, 'multi-platform'), changed.layout);
    expect(d.identical).toBe(false);
    expect(d.tags).toEqual({ added: [{ tag: 'latest', digest: changed.index.digest }], removed: [], moved: [{ tag: '10', from: mp['index'], to: changed.index.digest }] });
    expect(d.platforms).toEqual([
      { tag: '10', added: ['linux/riscv64'], removed: ['linux/s390x'], changed: [{ platform: 'linux/amd64', from: manifests['linux/amd64']!.image, to: changed.amd64.digest }] },
    ]);
    // buster still reaches the old index, so nothing is removed.
    expect(d.manifests.removed).toEqual([]);
    expect(d.manifests.added.map((m) => [m.digest, m.kind, m.platform ?? null]).sort()).toEqual(
      [
        [changed.index.digest, 'index', null],
        [changed.amd64.digest, 'image', 'linux/amd64'],
        [changed.riscv.digest, 'image', 'linux/riscv64'],
        [changed.sbom.digest, 'artifact', null],
      ].sort(),
    );
    expect(d.layers).toMatchObject({ added: [{ digest: changed.riscvLayer.digest, size: 5000 }], removed: [], addedSize: 5000, removedSize: 0 });
    expect(d.referrers).toEqual([{ subject: changed.amd64.digest, added: [expect.objectContaining({ digest: changed.sbom.digest, artifactType: 'application/spdx+json' })], removed: [] }]);
    expect(d.configs).toHaveLength(1);
    expect(d.configs[0]).toMatchObject({
      tag: '10',
      platform: 'linux/amd64',
      env: { added: { FOO: 'bar' }, removed: {}, changed: {} },
      labels: { added: { 'org.example.release': '2' } },
      entrypoint: { to: ['/bin/sh', '-c'] },
    });
  });

  it('the other way round: tags and manifests removed, platforms reversed', async () => {
    const mp = expected['multi-platform']!;
    const d = await diffJson(changed.layout, path.join(FIXTURES, 'multi-platform'));
    expect(d.tags.removed).toEqual([{ tag: 'latest', digest: changed.index.digest }]);
    expect(d.tags.moved).toEqual([{ tag: '10', from: changed.index.digest, to: mp['index'] }]);
    expect(d.platforms[0]).toMatchObject({ added: ['linux/s390x'], removed: ['linux/riscv64'] });
    expect(d.manifests.removed.map((m) => m.digest).sort()).toEqual([changed.index.digest, changed.amd64.digest, changed.riscv.digest, changed.sbom.digest].sort());
    expect(d.layers).toMatchObject({ removed: [{ digest: changed.riscvLayer.digest, size: 5000 }], removedSize: 5000 });
    expect(d.referrers).toEqual([{ subject: changed.amd64.digest, added: [], removed: [expect.objectContaining({ digest: changed.sbom.digest })] }]);
  });

  it('text names every change', async () => {
    const r = await ocikit(['diff', path.join(FIXTURES, 'multi-platform'), changed.layout]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`  ~ 10  ${expected['multi-platform']!['index']} -> ${changed.index.digest}`);
    expect(r.stdout).toContain('  + latest');
    expect(r.stdout).toContain('  + linux/riscv64');
    expect(r.stdout).toContain('  - linux/s390x');
    expect(r.stdout).toContain(`  + ${changed.riscvLayer.digest}  4.9 KiB`);
    expect(r.stdout).toContain('  + env FOO=bar');
    expect(r.stdout).toContain('  + label org.example.release=2');
    expect(r.stdout).toMatch(/entrypoint: .* -> \["\/bin\/sh","-c"\]/);
    expect(r.stdout).toContain(`  of ${changed.amd64.digest}:`);
  });

  it('works across forms: a layout against a plain tar of itself is identical, and against another fixture is not', async () => {
    const archive = path.join(work.dir, 'with-referrers.tar');
    const tar = await run('tar', ['-cf', archive, '-C', path.join(FIXTURES, 'with-referrers'), '.']);
    expect(tar.code).toBe(0);
    expect((await diffJson(path.join(FIXTURES, 'with-referrers'), archive)).identical).toBe(true);
    const d = await diffJson(archive, path.join(FIXTURES, 'single-image'));
    expect(d.manifests.removed.map((m) => m.digest).sort()).toEqual(
      [expected['with-referrers']!['sbom'], expected['with-referrers']!['signature'], expected['with-referrers']!['sbomSignature']].sort(),
    );
    expect(d.referrers.map((r) => r.subject).sort()).toEqual([expected['with-referrers']!['image'], expected['with-referrers']!['sbom']].sort());
  });

  it('works across forms: a layout against a registry repository holding a copy of it (referrers and all) is identical', async () => {
    const registry = await startRegistry();
    try {
      const repo = `${registry.host}/audit/with-referrers`;
      const copied = await ocikit(['copy', '-r', `${path.join(FIXTURES, 'with-referrers')}:v1`, `${repo}:v1`]);
      expect(copied.code, copied.stderr).toBe(0);
      const d = await diffJson(path.join(FIXTURES, 'with-referrers'), repo);
      expect(d.identical).toBe(true);
      const other = await diffJson(repo, path.join(FIXTURES, 'single-image'));
      expect(other.referrers.map((r) => r.subject).sort()).toEqual([expected['with-referrers']!['image'], expected['with-referrers']!['sbom']].sort());
    } finally {
      await registry.stop();
    }
  });
});
