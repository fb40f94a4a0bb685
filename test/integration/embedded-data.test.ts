/**
 * Content that exists only as a descriptor's `data` field. The image-spec
 * makes `data` an exact copy of the content and lets a layout lack a blob, so
 * ocikit treats valid embedded data as content it has: verify accepts it
 * (note EMBEDDED_ONLY) and every copy (copy, pack, unpack) writes the blob
 * out from it, verified, so the result is complete for tools that never read
 * `data` (skopeo). Where verify finds a problem (data that does not match,
 * an embedded manifest whose own layer is missing), the copies fail too:
 * verify and the copies agree on every case here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ocikit, run, tempDir } from '../helpers/cli.js';
import { blobFile, codes, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256, storeBlob, verifyJson, type Desc } from '../helpers/audit-layouts.js';
import { requireTool } from '../helpers/peers.js';
import { expectFailure, expectJson, expectSuccess } from './_support.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar';

let work: { dir: string; cleanup: () => Promise<void> };
let n = 0;

beforeAll(async () => {
  work = await tempDir('ocikit-embedded-');
});

afterAll(async () => {
  await work?.cleanup();
});

/** A descriptor for `bytes` that embeds them, without storing a blob. */
function embedded(bytes: Buffer, mediaType: string): Desc {
  return { mediaType, digest: sha256(bytes), size: bytes.length, data: bytes.toString('base64') };
}

/** One empty-tar layer; its config says so. */
const LAYER_BYTES = Buffer.alloc(1024);
const CONFIG_BYTES = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(LAYER_BYTES)] } }));

async function newLayout(): Promise<string> {
  const dir = path.join(work.dir, `layout-${++n}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return dir;
}

async function tagRoot(dir: string, root: Desc): Promise<void> {
  const { data: _data, ...plain } = root;
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...plain, annotations: { 'org.opencontainers.image.ref.name': 'app' } }] }));
}

/** An image whose layer is stored only as `data` in the manifest. */
async function layerOnlyEmbedded(): Promise<string> {
  const dir = await newLayout();
  const config = await storeBlob(dir, CONFIG_BYTES, OCI_CONFIG);
  const manifest = await storeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [embedded(LAYER_BYTES, LAYER)] }), OCI_MANIFEST);
  await tagRoot(dir, manifest);
  return dir;
}

/** An index whose only child manifest is stored only as `data`; its config and layer are stored, or the layer is missing. */
async function manifestOnlyEmbedded(opts: { layerStored: boolean }): Promise<string> {
  const dir = await newLayout();
  const config = await storeBlob(dir, CONFIG_BYTES, OCI_CONFIG);
  const layer = opts.layerStored ? await storeBlob(dir, LAYER_BYTES, LAYER) : { mediaType: LAYER, digest: sha256(LAYER_BYTES), size: LAYER_BYTES.length };
  const child = embedded(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] })), OCI_MANIFEST);
  const index = await storeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...child, platform: { architecture: 'amd64', os: 'linux' } }] }), OCI_INDEX);
  await tagRoot(dir, index);
  return dir;
}

/** An image whose config is stored only as `data` in the manifest. */
async function configOnlyEmbedded(): Promise<string> {
  const dir = await newLayout();
  const layer = await storeBlob(dir, LAYER_BYTES, LAYER);
  const manifest = await storeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: embedded(CONFIG_BYTES, OCI_CONFIG), layers: [layer] }), OCI_MANIFEST);
  await tagRoot(dir, manifest);
  return dir;
}

/** An image whose layer is missing and whose embedded data does not match the descriptor. */
async function badEmbeddedData(): Promise<string> {
  const dir = await newLayout();
  const config = await storeBlob(dir, CONFIG_BYTES, OCI_CONFIG);
  const layer = { ...embedded(LAYER_BYTES, LAYER), data: Buffer.alloc(1024, 1).toString('base64') };
  const manifest = await storeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }), OCI_MANIFEST);
  await tagRoot(dir, manifest);
  return dir;
}

/** The layout packed by tar, not by ocikit (an archive somebody else made). */
async function tarOf(dir: string): Promise<string> {
  const archive = `${dir}.tar`;
  const r = await run('tar', ['-cf', archive, '-C', dir, '.']);
  expect(r.code, r.stderr).toBe(0);
  return archive;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

describe('a layer stored only as data', () => {
  it('verify accepts it with an EMBEDDED_ONLY note, in a layout and in an archive', async () => {
    const dir = await layerOnlyEmbedded();
    for (const target of [dir, await tarOf(dir)]) {
      const { code, report } = await verifyJson([target]);
      expect(code).toBe(0);
      expect(codes(report, 'note')).toEqual(['EMBEDDED_ONLY']);
      expect(codes(report, 'error')).toEqual([]);
    }
  });

  it('unpack of the archive, copy and pack write the blob out: each result verifies with no note', async () => {
    const dir = await layerOnlyEmbedded();
    const layerFile = (layout: string) => blobFile(layout, sha256(LAYER_BYTES));
    expect(await exists(layerFile(dir))).toBe(false);

    const unpacked = path.join(work.dir, `unpacked-${n}`);
    await expectSuccess(['unpack', await tarOf(dir), unpacked]);
    const copied = path.join(work.dir, `copied-${n}`);
    await expectSuccess(['copy', `${dir}:app`, `oci:${copied}:app`]);
    const packed = path.join(work.dir, `packed-${n}.tar`);
    await expectSuccess(['pack', dir, packed]);

    expect(await exists(layerFile(unpacked))).toBe(true);
    expect(await exists(layerFile(copied))).toBe(true);
    for (const target of [unpacked, copied, packed]) {
      const { code, report } = await verifyJson([target]);
      expect(code, target).toBe(0);
      expect(report.findings, target).toEqual([]);
    }
  });

  // skopeo reads no `data` (it fails on the source layout with "no such file"): the unpacked layout must hold the blob.
  it('skopeo copies the unpacked layout', async () => {
    const skopeo = requireTool('skopeo');
    const dir = await layerOnlyEmbedded();
    const unpacked = path.join(work.dir, `unpacked-skopeo-${n}`);
    await expectSuccess(['unpack', await tarOf(dir), unpacked]);
    const out = path.join(work.dir, `skopeo-${n}`);
    const r = await run(skopeo, ['copy', '--quiet', `oci:${unpacked}:app`, `oci:${out}:app`]);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('a child manifest stored only as data', () => {
  it('with its layer stored: verify accepts it and unpack writes it out', async () => {
    const dir = await manifestOnlyEmbedded({ layerStored: true });
    const { code, report } = await verifyJson([dir]);
    expect(code).toBe(0);
    expect(codes(report, 'note')).toEqual(['EMBEDDED_ONLY']);
    const unpacked = path.join(work.dir, `unpacked-${n}`);
    await expectSuccess(['unpack', await tarOf(dir), unpacked]);
    const after = await verifyJson([unpacked]);
    expect(after.code).toBe(0);
    expect(after.report.summary.manifests).toBe(2);
    expect(after.report.findings).toEqual([]);
  });

  it('with its layer missing: verify looks inside it and reports the layer, and unpack fails too', async () => {
    const dir = await manifestOnlyEmbedded({ layerStored: false });
    const { code, report } = await verifyJson([dir]);
    expect(code).toBe(1);
    expect(codes(report, 'error')).toEqual(['MISSING_BLOB']);
    const archive = await tarOf(dir);
    await expectFailure(['unpack', archive, path.join(work.dir, `unpacked-${n}`)], { exit: 1, code: 'NOT_FOUND' });
  });
});

interface InspectNode {
  kind: string;
  platform?: string;
  problem?: string;
  config?: { problem?: string };
  children?: InspectNode[];
}

describe('inspect reads what verify and the copies read', () => {
  it('a child manifest stored only as data is shown as the image it is', async () => {
    const dir = await manifestOnlyEmbedded({ layerStored: true });
    const report = await expectJson<{ roots: Array<{ node: InspectNode }> }>(['inspect', dir]);
    const child = report.roots[0]!.node.children![0]!;
    expect(child.kind).toBe('image');
    expect(child.problem).toBeUndefined();
  });

  it('a config stored only as data is read: platform shown, no problem; verify and unpack agree', async () => {
    const dir = await configOnlyEmbedded();
    const report = await expectJson<{ roots: Array<{ node: InspectNode }> }>(['inspect', dir]);
    const image = report.roots[0]!.node;
    expect(image.platform).toBe('linux/amd64');
    expect(image.config?.problem).toBeUndefined();
    const { code, report: verified } = await verifyJson([dir]);
    expect(code).toBe(0);
    expect(codes(verified, 'note')).toEqual(['EMBEDDED_ONLY']);
    await expectSuccess(['unpack', await tarOf(dir), path.join(work.dir, `unpacked-${n}`)]);
  });
});

describe('manifest fetch reads what verify reads', () => {
  it('--platform reaches a child stored only as data, and fetch-config a config stored only as data', async () => {
    const index = await manifestOnlyEmbedded({ layerStored: true });
    const child = await ocikit(['manifest', 'fetch', `${index}:app`, '--platform', 'linux/amd64']);
    expect(child.code, child.stderr).toBe(0);
    expect((JSON.parse(child.stdout) as { mediaType: string }).mediaType).toBe(OCI_MANIFEST);
    const image = await configOnlyEmbedded();
    const config = await ocikit(['manifest', 'fetch-config', `${image}:app`]);
    expect(config.code, config.stderr).toBe(0);
    expect(config.stdoutBytes.equals(CONFIG_BYTES)).toBe(true);
  });
});

describe('a missing layer whose data does not match', () => {
  it('verify reports an error and unpack, copy and pack fail with INVALID_MANIFEST (the manifest holding bad data is invalid)', async () => {
    const dir = await badEmbeddedData();
    const { code, report } = await verifyJson([dir]);
    expect(code).toBe(1);
    expect(codes(report, 'error').length).toBeGreaterThan(0);
    await expectFailure(['unpack', await tarOf(dir), path.join(work.dir, `unpacked-${n}`)], { exit: 1, code: 'INVALID_MANIFEST' });
    await expectFailure(['copy', `${dir}:app`, `oci:${path.join(work.dir, `copied-${n}`)}:app`], { exit: 1, code: 'INVALID_MANIFEST' });
    await expectFailure(['pack', dir, path.join(work.dir, `packed-${n}.tar`)], { exit: 1, code: 'INVALID_MANIFEST' });
  });
});

describe('diff of images stored only as data', () => {
  /** Tag `app`: an index whose one child manifest is only embedded; its config sets ENV N=`n`. */
  async function embeddedChildWithEnv(env: string): Promise<string> {
    const dir = await newLayout();
    const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [`N=${env}`] }, rootfs: { type: 'layers', diff_ids: [sha256(LAYER_BYTES)] } }));
    const config = await storeBlob(dir, configBytes, OCI_CONFIG);
    const layer = await storeBlob(dir, LAYER_BYTES, LAYER);
    const child = embedded(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] })), OCI_MANIFEST);
    const index = await storeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...child, platform: { architecture: 'amd64', os: 'linux' } }] }), OCI_INDEX);
    await tagRoot(dir, index);
    return dir;
  }

  // diff keeps a platform per image and reads the configs of the images whose tag moved again
  // afterwards: an image that exists only as its index's `data` must be read from there again.
  it('compares their configs', async () => {
    const r = await expectJson<{ configs: Array<{ tag: string; env?: { changed: Record<string, { from: string; to: string }> } }> }>(
      ['diff', await embeddedChildWithEnv('1'), await embeddedChildWithEnv('2')],
    );
    expect(r.configs).toHaveLength(1);
    expect(r.configs[0]!.env?.changed).toEqual({ N: { from: '1', to: '2' } });
  });
});
