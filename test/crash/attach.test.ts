/**
 * `attach` killed at random points while it stores many files: the layout
 * stays sound, and a re-run stores the artifact, listed exactly once.
 * SOURCE_DATE_EPOCH fixes the created annotation, so the killed run and the
 * re-run build the same manifest and a duplicate entry would show.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyFixture, tempDir } from '../helpers/cli.js';
import { runCrashTrials, type CrashCase } from '../helpers/crash.js';
import { blobDigests, indexEntries } from '../helpers/random-layout.js';

const ARTIFACT_TYPE = 'application/vnd.ocikit.crash-test';
/** Many files, so that kills land between and inside their writes. */
const FILES = 32;
const FILE_SIZE = 128 * 1024;

let tmp: { dir: string; cleanup: () => Promise<void> };
let files: string[] = [];
let artifact: string | undefined;

beforeAll(async () => {
  tmp = await tempDir('ocikit-crash-attach-');
  const filesDir = path.join(tmp.dir, 'files');
  await mkdir(filesDir);
  files = [];
  for (let i = 0; i < FILES; i++) {
    const f = path.join(filesDir, `part-${String(i).padStart(3, '0')}.bin`);
    await writeFile(f, randomBytes(FILE_SIZE));
    files.push(f);
  }
});
afterAll(async () => tmp?.cleanup());

async function prepare(n: number): Promise<CrashCase> {
  const dir = await copyFixture('single-image', await mkdirIn(`trial-${n}`));
  return { dir, args: ['attach', `${dir}:v1`, '--artifact-type', ARTIFACT_TYPE, ...files], env: { SOURCE_DATE_EPOCH: '1700000000' } };
}

async function mkdirIn(name: string): Promise<string> {
  const d = path.join(tmp.dir, name);
  await mkdir(d);
  return d;
}

/** One artifact entry, the same manifest every time, with every layer stored. */
async function expectDone(c: CrashCase): Promise<void> {
  const entries = (await indexEntries(c.dir)).filter((e) => e.artifactType === ARTIFACT_TYPE);
  expect(entries).toHaveLength(1);
  artifact ??= entries[0]!.digest;
  expect(entries[0]!.digest).toBe(artifact);
  const manifest = JSON.parse(await readFile(path.join(c.dir, 'blobs', ...artifact.split(':')), 'utf8')) as { layers: Array<{ digest: string }> };
  expect(manifest.layers).toHaveLength(FILES);
  const stored = new Set(await blobDigests(c.dir));
  for (const l of manifest.layers) expect(stored.has(l.digest), l.digest).toBe(true);
}

it('attach survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  const line = await runCrashTrials({ command: 'attach', prepare, expectDone, cleanup: (c) => rm(path.dirname(c.dir), { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
});
