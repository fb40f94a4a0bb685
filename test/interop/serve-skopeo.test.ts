/**
 * skopeo as an independent registry client of `ocikit serve`: it inspects
 * and copies images out of a served layout directory and a served layout
 * archive (plain and gzip-compressed), and pushes images into
 * `serve --writable`, after which ocikit reads them from the layout on disk.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedDigests, FIXTURES, tempDir } from '../helpers/cli.js';
import { copyLayout, indexTags, ocikitOk, once, peer, readBlob, requireTool } from '../helpers/peers.js';
import { startServe, stopAllServers, type ServeProcess } from '../integration/serve-helpers.js';

interface SkopeoInspect {
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
  RepoTags: string[];
}

// Looked up in every test so that a missing skopeo fails each test with the install hint.
const skopeo = (args: string[]) => peer(requireTool('skopeo'), ['--insecure-policy', ...args]);
const inspect = async (ref: string): Promise<SkopeoInspect> => JSON.parse((await skopeo(['inspect', '--tls-verify=false', ref])).stdout) as SkopeoInspect;
const resolve = async (ref: string): Promise<string> => (await ocikitOk(['resolve', ref])).stdout.trim();

interface State {
  dir: string;
  cleanup: () => Promise<void>;
  layout: ServeProcess;
  multi: ServeProcess;
  archive: ServeProcess;
  gzipped: ServeProcess;
  writable: ServeProcess;
  writableDir: string;
}

const state = once(async (): Promise<State> => {
  requireTool('skopeo');
  const { dir, cleanup } = await tempDir('ocikit-serve-skopeo-');
  const layoutDir = await copyLayout(path.join(FIXTURES, 'single-image'), path.join(dir, 'single-image'));
  const multiDir = await copyLayout(path.join(FIXTURES, 'multi-platform'), path.join(dir, 'debian'));
  const tar = path.join(dir, 'bundle.tar');
  const tgz = path.join(dir, 'bundle-gz.tar.gz');
  await Promise.all([ocikitOk(['pack', path.join(FIXTURES, 'with-referrers'), tar]), ocikitOk(['pack', path.join(FIXTURES, 'single-image'), tgz])]);
  const writableDir = path.join(dir, 'pushed');
  await ocikitOk(['init', writableDir]);
  const [layout, multi, archive, gzipped, writable] = await Promise.all([
    startServe([layoutDir]),
    startServe([multiDir]),
    startServe([tar]),
    startServe([tgz]),
    startServe([writableDir, '--writable']),
  ]);
  return { dir, cleanup, layout, multi, archive, gzipped, writable, writableDir };
});

afterAll(async () => {
  await stopAllServers();
  await (await state().catch(() => undefined))?.cleanup();
});

const single = async () => (await expectedDigests())['single-image']!;

describe('skopeo reads from ocikit serve', () => {
  it('skopeo inspect of a layout directory: digest, platform and layers', async () => {
    const { layout } = await state();
    const s = await single();
    const doc = await inspect(`docker://${layout.host}/single-image:v1`);
    expect(doc.Digest).toBe(s['image']);
    expect(`${doc.Os}/${doc.Architecture}`).toBe(s['platform']);
    expect(doc.Layers).toEqual(s['layers']);
    expect(doc.RepoTags).toEqual(['v1']);
  });

  it('skopeo copy docker://serve/REPO:TAG oci:DIR:TAG brings the exact image', async () => {
    const { layout, dir } = await state();
    const s = await single();
    const dest = path.join(dir, 'copied-from-layout');
    await skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${layout.host}/single-image:v1`, `oci:${dest}:v1`]);
    expect(await resolve(`oci:${dest}:v1`)).toBe(s['image']);
    for (const d of s['layers'] as string[]) expect((await readBlob(dest, d)).equals(await readBlob(path.join(FIXTURES, 'single-image'), d))).toBe(true);
  });

  it('skopeo copy --all of a multi-platform index keeps the index digest', async () => {
    const { multi, dir } = await state();
    const mp = (await expectedDigests())['multi-platform']!;
    const dest = path.join(dir, 'copied-multi');
    await skopeo(['copy', '-q', '--all', '--src-tls-verify=false', `docker://${multi.host}/debian:10`, `oci:${dest}:10`]);
    expect(await resolve(`oci:${dest}:10`)).toBe(mp['index']);
    await ocikitOk(['verify', dest]);
  });

  it('skopeo inspect and copy from a served layout archive (read in place)', async () => {
    const { archive, dir } = await state();
    const w = (await expectedDigests())['with-referrers']!;
    const doc = await inspect(`docker://${archive.host}/bundle:v1`);
    expect(doc.Digest).toBe(w['image']);
    const dest = path.join(dir, 'copied-from-archive');
    await skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${archive.host}/bundle:v1`, `oci:${dest}:v1`]);
    expect(await resolve(`oci:${dest}:v1`)).toBe(w['image']);
  });

  it('skopeo inspect from a served gzip-compressed archive', async () => {
    const { gzipped } = await state();
    expect((await inspect(`docker://${gzipped.host}/bundle-gz:v1`)).Digest).toBe((await single())['image']);
  });
});

describe('skopeo pushes into ocikit serve --writable', () => {
  it('skopeo copy oci:fixtures/single-image:v1 docker://serve/REPO:TAG lands in the layout; ocikit ls and verify agree', async () => {
    const { writable, writableDir } = await state();
    const s = await single();
    await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci:${path.join(FIXTURES, 'single-image')}:v1`, `docker://${writable.host}/pushed:v1`]);
    expect(indexTags(writableDir).get('v1')).toBe(s['image']);
    const rows = JSON.parse((await ocikitOk(['ls', writableDir, '--format', 'json'])).stdout) as Array<{ tag?: string; digest: string; platforms: string[] }>;
    expect(rows).toEqual([expect.objectContaining({ tag: 'v1', digest: s['image'], platforms: [s['platform']] })]);
    await ocikitOk(['verify', writableDir]);
    // And it reads back through the server.
    expect((await inspect(`docker://${writable.host}/pushed:v1`)).Digest).toBe(s['image']);
  });

  it('skopeo copy --all of a multi-platform index into another repository of the same layout', async () => {
    const { writable, writableDir } = await state();
    const mp = (await expectedDigests())['multi-platform']!;
    await skopeo(['copy', '-q', '--all', '--dest-tls-verify=false', `oci:${path.join(FIXTURES, 'multi-platform')}:10`, `docker://${writable.host}/library/debian:10`]);
    const rows = JSON.parse((await ocikitOk(['ls', writableDir, '--format', 'json'])).stdout) as Array<{ tag?: string; digest: string; platforms: string[] }>;
    expect(rows.find((r) => r.tag === '10')).toEqual(expect.objectContaining({ digest: mp['index'], platforms: mp['platforms'] }));
    await ocikitOk(['verify', writableDir]);
    const doc = await inspect(`docker://${writable.host}/library/debian:10`);
    expect(doc.RepoTags).toEqual(['10']);
    // The first image's repository is untouched.
    expect((await inspect(`docker://${writable.host}/pushed:v1`)).RepoTags).toEqual(['v1']);
  });
});
