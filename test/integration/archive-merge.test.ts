/**
 * Writing to an archive that already exists merges with it (copy, pack,
 * pull), atomically and reproducibly; a destination that exists and is not a
 * layout archive is refused and left as it was (design.md data rule 7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/cli.js';
import { once, peer, requireTool } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, type Expected } from './_support.js';
import { LayoutArchive } from '../../src/targets/layout-archive.js';
import { tagOf } from '../../src/spec/index-entries.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
/** A fresh directory per case, so that "no temp file left" can look at the whole directory. */
async function caseDir(): Promise<string> {
  const dir = path.join(tmp.dir, `case-${++n}`);
  await mkdir(dir);
  return dir;
}
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-merge-');
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await tmp.cleanup();
});

interface MergeJson {
  merged: boolean;
  earlierEntries: number;
  movedTags: string[];
}

/** index.json entries of an archive: tag (or "-") to digest, in order. */
async function entriesOf(file: string): Promise<Array<[string, string]>> {
  const a = await LayoutArchive.open(file, { spoolDir: path.dirname(file) });
  try {
    return (await a.readIndex()).manifests.map((e) => [tagOf(e) ?? '-', e.digest]);
  } finally {
    await a.close();
  }
}

/** An archive holding the with-referrers image as `first`, with its three referrers. */
async function firstArchive(dir: string, name = 'a.tar'): Promise<string> {
  const file = path.join(dir, name);
  await expectSuccess(['copy', '-r', fixture('with-referrers'), `oci-archive:${file}:first`]);
  return file;
}

describe('copy into an existing archive', () => {
  it('keeps the earlier tags and referrers and adds the new tag; skopeo reads it and verify passes', async () => {
    const file = await firstArchive(await caseDir());
    const before = await entriesOf(file);
    expect(before.filter(([t]) => t === '-')).toHaveLength(3);
    const r = await expectJson<MergeJson & { roots: Array<{ tags: string[] }> }>(['copy', fixture('multi-platform') + ':10', `oci-archive:${file}:second`]);
    expect(r).toMatchObject({ merged: true, earlierEntries: 4, movedTags: [] });
    expect(await entriesOf(file)).toEqual([...before, ['second', E.multi.index]]);
    await expectSuccess(['verify', file]);
    for (const tag of ['first', 'second']) {
      const out = await peer(requireTool('skopeo'), ['inspect', '--raw', `oci-archive:${file}:${tag}`]);
      expect(out.code, out.stderr).toBe(0);
    }
    const refs = await expectJson<{ manifests: unknown[] }>(['referrers', `${file}:first`]);
    expect(refs.manifests.length).toBeGreaterThan(0);
  });

  it('keeps a blob of the earlier archive that nothing listed reaches, as a layout keeps it until gc', async () => {
    const dir = await caseDir();
    const layout = path.join(dir, 'layout');
    await cp(fixture('single-image'), layout, { recursive: true });
    const stray = Buffer.from('a blob nothing refers to\n');
    const strayHex = createHash('sha256').update(stray).digest('hex');
    await writeFile(path.join(layout, 'blobs', 'sha256', strayHex), stray);
    const file = path.join(dir, 'stray.tar');
    execFileSync('tar', ['-cf', file, '-C', layout, '.'], { stdio: 'pipe' });
    await expectSuccess(['copy', `${fixture('multi-platform')}:10`, `oci-archive:${file}:ten`]);
    const a = await LayoutArchive.open(file);
    try {
      expect(a.blobDigests()).toContain(`sha256:${strayHex}`);
    } finally {
      await a.close();
    }
  });

  it('moves a tag the copy names again, as a layout tag moves, and says so', async () => {
    const file = await firstArchive(await caseDir());
    const r = await expectJson<MergeJson>(['copy', fixture('multi-platform') + ':10', `oci-archive:${file}:first`]);
    expect(r).toMatchObject({ merged: true, earlierEntries: 4, movedTags: ['first'] });
    const after = await entriesOf(file);
    expect(after.filter(([t]) => t === 'first')).toEqual([['first', E.multi.index]]);
    // The referrers of the earlier image stay listed.
    expect(after.filter(([t]) => t === '-')).toHaveLength(3);
  });

  it('merges into a .tar.gz and keeps it gzip-compressed, leaving no spool file', async () => {
    const dir = await caseDir();
    const file = await firstArchive(dir, 'a.tar.gz');
    await expectSuccess(['copy', `${fixture('single-image')}:v1`, `oci-archive:${file}:second`]);
    expect([...(await readFile(file)).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect((await entriesOf(file)).map(([t]) => t)).toEqual(['first', '-', '-', '-', 'second']);
    expect(await readdir(dir)).toEqual(['a.tar.gz']);
    await expectSuccess(['verify', file]);
  });
});

describe('pack into an existing archive', () => {
  it('merges, like copy: packing twice to one path keeps both', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'p.tar');
    await expectSuccess(['pack', fixture('single-image'), file]);
    const r = await expectJson<MergeJson>(['pack', fixture('multi-platform'), file]);
    expect(r).toMatchObject({ merged: true, earlierEntries: 1 });
    const tags = (await entriesOf(file)).map(([t]) => t);
    expect(tags).toEqual(expect.arrayContaining(['v1', '10', 'buster']));
    await expectSuccess(['verify', file]);
  });
});

describe('reproducible merges', () => {
  it('copy A then B into an archive writes the bytes pack writes from a layout that got A then B', async () => {
    const dir = await caseDir();
    const merged = path.join(dir, 'merged.tar');
    const layout = path.join(dir, 'layout');
    for (const [src, tag] of [[`${fixture('with-referrers')}`, 'a'], [`${fixture('multi-platform')}:10`, 'b']] as const) {
      await expectSuccess(['copy', '-r', src, `oci-archive:${merged}:${tag}`]);
      await expectSuccess(['copy', '-r', src, `oci:${layout}:${tag}`]);
    }
    const packed = path.join(dir, 'packed.tar');
    await expectSuccess(['pack', layout, packed]);
    expect((await readFile(merged)).equals(await readFile(packed))).toBe(true);
  });
});

describe('a failed merge leaves the archive as it was', () => {
  it('a corrupt blob in the earlier archive: exit 1, archive byte-identical, no temp file', async () => {
    const dir = await caseDir();
    const file = await firstArchive(dir);
    // Flip one byte of the first layer inside the tar (same size: the tar stays well formed).
    const bytes = await readFile(file);
    const layer = await readFile(blobFile(fixture('with-referrers'), E.referrers.image)).catch(() => undefined);
    expect(layer).toBeDefined();
    const at = bytes.indexOf(layer!);
    expect(at).toBeGreaterThan(0);
    bytes[at + 10] ^= 0xff;
    await writeFile(file, bytes);
    await expectFailure(['copy', `${fixture('single-image')}:v1`, `oci-archive:${file}:second`], { exit: 1, code: 'DIGEST_MISMATCH' });
    expect((await readFile(file)).equals(bytes)).toBe(true);
    expect(await readdir(dir)).toEqual(['a.tar']);
  });

  it('a source blob that fails verification: exit 1, archive byte-identical, no temp file', async () => {
    const dir = await caseDir();
    const file = await firstArchive(dir);
    const before = await readFile(file);
    const src = path.join(dir, 'src');
    await cp(fixture('multi-platform'), src, { recursive: true });
    const layerDigest = Object.values(E.multi.manifests)[0]!.layers[0]!;
    const layerFile = blobFile(src, layerDigest);
    const layer = await readFile(layerFile);
    layer[layer.length - 1] ^= 0xff;
    await writeFile(layerFile, layer);
    await expectFailure(['copy', `${src}:10`, `oci-archive:${file}:second`], { exit: 1, code: 'DIGEST_MISMATCH' });
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['a.tar', 'src']);
  });
});

describe('destinations that are not layout archives are refused and unchanged', () => {
  const src = () => `${fixture('single-image')}:v1`;

  it('a plain text file (copy, pack, pull)', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'notes.md');
    await writeFile(file, 'my notes\n');
    await expectFailure(['copy', src(), file], { exit: 1, code: 'INVALID_LAYOUT' });
    await expectFailure(['copy', src(), `oci-archive:${file}`], { exit: 1, code: 'INVALID_LAYOUT' });
    await expectFailure(['pack', fixture('single-image'), file], { exit: 1, code: 'INVALID_LAYOUT' });
    // Refused before any registry is contacted (port 9 on loopback: nothing listens).
    await expectFailure(['pull', '127.0.0.1:9/x/y:1', `oci-archive:${file}`], { exit: 1, code: 'INVALID_LAYOUT' });
    expect(await readFile(file, 'utf8')).toBe('my notes\n');
    expect(await readdir(dir)).toEqual(['notes.md']);
  });

  it('a docker-archive', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'docker.tar');
    const made = await peer(requireTool('skopeo'), ['copy', `oci:${fixture('single-image')}:v1`, `docker-archive:${file}:example/hello:v1`]);
    expect(made.code, made.stderr).toBe(0);
    const before = await readFile(file);
    await expectFailure(['copy', src(), file], { exit: 1, code: 'INVALID_LAYOUT' });
    await expectFailure(['pack', fixture('single-image'), file], { exit: 1, code: 'INVALID_LAYOUT' });
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await readdir(dir)).toEqual(['docker.tar']);
  });

  it('a Docker 25+ docker save archive (a layout plus manifest.json, which a merge would lose)', async () => {
    const dir = await caseDir();
    const save = path.join(dir, 'save');
    await cp(fixture('single-image'), save, { recursive: true });
    await writeFile(path.join(save, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${E.single.config.slice(7)}`, RepoTags: ['example/hello:v1'], Layers: E.single.layers.map((l) => `blobs/sha256/${l.slice(7)}`) }]));
    const file = path.join(dir, 'save.tar');
    execFileSync('tar', ['-cf', file, '-C', save, '.'], { stdio: 'pipe' });
    const before = await readFile(file);
    await expectFailure(['copy', src(), `oci-archive:${file}:other`], { exit: 1, code: 'INVALID_LAYOUT' });
    await expectFailure(['pack', fixture('multi-platform'), file], { exit: 1, code: 'INVALID_LAYOUT' });
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['save', 'save.tar']);
  });

  it('a FIFO', async () => {
    const dir = await caseDir();
    const fifo = path.join(dir, 'pipe.tar');
    execFileSync('mkfifo', [fifo]);
    await expectFailure(['copy', src(), `oci-archive:${fifo}`], { exit: 1, code: 'INVALID_LAYOUT' });
    await expectFailure(['pack', fixture('single-image'), fifo], { exit: 1, code: 'INVALID_LAYOUT' });
    expect(await readdir(dir)).toEqual(['pipe.tar']);
  });

  it('a directory that is not empty and not a layout (copy, unpack, pack)', async () => {
    const dir = await caseDir();
    const target = path.join(dir, 'stuff');
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'keep');
    await expectFailure(['copy', src(), target], { exit: 1, code: 'INVALID_LAYOUT', unchanged: target });
    await expectFailure(['copy', src(), `oci:${target}`], { exit: 1, code: 'INVALID_LAYOUT', unchanged: target });
    await expectFailure(['unpack', fixture('single-image'), target], { exit: 1, code: 'INVALID_LAYOUT', unchanged: target });
    await expectFailure(['pack', fixture('single-image'), `oci-archive:${target}`], { exit: 1, code: 'INVALID_LAYOUT', unchanged: target });
  });
});

describe('pull into an existing archive', () => {
  const registry = once(async () => {
    const r = await startRegistry();
    cleanups.push(r.stop);
    await expectSuccess(['push', fixture('single-image'), `${r.host}/merge/hello`]);
    return r;
  });

  it('merges the pulled image with what the archive held', async () => {
    const reg = await registry();
    const file = await firstArchive(await caseDir());
    const before = await entriesOf(file);
    const r = await expectJson<MergeJson>(['pull', `${reg.host}/merge/hello:v1`, file]);
    expect(r).toMatchObject({ merged: true, earlierEntries: 4, movedTags: [] });
    const after = await entriesOf(file);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length)).toEqual([['v1', E.single.image]]);
    await expectSuccess(['verify', file]);
    const out = await peer(requireTool('skopeo'), ['inspect', '--raw', `oci-archive:${file}:v1`]);
    expect(out.code, out.stderr).toBe(0);
  });

  it('copy from a registry into an existing archive merges too', async () => {
    const reg = await registry();
    const file = await firstArchive(await caseDir());
    const r = await expectJson<MergeJson>(['copy', `${reg.host}/merge/hello:v1`, `oci-archive:${file}:from-registry`]);
    expect(r).toMatchObject({ merged: true, earlierEntries: 4, movedTags: [] });
    expect((await entriesOf(file)).map(([t]) => t)).toEqual(['first', '-', '-', '-', 'from-registry']);
  });

  it('writes a new .tar.gz gzip-compressed, as pack and copy do, and merges into it', async () => {
    const reg = await registry();
    const dir = await caseDir();
    const file = path.join(dir, 'p.tar.gz');
    await expectSuccess(['pull', `${reg.host}/merge/hello:v1`, file]);
    expect([...(await readFile(file)).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    await expectSuccess(['copy', `${fixture('multi-platform')}:10`, `oci-archive:${file}:ten`]);
    expect((await entriesOf(file)).map(([t]) => t)).toEqual(['v1', 'ten']);
    expect(await readdir(dir)).toEqual(['p.tar.gz']);
  });
});
