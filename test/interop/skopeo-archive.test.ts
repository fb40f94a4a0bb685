/**
 * Archives across tools: skopeo reads what `ocikit pack` writes
 * (`oci-archive:FILE:TAG`), and ocikit reads what skopeo writes with
 * `oci-archive:` and `docker-archive:`, and what plain `tar -cf` makes of a
 * umoci layout (`./` prefixes). Digests must agree on both sides.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { expectedDigests, FIXTURES, tempDir } from '../helpers/cli.js';
import { indexTags, ocikitOk, peer, requireTool } from '../helpers/peers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  tmp = await tempDir('ocikit-skopeo-archive-');
});
afterAll(async () => tmp?.cleanup());

const skopeo = (args: string[]) => peer(requireTool('skopeo'), ['--insecure-policy', ...args]);
const umoci = (args: string[]) => peer(requireTool('umoci'), args);
const fixture = (name: string) => path.join(FIXTURES, name);
const out = (name: string) => path.join(tmp.dir, `${++n}-${name}`);

async function single(): Promise<{ image: string; config: string; layers: string[] }> {
  return (await expectedDigests())['single-image'] as unknown as { image: string; config: string; layers: string[] };
}

describe('skopeo reads ocikit archives', () => {
  it('skopeo copy oci-archive:PACKED:TAG oci:DIR:TAG keeps every digest', async () => {
    const E = await single();
    const archive = out('packed.tar');
    await ocikitOk(['pack', fixture('single-image'), archive]);
    const dir = out('from-skopeo');
    await skopeo(['copy', `oci-archive:${archive}:v1`, `oci:${dir}:v1`]);
    expect(indexTags(dir).get('v1')).toBe(E.image);
    const inspected = JSON.parse((await skopeo(['inspect', `oci-archive:${archive}:v1`])).stdout) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(E.image);
    expect(inspected.Layers).toEqual(E.layers);
  });

  it('and ocikit copy SRC oci-archive:FILE:TAG too', async () => {
    const E = await single();
    const archive = out('copied.tar');
    await ocikitOk(['copy', `${fixture('single-image')}:v1`, `oci-archive:${archive}:stable`]);
    const dir = out('from-skopeo-2');
    await skopeo(['copy', `oci-archive:${archive}:stable`, `oci:${dir}:stable`]);
    expect(indexTags(dir).get('stable')).toBe(E.image);
  });
});

describe('ocikit reads archives others write', () => {
  it('skopeo oci-archive: (index.json and oci-layout last)', async () => {
    const E = await single();
    const archive = out('skopeo-oci.tar');
    await skopeo(['copy', `oci:${fixture('single-image')}:v1`, `oci-archive:${archive}:v1`]);
    expect((await ocikitOk(['resolve', `${archive}:v1`])).stdout.trim()).toBe(E.image);
    const config = await ocikitOk(['manifest', 'fetch-config', `oci-archive:${archive}:v1`]);
    expect(config.stdoutBytes.equals(await readFile(path.join(fixture('single-image'), 'blobs', 'sha256', E.config.slice(7))))).toBe(true);
    const dir = out('unpacked');
    await ocikitOk(['unpack', archive, dir]);
    expect(indexTags(dir).get('v1')).toBe(E.image);
  });

  it('skopeo docker-archive: (old format, layers linked by symlinks)', async () => {
    const E = await single();
    const archive = out('skopeo-docker.tar');
    await skopeo(['copy', `oci:${fixture('single-image')}:v1`, `docker-archive:${archive}:example/hello:v1`]);
    const ref = `docker-archive:${archive}:example/hello:v1`;
    const manifest = JSON.parse((await ocikitOk(['manifest', 'fetch', ref])).stdout) as { config: { digest: string }; layers: Array<{ digest: string }> };
    expect(manifest.config.digest).toBe(E.config);
    const config = JSON.parse(await readFile(path.join(fixture('single-image'), 'blobs', 'sha256', E.config.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    expect(manifest.layers.map((l) => l.digest)).toEqual(config.rootfs.diff_ids);
    // The converted image is a valid OCI image to skopeo as well.
    const dir = out('from-docker');
    await ocikitOk(['copy', ref, `oci:${dir}:v1`]);
    await skopeo(['inspect', `oci:${dir}:v1`]);
  });

  it('tar -cf of a umoci layout (./ prefixes, directory entries)', async () => {
    const layout = out('umoci');
    await umoci(['init', '--layout', layout]);
    await umoci(['new', '--image', `${layout}:fresh`]);
    const archive = `${layout}.tar`;
    execFileSync('tar', ['-cf', archive, '-C', layout, '.'], { stdio: 'pipe' });
    const digest = indexTags(layout).get('fresh');
    expect((await ocikitOk(['resolve', `${archive}:fresh`])).stdout.trim()).toBe(digest);
    expect((await ocikitOk(['tags', archive])).stdout.trim()).toBe('fresh');
  });
});
