/**
 * `attach` to a layout archive killed at random points: an archive edit
 * writes a new archive beside the old one and renames it over it, so after
 * any kill the archive is the old one byte for byte, or the complete new
 * one; the re-run writes exactly the archive an uninterrupted run writes
 * (edits are reproducible: SOURCE_DATE_EPOCH fixes the tar mtimes and the
 * created annotation), and no temporary file (new archive, a file's hashing
 * copy) is left beside it.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { ocikitOk } from '../helpers/peers.js';
import { runCrashTrials, type CrashCase } from '../helpers/crash.js';
import { makeImageLayout, sha256Of } from '../integration/archive-helpers.js';

/** Many files, so that kills land while they are hashed and stored, and a 16 MiB layer, so that they land while the old archive is copied. */
const FILES = 8;
const FILE_SIZE = 128 * 1024;
const env = { SOURCE_DATE_EPOCH: '1700000000' };

let tmp: { dir: string; cleanup: () => Promise<void> };
let archive: string;
let oldHash: string;
let files: string[] = [];
/** What an uninterrupted run writes (set by the first reference run). */
let editedHash: string | undefined;

beforeAll(async () => {
  tmp = await tempDir('ocikit-crash-archive-edit-');
  const layout = path.join(tmp.dir, 'layout');
  await makeImageLayout(layout, { layerBytes: 16 * 1024 * 1024, tag: 'v1' });
  archive = path.join(tmp.dir, 'image.tar');
  await ocikitOk(['pack', layout, archive], { env });
  oldHash = await sha256Of(archive);
  const filesDir = path.join(tmp.dir, 'files');
  await mkdir(filesDir);
  for (let i = 0; i < FILES; i++) {
    const f = path.join(filesDir, `part-${i}.bin`);
    await writeFile(f, randomBytes(FILE_SIZE));
    files.push(f);
  }
});
afterAll(async () => tmp?.cleanup());

async function prepare(n: number): Promise<CrashCase> {
  const dir = path.join(tmp.dir, `trial-${n}`);
  await mkdir(dir);
  const file = path.join(dir, 'image.tar');
  await copyFile(archive, file);
  return { dir, args: ['attach', `oci-archive:${file}:v1`, '--artifact-type', 'application/vnd.ocikit.crash-test', ...files], env };
}

const archiveIn = (c: CrashCase) => path.join(c.dir, 'image.tar');

async function expectSound(c: CrashCase, context: string): Promise<void> {
  const now = await sha256Of(archiveIn(c));
  expect([oldHash, editedHash], `${context}: the archive is neither the old one nor the complete new one`).toContain(now);
}

async function expectDone(c: CrashCase): Promise<void> {
  const now = await sha256Of(archiveIn(c));
  editedHash ??= now;
  expect(now).not.toBe(oldHash);
  expect(now).toBe(editedHash);
  expect((await readdir(c.dir)).filter((f) => f !== 'image.tar')).toEqual([]);
}

it('an archive edit survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  const line = await runCrashTrials({ command: 'attach-archive', prepare, expectDone, expectSound, cleanup: (c) => rm(c.dir, { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
});
