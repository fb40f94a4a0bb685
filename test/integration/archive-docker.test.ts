/**
 * `docker save` archives as sources, in both formats, built with GNU tar
 * from directories laid out the way Docker writes them (Docker itself is not
 * available here; skopeo-written ones are in test/interop):
 * - old: manifest.json, repositories, <config>.json, <id>/layer.tar symlinked
 *   to ../<diffid>.tar, uncompressed layers;
 * - Docker 25+: an OCI layout plus manifest.json, index.json entries carrying
 *   io.containerd.image.name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tempDir } from '../helpers/cli.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const NAME = 'io.containerd.image.name';

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-docker-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The single-image fixture as an old-format docker save directory; `tweak` may break it. */
async function oldFormatDir(tweak?: { layerLink?: string; corruptLayer?: boolean }): Promise<string> {
  const dir = path.join(tmp.dir, `old-${++n}`);
  await mkdir(dir);
  const src = fixture('single-image');
  const configBytes = await readFile(blobFile(src, E.single.config));
  await writeFile(path.join(dir, `${E.single.config.slice(7)}.json`), configBytes);
  const layers: string[] = [];
  for (const [i, gz] of E.single.layers.entries()) {
    let tarBytes = gunzipSync(await readFile(blobFile(src, gz)));
    if (tweak?.corruptLayer && i === 0) tarBytes = Buffer.concat([tarBytes, Buffer.alloc(512)]);
    const diff = hex(tarBytes);
    await writeFile(path.join(dir, `${diff}.tar`), tarBytes);
    const id = hex(Buffer.from(`layer-id-${i}`));
    await mkdir(path.join(dir, id));
    await symlink(i === 0 && tweak?.layerLink ? tweak.layerLink : `../${diff}.tar`, path.join(dir, id, 'layer.tar'));
    await writeFile(path.join(dir, id, 'VERSION'), '1.0');
    layers.push(`${id}/layer.tar`);
  }
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: `${E.single.config.slice(7)}.json`, RepoTags: ['example/hello:v1'], Layers: layers }]));
  await writeFile(path.join(dir, 'repositories'), JSON.stringify({ 'example/hello': { v1: 'x' } }));
  return dir;
}

/** The single-image fixture as a Docker 25+ save directory. */
async function docker25Dir(): Promise<string> {
  const dir = path.join(tmp.dir, `d25-${++n}`);
  await cp(fixture('single-image'), dir, { recursive: true });
  const index = await readIndexJson(dir);
  index.manifests[0]!.annotations = { [NAME]: 'docker.io/example/hello:v1', [REF_NAME]: 'v1' };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify([{ Config: `blobs/sha256/${E.single.config.slice(7)}`, RepoTags: ['example/hello:v1'], Layers: E.single.layers.map((l) => `blobs/sha256/${l.slice(7)}`) }]),
  );
  await writeFile(path.join(dir, 'repositories'), '{}');
  return dir;
}

function tarOf(dir: string): string {
  const out = `${dir}.tar`;
  execFileSync('tar', ['-cf', out, '-C', dir, '.'], { stdio: 'pipe' });
  return out;
}

describe('old docker save format', () => {
  it('is converted on the fly: ls, tags, resolve by name, manifest fetch-config', async () => {
    const archive = tarOf(await oldFormatDir());
    const ref = `docker-archive:${archive}`;
    expect((await expectSuccess(['tags', ref])).stdout.trim()).toBe('v1');
    const rows = await expectJson<Array<{ tag: string; digest: string; platforms: string[]; annotations?: Record<string, string> }>>(['ls', ref]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tag: 'v1', platforms: ['linux/amd64'], annotations: { [NAME]: 'example/hello:v1' } });
    const digest = (await expectSuccess(['resolve', `${ref}:example/hello:v1`])).stdout.trim();
    expect(digest).toBe(rows[0]!.digest);
    expect((await expectSuccess(['resolve', `${ref}:docker.io/example/hello:v1`])).stdout.trim()).toBe(digest);
    // The config is the same bytes as the fixture's, so the same digest; layers are the uncompressed tars.
    const manifest = JSON.parse((await expectSuccess(['manifest', 'fetch', `${ref}:example/hello:v1`])).stdout);
    expect(manifest.config).toMatchObject({ digest: E.single.config, mediaType: 'application/vnd.oci.image.config.v1+json' });
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar']);
    const config = JSON.parse(await readFile(blobFile(fixture('single-image'), E.single.config), 'utf8'));
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(config.rootfs.diff_ids);
  });

  it('copies into a layout and packs into an archive that reads back the same', async () => {
    const archive = tarOf(await oldFormatDir());
    const dir = path.join(tmp.dir, `copied-${++n}`);
    await expectSuccess(['copy', `docker-archive:${archive}:example/hello:v1`, `oci:${dir}`]);
    const index = await readIndexJson(dir);
    expect(index.manifests[0]!.annotations).toEqual({ [NAME]: 'example/hello:v1', [REF_NAME]: 'v1' });
    const packed = path.join(tmp.dir, `packed-${++n}.tar`);
    await expectSuccess(['pack', `docker-archive:${archive}`, packed]);
    expect(await expectJson(['ls', packed])).toEqual(await expectJson(['ls', dir]));
  });

  it('a layer link pointing outside the archive is UNSAFE_ARCHIVE_ENTRY', async () => {
    const archive = tarOf(await oldFormatDir({ layerLink: '../../../etc/passwd' }));
    await expectFailure(['ls', `docker-archive:${archive}`], { exit: 1, code: 'UNSAFE_ARCHIVE_ENTRY' });
  });

  it('a layer that does not match its diff_id is DIGEST_MISMATCH', async () => {
    const archive = tarOf(await oldFormatDir({ corruptLayer: true }));
    await expectFailure(['resolve', `docker-archive:${archive}:example/hello:v1`], { exit: 1, code: 'DIGEST_MISMATCH' });
  });
});

describe('Docker 25+ format', () => {
  it('is read as the OCI layout it holds, names kept', async () => {
    const archive = tarOf(await docker25Dir());
    const ref = `docker-archive:${archive}`;
    expect((await expectSuccess(['resolve', `${ref}:example/hello:v1`])).stdout.trim()).toBe(E.single.image);
    const dir = path.join(tmp.dir, `copied25-${++n}`);
    await expectSuccess(['copy', `${ref}:example/hello:v1`, `oci:${dir}`]);
    const index = await readIndexJson(dir);
    expect(index.manifests).toEqual([expect.objectContaining({ digest: E.single.image, annotations: { [NAME]: 'docker.io/example/hello:v1', [REF_NAME]: 'v1' } })]);
    await expectFailure(['resolve', `${ref}:example/other:v1`], { exit: 1, code: 'NOT_FOUND' });
  });
});
