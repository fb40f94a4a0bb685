/**
 * pack, unpack and copy through the built CLI: round trips, byte-identical
 * reproducible archives, selection (--tag, --platform, referrers), stdout,
 * delta bundles, and a memory check that packing does not grow with blob size.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cp, readFile, readdir, utimes, chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess, fixture, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';
import { ArchiveFile } from '../../src/archive/archive-file.js';
import { scanTar } from '../../src/archive/tar-scan.js';
import { blobNames, gnuTarOf, layoutEntries, makeImageLayout, sha256Of, writeTarStream } from './archive-helpers.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const p = (name: string) => path.join(tmp.dir, `${++n}-${name}`);

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-archive-pack-');
});
afterAll(async () => {
  await tmp.cleanup();
});

/** The same layout in a differently made copy: other mtimes, modes and file creation order. */
async function scrambledCopy(name: string): Promise<string> {
  const dest = p(`scrambled-${name}`);
  const src = fixture(name);
  await mkdir(path.join(dest, 'blobs', 'sha256'), { recursive: true });
  const blobs = (await readdir(path.join(src, 'blobs', 'sha256'))).sort().reverse();
  for (const [i, hex] of blobs.entries()) {
    const f = path.join(dest, 'blobs', 'sha256', hex);
    await cp(path.join(src, 'blobs', 'sha256', hex), f);
    await chmod(f, i % 2 ? 0o600 : 0o664);
    await utimes(f, 1_000_000 + i, 2_000_000 + i * 7);
  }
  await cp(path.join(src, 'index.json'), path.join(dest, 'index.json'));
  await cp(path.join(src, 'oci-layout'), path.join(dest, 'oci-layout'));
  return dest;
}

describe('round trips', () => {
  it('directory -> archive -> directory gives the same blobs and index.json', async () => {
    for (const name of ['with-referrers', 'multi-platform', 'docker-v2', 'referrers-fallback', 'legacy-artifact']) {
      const archive = p(`${name}.tar`);
      await expectSuccess(['pack', fixture(name), archive]);
      const back = p(`${name}-back`);
      await expectSuccess(['unpack', archive, back]);
      expect(await blobNames(back)).toEqual(await blobNames(fixture(name)));
      const [a, b] = [await snapshotTree(back), await snapshotTree(fixture(name))];
      for (const blob of await blobNames(back)) expect(a[path.join('blobs', blob)]?.split(' ')[2]).toBe(b[path.join('blobs', blob)]?.split(' ')[2]);
      expect((await readIndexJson(back)).manifests).toEqual((await readIndexJson(fixture(name))).manifests);
    }
  });

  it('unpack merges into an existing layout, keeping what it had', async () => {
    const archive = p('single.tar');
    await expectSuccess(['pack', fixture('with-referrers'), archive, '--tag', 'v1', '--no-referrers']);
    const dest = p('multi');
    await cp(fixture('multi-platform'), dest, { recursive: true });
    const r = await expectJson<{ created: boolean }>(['unpack', archive, dest]);
    expect(r.created).toBe(false);
    const tags = (await expectSuccess(['tags', dest])).stdout.trim().split('\n').sort();
    expect(tags).toEqual(['10', 'buster', 'v1']);
  });
});

describe('reproducible archives', () => {
  it('the same content packs to the same bytes, whatever the source looks like', async () => {
    for (const name of ['with-referrers', 'multi-platform']) {
      const fromDir = p(`${name}-a.tar`);
      const fromScrambled = p(`${name}-b.tar`);
      const fromGnuTar = p(`${name}-c.tar`);
      const fromIndexFirst = p(`${name}-d.tar`);
      await expectSuccess(['pack', fixture(name), fromDir]);
      await expectSuccess(['pack', await scrambledCopy(name), fromScrambled]);
      await expectSuccess(['pack', gnuTarOf(await scrambledCopy(name), p('gnu.tar')), fromGnuTar]);
      await expectSuccess(['pack', await writeTarStream(p('if.tar'), await layoutEntries(fixture(name), 'index-first')), fromIndexFirst]);
      const digests = await Promise.all([fromDir, fromScrambled, fromGnuTar, fromIndexFirst].map(sha256Of));
      expect(new Set(digests).size, digests.join(' ')).toBe(1);
    }
  });

  it('gzip output is reproducible too, and SOURCE_DATE_EPOCH sets the mtime', async () => {
    const a = p('a.tar.gz');
    const b = p('b.tgz');
    await expectSuccess(['pack', fixture('single-image'), a]);
    await expectSuccess(['pack', await scrambledCopy('single-image'), b]);
    expect(await sha256Of(a)).toBe(await sha256Of(b));
    const gz = await readFile(a);
    expect(gz.readUInt32LE(4)).toBe(0); // gzip MTIME
    expect(gz[3]! & 0x08).toBe(0); // no FNAME
    const dated = p('dated.tar');
    await expectSuccess(['pack', fixture('single-image'), dated], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    const listing = await new Promise<string>((resolve) => {
      const c = spawn('tar', ['--utc', '-tvf', dated]);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out));
    });
    const lines = listing.trim().split('\n');
    expect(lines.every((l) => l.includes(' 0/0 ') && l.includes('2023-11-14'))).toBe(true);
  });

  it('entries are oci-layout first, blobs children before parents, index.json last', async () => {
    const archive = p('order.tar');
    await expectSuccess(['pack', fixture('multi-platform'), archive]);
    const names = await new Promise<string[]>((resolve) => {
      const c = spawn('tar', ['-tf', archive]);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out.trim().split('\n')));
    });
    expect(names[0]).toBe('oci-layout');
    expect(names[names.length - 1]).toBe('index.json');
    const pos = (digest: string) => names.indexOf(`blobs/sha256/${digest.slice(7)}`);
    for (const m of Object.values(E.multi.manifests)) {
      expect(pos(m.config)).toBeLessThan(pos(m.image));
      for (const l of m.layers) expect(pos(l)).toBeLessThan(pos(m.image));
      expect(pos(m.image)).toBeLessThan(pos(E.multi.index));
    }
  });

  it('pack to stdout writes the same bytes as to a file', async () => {
    const file = p('file.tar');
    await expectSuccess(['pack', fixture('with-referrers'), file]);
    const r = await ocikit(['pack', fixture('with-referrers'), '-']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdoutBytes.equals(await readFile(file))).toBe(true);
  });

  it('pack to stdout redirected to a file (written through its descriptor) gives the same bytes, appended with >>', async () => {
    const file = p('file-for-redirect.tar');
    await expectSuccess(['pack', fixture('with-referrers'), file]);
    const redirected = p('redirected.tar');
    const appended = p('appended.bin');
    await writeFile(appended, 'leading bytes');
    const sh = (script: string) =>
      new Promise<number | null>((resolve) => spawn('sh', ['-c', script], { stdio: 'ignore' }).on('close', resolve));
    expect(await sh(`'${process.execPath}' '${BIN}' pack '${fixture('with-referrers')}' - > '${redirected}'`)).toBe(0);
    expect(await sh(`'${process.execPath}' '${BIN}' pack '${fixture('with-referrers')}' - >> '${appended}'`)).toBe(0);
    const expected = await readFile(file);
    expect((await readFile(redirected)).equals(expected)).toBe(true);
    expect((await readFile(appended)).equals(Buffer.concat([Buffer.from('leading bytes'), expected]))).toBe(true);
  });
});

describe('selection', () => {
  it('--tag and --platform choose what goes in; referrers come along unless --no-referrers', async () => {
    const withRefs = p('refs.tar');
    await expectSuccess(['pack', fixture('with-referrers'), withRefs, '--tag', 'v1']);
    const listed = (await readIndexJson(await unpacked(withRefs))).manifests.map((e) => e.digest).sort();
    expect(listed).toEqual([E.referrers.image, E.referrers.sbom, E.referrers.signature, E.referrers.sbomSignature].sort());

    const noRefs = p('norefs.tar');
    await expectSuccess(['pack', fixture('with-referrers'), noRefs, '--no-referrers']);
    expect((await readIndexJson(await unpacked(noRefs))).manifests.map((e) => e.digest)).toEqual([E.referrers.image]);

    const arm = p('arm.tar');
    await expectSuccess(['pack', fixture('multi-platform'), arm, '--tag', '10', '--platform', 'linux/arm/v7']);
    const index = await readIndexJson(await unpacked(arm));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({ digest: E.multi.manifests['linux/arm/v7']!.image, annotations: { [REF_NAME]: '10' } });

    await expectFailure(['pack', fixture('multi-platform'), p('none.tar'), '--tag', 'nope'], { exit: 1, code: 'NOT_FOUND' });
  });

  it('copy between directories and archives, with -r and --all-tags', async () => {
    const archive = p('copied.tar');
    await expectSuccess(['copy', `${fixture('with-referrers')}:v1`, `oci-archive:${archive}:release`, '-r']);
    const dir = p('copied-dir');
    await expectSuccess(['copy', `${archive}:release`, `oci:${dir}`, '-r']);
    const index = await readIndexJson(dir);
    expect(index.manifests.find((e) => e.annotations?.[REF_NAME] === 'release')?.digest).toBe(E.referrers.image);
    expect(index.manifests.filter((e) => !e.annotations?.[REF_NAME]).map((e) => e.digest).sort()).toEqual(
      [E.referrers.sbom, E.referrers.signature, E.referrers.sbomSignature].sort(),
    );
    const all = p('all-tags');
    await expectSuccess(['copy', fixture('multi-platform'), `oci:${all}`, '--all-tags']);
    expect((await expectSuccess(['tags', all])).stdout.trim().split('\n').sort()).toEqual(['10', 'buster']);
    // Two images and no tag named: copy refuses to guess.
    await expectSuccess(['copy', `${fixture('single-image')}:v1`, `oci:${all}`]);
    await expectFailure(['copy', all, `oci:${p('amb')}`], { exit: 2, code: 'USAGE' });
  });
});

async function unpacked(archive: string): Promise<string> {
  const dir = p('unpacked');
  await expectSuccess(['unpack', archive, dir]);
  return dir;
}

describe('delta bundles', () => {
  it('leave out blobs the base has; unpack into the base completes them', async () => {
    // base: the image; next: the same image plus its referrers (new blobs: 3 manifests, SBOM, payloads).
    const base = p('base');
    await cp(fixture('single-image'), base, { recursive: true });
    const baseArchive = p('base.tar');
    await expectSuccess(['pack', base, baseArchive]);
    for (const excludeFrom of [base, baseArchive]) {
      const delta = p('delta.tar');
      const r = await expectJson<{ excluded: number; blobs: number }>(['pack', fixture('with-referrers'), delta, '--exclude-blobs-from', excludeFrom]);
      expect(r.excluded).toBe(4);
      const inDelta = await new Promise<string>((resolve) => {
        const c = spawn('tar', ['-tf', delta]);
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('close', () => resolve(out));
      });
      expect(inDelta).not.toContain(E.single.layers[0]!.slice(7));
      expect(inDelta).not.toContain(E.single.image.slice(7));

      // Alone, the delta is incomplete: unpacking it into a new directory fails and leaves nothing.
      const alone = p('alone');
      await expectFailure(['unpack', delta, alone], { exit: 1, code: 'NOT_FOUND' });
      await expect(readdir(alone)).rejects.toMatchObject({ code: 'ENOENT' });

      // Into the base it completes the layout; copy does the same.
      const target = p('target');
      await cp(base, target, { recursive: true });
      await expectSuccess(['unpack', delta, target]);
      expect(await blobNames(target)).toEqual(await blobNames(fixture('with-referrers')));
      const copyTarget = p('copy-target');
      await cp(base, copyTarget, { recursive: true });
      await expectSuccess(['copy', `${delta}:v1`, `oci:${copyTarget}`, '-r']);
      expect(await blobNames(copyTarget)).toEqual(await blobNames(fixture('with-referrers')));
    }
  });
});

describe('verification while packing', () => {
  /** Flip one byte in the middle of a file, keeping its size: only hashing can tell. */
  async function flipByte(file: string, at: number): Promise<void> {
    const { open } = await import('node:fs/promises');
    const fh = await open(file, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
  }

  it('a layer whose bytes changed on disk fails pack and leaves no archive (directory and archive sources)', async () => {
    const src = p('flipped');
    const { layer } = await makeImageLayout(src, { layerBytes: 5 * 1024 * 1024 + 3 });
    const good = p('flipped-good.tar');
    await expectSuccess(['pack', src, good]);
    await flipByte(path.join(src, 'blobs', 'sha256', layer.slice('sha256:'.length)), 4 * 1024 * 1024);
    const outDir = p('out');
    await mkdir(outDir);
    const e1 = await expectFailure(['pack', src, path.join(outDir, 'x.tar')], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: outDir });
    expect(e1.message).toContain(layer);
    // The same through an archive read in place: flip the byte inside the archive's copy of the layer.
    const archive = await ArchiveFile.open(good);
    let offset = -1;
    for await (const e of scanTar(archive)) if (e.name.endsWith(layer.slice('sha256:'.length))) offset = e.offset;
    await archive.close();
    await flipByte(good, offset + 4 * 1024 * 1024);
    await expectFailure(['copy', good, `oci-archive:${path.join(outDir, 'y.tar')}`], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: outDir });
    expect(await readdir(outDir)).toEqual([]);
    // And unpacked into a layout: index.json untouched, the bad layer never renamed into place, no
    // temp file left (blobs that verified before the failure may stay: nothing lists them).
    const into = p('flipped-into');
    await expectSuccess(['init', into]);
    const indexBefore = await readFile(path.join(into, 'index.json'));
    await expectFailure(['unpack', good, into], { exit: 1, code: 'DIGEST_MISMATCH' });
    expect((await readFile(path.join(into, 'index.json'))).equals(indexBefore)).toBe(true);
    expect(await readdir(path.join(into, 'blobs', 'sha256'))).not.toContain(layer.slice('sha256:'.length));
    expect((await readdir(into)).filter((f) => f.startsWith('.ocikit-tmp'))).toEqual([]);
  });
});

describe('streaming', () => {
  /** Peak RSS (MiB, VmHWM) of a CLI run. */
  function peakRss(args: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let peak = 0;
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setInterval(async () => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'));
          if (m) peak = Math.max(peak, Number(m[1]) / 1024);
        } catch {
          // exited
        }
      }, 10);
      child.on('close', (code) => {
        clearInterval(timer);
        if (code === 0) resolve(peak);
        else reject(new Error(`ocikit ${args.join(' ')} exited ${code}: ${stderr}`));
      });
    });
  }

  it('memory does not grow with blob size (pack and unpack of a 8 MiB vs a 160 MiB layer)', async () => {
    const small = p('small');
    const big = p('big');
    await makeImageLayout(small, { layerBytes: 8 * 1024 * 1024 });
    await makeImageLayout(big, { layerBytes: 160 * 1024 * 1024 });
    const smallPack = await peakRss(['pack', small, `${small}.tar`]);
    const bigPack = await peakRss(['pack', big, `${big}.tar`]);
    const smallUnpack = await peakRss(['unpack', `${small}.tar`, `${small}-back`]);
    const bigUnpack = await peakRss(['unpack', `${big}.tar`, `${big}-back`]);
    // 152 MiB more data; a buffering implementation would show it. Allow noise well below that.
    expect(bigPack - smallPack, `pack: ${smallPack} vs ${bigPack} MiB`).toBeLessThan(48);
    expect(bigUnpack - smallUnpack, `unpack: ${smallUnpack} vs ${bigUnpack} MiB`).toBeLessThan(48);
    expect(await blobNames(`${big}-back`)).toEqual(await blobNames(big));
  }, 180_000);
});
