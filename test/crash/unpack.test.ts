/**
 * `unpack` of an archive into a new directory, killed at random points (also
 * before the directory or its oci-layout exist): what is left is a sound
 * layout or not yet a layout at all, and a re-run produces the same
 * directory as the source layout that was packed: the same blobs and the
 * same index.json entries. The same for a .tar.gz, which unpack reads in one
 * pass as a stream, writing blobs as they go by (targets/streamed-layout.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { ocikitOk } from '../helpers/peers.js';
import { runCrashTrials, type CrashCase } from '../helpers/crash.js';
import { blobDigests, indexEntries, transferLayout } from '../helpers/random-layout.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let source: string;
let archive: string;
let gzArchive: string;

beforeAll(async () => {
  tmp = await tempDir('ocikit-crash-unpack-');
  source = path.join(tmp.dir, 'source');
  await transferLayout(source);
  archive = path.join(tmp.dir, 'source.tar');
  await ocikitOk(['pack', source, archive]);
  gzArchive = path.join(tmp.dir, 'source.tar.gz');
  await ocikitOk(['pack', source, gzArchive]);
});
afterAll(async () => tmp?.cleanup());

const preparing = (from: () => string, label: string) => async (n: number): Promise<CrashCase> => {
  const trial = path.join(tmp.dir, `${label}-trial-${n}`);
  await mkdir(trial);
  const dir = path.join(trial, 'out');
  return { dir, args: ['unpack', from(), dir] };
};

const sortedEntries = async (dir: string) => (await indexEntries(dir)).map((e) => JSON.stringify(e)).sort();

async function expectDone(c: CrashCase): Promise<void> {
  expect(await blobDigests(c.dir)).toEqual(await blobDigests(source));
  expect(await sortedEntries(c.dir)).toEqual(await sortedEntries(source));
}

it('unpack survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  const prepare = preparing(() => archive, 'tar');
  const line = await runCrashTrials({ command: 'unpack', prepare, expectDone, createsDir: true, cleanup: (c) => rm(path.dirname(c.dir), { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
});

it('unpack of a .tar.gz (one pass, streamed) survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  const prepare = preparing(() => gzArchive, 'gz');
  const line = await runCrashTrials({ command: 'unpack .tar.gz', prepare, expectDone, createsDir: true, cleanup: (c) => rm(path.dirname(c.dir), { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
});
