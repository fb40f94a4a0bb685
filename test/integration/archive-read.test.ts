/**
 * Every read command on layout archives, read in place: archives written by
 * ocikit, by GNU tar (`./` prefixes, directory entries, gnu and pax formats)
 * and by tar-stream (index.json first, no directory entries, extra files).
 * Each must answer exactly what the same layout directory answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ocikit, tempDir } from '../helpers/cli.js';
import { zstdAvailable } from '../../src/archive/compression.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, type Expected } from './_support.js';
import { gnuTarOf, layoutEntries, writeTarStream } from './archive-helpers.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const file = (name: string) => path.join(tmp.dir, `${++n}-${name}`);

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-read-');
});
afterAll(async () => {
  await tmp.cleanup();
});

type Maker = (fixtureName: string) => Promise<string>;
const MAKERS: Record<string, Maker> = {
  'ocikit pack': async (f) => {
    const out = file(`${f}.tar`);
    await expectSuccess(['pack', fixture(f), out]);
    return out;
  },
  'tar --format=gnu with ./ and directories': async (f) => gnuTarOf(fixture(f), file(`${f}.tar`), 'gnu'),
  'tar --format=pax': async (f) => gnuTarOf(fixture(f), file(`${f}.tar`), 'pax'),
  'tar-stream, index.json first, no directories, extra files': async (f) =>
    writeTarStream(file(`${f}.tar`), [
      { name: 'manifest.json', content: '[]' },
      { name: 'repositories', content: '{}' },
      ...(await layoutEntries(fixture(f), 'index-first')),
    ]),
};

/** What the directory answers, computed once per fixture and command. */
const dirAnswers = new Map<string, Promise<unknown>>();
function fromDir(key: string, compute: () => Promise<unknown>): Promise<unknown> {
  if (!dirAnswers.has(key)) dirAnswers.set(key, compute());
  return dirAnswers.get(key)!;
}

describe.each(Object.entries(MAKERS))('archive written by %s', (_label, make) => {
  it('ls, tags and resolve answer as for the directory', async () => {
    for (const f of ['with-referrers', 'multi-platform']) {
      const archive = await make(f);
      expect(await expectJson(['ls', archive])).toEqual(await fromDir(`ls ${f}`, () => expectJson(['ls', fixture(f)])));
      expect((await expectSuccess(['tags', archive])).stdout).toBe(await fromDir(`tags ${f}`, async () => (await expectSuccess(['tags', fixture(f)])).stdout));
    }
    const single = await make('single-image');
    expect((await expectSuccess(['resolve', `${single}:v1`])).stdout.trim()).toBe(E.single.image);
    expect((await expectSuccess(['resolve', `oci-archive:${single}`])).stdout.trim()).toBe(E.single.image);
    const multi = await make('multi-platform');
    expect((await expectSuccess(['resolve', `${multi}:10`, '--platform', 'linux/arm/v7'])).stdout.trim()).toBe(E.multi.manifests['linux/arm/v7']!.image);
  });

  it('manifest fetch, fetch-config and blob fetch return the stored bytes', async () => {
    const archive = await make('single-image');
    const dir = fixture('single-image');
    expect((await expectSuccess(['manifest', 'fetch', `${archive}:v1`])).stdoutBytes.equals(await readFile(blobFile(dir, E.single.image)))).toBe(true);
    expect((await expectSuccess(['manifest', 'fetch-config', `${archive}:v1`])).stdoutBytes.equals(await readFile(blobFile(dir, E.single.config)))).toBe(true);
    const layer = E.single.layers[1]!;
    expect((await expectSuccess(['blob', 'fetch', `${archive}@${layer}`])).stdoutBytes.equals(await readFile(blobFile(dir, layer)))).toBe(true);
    const out = file('layer.bin');
    await expectSuccess(['blob', 'fetch', `${archive}@${layer}`, '-o', out]);
    expect((await readFile(out)).equals(await readFile(blobFile(dir, layer)))).toBe(true);
    await expectFailure(['blob', 'fetch', `${archive}@sha256:${'0'.repeat(64)}`, '-o', file('missing')], { exit: 1, code: 'NOT_FOUND' });
  });

  it('referrers are computed from the archive', async () => {
    const archive = await make('with-referrers');
    const fromArchive = await ocikit(['referrers', `${archive}@${E.referrers.image}`]);
    expect(fromArchive.code, fromArchive.stderr).toBe(0);
    expect(fromArchive.stdout).toBe(await fromDir('referrers', async () => (await expectSuccess(['referrers', `${fixture('with-referrers')}@${E.referrers.image}`])).stdout));
  });
});

describe('compressed archives', () => {
  // Every read command on a .tar.gz: archive-gzip.test.ts.
  it('gzip: pack writes one, and copy reads it', async () => {
    const gz = file('multi.tar.gz');
    await expectSuccess(['pack', fixture('multi-platform'), gz]);
    const head = await readFile(gz);
    expect(head[0]).toBe(0x1f);
    expect(head[1]).toBe(0x8b);
    const dir = path.join(tmp.dir, `from-gz-${++n}`);
    await expectSuccess(['copy', `${gz}:10`, `oci:${dir}:ten`, '--platform', 'linux/s390x']);
    expect((await expectSuccess(['resolve', `${dir}:ten`])).stdout.trim()).toBe(E.multi.manifests['linux/s390x']!.image);
  });

  it('zstd: refused clearly where Node has no zstd', async () => {
    const zst = file('x.tar.zst');
    await writeFile(zst, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    if (!zstdAvailable()) {
      await expectFailure(['ls', zst], { exit: 1, code: 'UNSUPPORTED' });
      await expectFailure(['unpack', zst, path.join(tmp.dir, `zst-${++n}`)], { exit: 1, code: 'UNSUPPORTED' });
      const parent = path.join(tmp.dir, `zst-out-${++n}`);
      await mkdir(parent);
      await expectFailure(['pack', fixture('single-image'), path.join(parent, 'out.tar.zst')], { exit: 1, code: 'UNSUPPORTED' });
      expect(await readdir(parent)).toEqual([]);
    } else {
      await expectFailure(['unpack', zst, path.join(tmp.dir, `zst-${++n}`)], { exit: 1 });
    }
  });
});

describe('archives that are not layouts, or hold wrong content', () => {
  it('a tar without oci-layout is not a layout archive', async () => {
    const t = await writeTarStream(file('plain.tar'), [{ name: 'hello.txt', content: 'hi' }]);
    await expectFailure(['ls', t], { exit: 1, code: 'INVALID_LAYOUT' });
  });

  it('a blob entry whose content does not match its name fails verification when read', async () => {
    const entries = await layoutEntries(fixture('single-image'));
    const layer = E.single.layers[0]!;
    const tampered = entries.map((e) => (e.name === `blobs/sha256/${layer.slice(7)}` ? { ...e, content: Buffer.alloc((e.content as Buffer).length, 0x41) } : e));
    const t = await writeTarStream(file('tampered.tar'), tampered);
    await expectSuccess(['ls', t]);
    await expectFailure(['blob', 'fetch', `${t}@${layer}`, '-o', file('tampered-layer')], { exit: 1, code: 'DIGEST_MISMATCH' });
  });
});
