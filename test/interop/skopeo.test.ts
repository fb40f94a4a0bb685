/**
 * skopeo interop through its `oci:` transport: ocikit reads what skopeo
 * copies (single images and whole indexes, into fresh layouts and into
 * layouts ocikit created), and skopeo inspects and copies what ocikit wrote.
 * Both sides must agree on every digest.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedDigests, FIXTURES, tempDir } from '../helpers/cli.js';
import { buildOcikitLayout, copyLayout, OCIKIT_LAYOUT_TAGS, indexTags, ocikitOk, once, peer, readBlob, requireTool } from '../helpers/peers.js';

interface Manifest {
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

interface SkopeoInspect {
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
}

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('ocikit-skopeo-');
});
afterAll(async () => tmp?.cleanup());

// Looked up in every test so that a missing skopeo fails each test with the install hint.
const skopeo = (args: string[]): ReturnType<typeof peer> => peer(requireTool('skopeo'), ['--insecure-policy', ...args]);
const inspect = async (ref: string, ...flags: string[]): Promise<SkopeoInspect> =>
  JSON.parse((await skopeo(['inspect', ...flags, ref])).stdout) as SkopeoInspect;

const fixture = (name: string): string => path.join(FIXTURES, name);
interface LsRow {
  tag?: string;
  digest: string;
  platforms: string[];
}
const ls = async (layout: string): Promise<LsRow[]> => JSON.parse((await ocikitOk(['ls', `oci:${layout}`, '--format', 'json'])).stdout) as LsRow[];

/** tag → digest as `ocikit ls` reports it (one spawn for what `tags` plus a `resolve` per tag would say). */
async function tagged(layout: string): Promise<Record<string, string>> {
  return Object.fromEntries((await ls(layout)).filter((r) => r.tag !== undefined).map((r) => [r.tag!, r.digest]));
}
const resolve = async (ref: string, ...flags: string[]): Promise<string> => (await ocikitOk(['resolve', ref, ...flags])).stdout.trim();

/**
 * ocikit returns, for `tag` in `layout` (through an index when `platform` is
 * given), exactly the bytes of the manifest, config and layers stored in `src`.
 */
async function expectSameImage(layout: string, tag: string, src: string, digest: string, platform?: string): Promise<void> {
  const select = platform ? ['--platform', platform] : [];
  const manifestBytes = (await ocikitOk(['manifest', 'fetch', `oci:${layout}:${tag}`, ...select])).stdoutBytes;
  expect(manifestBytes.equals(await readBlob(src, digest))).toBe(true);
  const m = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  const config = (await ocikitOk(['manifest', 'fetch-config', `oci:${layout}:${tag}`, ...select])).stdoutBytes;
  expect(config.equals(await readBlob(src, m.config.digest))).toBe(true);
  for (const layer of m.layers) {
    const bytes = (await ocikitOk(['blob', 'fetch', `oci:${layout}@${layer.digest}`])).stdoutBytes;
    expect(bytes.equals(await readBlob(src, layer.digest))).toBe(true);
  }
}

const armv7Layers = (e: Record<string, Record<string, unknown>>): string[] =>
  (e['multi-platform']!['manifests'] as Record<string, { layers: string[] }>)['linux/arm/v7']!.layers;

describe('ocikit reads what skopeo copied', () => {
  it('a single image: tag, digest and exact bytes', async () => {
    const single = (await expectedDigests())['single-image']!;
    const dest = path.join(tmp.dir, 'copied-single');
    await skopeo(['copy', '-q', `oci:${fixture('single-image')}:v1`, `oci:${dest}:copied`]);
    expect(await tagged(dest)).toEqual({ copied: single['image'] });
    await expectSameImage(dest, 'copied', fixture('single-image'), single['image'] as string);
  });

  it('a whole multi-platform index with --all: every child arrives and ocikit reads through the index', async () => {
    const mp = (await expectedDigests())['multi-platform']!;
    const manifests = mp['manifests'] as Record<string, { image: string }>;
    const dest = path.join(tmp.dir, 'copied-multi');
    await skopeo(['copy', '-q', '--all', `oci:${fixture('multi-platform')}:10`, `oci:${dest}:10`]);
    const rows = await ls(dest);
    expect(rows.map((r) => [r.tag, r.digest])).toEqual([['10', mp['index']]]);
    expect(rows[0]!.platforms).toEqual(mp['platforms']);
    const indexBytes = (await ocikitOk(['manifest', 'fetch', `oci:${dest}:10`])).stdoutBytes;
    expect(indexBytes.equals(await readBlob(fixture('multi-platform'), mp['index'] as string))).toBe(true);
    // Every child arrived intact (read directly: one ocikit spawn per platform would cost seconds)...
    for (const { image } of Object.values(manifests)) {
      expect((await readBlob(dest, image)).equals(await readBlob(fixture('multi-platform'), image))).toBe(true);
    }
    // ...and ocikit reads a child through skopeo's copy of the index.
    await expectSameImage(dest, '10', fixture('multi-platform'), manifests['linux/s390x']!.image, 'linux/s390x');
  });

  it('without --all skopeo picks the same platform manifest ocikit resolves', async () => {
    const dest = path.join(tmp.dir, 'copied-arm64');
    await skopeo(['--override-arch', 'arm64', '--override-variant', 'v8', 'copy', '-q', `oci:${fixture('multi-platform')}:10`, `oci:${dest}:arm`]);
    const [chosen, copied] = await Promise.all([resolve(`oci:${fixture('multi-platform')}:10`, '--platform', 'linux/arm64/v8'), tagged(dest)]);
    expect(copied).toEqual({ arm: chosen });
    expect((await readBlob(dest, chosen)).equals(await readBlob(fixture('multi-platform'), chosen))).toBe(true);
  });

  it('skopeo adds to a layout ocikit created, and both keep the other one’s entries', async () => {
    const single = (await expectedDigests())['single-image']!;
    const mp = (await expectedDigests())['multi-platform']!;
    const layout = path.join(tmp.dir, 'shared');
    await ocikitOk(['init', layout]);
    await skopeo(['copy', '-q', `oci:${fixture('single-image')}:v1`, `oci:${layout}:from-skopeo`]);
    await ocikitOk(['tag', `oci:${layout}:from-skopeo`, 'from-ocikit']);
    await skopeo(['copy', '-q', '--all', `oci:${fixture('multi-platform')}:10`, `oci:${layout}:multi`]);
    expect(await tagged(layout)).toEqual({ 'from-skopeo': single['image'], 'from-ocikit': single['image'], multi: mp['index'] });
    // What ocikit tagged in a layout skopeo also wrote is visible to skopeo.
    expect((await inspect(`oci:${layout}:from-ocikit`)).Digest).toBe(single['image']);
  });
});

describe('skopeo accepts a layout ocikit wrote', () => {
  const ocikitLayout = once(() => buildOcikitLayout(path.join(tmp.dir, 'ocikit-layout')));

  it('skopeo inspect reports the digest and platform of each image', async () => {
    const written = await ocikitLayout();
    const v1 = await inspect(`oci:${written.dir}:v1`);
    expect(v1.Digest).toBe(written.image);
    expect([v1.Os, v1.Architecture]).toEqual(['linux', 'amd64']);
    expect(v1.Layers).toEqual((await expectedDigests())['single-image']!['layers']);
    // skopeo 1.9 prints no Variant; the layers tell which image it read.
    const armv7 = await inspect(`oci:${written.dir}:armv7`);
    expect(armv7.Digest).toBe(written.armv7);
    expect([armv7.Os, armv7.Architecture]).toEqual(['linux', 'arm']);
    expect(armv7.Layers).toEqual(armv7Layers(await expectedDigests()));
  });

  it('skopeo picks a platform out of the index ocikit created', async () => {
    const written = await ocikitLayout();
    const info = await skopeo(['--override-arch', 'arm', '--override-variant', 'v7', 'inspect', `oci:${written.dir}:multi`]);
    const parsed = JSON.parse(info.stdout) as SkopeoInspect;
    // skopeo reports the digest of the name (the index) and the image it chose from it.
    expect(parsed.Digest).toBe(written.multi);
    expect(parsed.Architecture).toBe('arm');
    expect(parsed.Layers).toEqual(armv7Layers(await expectedDigests()));
  });

  it('skopeo and ocikit agree on the digest of every tag', async () => {
    const written = await ocikitLayout();
    const fromOcikit = await tagged(written.dir);
    expect(new Map(Object.entries(fromOcikit))).toEqual(indexTags(written.dir));
    expect(Object.keys(fromOcikit).sort()).toEqual(OCIKIT_LAYOUT_TAGS);
    for (const [tag, digest] of Object.entries(fromOcikit)) expect((await inspect(`oci:${written.dir}:${tag}`)).Digest, tag).toBe(digest);
  });

  it('skopeo inspect --raw and --config --raw return the bytes ocikit stored', async () => {
    const written = await ocikitLayout();
    for (const tag of ['v1', 'multi']) {
      const raw = (await skopeo(['inspect', '--raw', `oci:${written.dir}:${tag}`])).stdoutBytes;
      expect(raw.equals((await ocikitOk(['manifest', 'fetch', `oci:${written.dir}:${tag}`])).stdoutBytes), tag).toBe(true);
    }
    const config = (await skopeo(['inspect', '--config', '--raw', `oci:${written.dir}:v1`])).stdoutBytes;
    expect(config.equals((await ocikitOk(['manifest', 'fetch-config', `oci:${written.dir}:v1`])).stdoutBytes)).toBe(true);
  });

  it('skopeo copies an image and a whole index out of an ocikit layout; ocikit reads the copies', async () => {
    const written = await ocikitLayout();
    const other = path.join(tmp.dir, 'copied-from-ocikit');
    await skopeo(['copy', '-q', `oci:${written.dir}:v1`, `oci:${other}:v1`]);
    await skopeo(['copy', '-q', '--all', `oci:${written.dir}:multi`, `oci:${other}:multi`]);
    expect(await tagged(other)).toEqual({ v1: written.image, multi: written.multi });
    await expectSameImage(other, 'multi', written.dir, written.armv7, 'linux/arm/v7');
  });

  it('skopeo overwrites a tag in an ocikit layout and ocikit follows it', async () => {
    const written = await ocikitLayout();
    const layout = await copyLayout(written.dir, path.join(tmp.dir, 'ocikit-layout-retag'));
    await skopeo(['copy', '-q', `oci:${layout}:armv7`, `oci:${layout}:latest`]);
    const tags = await tagged(layout);
    expect([tags['latest'], tags['v1'], tags['stable']]).toEqual([written.armv7, written.image, written.image]);
  });
});
