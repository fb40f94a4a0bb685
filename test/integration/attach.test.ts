/**
 * `ocikit attach` through the built CLI: the seed scenario end to end, the
 * shape of the artifact manifest it writes, its index.json entry, streaming
 * of large files, and every bad input the issue names (clean one-line error,
 * exit status per the contract, layout untouched).
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, caseDirs, ocikit, tempDir } from '../helpers/cli.js';
import { ocikitOk, pushFixtureImage, readBlob } from '../helpers/peers.js';
import { schemaAvailable, validateAgainstSchema } from '../helpers/schema.js';
import { expectFailure, expectJson, loadExpected, readIndexJson, type Expected } from './_support.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
const TITLE = 'org.opencontainers.image.title';
const CREATED = 'org.opencontainers.image.created';
/** 2024-01-01T00:00:00Z: a fixed SOURCE_DATE_EPOCH makes attach reproducible. */
const EPOCH = { SOURCE_DATE_EPOCH: '1704067200' };

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}
interface ArtifactManifest {
  schemaVersion: number;
  mediaType: string;
  artifactType: string;
  config: Descriptor;
  layers: Descriptor[];
  subject: Descriptor;
  annotations: Record<string, string>;
}
interface ReferrerNode extends Descriptor {
  referrers: ReferrerNode[];
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function manifestOf(layout: string, digest: string): Promise<ArtifactManifest> {
  return JSON.parse((await readBlob(layout, digest)).toString('utf8')) as ArtifactManifest;
}

/** attach with --format json; returns the descriptor it prints. */
async function attachJson(args: string[], env: Record<string, string> = EPOCH): Promise<Descriptor> {
  return expectJson<Descriptor>(['attach', ...args], { env });
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let e: Expected;
/** Fresh private copies of fixture layouts, and empty case directories. */
const { fixture: fresh, dir: mkdirUnique } = caseDirs(() => tmp.dir);

beforeAll(async () => {
  tmp = await tempDir('ocikit-attach-');
  e = await loadExpected();
});
afterAll(async () => tmp?.cleanup());

describe('attach: the seed scenario, end to end', () => {
  it('copies an image in, attaches example/txt and example/json files, discovers them, filters, and fetches each blob back byte-identical', async () => {
    const layout = path.join(tmp.dir, 'seed');
    await ocikitOk(['init', layout]);
    await pushFixtureImage(layout, 'single-image', e.single.image, 'v1');

    const files = path.join(tmp.dir, 'seed-files');
    await mkdir(files);
    const txt = path.join(files, 'notes.txt');
    const json = path.join(files, 'report.json');
    await writeFile(txt, 'release notes for v1\n');
    await writeFile(json, `${JSON.stringify({ scanned: true, findings: [] })}\n`);

    // Two attaches at once: each takes the layout lock for its index.json update.
    const [txtDigest, jsonDigest] = (
      await Promise.all([
        ocikitOk(['attach', `oci:${layout}:v1`, '--artifact-type', 'example/txt', `${txt}:text/plain`]),
        ocikitOk(['attach', `oci:${layout}:v1`, '--artifact-type', 'example/json', `${json}:application/json`]),
      ])
    ).map((r) => r.stdout.trim()) as [string, string];
    expect(txtDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(jsonDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(txtDigest).not.toBe(jsonDigest);

    // Reads only from here on, so they may run side by side.
    const [tree, filtered, listed] = await Promise.all([
      ocikitOk(['discover', `oci:${layout}:v1`]).then((r) => r.stdout.trimEnd().split('\n')),
      expectJson<{ referrers: ReferrerNode[] }>(['discover', `oci:${layout}:v1`, '--artifact-type', 'example/json']),
      expectJson<{ manifests: Descriptor[] }>(['referrers', `oci:${layout}:v1`, '--artifact-type', 'example/txt']),
    ]);
    // The tree: the subject, then one branch per artifact type.
    expect(tree[0]).toContain(e.single.image);
    expect(tree.slice(1).map((l) => l.replace(/^[│├└─\s]+/, ''))).toEqual(['example/json', jsonDigest, 'example/txt', txtDigest]);
    // Filtered by artifact type.
    expect(filtered.referrers.map((r) => r.digest)).toEqual([jsonDigest]);
    expect(listed.manifests.map((m) => m.digest)).toEqual([txtDigest]);

    // Each file comes back byte for byte through blob fetch.
    await Promise.all(
      [
        [txtDigest, txt],
        [jsonDigest, json],
      ].map(async ([digest, file]) => {
        const m = await manifestOf(layout, digest!);
        expect(m.layers).toHaveLength(1);
        const out = path.join(files, `fetched-${path.basename(file!)}`);
        await ocikitOk(['blob', 'fetch', `oci:${layout}@${m.layers[0]!.digest}`, '-o', out]);
        expect((await readFile(out)).equals(await readFile(file!))).toBe(true);
      }),
    );
  });
});

// Each test attaches its own artifact: they may share the layout and run at once.
describe.concurrent('attach: the artifact manifest', () => {
  let layout: string;
  let files: string;
  const image = (): Descriptor => ({ mediaType: MANIFEST, digest: e.single.image, size: e.single.imageSize });

  beforeAll(async () => {
    layout = await fresh('single-image');
    files = await mkdirUnique();
    await writeFile(path.join(files, 'a.txt'), 'alpha\n');
    await writeFile(path.join(files, 'b.bin'), Buffer.from([0, 1, 2, 3, 255]));
  });

  it('has artifactType, the empty config, one titled layer per file (default media type application/octet-stream) and the subject', async () => {
    const desc = await attachJson([`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.report', `${files}/a.txt:text/plain`, `${files}/b.bin`]);
    const bytes = await readBlob(layout, desc.digest);
    expect(sha256(bytes)).toBe(desc.digest);
    expect(desc).toEqual({ mediaType: MANIFEST, digest: desc.digest, size: bytes.length, artifactType: 'application/vnd.example.report', annotations: { [CREATED]: '2024-01-01T00:00:00Z' } });
    const m = JSON.parse(bytes.toString('utf8')) as ArtifactManifest;
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: MANIFEST,
      artifactType: 'application/vnd.example.report',
      config: EMPTY,
      layers: [
        { mediaType: 'text/plain', digest: sha256('alpha\n'), size: 6, annotations: { [TITLE]: 'a.txt' } },
        { mediaType: 'application/octet-stream', digest: sha256(Buffer.from([0, 1, 2, 3, 255])), size: 5, annotations: { [TITLE]: 'b.bin' } },
      ],
      subject: image(),
      annotations: { [CREATED]: '2024-01-01T00:00:00Z' },
    });
    expect((await readBlob(layout, EMPTY.digest)).toString()).toBe('{}');
    if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
  });

  it('has a single empty layer when no file is given', async () => {
    const desc = await attachJson([`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.marker']);
    const m = await manifestOf(layout, desc.digest);
    expect(m.layers).toEqual([EMPTY]);
    expect(m.config).toEqual(EMPTY);
    expect(m.subject).toEqual(image());
    if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
  });

  it('is listed in index.json untagged, with artifactType and the manifest annotations on the entry; --format json prints that descriptor', async () => {
    const desc = await attachJson([`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.entry', '--annotation', 'com.example.k=v']);
    const entries = (await readIndexJson(layout)).manifests.filter((m) => m.digest === desc.digest);
    expect(entries).toEqual([{ mediaType: MANIFEST, digest: desc.digest, size: desc.size, artifactType: 'application/vnd.example.entry', annotations: { [CREATED]: '2024-01-01T00:00:00Z', 'com.example.k': 'v' } }]);
    expect(entries[0]).toEqual(desc);
    // The image keeps its tag and stays the layout's one image.
    expect((await ocikitOk(['resolve', `oci:${layout}:v1`])).stdout.trim()).toBe(e.single.image);
  });

  it('honours SOURCE_DATE_EPOCH: same inputs and epoch give the same digest (listed once); another epoch another digest', async () => {
    const args = [`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.repro', `${files}/a.txt`];
    const first = await attachJson(args, { SOURCE_DATE_EPOCH: '1700000000' });
    const second = await attachJson(args, { SOURCE_DATE_EPOCH: '1700000000' });
    expect(second.digest).toBe(first.digest);
    expect((await manifestOf(layout, first.digest)).annotations[CREATED]).toBe('2023-11-14T22:13:20Z');
    expect((await readIndexJson(layout)).manifests.filter((m) => m.digest === first.digest)).toHaveLength(1);
    const other = await attachJson(args, { SOURCE_DATE_EPOCH: '1700000001' });
    expect(other.digest).not.toBe(first.digest);
  });

  it('without SOURCE_DATE_EPOCH stamps the current time in RFC 3339', async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const desc = await attachJson([`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.now'], { SOURCE_DATE_EPOCH: '' });
    const created = (await manifestOf(layout, desc.digest)).annotations[CREATED]!;
    expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(created)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(created)).toBeLessThanOrEqual(Date.now());
  });

  it('--annotation and --annotation-file (oras format: $manifest and per-file keys) annotate the manifest and the layers; --export-manifest writes the exact bytes', async () => {
    const annotationFile = path.join(files, 'annotations.json');
    await writeFile(
      annotationFile,
      JSON.stringify({ $manifest: { 'com.example.from-file': 'yes', 'com.example.both': 'file' }, 'a.txt': { 'com.example.layer': 'alpha' } }),
    );
    const exported = path.join(files, 'exported.json');
    const desc = await attachJson([
      `oci:${layout}:v1`,
      '--artifact-type',
      'application/vnd.example.annotated',
      `${files}/a.txt`,
      `${files}/b.bin`,
      '--annotation',
      'com.example.flag=a=b',
      '--annotation',
      'com.example.both=flag',
      '--annotation-file',
      annotationFile,
      '--export-manifest',
      exported,
    ]);
    const bytes = await readFile(exported);
    expect(bytes.equals(await readBlob(layout, desc.digest))).toBe(true);
    const m = JSON.parse(bytes.toString('utf8')) as ArtifactManifest;
    expect(m.annotations).toEqual({ [CREATED]: '2024-01-01T00:00:00Z', 'com.example.from-file': 'yes', 'com.example.both': 'flag', 'com.example.flag': 'a=b' });
    expect(m.layers.map((l) => l.annotations)).toEqual([{ 'com.example.layer': 'alpha', [TITLE]: 'a.txt' }, { [TITLE]: 'b.bin' }]);
    expect(desc.annotations).toEqual(m.annotations);
  });

  it('an explicit org.opencontainers.image.created annotation wins over the clock', async () => {
    const desc = await attachJson([`oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.dated', '--annotation', `${CREATED}=2020-02-02T02:02:02Z`]);
    expect((await manifestOf(layout, desc.digest)).annotations[CREATED]).toBe('2020-02-02T02:02:02Z');
  });

  it('REF by digest works like REF by tag', async () => {
    const desc = await attachJson([`oci:${layout}@${e.single.image}`, '--artifact-type', 'application/vnd.example.bydigest']);
    expect((await manifestOf(layout, desc.digest)).subject).toEqual(image());
  });
});

describe('attach to an image index', () => {
  let layout: string;
  beforeAll(async () => {
    layout = await fresh('multi-platform');
  });

  it('--platform makes the platform manifest the subject', async () => {
    const child = e.multi.manifests['linux/arm/v7']!.image;
    const desc = await attachJson([`oci:${layout}:10`, '--platform', 'linux/arm/v7', '--artifact-type', 'application/vnd.example.child']);
    expect((await manifestOf(layout, desc.digest)).subject).toEqual({ mediaType: MANIFEST, digest: child, size: (await stat(path.join(layout, 'blobs', 'sha256', child.slice(7)))).size });
    const ofChild = await expectJson<{ manifests: Descriptor[] }>(['referrers', `oci:${layout}@${child}`]);
    expect(ofChild.manifests.map((m) => m.digest)).toEqual([desc.digest]);
    const ofIndex = await expectJson<{ manifests: Descriptor[] }>(['referrers', `oci:${layout}:10`]);
    expect(ofIndex.manifests).toEqual([]);
  });

  it('without --platform the index itself is the subject', async () => {
    const desc = await attachJson([`oci:${layout}:buster`, '--artifact-type', 'application/vnd.example.whole']);
    expect((await manifestOf(layout, desc.digest)).subject).toEqual({ mediaType: INDEX, digest: e.multi.index, size: e.multi.indexSize });
  });
});

/** Peak resident set size (bytes) of a command: GNU time when present, else the kernel's VmHWM polled from /proc. */
async function peakRss(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; peak: number }> {
  const gnuTime = existsSync('/usr/bin/time');
  const [cmd, argv] = gnuTime ? ['/usr/bin/time', ['-v', process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let polled = 0;
  const poll = gnuTime
    ? undefined
    : setInterval(() => {
        readFile(`/proc/${child.pid}/status`, 'utf8')
          .then((s) => (polled = Math.max(polled, Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024)))
          .catch(() => undefined);
      }, 20);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (poll) clearInterval(poll);
  const fromTime = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { code, stdout, stderr, peak: fromTime ? Number(fromTime[1]) * 1024 : polled };
}

describe('attach streams file content', () => {
  it('a 300 MB file attaches with the process peak RSS under 200 MB, and its blob is stored whole', async () => {
    const layout = await fresh('single-image');
    const big = path.join(await mkdirUnique(), 'big.img');
    const size = 300 * 1024 * 1024;
    await writeFile(big, '');
    await truncate(big, size); // sparse: no disk or time spent writing zeros
    const r = await peakRss(['attach', `oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.big', big], EPOCH);
    expect(r.code, r.stderr).toBe(0);
    expect(r.peak).toBeGreaterThan(0);
    expect(r.peak).toBeLessThan(200 * 1024 * 1024);
    const m = await manifestOf(layout, r.stdout.trim());
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0]!.size).toBe(size);
    // sha256 of 300 MiB of zeros, computed here without holding them in memory.
    const h = createHash('sha256');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 300; i++) h.update(chunk);
    expect(m.layers[0]!.digest).toBe(`sha256:${h.digest('hex')}`);
    expect((await stat(path.join(layout, 'blobs', 'sha256', m.layers[0]!.digest.slice(7)))).size).toBe(size);
  });
});

// Nothing here writes, so the cases may run at once on one layout.
describe.concurrent('attach: bad input fails cleanly and leaves the layout untouched', () => {
  let layout: string;
  let files: string;

  beforeAll(async () => {
    layout = await fresh('with-referrers');
    files = await mkdirUnique();
    await writeFile(path.join(files, 'ok.txt'), 'ok\n');
    await mkdir(path.join(files, 'a-directory'));
    await writeFile(path.join(files, 'not-json.json'), '{"$manifest": {');
    await writeFile(path.join(files, 'array.json'), '[{"a": "b"}]');
    await writeFile(path.join(files, 'number-value.json'), JSON.stringify({ $manifest: { 'com.example.n': 1 } }));
    await writeFile(path.join(files, 'file-not-object.json'), JSON.stringify({ 'ok.txt': 'com.example.x=y' }));
    await mkdir(path.join(files, 'sub'));
    await writeFile(path.join(files, 'sub', 'ok.txt'), 'another ok\n');
  });

  const zeros = 'sha256:0000000000000000000000000000000000000000000000000000000000000000';
  const cases: Array<{ name: string; args: () => string[]; exit: 1 | 2; code: string; env?: Record<string, string> }> = [
    { name: 'subject tag not found', args: () => [`oci:${layout}:nope`, '--artifact-type', 'application/x.a'], exit: 1, code: 'NOT_FOUND' },
    { name: 'subject digest not found', args: () => [`oci:${layout}@${zeros}`, '--artifact-type', 'application/x.a'], exit: 1, code: 'NOT_FOUND' },
    { name: 'artifact type without a slash', args: () => [`oci:${layout}:v1`, '--artifact-type', 'sbom'], exit: 2, code: 'USAGE' },
    { name: 'empty artifact type', args: () => [`oci:${layout}:v1`, '--artifact-type', ''], exit: 2, code: 'USAGE' },
    { name: 'file missing', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', path.join(files, 'missing.txt')], exit: 1, code: 'NOT_FOUND' },
    { name: 'file is a directory', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', path.join(files, 'a-directory')], exit: 2, code: 'USAGE' },
    { name: 'layer media type invalid', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', `${path.join(files, 'ok.txt')}:text/plain/extra`], exit: 2, code: 'USAGE' },
    { name: 'two files with one title', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', path.join(files, 'ok.txt'), path.join(files, 'sub', 'ok.txt')], exit: 2, code: 'USAGE' },
    { name: 'annotation without =', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', '--annotation', 'com.example.novalue'], exit: 2, code: 'USAGE' },
    { name: 'annotation file not JSON', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', '--annotation-file', path.join(files, 'not-json.json')], exit: 2, code: 'USAGE' },
    { name: 'annotation file not an object', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', '--annotation-file', path.join(files, 'array.json')], exit: 2, code: 'USAGE' },
    { name: 'annotation file with a non-string value', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', '--annotation-file', path.join(files, 'number-value.json')], exit: 2, code: 'USAGE' },
    { name: 'annotation file with a file key that is not an object', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', path.join(files, 'ok.txt'), '--annotation-file', path.join(files, 'file-not-object.json')], exit: 2, code: 'USAGE' },
    { name: 'annotation file missing', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a', '--annotation-file', path.join(files, 'missing.json')], exit: 1, code: 'NOT_FOUND' },
    { name: 'SOURCE_DATE_EPOCH not a number', args: () => [`oci:${layout}:v1`, '--artifact-type', 'application/x.a'], exit: 2, code: 'USAGE', env: { SOURCE_DATE_EPOCH: 'yesterday' } },
    { name: 'missing --artifact-type', args: () => [`oci:${layout}:v1`, path.join(files, 'ok.txt')], exit: 2, code: 'USAGE' },
  ];

  for (const c of cases) {
    it(`${c.name}: exit ${c.exit}, ${c.code}`, async () => {
      const indexBefore = await readFile(path.join(layout, 'index.json'));
      await expectFailure(['attach', ...c.args()], { exit: c.exit, code: c.code, unchanged: layout, env: c.env });
      expect((await readFile(path.join(layout, 'index.json'))).equals(indexBefore)).toBe(true);
    });
  }

  it('the error goes to stderr as one line when not asked for JSON', async () => {
    const r = await ocikit(['attach', `oci:${layout}:nope`, '--artifact-type', 'application/x.a']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toMatch(/^ocikit: /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
