/**
 * Compressed archives are decompressed into a spool (issue 16, point 7):
 * only up to the tar's end-of-archive marker, within a limit, and never left
 * behind — not on Ctrl-C or SIGTERM (removed at once, exit 130/143), not
 * after a SIGKILL (the next run removes what a dead process of this host
 * left). The same holds for the partial archive `pack` writes beside its
 * destination.
 *
 * Spool sizes are checked through OCIKIT_SPOOL_LIMIT, not by timing: a run
 * that passes with a limit of a few MiB spooled less than that. Whole-archive
 * `unpack` and `verify` of a .tar.gz read it as a stream, with no spool, and
 * the same limit bounds what they decompress (archive-gzip.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { caseDirs, ocikit, REPO_ROOT, tempDir, type JsonError } from '../helpers/cli.js';
import { signalWhileWriting, spawnOcikit } from '../helpers/crash.js';
import { codes, findingsFor, type VerifyJson } from '../helpers/audit-layouts.js';
import { gnuTarOf, makeImageLayout } from './archive-helpers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
const cases = caseDirs(() => tmp.dir);

beforeAll(async () => {
  tmp = await tempDir('ocikit-archive-spool-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const MiB = 1024 * 1024;

/** gzip `parts` (buffers, or a count of MiB of zeros) into `file`. */
async function gzipTo(file: string, parts: Array<Buffer | { zerosMiB: number }>): Promise<string> {
  async function* chunks() {
    for (const part of parts) {
      if (Buffer.isBuffer(part)) yield part;
      else for (let i = 0; i < part.zerosMiB; i++) yield Buffer.alloc(MiB);
    }
  }
  await pipeline(Readable.from(chunks()), zlib.createGzip({ level: 9 }), createWriteStream(file));
  return file;
}

/** A small layout packed by ocikit into an uncompressed tar. */
async function packedLayout(dir: string, layerBytes = 4096): Promise<string> {
  const layout = path.join(dir, 'layout');
  await makeImageLayout(layout, { layerBytes, zeros: true });
  const tar = path.join(dir, 'image.tar');
  const r = await ocikit(['pack', layout, tar]);
  expect(r.code, r.stderr).toBe(0);
  return tar;
}

async function verifyWith(target: string, env: Record<string, string>): Promise<{ code: number; report: VerifyJson; stderr: string }> {
  const r = await ocikit(['verify', target, '--format', 'json'], { env });
  return { code: r.code, report: JSON.parse(r.stdout) as VerifyJson, stderr: r.stderr };
}

/** ocikit's temp names (`.ocikit-<kind>-<pid>-<host>-<random>`), here for `pid`: the name format is a contract with older and newer ocikits. */
function tempName(kind: 'tmp' | 'spool', pid: number): string {
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  return `.ocikit-${kind}-${pid}-${host}-0123456789ab`;
}

async function ocikitFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('.ocikit-'));
}

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('the end of the tar', () => {
  it('a gzip bomb (a layout, then 200 MiB of zeros) verifies with a TRAILING_DATA warning and spools no more than the tar', async () => {
    const dir = await cases.dir();
    const tar = await packedLayout(dir);
    const bomb = await gzipTo(path.join(dir, 'bomb.tar.gz'), [await readFile(tar), { zerosMiB: 200 }]);
    const tmpdir = path.join(dir, 'tmp');
    await mkdir(tmpdir);
    // A limit of 4 MiB: spooling the zeros would exceed it fifty times over.
    const env = { TMPDIR: tmpdir, OCIKIT_SPOOL_LIMIT: '4M' };
    const { code, report, stderr } = await verifyWith(bomb, env);
    expect(code, stderr).toBe(0);
    expect(codes(report, 'warning')).toEqual(['TRAILING_DATA']);
    expect(report.summary.errors).toBe(0);
    expect(await readdir(tmpdir)).toEqual([]);

    // Commands that copy the content proceed: they read only what precedes the marker.
    const out = path.join(dir, 'unpacked');
    const r = await ocikit(['unpack', bomb, out], { env });
    expect(r.code, r.stderr).toBe(0);
    expect((await verifyWith(out, {})).report.ok).toBe(true);
    expect(await ocikitFiles(dir)).toEqual([]);
  });

  it('an uncompressed tar with bytes after its marker gets TRAILING_DATA; GNU tar record padding does not', async () => {
    const dir = await cases.dir();
    const tar = await packedLayout(dir);
    const padded = gnuTarOf(path.join(dir, 'layout'), path.join(dir, 'gnu.tar'));
    const gnu = await verifyWith(padded, {});
    expect(gnu.code, gnu.stderr).toBe(0);
    expect(codes(gnu.report)).not.toContain('TRAILING_DATA');

    await appendFile(tar, 'appended after the end of the archive\n');
    const { code, report, stderr } = await verifyWith(tar, {});
    expect(code, stderr).toBe(0);
    expect(findingsFor(report, `archive ${tar}`).map((f) => [f.severity, f.code])).toEqual([['warning', 'TRAILING_DATA']]);
  });
});

describe('the spool limit', () => {
  it('an archive that decompresses past OCIKIT_SPOOL_LIMIT is refused with LIMIT_EXCEEDED, and no spool is left', async () => {
    const dir = await cases.dir();
    const gz = await gzipTo(path.join(dir, 'image.tar.gz'), [await readFile(await packedLayout(dir, 2 * MiB))]);
    const tmpdir = path.join(dir, 'tmp');
    await mkdir(tmpdir);
    const env = { TMPDIR: tmpdir, OCIKIT_SPOOL_LIMIT: '1M' };
    // unpack and verify read it as a stream, without a spool: the same limit bounds what they decompress.
    const r = await ocikit(['unpack', gz, path.join(dir, 'out'), '--format', 'json'], { env });
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as JsonError).error.code).toBe('LIMIT_EXCEEDED');
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
    expect(await ocikitFiles(dir)).toEqual([]);

    const v = await verifyWith(gz, env);
    expect(v.code).toBe(1);
    expect(codes(v.report, 'error')).toEqual(['LIMIT_EXCEEDED']);
    expect(await readdir(tmpdir)).toEqual([]);

    // Raised, it passes.
    expect((await verifyWith(gz, { ...env, OCIKIT_SPOOL_LIMIT: '8M' })).code).toBe(0);
  });
});

describe('the spool directory', () => {
  it('one that cannot be written is an IO_ERROR about it, not a missing archive', async () => {
    const dir = await cases.dir();
    const gz = await gzipTo(path.join(dir, 'image.tar.gz'), [await readFile(await packedLayout(dir))]);
    // ls reads parts of the archive, so it spools (verify reads it whole, as a stream: archive-gzip.test.ts).
    const r = await ocikit(['ls', gz, '--json'], { env: { TMPDIR: path.join(dir, 'absent') } });
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as JsonError).error).toMatchObject({ code: 'IO_ERROR', path: path.join(dir, 'absent') });
  });
});

describe('signals', () => {
  /** One layout with a 256 MiB layer of zeros (its archive compresses to 256 KiB): long enough to write that a signal meets it. */
  let big: { layout: string; layer: string };
  beforeAll(async () => {
    const layout = path.join(tmp.dir, 'big');
    big = { layout, layer: (await makeImageLayout(layout, { layerBytes: 256 * MiB, zeros: true })).layer };
  });

  it('SIGINT during pack to a file removes the partial archive and exits 130', async () => {
    const dir = await cases.dir();
    const { layout } = big;
    const out = path.join(dir, 'out');
    await mkdir(out);
    const proc = spawnOcikit(['pack', layout, path.join(out, 'image.tar')]);
    await signalWhileWriting(proc, out, '.ocikit-tmp-', 'SIGINT');
    expect(await proc.exited).toEqual({ code: 130, signal: null });
    expect(await readdir(out)).toEqual([]);
  });

  it('SIGTERM during a gz ls removes the spool and exits 143', async () => {
    const dir = await cases.dir();
    const { layout } = big;
    const gz = path.join(dir, 'image.tar.gz');
    expect((await ocikit(['pack', layout, gz])).code).toBe(0);
    const tmpdir = path.join(dir, 'tmp');
    await mkdir(tmpdir);
    const proc = spawnOcikit(['ls', gz], { TMPDIR: tmpdir, OCIKIT_SPOOL_LIMIT: '1G' });
    await signalWhileWriting(proc, tmpdir, '.ocikit-', 'SIGTERM');
    expect(await proc.exited).toEqual({ code: 143, signal: null });
    expect(await readdir(tmpdir)).toEqual([]);
  });

  it('SIGTERM during blob fetch -o removes the partial file and exits 143', async () => {
    const dir = await cases.dir();
    const proc = spawnOcikit(['blob', 'fetch', `${big.layout}@${big.layer}`, '-o', path.join(dir, 'layer.tar')]);
    await signalWhileWriting(proc, dir, '.ocikit-tmp-', 'SIGTERM');
    expect(await proc.exited).toEqual({ code: 143, signal: null });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a layout lock held when SIGINT arrives is released', async () => {
    const dir = await cases.dir();
    const layout = path.join(dir, 'layout');
    await makeImageLayout(layout, { layerBytes: 16 });
    // The CLI's handler with a lock held, as during a long gc: the lock must not outlive the process.
    const script = `
      const { LayoutDir } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/index.js'))});
      const { exitOnSignalsRemovingTempFiles } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/cli/signals.js'))});
      exitOnSignalsRemovingTempFiles(process.stderr);
      const layout = await LayoutDir.open(${JSON.stringify(layout)});
      await layout.exclusive(() => { process.stdout.write('locked\\n'); return new Promise(() => setInterval(() => {}, 1000)); });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('locked') && resolve());
      child.on('exit', () => reject(new Error('the lock holder ended early')));
    });
    expect(existsSync(path.join(layout, '.ocikit.lock'))).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: 130, signal: null });
    expect(existsSync(path.join(layout, '.ocikit.lock'))).toBe(false);
  });
});

describe('what a SIGKILL left', () => {
  it('the next pack removes a dead process\'s partial archive beside its destination, and keeps a live one\'s', async () => {
    const dir = await cases.dir();
    const tar = await packedLayout(dir);
    const dead = tempName('tmp', await deadPid());
    const live = tempName('tmp', process.pid);
    const foreign = `.ocikit-tmp-${await deadPid()}-0123abcd-0123456789ab`; // another host's tag
    for (const n of [dead, live, foreign]) await writeFile(path.join(dir, n), 'partial archive');
    const r = await ocikit(['pack', `oci-archive:${tar}`, path.join(dir, 'again.tar')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await ocikitFiles(dir)).sort()).toEqual([foreign, live].sort());
  });

  it('gc removes a dead process\'s temp file from a layout, and keeps one from another host (its pid means nothing here)', async () => {
    const dir = await cases.dir();
    const layout = path.join(dir, 'layout');
    await makeImageLayout(layout, { layerBytes: 16 });
    const dead = tempName('tmp', await deadPid());
    const foreign = `.ocikit-tmp-${await deadPid()}-0123abcd-0123456789ab`;
    for (const n of [dead, foreign]) await writeFile(path.join(layout, n), 'half a blob');
    const r = await ocikit(['gc', layout, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { removedTempFiles: string[] }).removedTempFiles).toEqual([dead]);
    expect(await ocikitFiles(layout)).toEqual([foreign]);
  });

  it('the next spool removes dead spools in TMPDIR, and keeps a live one', async () => {
    const dir = await cases.dir();
    const gz = await gzipTo(path.join(dir, 'image.tar.gz'), [await readFile(await packedLayout(dir))]);
    const tmpdir = path.join(dir, 'tmp');
    await mkdir(tmpdir);
    const dead = tempName('spool', await deadPid());
    const live = tempName('spool', process.pid);
    for (const n of [dead, live]) await writeFile(path.join(tmpdir, n), 'half a spool');
    const { code, stderr } = await ocikit(['ls', gz], { env: { TMPDIR: tmpdir } });
    expect(code, stderr).toBe(0);
    expect(await readdir(tmpdir)).toEqual([live]);
  });
});
