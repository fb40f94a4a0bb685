/**
 * A `docker save` of several images, named the way `ls` and the hints print
 * them: `docker-archive:FILE:TAG` selects the image with that tag (the hint
 * for an archive of several images lists tags, and following it used to fail
 * with "needs a tag (NAME:TAG)"), `docker-archive:FILE:NAME:TAG` the image of
 * that full name, and a tag several images share is AMBIGUOUS (exit 1). The
 * archive is built here in the old format (manifest.json, <hex>.json
 * configs, <hex>.tar layers), as archive-docker.test.ts does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess, readIndexJson, REF_NAME } from './_support.js';

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  tmp = await tempDir('ocikit-docker-names-');
});
afterAll(async () => {
  await tmp.cleanup();
});

/** An old-format docker save holding one small image per entry of `images` (its RepoTags). */
async function dockerSave(images: string[][]): Promise<string> {
  const dir = path.join(tmp.dir, `save-${++n}`);
  await mkdir(dir);
  const items = [];
  for (const [i, repoTags] of images.entries()) {
    const content = path.join(tmp.dir, `content-${n}-${i}`);
    await mkdir(content);
    await writeFile(path.join(content, 'hello.txt'), `image ${i} of save ${n}\n`);
    const layer = execFileSync('tar', ['-cf', '-', '--mtime=@0', '--owner=0', '--group=0', '-C', content, '.']);
    const diff = hex(layer);
    await writeFile(path.join(dir, `${diff}.tar`), layer);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] } }));
    await writeFile(path.join(dir, `${hex(config)}.json`), config);
    items.push({ Config: `${hex(config)}.json`, RepoTags: repoTags, Layers: [`${diff}.tar`] });
  }
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(items));
  const out = `${dir}.tar`;
  execFileSync('tar', ['-cf', out, '-C', dir, '.'], { stdio: 'pipe' });
  return out;
}

const resolve = async (ref: string) => (await expectSuccess(['resolve', ref])).stdout.trim();

describe('docker-archive references to one of several images', () => {
  it('a bare tag that one image has selects it, as NAME:TAG does; the hint of the unnamed archive lists such tags', async () => {
    const archive = await dockerSave([['example/a:1', 'example/a:v1'], ['example/b:2']]);
    const ref = `docker-archive:${archive}`;
    const a = await resolve(`${ref}:example/a:v1`);
    const b = await resolve(`${ref}:example/b:2`);
    expect(a).not.toBe(b);
    expect(await resolve(`${ref}:v1`)).toBe(a);
    expect(await resolve(`${ref}:1`)).toBe(a);
    expect(await resolve(`${ref}:2`)).toBe(b);
    // Without a selector: several images, so a usage error whose hint lists what selects each; following it works.
    const { hint } = await expectFailure(['resolve', ref], { exit: 2, code: 'USAGE' });
    const listed = /IMAGE one of (.*)$/.exec(String(hint))![1]!.split(', ');
    expect(listed.sort()).toEqual(['1', '2', 'v1']);
    for (const suffix of listed) expect(await resolve(`${ref}:${suffix}`)).toBe(suffix === '2' ? b : a);
    // A tag no image has is NOT_FOUND; a name without a tag that is no tag either is still a usage error.
    await expectFailure(['resolve', `${ref}:v9`], { exit: 1, code: 'NOT_FOUND' });
    await expectFailure(['resolve', `${ref}:example/a`], { exit: 2, code: 'USAGE' });
  });

  it('a bare tag that several images share is AMBIGUOUS (exit 1); the hints give their full names, which select each', async () => {
    const archive = await dockerSave([['example/a:1'], ['example/b:1', 'example/b:2']]);
    const ref = `docker-archive:${archive}`;
    await expectFailure(['resolve', `${ref}:1`], { exit: 1, code: 'AMBIGUOUS' });
    const a = await resolve(`${ref}:example/a:1`);
    const b = await resolve(`${ref}:example/b:1`);
    expect(a).not.toBe(b);
    const { hint } = await expectFailure(['resolve', ref], { exit: 2, code: 'USAGE' });
    const listed = /IMAGE one of (.*)$/.exec(String(hint))![1]!.split(', ');
    expect(listed.sort()).toEqual(['2', 'example/a:1', 'example/b:1']);
    for (const suffix of listed) expect(await resolve(`${ref}:${suffix}`)).toBe(suffix === 'example/a:1' ? a : b);
  });

  it('copy by bare tag names the copy with that tag', async () => {
    const archive = await dockerSave([['example/a:1', 'example/a:v1'], ['example/b:2']]);
    const dest = path.join(tmp.dir, `copy-${++n}`);
    await expectSuccess(['copy', `docker-archive:${archive}:2`, `oci:${dest}`]);
    const index = await readIndexJson(dest);
    expect(index.manifests.map((m) => m.annotations?.[REF_NAME])).toEqual(['2']);
    expect(index.manifests[0]!.digest).toBe(await resolve(`docker-archive:${archive}:example/b:2`));
  });

  it('copy --all-tags keeps every image of the save, each under all of its tags', async () => {
    const archive = await dockerSave([['example/a:1', 'example/a:v1'], ['example/b:2'], ['example/c:3', 'example/c:latest']]);
    const src = `docker-archive:${archive}`;
    const dest = path.join(tmp.dir, `all-${++n}`);
    await expectSuccess(['copy', '--all-tags', src, `oci:${dest}`]);
    const rows = await expectJson<Array<{ tag?: string; digest: string }>>(['ls', `oci:${dest}`]);
    const byTag = Object.fromEntries(rows.map((r) => [r.tag, r.digest]));
    for (const name of ['example/a:1', 'example/a:v1', 'example/b:2', 'example/c:3', 'example/c:latest']) {
      expect(byTag[name.split(':')[1]!], name).toBe(await resolve(`${src}:${name}`));
    }
    expect(new Set(rows.map((r) => r.digest)).size).toBe(3);
  });

  it('copy --all-tags over images that share a tag keeps both, each in its own repository (a tag is unique per repository, not per layout)', async () => {
    const archive = await dockerSave([['example/a:1'], ['example/b:1', 'example/b:2']]);
    const src = `docker-archive:${archive}`;
    const dest = path.join(tmp.dir, `shared-${++n}`);
    await expectSuccess(['copy', '--all-tags', src, `oci:${dest}`]);
    const rows = await expectJson<Array<{ repository?: string; tag?: string; digest: string }>>(['ls', `oci:${dest}`]);
    const byName = Object.fromEntries(rows.map((r) => [`${r.repository}:${r.tag}`, r.digest]));
    for (const name of ['example/a:1', 'example/b:1', 'example/b:2']) expect(byName[name], name).toBe(await resolve(`${src}:${name}`));
    expect(byName['example/a:1']).not.toBe(byName['example/b:1']);
    // The bare tag is now ambiguous in the destination; the full name selects.
    await expectFailure(['resolve', `oci:${dest}:1`], { exit: 1, code: 'AMBIGUOUS' });
    expect((await expectSuccess(['resolve', `oci:${dest}:example/a:1`])).stdout.trim()).toBe(byName['example/a:1']);
  });
});
