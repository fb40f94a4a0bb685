/** blob fetch and blob push through the built CLI. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, copyFixture, snapshotTree, tempDir } from '../helpers/cli.js';
import { spawn } from 'node:child_process';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, type Expected } from './_support.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-blob-cmds-');
});
afterAll(async () => tmp.cleanup());

const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe.concurrent('blob fetch', () => {
  it('writes the exact bytes of a layer to stdout, to -o -, and to -o FILE', async () => {
    const layer = E.single.layers[1]!;
    const expected = await readFile(blobFile(fixture('single-image'), layer));
    const ref = `${fixture('single-image')}@${layer}`;
    const outDir = path.join(tmp.dir, 'fetch-out'); // its own directory: other tests run at the same time
    await mkdir(outDir);
    const out = path.join(outDir, 'layer.tar.gz');
    const [plain, dash, toFile] = await Promise.all([
      expectSuccess(['blob', 'fetch', ref]),
      expectSuccess(['blob', 'fetch', ref, '-o', '-']),
      expectSuccess(['blob', 'fetch', ref, '-o', out]),
    ]);
    expect(plain.stdoutBytes.equals(expected)).toBe(true);
    expect(dash.stdoutBytes.equals(expected)).toBe(true);
    expect(toFile.stdout).toBe('');
    expect((await readFile(out)).equals(expected)).toBe(true);
    // Only the file asked for: no partial file left next to it.
    expect(await readdir(outDir)).toEqual(['layer.tar.gz']);
  });

  it('stops quietly with status 141 when the reader of stdout goes away (| head)', async () => {
    // A 4 MiB blob: far more than a pipe holds, so the write after `head` has exited fails.
    const layout = path.join(tmp.dir, 'epipe');
    const big = path.join(tmp.dir, 'epipe.bin');
    await writeFile(big, randomBytes(4 * 1024 * 1024));
    await expectSuccess(['init', layout]);
    const { stdout } = await expectSuccess(['blob', 'push', layout, big]);
    const digest = /sha256:[0-9a-f]{64}/.exec(stdout)![0];
    const script = `'${process.execPath}' '${BIN}' blob fetch '${layout}@${digest}' 2>'${big}.err' | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const status = await new Promise<string>((resolve) => {
      let out = '';
      const c = spawn('bash', ['-c', script]);
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out.trim()));
    });
    expect(status).toBe('141');
    expect(await readFile(`${big}.err`, 'utf8')).toBe('');
  });

  it('with --format json and -o FILE prints the descriptor; to stdout it is a usage error', async () => {
    const out = path.join(tmp.dir, 'config.json');
    const desc = await expectJson(['blob', 'fetch', `${fixture('single-image')}@${E.single.config}`, '-o', out]);
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: E.single.config, size: 719, path: out });
    await expectFailure(['blob', 'fetch', `${fixture('single-image')}@${E.single.config}`], { exit: 2, code: 'USAGE' });
  });

  it('fails cleanly for a missing blob, a reference without a digest, and an unwritable destination', async () => {
    await expectFailure(['blob', 'fetch', `${fixture('single-image')}@${sha256('absent')}`, '-o', path.join(tmp.dir, 'absent')], { exit: 1, code: 'NOT_FOUND' });
    await expectFailure(['blob', 'fetch', `${fixture('single-image')}:v1`], { exit: 2, code: 'USAGE' });
    const nowhere = path.join(tmp.dir, 'no-such-dir', 'out');
    await expectFailure(['blob', 'fetch', `${fixture('single-image')}@${E.single.config}`, '-o', nowhere], { exit: 1, code: 'IO_ERROR' });
  });
});

describe.concurrent('blob push', () => {
  it('stores FILE and stdin under their digest, prints digest and size, and is idempotent', async () => {
    const dir = path.join(tmp.dir, 'push');
    await expectSuccess(['init', dir]);
    const content = randomBytes(3 * 1024 * 1024 + 17); // several read chunks
    const file = path.join(tmp.dir, 'payload.bin');
    await writeFile(file, content);

    const first = await expectSuccess(['blob', 'push', dir, file]);
    expect(first.stdout).toBe(`${sha256(content)} ${content.length}\n`);
    expect((await readFile(blobFile(dir, sha256(content)))).equals(content)).toBe(true);
    const snap = await snapshotTree(dir);

    // Same content again, from a file and from stdin: same answer, the layout does not change.
    const again = await expectSuccess(['blob', 'push', dir, file]);
    expect(again.stdout).toBe(first.stdout);
    const viaStdin = await expectJson(['blob', 'push', dir, '-'], { input: content });
    expect(viaStdin).toEqual({ mediaType: 'application/octet-stream', digest: sha256(content), size: content.length });
    expect(await snapshotTree(dir)).toEqual(snap);

    // An empty blob is a blob too.
    expect((await expectSuccess(['blob', 'push', dir, '-'], { input: '' })).stdout).toBe(`${sha256('')} 0\n`);
    // Pushed blobs are not listed in index.json (nothing references them yet).
    expect(await expectJson(['ls', dir])).toEqual([]);
    // blob fetch gives it back.
    const back = await expectSuccess(['blob', 'fetch', `${dir}@${sha256(content)}`]);
    expect(back.stdoutBytes.equals(content)).toBe(true);
  });

  it('refuses a reference with a tag, a directory and a missing file, changing nothing', async () => {
    const dir = path.join(tmp.dir, 'refuse');
    await mkdir(dir);
    const si = await copyFixture('single-image', dir);
    await expectFailure(['blob', 'push', `${si}:v1`, '-'], { exit: 2, code: 'USAGE', unchanged: si, input: 'x' });
    await expectFailure(['blob', 'push', si, tmp.dir], { exit: 2, code: 'USAGE', unchanged: si });
    await expectFailure(['blob', 'push', si, path.join(tmp.dir, 'missing.bin')], { exit: 1, code: 'NOT_FOUND', unchanged: si });
  });
});
