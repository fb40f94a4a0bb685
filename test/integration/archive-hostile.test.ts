/**
 * Hostile archives: each is refused with a typed error, and unpacking it
 * writes nothing outside the destination: a new destination is not left
 * behind, its parent is unchanged, and an existing layout keeps its
 * index.json (and, for archives refused before any copy, every byte).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { expectFailure, fixture, loadExpected, type Expected } from './_support.js';
import { layoutEntries, writeTarStream, type TarSpec } from './archive-helpers.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-hostile-');
});
afterAll(async () => {
  await tmp.cleanup();
});

type Case = {
  name: string;
  code: string;
  /** Read as a stream, where another code says it first (a second copy of a blob is hashed like any blob). */
  streamCode?: string;
  build: (entries: TarSpec[]) => Promise<Buffer | TarSpec[]>;
};

const layerName = () => `blobs/sha256/${E.single.layers[0]!.slice(7)}`;

const CASES: Case[] = [
  { name: 'a "../" entry', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [...e.slice(0, 1), { name: '../escaped', content: 'x' }, ...e.slice(1)] },
  { name: 'a nested ".." entry', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [...e, { name: 'blobs/../../escaped', content: 'x' }] },
  { name: 'an absolute path', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [{ name: '/tmp/ocikit-escaped', content: 'x' }, ...e] },
  {
    name: 'a blob that is a symlink',
    code: 'UNSAFE_ARCHIVE_ENTRY',
    build: async (e) => [...e.filter((x) => x.name !== layerName()), { name: layerName(), type: 'symlink', linkname: '/etc/passwd' }],
  },
  { name: 'a hard link', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [...e, { name: 'copy-of-index', type: 'link', linkname: 'index.json' }] },
  { name: 'a device entry', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [...e, { name: 'dev-null', type: 'character-device' }] },
  { name: 'a FIFO entry', code: 'UNSAFE_ARCHIVE_ENTRY', build: async (e) => [...e, { name: 'pipe', type: 'fifo' }] },
  {
    name: 'duplicate blob entries with different content',
    code: 'UNSAFE_ARCHIVE_ENTRY',
    streamCode: 'DIGEST_MISMATCH',
    build: async (e) => {
      const layer = e.find((x) => x.name === layerName())!;
      return [...e, { name: `./${layerName()}`, content: Buffer.alloc((layer.content as Buffer).length, 0x42) }];
    },
  },
  {
    name: 'a blob whose content does not match its digest',
    code: 'DIGEST_MISMATCH',
    build: async (e) => e.map((x) => (x.name === layerName() ? { ...x, content: Buffer.alloc((x.content as Buffer).length, 0x41) } : x)),
  },
  {
    name: 'a truncated archive (cut inside a blob)',
    code: 'UNSAFE_ARCHIVE_ENTRY',
    build: async (e) => {
      const whole = await readFile(await writeTarStream(path.join(tmp.dir, `whole-${++n}.tar`), e));
      return whole.subarray(0, Math.floor(whole.length / 2));
    },
  },
  {
    name: 'an archive that ends before its end-of-archive marker',
    code: 'UNSAFE_ARCHIVE_ENTRY',
    build: async (e) => {
      const whole = await readFile(await writeTarStream(path.join(tmp.dir, `whole-${++n}.tar`), e));
      return whole.subarray(0, whole.length - 1024);
    },
  },
  {
    // Read as text it would name another tag (U+FFFD) than the bytes say. index.json is read in
    // chunks (fs/chunked-text.ts): the byte sits far from the start, past the first chunk.
    name: 'an index.json that is not UTF-8',
    code: 'INVALID_LAYOUT',
    build: async (e) =>
      e.map((x) => {
        if (x.name !== 'index.json') return x;
        const doc = JSON.parse(Buffer.from(x.content as Buffer).toString('utf8')) as { annotations?: Record<string, string> };
        doc.annotations = { padding: 'p'.repeat(100_000), last: 'v\u00ff' };
        return { ...x, content: Buffer.from(JSON.stringify(doc), 'latin1') };
      }),
  },
];

async function buildArchive(c: Case): Promise<string> {
  const file = path.join(tmp.dir, `hostile-${++n}.tar`);
  const built = await c.build(await layoutEntries(fixture('single-image')));
  if (Buffer.isBuffer(built)) await writeFile(file, built);
  else await writeTarStream(file, built);
  return file;
}

describe.each(CASES)('$name', (c) => {
  it(`is refused with ${c.code}; a new destination is not created and its parent is unchanged`, async () => {
    const archive = await buildArchive(c);
    const parent = path.join(tmp.dir, `parent-${++n}`);
    await mkdir(parent);
    await writeFile(path.join(parent, 'neighbour'), 'keep me');
    const before = await snapshotTree(parent);
    await expectFailure(['unpack', archive, path.join(parent, 'dest')], { exit: 1, code: c.code });
    expect(await snapshotTree(parent)).toEqual(before);
    // The same archive as a copy source into a new layout.
    await expectFailure(['copy', `${archive}:v1`, `oci:${path.join(parent, 'copied')}`], { exit: 1, code: c.code });
    expect(await snapshotTree(parent)).toEqual(before);
  });

  it('merging it into an existing layout leaves its index.json (and, refused up front, everything) unchanged', async () => {
    const archive = await buildArchive(c);
    const dest = path.join(tmp.dir, `existing-${++n}`);
    await cp(fixture('multi-platform'), dest, { recursive: true });
    const before = await snapshotTree(dest);
    await expectFailure(['unpack', archive, dest], { exit: 1, code: c.code });
    const after = await snapshotTree(dest);
    if (c.code === 'UNSAFE_ARCHIVE_ENTRY') expect(after).toEqual(before);
    expect(after['index.json']).toBe(before['index.json']);
    // Whatever else is there now is a verified blob (content-addressed; gc reclaims it) or gc's lease bookkeeping.
    for (const key of Object.keys(after)) if (!(key in before)) expect(key).toMatch(/^(blobs\/sha256\/[a-f0-9]{64}|\.ocikit-leases(\/.*)?)$/);
  });

  it('gzip-compressed on stdin: unpack - refuses it the same way (index.json untouched), verify - reports it', async () => {
    const gz = zlib.gzipSync(await readFile(await buildArchive(c)));
    const code = c.streamCode ?? c.code;
    const parent = path.join(tmp.dir, `stdin-parent-${++n}`);
    await mkdir(parent);
    const before = await snapshotTree(parent);
    const fresh = await ocikit(['unpack', '-', path.join(parent, 'dest'), '--json'], { input: gz });
    expect(fresh.code, fresh.stderr).toBe(1);
    expect(JSON.parse(fresh.stdout).error.code).toBe(code);
    expect(await snapshotTree(parent)).toEqual(before);

    const dest = path.join(tmp.dir, `stdin-existing-${++n}`);
    await cp(fixture('multi-platform'), dest, { recursive: true });
    const existing = await snapshotTree(dest);
    const merged = await ocikit(['unpack', '-', dest, '--json'], { input: gz });
    expect(merged.code, merged.stderr).toBe(1);
    expect(JSON.parse(merged.stdout).error.code).toBe(code);
    const after = await snapshotTree(dest);
    expect(after['index.json']).toBe(existing['index.json']);
    // Read as a stream, blobs before the bad entry may have landed: verified, unreferenced, gc-able.
    for (const key of Object.keys(after)) if (!(key in existing)) expect(key).toMatch(/^(blobs\/sha256\/[a-f0-9]{64}|\.ocikit-leases(\/.*)?)$/);

    const v = await ocikit(['verify', '-', '--json'], { input: gz });
    expect(v.code, v.stderr).toBe(1);
    expect((JSON.parse(v.stdout) as { findings: Array<{ severity: string; code: string }> }).findings.filter((f) => f.severity === 'error').map((f) => f.code)).toContain(code);
  });
});
