/**
 * gc beside writers, step by step: the interleavings that concurrency-
 * writers.test.ts hits by chance, forced here so that they are hit every
 * time. The writer is this test process, using the library (so it can stop
 * between "found it already stored" and "list it"); gc is the real CLI.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyGraph, LayoutDir } from '../../src/index.js';
import { ocikit, tempDir } from '../helpers/cli.js';
import { blobProblems, makeImageLayout } from '../helpers/image-layouts.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let n = 0;
beforeAll(async () => {
  tmp = await tempDir('ocikit-concurrency-gc-');
});
afterAll(async () => tmp?.cleanup());

async function ok(args: string[]): Promise<string> {
  const r = await ocikit(args);
  expect(r.code, `ocikit ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A layout holding `image` stored but untagged: every blob of it is garbage to gc. */
async function layoutWithUntaggedImage() {
  const dir = path.join(tmp.dir, `case-${++n}`);
  await mkdir(path.join(dir, 'src'), { recursive: true });
  const image = await makeImageLayout(path.join(dir, 'src'), { tag: 'v1', seed: dir });
  const target = path.join(dir, 'target');
  await ok(['copy', `oci:${image.dir}:v1`, `oci:${target}:v1`]);
  await ok(['untag', `oci:${target}:v1`]);
  return { image, target };
}

describe('gc and a writer that reuses blobs already stored', () => {
  it('blobs a copy skipped because they were there are kept by a gc that runs before the copy lists the image', async () => {
    const { image, target } = await layoutWithUntaggedImage();
    const dst = await LayoutDir.open(target);
    try {
      // Every node is already stored, so the copy only looks (and, since the fix, leases).
      const result = await copyGraph(await LayoutDir.open(image.dir), dst, image.manifest);
      expect(result.bytesCopied).toBe(0);
      // Before the fix gc deleted all of them here: the copy had looked with exists() only.
      const gc = JSON.parse(await ok(['gc', target, '--format', 'json'])) as { removedBlobs: unknown[] };
      expect(gc.removedBlobs).toEqual([]);
      await dst.tag(image.manifest, 'again');
    } finally {
      await dst.close();
    }
    expect(await blobProblems(target, image.manifest)).toEqual([]);
    expect((await ocikit(['verify', target])).code).toBe(0);
    // Once the writer is done its lease is gone, and a tagged image is live anyway.
    expect((JSON.parse(await ok(['gc', target, '--format', 'json'])) as { removedBlobs: unknown[] }).removedBlobs).toEqual([]);
  });

  it('without a writer, the same blobs are garbage (the test above is not vacuous)', async () => {
    const { image, target } = await layoutWithUntaggedImage();
    const gc = JSON.parse(await ok(['gc', target, '--format', 'json'])) as { removedBlobs: unknown[] };
    expect(gc.removedBlobs).toHaveLength(1 + image.blobs.length);
  });

  it('copy and unpack release their write lease: nothing is left in .ocikit-leases', async () => {
    const { image, target } = await layoutWithUntaggedImage();
    expect(await readdir(target)).not.toContain('.ocikit-leases');
    const archive = path.join(path.dirname(target), 'a.tar');
    await ok(['pack', `oci:${image.dir}:v1`, archive]);
    const unpacked = path.join(path.dirname(target), 'unpacked');
    await ok(['unpack', archive, unpacked]);
    expect(await readdir(unpacked)).not.toContain('.ocikit-leases');
  });
});
