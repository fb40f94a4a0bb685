/**
 * `pull` from a real registry (Debian's docker-registry, filled once with
 * `ocikit push`) into a new directory, killed at random points: what is left
 * is a sound layout (or not yet a layout), and a re-run brings every tag, the
 * same digests as the source, every blob, and the referrer.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { ocikitOk } from '../helpers/peers.js';
import { runCrashTrials, type CrashCase } from '../helpers/crash.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { blobDigests, indexEntries, tagMap, transferLayout } from '../helpers/random-layout.js';

let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
let registry: RegistryHandle | undefined;
afterAll(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

it('pull survives SIGKILL at any point', { timeout: 900_000 }, async () => {
  // Set up inside the test: a missing docker-registry fails it with the install hint (test/helpers/peers.ts).
  tmp = await tempDir('ocikit-crash-pull-');
  registry = await startRegistry();
  const source = path.join(tmp.dir, 'source');
  const { tags, referrer } = await transferLayout(source);
  const repo = `${registry.host}/crash/app`;
  await ocikitOk(['push', source, repo]);
  const sourceBlobs = await blobDigests(source);
  const base = tmp.dir;

  const prepare = async (n: number): Promise<CrashCase> => {
    const trial = path.join(base, `trial-${n}`);
    await mkdir(trial);
    const dir = path.join(trial, 'out');
    return { dir, args: ['pull', repo, dir] };
  };
  const expectDone = async (c: CrashCase) => {
    expect(await tagMap(c.dir)).toEqual(tags);
    expect((await indexEntries(c.dir)).map((e) => e.digest)).toContain(referrer);
    expect(await blobDigests(c.dir)).toEqual(sourceBlobs);
  };
  const line = await runCrashTrials({ command: 'pull', prepare, expectDone, createsDir: true, cleanup: (c) => rm(path.dirname(c.dir), { recursive: true, force: true }) });
  expect(line).toMatch(/trials/);
});
