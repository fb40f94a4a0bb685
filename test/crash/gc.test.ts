/**
 * `gc` killed at random points while it rewrites index.json and deletes a
 * few hundred unreferenced blobs: the layout stays sound (gc writes index.json
 * before it deletes anything), and a re-run leaves exactly what a gc that was
 * never interrupted leaves, byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { snapshotTree, tempDir } from '../helpers/cli.js';
import { addArtifact, storeBlob } from '../helpers/audit-layouts.js';
import { runCrashTrials, type CrashCase } from '../helpers/crash.js';
import { randomLayout, storeRandomImage } from '../helpers/random-layout.js';

/** Unreferenced small blobs: each is one unlink, so gc's deleting phase lasts long enough to be hit. */
const GARBAGE_BLOBS = 500;

let tmp: { dir: string; cleanup: () => Promise<void> };
let base: string;
let clean: Record<string, string> | undefined;

beforeAll(async () => {
  tmp = await tempDir('ocikit-crash-gc-');
  base = path.join(tmp.dir, 'base');
  const { keep } = await randomLayout(base, { keep: [256 * 1024, 256 * 1024] });
  // Garbage of every kind: whole images nothing lists, loose blobs, and an artifact whose subject is gone (its entry goes too).
  for (let i = 0; i < 3; i++) await storeRandomImage(base, [512 * 1024]);
  for (let i = 0; i < GARBAGE_BLOBS; i++) await storeBlob(base, randomBytes(512));
  const gone = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 100 };
  await addArtifact(base, { artifactType: 'application/vnd.ocikit.orphan', subject: gone, layers: [{ bytes: randomBytes(64 * 1024), mediaType: 'application/octet-stream' }] });
  await addArtifact(base, { artifactType: 'application/vnd.ocikit.kept', subject: keep!, layers: [{ bytes: randomBytes(64 * 1024), mediaType: 'application/octet-stream' }] });
});
afterAll(async () => tmp?.cleanup());

async function prepare(n: number): Promise<CrashCase> {
  const dir = path.join(tmp.dir, `trial-${n}`);
  await mkdir(path.dirname(dir), { recursive: true });
  await cp(base, dir, { recursive: true });
  return { dir, args: ['gc', dir] };
}

/** The first (uncrashed) run defines the result; every re-run after a kill must match it exactly. */
async function expectDone(c: CrashCase): Promise<void> {
  const tree = await snapshotTree(c.dir);
  clean ??= tree;
  expect(tree).toEqual(clean);
}

it('gc survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  const line = await runCrashTrials({ command: 'gc', prepare, expectDone, cleanup: (c) => rm(c.dir, { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
  expect(Object.keys(clean!).filter((p) => p.startsWith('blobs/sha256/'))).toHaveLength(2 + 2 + 3); // keep (manifest, config, 2 layers) + kept artifact (manifest, empty config, layer)
});
