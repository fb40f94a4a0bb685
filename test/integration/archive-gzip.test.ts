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

/** `sh -c SCRIPT` with the built CLI as `$OCIKIT`. */
function sh(script: string, env: Record<string, string> = {}): Promise<RunResult> {
  return run('sh', ['-c', script], { env: { OCIKIT: `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`, ...env } });
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
