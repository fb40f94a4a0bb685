/**
 * Compressed and streamed archives (issue 15).
 *
 * - Every read command answers for a `.tar.gz`/`.tgz` that `pack` wrote
 *   exactly what it answers for the layout directory (one table).
 * - `unpack -` and `verify -` read an archive from stdin, plain or gzip, in
 *   one pass and without a temporary file; so do `unpack`/`verify` of a
 *   `.tar.gz` file. Damage in the stream is found (verify: the finding
 *   code; unpack: exit 1 and the destination as it was).
 *
 * JSON is asked for with `--json`, which works before and after `--output`
 * became a path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { BIN, caseDirs, ocikit, run, snapshotTree, tempDir, type RunResult } from '../helpers/cli.js';
import { blobFile, fixture, loadExpected, type Expected } from './_support.js';
import { startServe } from './serve-helpers.js';
import { layoutEntries, writeTarStream } from './archive-helpers.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
const cases = caseDirs(() => tmp.dir);
/** The fixtures packed once, gzip-compressed, as `pack` writes them. */
const gz: Record<string, string> = {};

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-gzip-');
  for (const [name, file] of [['with-referrers', 'with-referrers.tar.gz'], ['single-image', 'single.tgz'], ['multi-platform', 'multi.tar.gz']] as const) {
    gz[name] = path.join(tmp.dir, file);
    const r = await ocikit(['pack', fixture(name), gz[name]!]);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterAll(async () => {
  await tmp.cleanup();
});

function ok(r: RunResult, what: string): RunResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** The `{"error":{"code"}}` document a failed `--json` run printed. */
function errorCode(r: RunResult): string | undefined {
  try {
    return (JSON.parse(r.stdout) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** `sh -c SCRIPT`, where `ocikit` runs the built CLI. */
function sh(script: string, env: Record<string, string> = {}): Promise<RunResult> {
  return run('sh', ['-c', `ocikit() { "$OCIKIT_NODE" "$OCIKIT_BIN" "$@"; }\n${script}`], { env: { OCIKIT_NODE: process.execPath, OCIKIT_BIN: BIN, ...env } });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('every read command on a .tar.gz that pack wrote', () => {
  /** A command on a target, run on the archive and on the directory: the outputs must match once the target's name is blanked. */
  interface Row {
    name: string;
    fixture: keyof typeof gz | string;
    args: (target: string) => string[];
  }
  const rows: Row[] = [
    { name: 'ls', fixture: 'with-referrers', args: (t) => ['ls', t, '--json'] },
    { name: 'tags', fixture: 'multi-platform', args: (t) => ['tags', t] },
    { name: 'resolve', fixture: 'multi-platform', args: (t) => ['resolve', `${t}:10`, '--platform', 'linux/arm/v7'] },
    { name: 'manifest fetch', fixture: 'single-image', args: (t) => ['manifest', 'fetch', `${t}:v1`] },
    { name: 'manifest fetch-config', fixture: 'single-image', args: (t) => ['manifest', 'fetch-config', `${t}:v1`] },
    { name: 'referrers', fixture: 'with-referrers', args: (t) => ['referrers', `${t}@${E.referrers.image}`] },
    { name: 'discover', fixture: 'with-referrers', args: (t) => ['discover', `${t}@${E.referrers.image}`, '--json'] },
    { name: 'blob fetch', fixture: 'single-image', args: (t) => ['blob', 'fetch', `${t}@${E.single.layers[1]}`] },
    { name: 'inspect', fixture: 'with-referrers', args: (t) => ['inspect', t, '--json'] },
    { name: 'verify', fixture: 'with-referrers', args: (t) => ['verify', t, '--json'] },
    { name: 'diff', fixture: 'multi-platform', args: (t) => ['diff', t, fixture('single-image'), '--json'] },
  ];

  /** The output with the target's own name blanked (`archive X` / `layout X`), for comparison. */
  function blanked(out: string, target: string): string {
    return out.split(`archive ${target}`).join('TARGET').split(`layout ${target}`).join('TARGET').split(target).join('TARGET');
  }

  it.each(rows)('$name answers as for the directory', async ({ fixture: f, args }) => {
    const archive = gz[f]!;
    const dir = fixture(f);
    const fromArchive = ok(await ocikit(args(archive)), `${args(archive).join(' ')}`);
    const fromDir = ok(await ocikit(args(dir)), `${args(dir).join(' ')}`);
    expect(blanked(fromArchive.stdout, archive)).toBe(blanked(fromDir.stdout, dir));
    expect(fromArchive.stdoutBytes.length).toBeGreaterThan(0);
  });

  it('copy from it, unpack it, and serve it', async () => {
    const dir = await cases.dir();
    ok(await ocikit(['copy', `${gz['multi-platform']}:10`, `oci:${path.join(dir, 'copied')}:ten`, '--platform', 'linux/s390x']), 'copy');
    expect((await ocikit(['resolve', `${path.join(dir, 'copied')}:ten`])).stdout.trim()).toBe(E.multi.manifests['linux/s390x']!.image);

    ok(await ocikit(['unpack', gz['with-referrers']!, path.join(dir, 'unpacked')]), 'unpack');
    ok(await ocikit(['verify', path.join(dir, 'unpacked')]), 'verify the unpacked layout');
    expect((await ocikit(['referrers', `${path.join(dir, 'unpacked')}@${E.referrers.image}`])).stdout).toBe(
      (await ocikit(['referrers', `${fixture('with-referrers')}@${E.referrers.image}`])).stdout,
    );

    const server = await startServe([gz['single-image']!]);
    try {
      const res = await fetch(`http://${server.host}/v2/single/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(blobFile(fixture('single-image'), E.single.image)))).toBe(true);
    } finally {
      await server.stop();
    }
  });
});

describe('archives on stdin, and .tar.gz read whole in one pass', () => {
  /** An empty TMPDIR that each streaming run must leave empty: no spool, no temp file. */
  async function emptyTmp(dir: string): Promise<string> {
    const t = path.join(dir, 'tmp');
    await mkdir(t);
    return t;
  }

  /** `ocikit ls DIR --json`, to compare what two layouts list. */
  async function listing(dir: string): Promise<unknown> {
    return JSON.parse(ok(await ocikit(['ls', dir, '--json']), `ls ${dir}`).stdout);
  }

  /** The single-image fixture as a tar whose second layer's bytes do not match its name, gzip-compressed. */
  async function tamperedGz(dir: string): Promise<string> {
    const layer = `blobs/sha256/${E.single.layers[1]!.slice(7)}`;
    const entries = (await layoutEntries(fixture('single-image'))).map((e) => (e.name === layer ? { ...e, content: Buffer.alloc((e.content as Buffer).length, 0x41) } : e));
    const tar = await writeTarStream(path.join(dir, 'tampered.tar'), entries);
    const file = path.join(dir, 'tampered.tar.gz');
    await writeFile(file, zlib.gzipSync(await readFile(tar)));
    return file;
  }

  it('pack SRC - | unpack - DIR, and pack SRC - | verify -, through a shell pipe; TMPDIR stays empty', async () => {
    const dir = await cases.dir();
    const TMPDIR = await emptyTmp(dir);
    const out = path.join(dir, 'out');
    const src = fixture('with-referrers');
    const unpacked = ok(await sh(`ocikit pack ${q(src)} - | ocikit unpack - ${q(out)} --json`, { TMPDIR }), 'pack | unpack -');
    expect(JSON.parse(unpacked.stdout)).toMatchObject({ dir: out, created: true });
    expect(await listing(out)).toEqual(await listing(src));
    ok(await ocikit(['verify', out]), 'verify the unpacked layout');

    const verified = ok(await sh(`ocikit pack ${q(src)} - | ocikit verify - --json`, { TMPDIR }), 'pack | verify -');
    const report = JSON.parse(verified.stdout) as { ok: boolean; summary: { manifests: number; blobs: number; errors: number } };
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ manifests: 4, blobs: 11, errors: 0 });
    expect(await readdir(TMPDIR)).toEqual([]);
  });

  it('gzip on stdin: unpack - merges into an existing layout, verify - checks it; no temp file anywhere', async () => {
    const dir = await cases.dir();
    const TMPDIR = await emptyTmp(dir);
    const layout = path.join(dir, 'layout');
    ok(await ocikit(['copy', `oci:${fixture('multi-platform')}:10`, `oci:${layout}:ten`]), 'make a layout');
    ok(await sh(`ocikit pack ${q(fixture('single-image'))} - | gzip -c | ocikit unpack - ${q(layout)}`, { TMPDIR }), 'pack | gzip | unpack -');
    expect((await ocikit(['resolve', `${layout}:v1`])).stdout.trim()).toBe(E.single.image);
    expect((await ocikit(['resolve', `${layout}:ten`])).stdout.trim()).toBe(E.multi.index);
    ok(await ocikit(['verify', layout]), 'verify the merged layout');
    expect((await readdir(layout)).filter((n) => n.startsWith('.ocikit-') && n !== '.ocikit.lock')).toEqual([]);

    const v = ok(await sh(`ocikit verify - --json < ${q(gz['multi-platform']!)}`, { TMPDIR }), 'verify - < FILE.tar.gz');
    expect((JSON.parse(v.stdout) as { ok: boolean }).ok).toBe(true);
    expect(await readdir(TMPDIR)).toEqual([]);
  });

  // verify FILE.tar.gz spools instead (read in place, it keeps outcomes, not documents: bounded at any
  // number of manifests); verify - cannot, and reads in one pass.
  it('unpack of a .tar.gz file and verify of one on stdin spool nothing: they work where TMPDIR does not even exist', async () => {
    const dir = await cases.dir();
    const TMPDIR = path.join(dir, 'no-such-tmp');
    const v = await sh(`ocikit verify - --json < ${q(gz['with-referrers']!)}`, { TMPDIR });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const out = path.join(dir, 'out');
    ok(await ocikit(['unpack', gz['with-referrers']!, out], { env: { TMPDIR } }), 'unpack FILE.tar.gz');
    expect(await readdir(dir)).toEqual(['out']); // nothing beside the destination either
    expect(await listing(out)).toEqual(await listing(fixture('with-referrers')));
  });

  it('a corrupted blob in a gzip stream: verify - exits 1 with DIGEST_MISMATCH; unpack - exits 1 and leaves the destination as it was', async () => {
    const dir = await cases.dir();
    const TMPDIR = await emptyTmp(dir);
    const bad = await tamperedGz(dir);
    const v = await sh(`ocikit verify - --json < ${q(bad)}`, { TMPDIR });
    expect(v.code, v.stderr).toBe(1);
    const report = JSON.parse(v.stdout) as { findings: Array<{ severity: string; code: string; object: string }> };
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.object])).toEqual([['DIGEST_MISMATCH', E.single.layers[1]]]);
    // The same archive as a file (decompressed to a spool and read in place).
    const vf = await ocikit(['verify', bad, '--json']);
    expect(vf.code).toBe(1);
    expect((JSON.parse(vf.stdout) as typeof report).findings.map((f) => f.code)).toEqual(['DIGEST_MISMATCH']);

    // Into an existing layout: exit 1, index.json untouched, the layout still verifies.
    const layout = path.join(dir, 'layout');
    ok(await ocikit(['copy', `oci:${fixture('multi-platform')}:10`, `oci:${layout}:ten`]), 'make a layout');
    const indexBefore = await readFile(path.join(layout, 'index.json'));
    const u = await sh(`ocikit unpack - ${q(layout)} --json < ${q(bad)}`, { TMPDIR });
    expect(u.code, u.stderr).toBe(1);
    expect(errorCode(u)).toBe('DIGEST_MISMATCH');
    expect((await readFile(path.join(layout, 'index.json'))).equals(indexBefore)).toBe(true);
    expect(existsSync(path.join(layout, 'blobs', 'sha256', E.single.layers[1]!.slice(7)))).toBe(false);
    ok(await ocikit(['verify', layout]), 'the layout still verifies');

    // Into a new directory: exit 1, and no directory.
    const fresh = path.join(dir, 'fresh');
    const f = await sh(`ocikit unpack - ${q(fresh)} --json < ${q(bad)}`, { TMPDIR });
    expect(f.code).toBe(1);
    expect(errorCode(f)).toBe('DIGEST_MISMATCH');
    expect(existsSync(fresh)).toBe(false);
    expect(await readdir(TMPDIR)).toEqual([]);
  });

  it('a truncated gzip stream on stdin: a clear error (UNSAFE_ARCHIVE_ENTRY), exit 1, nothing left behind', async () => {
    const dir = await cases.dir();
    const TMPDIR = await emptyTmp(dir);
    const whole = await readFile(gz['single-image']!);
    const cut = `head -c ${Math.floor(whole.length / 2)} ${q(gz['single-image']!)}`;
    const out = path.join(dir, 'out');
    const u = await sh(`${cut} | ocikit unpack - ${q(out)} --json`, { TMPDIR });
    expect(u.code).toBe(1);
    expect(errorCode(u)).toBe('UNSAFE_ARCHIVE_ENTRY');
    expect(u.stderr).toMatch(/^ocikit: .*\nhint: .*\n$/);
    expect(existsSync(out)).toBe(false);

    // Into an existing layout: untouched, byte for byte (nothing of the archive came through whole before the cut).
    const layout = path.join(dir, 'layout');
    ok(await ocikit(['copy', `oci:${fixture('multi-platform')}:10`, `oci:${layout}:ten`]), 'make a layout');
    const before = await snapshotTree(layout);
    const m = await sh(`head -c 64 ${q(gz['single-image']!)} | ocikit unpack - ${q(layout)} --json`, { TMPDIR });
    expect(m.code).toBe(1);
    expect(errorCode(m)).toBe('UNSAFE_ARCHIVE_ENTRY');
    expect(await snapshotTree(layout)).toEqual(before);

    const v = await sh(`${cut} | ocikit verify - --json`, { TMPDIR });
    expect(v.code).toBe(1);
    expect((JSON.parse(v.stdout) as { findings: Array<{ code: string }> }).findings.map((f) => f.code)).toEqual(['UNSAFE_ARCHIVE_ENTRY']);
    expect(await readdir(TMPDIR)).toEqual([]);
    expect(await readdir(dir)).toEqual(['layout', 'tmp']);
  });

  it('unpack - with --platform is a usage error: the whole archive comes from stdin', async () => {
    const dir = await cases.dir();
    const r = await sh(`ocikit unpack - ${q(path.join(dir, 'out'))} --platform linux/amd64 --json < ${q(gz['single-image']!)}`);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe('USAGE');
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('a gzip bomb on stdin (a layout, then endless zeros): reading stops at the tar\'s end; verify - warns TRAILING_DATA, unpack - succeeds', async () => {
    const dir = await cases.dir();
    const tar = path.join(dir, 'single.tar');
    ok(await ocikit(['pack', fixture('single-image'), tar]), 'pack');
    // /dev/zero never ends: these pipelines finish only because ocikit stops reading at the end-of-archive marker.
    const bomb = `{ cat ${q(tar)}; cat /dev/zero; } | gzip -1 -c`;
    const v = await sh(`${bomb} | ocikit verify - --json`);
    expect(v.code, v.stderr).toBe(0);
    const report = JSON.parse(v.stdout) as { findings: Array<{ severity: string; code: string }> };
    expect(report.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'TRAILING_DATA']]);
    const out = path.join(dir, 'out');
    ok(await sh(`${bomb} | ocikit unpack - ${q(out)}`), 'unpack - of the bomb');
    ok(await ocikit(['verify', out]), 'verify the unpacked layout');
  });
});
