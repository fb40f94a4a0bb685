/**
 * Deep nesting, transfer side: pack, unpack and copy of a deeply nested
 * index. Copying only collects content, so every one of them must succeed
 * and produce a complete layout or archive. Writing an archive is where the
 * depth broke (the children-before-parents ordering ran out of stack), so
 * pack and copy into an archive run at 10,000 levels. Into a layout
 * directory every blob is a synced file of its own, which at 10,000 takes
 * close to a minute on a busy machine; the walk there is the same queue as
 * the archive's, so those run at 1,000 levels.
 * The read side is in deep-nesting.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { run, tempDir } from '../helpers/cli.js';
import { makeDeepLayout, type DeepLayout } from '../helpers/deep-layout.js';
import { expectJson, expectSuccess } from './_support.js';

const DEPTH = 10_000;
const DIR_DEPTH = 1_000;

let work: { dir: string; cleanup: () => Promise<void> };
let deep: DeepLayout;
let lessDeep: DeepLayout;

beforeAll(async () => {
  work = await tempDir('ocikit-deep-transfer-');
  deep = makeDeepLayout(path.join(work.dir, 'deep'), DEPTH);
  lessDeep = makeDeepLayout(path.join(work.dir, 'less-deep'), DIR_DEPTH);
});

afterAll(async () => {
  await work?.cleanup();
});

/** What every copy of a layout `depth` indexes deep must hold: all depth + 1 manifests, a config and a layer, verified. */
async function expectComplete(target: string, depth: number): Promise<void> {
  const verify = await expectJson<{ ok: boolean; summary: { manifests: number; blobs: number } }>(['verify', target]);
  expect(verify.ok).toBe(true);
  expect(verify.summary.manifests).toBe(depth + 1);
  expect(verify.summary.blobs).toBe(depth + 3);
}

describe(`an index nested ${DEPTH} levels deep`, () => {
  it('pack writes a complete archive', async () => {
    const archive = path.join(work.dir, 'packed.tar');
    await expectSuccess(['pack', deep.layout, archive]);
    await expectComplete(archive, DEPTH);
  });

  it('copy into an archive writes a complete archive', async () => {
    const archive = path.join(work.dir, 'copied.tar');
    await expectSuccess(['copy', `${deep.layout}:${deep.tag}`, `oci-archive:${archive}:${deep.tag}`]);
    await expectComplete(archive, DEPTH);
  });
});

describe(`an index nested ${DIR_DEPTH} levels deep, into a layout directory`, () => {
  it('unpack of an archive made by tar gives a complete layout', async () => {
    const archive = path.join(work.dir, 'by-tar.tar');
    const tar = await run('tar', ['-cf', archive, '-C', lessDeep.layout, 'oci-layout', 'index.json', 'blobs']);
    expect(tar.code, tar.stderr).toBe(0);
    const out = path.join(work.dir, 'unpacked');
    await expectSuccess(['unpack', archive, out]);
    await expectComplete(out, DIR_DEPTH);
  });

  it('copy to a layout directory gives a complete layout', async () => {
    const out = path.join(work.dir, 'copied');
    await expectSuccess(['copy', `${lessDeep.layout}:${lessDeep.tag}`, `oci:${out}:${lessDeep.tag}`]);
    await expectComplete(out, DIR_DEPTH);
  });
});
