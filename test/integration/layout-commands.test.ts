/**
 * init, ls, tags, resolve, tag and untag through the built CLI. Read-only
 * commands run on the committed fixtures (checked unchanged at the end);
 * anything that writes works on a copy in a temp directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyFixture, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess, fixture, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
/** The fixtures read in place below; nothing may change in them. */
const READ_IN_PLACE = ['single-image', 'multi-platform', 'with-referrers', 'referrers-fallback', 'docker-v2'];
let fixturesBefore: Record<string, string>[];
const snapshotFixtures = () => Promise.all(READ_IN_PLACE.map((f) => snapshotTree(fixture(f))));

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-layout-cmds-');
  fixturesBefore = await snapshotFixtures();
});

afterAll(async () => {
  await tmp.cleanup();
  // Read-only commands ran on the fixtures themselves: they must not have left anything behind.
  expect(await snapshotFixtures()).toEqual(fixturesBefore);
});

let n = 0;
/** A private copy of a fixture for a test that writes. */
async function copy(name: string): Promise<string> {
  const dir = path.join(tmp.dir, `case-${++n}`);
  await mkdir(dir);
  return copyFixture(name, dir);
}

interface Row {
  tag?: string;
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  platforms: string[];
  subject?: string;
}

describe.concurrent('init', () => {
  it('creates an empty layout, accepts an existing one unchanged, and prints JSON on request', async () => {
    const dir = path.join(tmp.dir, 'fresh');
    const r = await expectSuccess(['init', dir]);
    expect(r.stdout).toContain(dir);
    expect(JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = await readIndexJson(dir);
    expect(index).toMatchObject({ schemaVersion: 2, manifests: [] });
    const snap = await snapshotTree(dir);
    expect(snap['blobs']).toMatch(/^dir /);
    expect(Object.keys(snap).sort()).toEqual(['.', 'blobs', 'blobs/sha256', 'index.json', 'oci-layout']);

    // Again, on the layout it made: accepted, nothing rewritten.
    expect(await expectJson(['init', dir])).toEqual({ path: dir });
    expect(await snapshotTree(dir)).toEqual(snap);

    expect(await expectJson(['ls', dir])).toEqual([]);
    expect((await expectSuccess(['tags', dir])).stdout).toBe('');
  });

  it('refuses a directory that has files but is not a layout, and a path that is a file', async () => {
    const dir = path.join(tmp.dir, 'not-empty');
    await mkdir(dir);
    await writeFile(path.join(dir, 'notes.txt'), 'mine\n');
    await expectFailure(['init', dir], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
    await expectFailure(['init', path.join(dir, 'notes.txt')], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
  });

  it('finishes an init that was killed before it wrote oci-layout (a pull or unpack re-run after a crash must not be refused)', async () => {
    const dir = path.join(tmp.dir, 'half-made');
    await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(path.join(dir, 'index.json'), '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    await writeFile(path.join(dir, '.ocikit-tmp-999999-0a0b0c0d0e0f'), '');
    await expectSuccess(['unpack', fixture('single-image'), dir]);
    expect(await expectJson<Row[]>(['ls', dir])).toHaveLength(1);
    // Anything beyond those first steps is somebody's data: still refused.
    const other = path.join(tmp.dir, 'half-made-with-a-blob');
    await mkdir(path.join(other, 'blobs', 'sha256'), { recursive: true });
    await writeFile(path.join(other, 'blobs', 'sha256', 'a'.repeat(64)), 'x');
    await writeFile(path.join(other, 'index.json'), '{}');
    await expectFailure(['init', other], { exit: 1, code: 'INVALID_LAYOUT', unchanged: other });
  });
});

describe.concurrent('ls', () => {
  it('lists the single image with its tag, platform and size (text and JSON)', async () => {
    const text = await expectSuccess(['ls', fixture('single-image')]);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+DIGEST\s+MEDIA TYPE/);
    expect(lines).toHaveLength(2);
    // No repository: "-" in the REPOSITORY column.
    expect(lines[1]).toMatch(new RegExp(`^-\\s+v1\\s+${E.single.image}\\s+application/vnd.oci.image.manifest.v1\\+json\\s+-\\s+linux/amd64\\s+-\\s+${E.single.imageSize} B$`));

    const rows = await expectJson<Row[]>(['ls', fixture('single-image')]);
    expect(rows).toEqual([
      { tag: 'v1', digest: E.single.image, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: E.single.imageSize, platforms: ['linux/amd64'] },
    ]);
  });

  it('lists both names of the multi-platform index with every platform', async () => {
    const rows = await expectJson<Row[]>(['ls', fixture('multi-platform')]);
    expect(rows.map((r) => [r.tag, r.digest])).toEqual([
      ['10', E.multi.index],
      ['buster', E.multi.index],
    ]);
    expect(rows[0]!.platforms).toEqual(Object.keys(E.multi.manifests));
    expect(rows[0]!.size).toBe(E.multi.indexSize);
  });

  it('shows subjects and artifact types of referrers, and Docker list platforms', async () => {
    const rows = await expectJson<Row[]>(['ls', fixture('with-referrers')]);
    const byDigest = new Map(rows.map((r) => [r.digest, r]));
    expect(byDigest.get(E.referrers.sbom)).toMatchObject({ subject: E.referrers.image, artifactType: 'application/spdx+json' });
    expect(byDigest.get(E.referrers.sbomSignature)).toMatchObject({ subject: E.referrers.sbom });
    expect(byDigest.get(E.referrers.image)!.subject).toBeUndefined();

    const docker = await expectJson<Row[]>(['ls', fixture('docker-v2')]);
    expect(docker).toHaveLength(1);
    expect(docker[0]).toMatchObject({ tag: 'latest', digest: E.docker.index, platforms: ['linux/amd64', 'linux/arm64/v8'] });
  });
});

describe.concurrent('tags', () => {
  it('prints tag names one per line, each once, and a JSON array', async () => {
    expect((await expectSuccess(['tags', fixture('multi-platform')])).stdout).toBe('10\nbuster\n');
    expect(await expectJson(['tags', fixture('referrers-fallback')])).toEqual(['v1', E.fallback.fallbackTag]);
  });
});

describe.concurrent('resolve', () => {
  it('resolves a tag, a digest listed in index.json, and a child digest that is not', async () => {
    expect((await expectSuccess(['resolve', `${fixture('single-image')}:v1`])).stdout).toBe(`${E.single.image}\n`);
    expect((await expectSuccess(['resolve', `oci:${fixture('multi-platform')}:buster`])).stdout).toBe(`${E.multi.index}\n`);
    const child = E.multi.manifests['linux/s390x']!.image;
    const d = await expectJson<{ digest: string; mediaType: string; size: number }>(['resolve', `${fixture('multi-platform')}@${child}`]);
    expect(d).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child, size: 402 });
  });

  it('resolves through an index with --platform, including variants and their defaults', async () => {
    const mp = `${fixture('multi-platform')}:10`;
    // (manifest-commands.test.ts fetches through the index for explicit variants.)
    const cases: Array<[string, string]> = [
      ['linux/arm', 'linux/arm/v7'], // no variant asked: the architecture's default, not v5 listed before it
      ['linux/arm64', 'linux/arm64/v8'], // arm64 means arm64/v8
    ];
    const results = await Promise.all(cases.map(([p]) => expectSuccess(['resolve', mp, '--platform', p])));
    results.forEach((r, i) => expect(r.stdout, cases[i]![0]).toBe(`${E.multi.manifests[cases[i]![1]]!.image}\n`));
  });

  it('without a tag, picks the only image; referrers and fallback-tag listings do not count', async () => {
    const [single, multi, referrers, fallback] = await Promise.all(
      ['single-image', 'multi-platform', 'with-referrers', 'referrers-fallback'].map((f) => expectSuccess(['resolve', fixture(f)])),
    );
    expect(single!.stdout).toBe(`${E.single.image}\n`);
    expect(multi!.stdout).toBe(`${E.multi.index}\n`); // two tags, one digest: not ambiguous
    expect(referrers!.stdout).toBe(`${E.referrers.image}\n`);
    expect(fallback!.stdout).toBe(`${E.fallback.image}\n`);
  });

  it('refuses to guess between two images (usage error, exit 2)', async () => {
    const mp = await copy('multi-platform');
    await expectSuccess(['tag', `${mp}@${E.multi.manifests['linux/386']!.image}`, 'i386']);
    const err = await expectFailure(['resolve', mp], { exit: 2, code: 'USAGE', unchanged: mp });
    expect(err.hint).toBeDefined();
  });

  it('checks --platform against a single image too', async () => {
    expect((await expectSuccess(['resolve', fixture('single-image'), '--platform', 'linux/amd64'])).stdout).toBe(`${E.single.image}\n`);
    await expectFailure(['resolve', fixture('single-image'), '--platform', 'linux/arm64'], { exit: 1, code: 'NOT_FOUND' });
  });
});

describe.concurrent('tag', () => {
  it('adds several tags at once, each listed once however often it is repeated', async () => {
    const si = await copy('single-image');
    const out = await expectJson<{ digest: string; tags: string[] }>(['tag', `${si}:v1`, 'a', 'b', 'c']);
    expect(out).toEqual({ digest: E.single.image, tags: ['a', 'b', 'c'] });
    for (let i = 0; i < 2; i++) await expectSuccess(['tag', `${si}:v1`, 'a', 'b', 'v1']);
    const index = await readIndexJson(si);
    const pairs = index.manifests.map((e) => `${e.digest} ${e.annotations?.[REF_NAME]}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs.sort()).toEqual(['a', 'b', 'c', 'v1'].map((t) => `${E.single.image} ${t}`));
    expect(await expectJson(['tags', si])).toEqual(['v1', 'a', 'b', 'c']);
  });

  it('keeps tags that look like numbers as written', async () => {
    const si = await copy('single-image');
    await expectSuccess(['tag', `${si}:v1`, '007', '10', '1e3', '0x10']);
    expect(await expectJson(['tags', si])).toEqual(['v1', '007', '10', '1e3', '0x10']);
  });

  it('moves a tag from one manifest to another; the other name of the old one stays', async () => {
    const mp = await copy('multi-platform');
    const amd64 = E.multi.manifests['linux/amd64']!.image;
    const text = await expectSuccess(['tag', `${mp}@${amd64}`, '10']);
    expect(text.stdout).toContain(amd64);
    const [ten, buster] = await Promise.all([expectSuccess(['resolve', `${mp}:10`]), expectSuccess(['resolve', `${mp}:buster`])]);
    expect(ten.stdout).toBe(`${amd64}\n`);
    expect(buster.stdout).toBe(`${E.multi.index}\n`);
    const index = await readIndexJson(mp);
    expect(index.manifests.filter((e) => e.annotations?.[REF_NAME] === '10')).toHaveLength(1);
  });

  it('refuses an invalid tag (exit 2) and a source that does not exist (exit 1), changing nothing', async () => {
    const si = await copy('single-image');
    await expectFailure(['tag', `${si}:v1`, 'ok', 'not ok'], { exit: 2, code: 'USAGE', unchanged: si });
    await expectFailure(['tag', `${si}:nope`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: si });
    await expectFailure(['tag', `${si}@sha256:${'0'.repeat(64)}`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: si });
  });
});

describe.concurrent('untag', () => {
  it('removes a tag; the other names stay; removing it again is NOT_FOUND', async () => {
    const mp = await copy('multi-platform');
    const out = await expectJson<{ tag: string; digests: string[] }>(['untag', `${mp}:buster`]);
    expect(out).toEqual({ tag: 'buster', digests: [E.multi.index] });
    expect(await expectJson(['tags', mp])).toEqual(['10']);
    await expectFailure(['untag', `${mp}:buster`], { exit: 1, code: 'NOT_FOUND', unchanged: mp });
    await expectFailure(['untag', mp], { exit: 2, code: 'USAGE', unchanged: mp });
    // Blobs stay until gc.
    expect((await expectSuccess(['resolve', `${mp}:10`])).stdout).toBe(`${E.multi.index}\n`);
  });
});

describe.concurrent('index.json written by others', () => {
  it('keeps unknown fields and entries of unknown media types through tag, untag and manifest push', async () => {
    const si = await copy('single-image');
    const index = await readIndexJson(si);
    index['x-extra'] = 1;
    index.manifests[0]!['x-extra'] = { nested: true };
    const unknownEntry = {
      mediaType: 'application/vnd.example.thing.v1+json',
      digest: E.single.config,
      size: 719,
      'x-extra': 'kept',
      annotations: { 'com.example.note': 'not a manifest' },
    };
    index.manifests.push(unknownEntry as never);
    await writeFile(path.join(si, 'index.json'), JSON.stringify(index));

    await expectSuccess(['tag', `${si}:v1`, 'v2']);
    await expectSuccess(['untag', `${si}:v2`]);
    await expectSuccess(['manifest', 'push', `${si}:pushed`, path.join(si, 'blobs', 'sha256', E.single.image.slice(7))]);
    await expectSuccess(['tag', `${si}:v1`, 'v3']);

    const after = await readIndexJson(si);
    expect(after['x-extra']).toBe(1);
    expect(after.manifests.find((e) => e.annotations?.[REF_NAME] === 'v1')!['x-extra']).toEqual({ nested: true });
    expect(after.manifests).toContainEqual(unknownEntry);
    expect(await expectJson(['tags', si])).toEqual(['v1', 'pushed', 'v3']);

    // ls lists the unknown entry as it is, without trying to read it as a manifest.
    const rows = await expectJson<Row[]>(['ls', si]);
    expect(rows.find((r) => r.mediaType === unknownEntry.mediaType)).toMatchObject({ digest: E.single.config, platforms: [] });
    expect(rows.every((r) => !('problem' in r))).toBe(true);
  });

  it('reads layouts with extra files, extra directories and unreferenced blobs', async () => {
    const si = await copy('single-image');
    await writeFile(path.join(si, 'README.md'), '# notes\n');
    await mkdir(path.join(si, 'blobs', 'sha512'));
    await mkdir(path.join(si, '.cache'));
    await writeFile(path.join(si, 'blobs', 'sha256', 'ab'.repeat(32)), 'an unreferenced blob whose name is not its digest');
    await appendFile(path.join(si, 'blobs', 'sha256', '.DS_Store'), 'x');
    const pushed = await expectSuccess(['blob', 'push', si, '-'], { input: 'unreferenced but correct\n' });
    expect(pushed.stdout).toMatch(/^sha256:[a-f0-9]{64} 25\n$/);

    expect((await expectSuccess(['resolve', si])).stdout).toBe(`${E.single.image}\n`);
    expect(await expectJson(['tags', si])).toEqual(['v1']);
    expect((await expectJson<Row[]>(['ls', si]))[0]).toMatchObject({ tag: 'v1', platforms: ['linux/amd64'] });
    await expectSuccess(['tag', si, 'latest']);
    expect(await readFile(path.join(si, 'README.md'), 'utf8')).toBe('# notes\n');
  });
});

describe.concurrent('concurrent writers', () => {
  it('10 parallel `ocikit tag` processes on one layout lose no tag (cross-process lock)', async () => {
    const si = await copy('single-image');
    const tags = Array.from({ length: 10 }, (_, i) => `parallel-${i}`);
    const results = await Promise.all(tags.map((t) => ocikit(['tag', `${si}:v1`, t])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const listed = await expectJson<string[]>(['tags', si]);
    expect([...listed].sort()).toEqual(['v1', ...tags].sort());
    const index = await readIndexJson(si);
    expect(index.manifests).toHaveLength(11);
    // No lock, lease or temp file is left behind.
    expect(Object.keys(await snapshotTree(si)).filter((p) => !p.startsWith('blobs')).sort()).toEqual(['.', 'index.json', 'oci-layout']);
  });
});
