/**
 * The write verbs on layout archives (issue 14): each one on a .tar and a
 * .tar.gz writes a new archive, read back by verify, ls, referrers (through
 * unpack for a compressed one) and skopeo; nothing is lost on an error, a
 * kill -9 halfway leaves the old archive byte for byte, two edits at once
 * lose neither's work silently, and the same edit writes the same bytes.
 * Before issue 14 every one of these commands refused an archive (exit 2).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, caseDirs, jsonDocument, ocikit, run, type JsonError } from '../helpers/cli.js';
import { crashPlan, drawDelay, killAfter, spawnOcikit } from '../helpers/crash.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';
import { makeImageLayout, sha256Of } from './archive-helpers.js';

const { tmp } = afterFile();
let base = '';
let E: Expected;
const cases = caseDirs(() => base);
/** Reproducible output: the `created` annotation of attach and every tar mtime. */
const env = { SOURCE_DATE_EPOCH: '1700000000' };

beforeAll(async () => {
  base = await tmp();
  E = await loadExpected();
});

/** fixtures/single-image (tag v1) packed into a fresh case directory as a.tar or a.tar.gz. */
async function packed(ext: string): Promise<{ dir: string; file: string }> {
  const dir = await cases.dir();
  const file = path.join(dir, `a.${ext}`);
  await expectSuccess(['pack', fixture('single-image'), file], { env });
  return { dir, file };
}

/** The archive unpacked into a new directory (any compression): what a reader of it gets. */
async function unpacked(file: string): Promise<string> {
  const out = path.join(await cases.dir(), 'layout');
  await expectSuccess(['unpack', file, out]);
  return out;
}

async function tagsOf(file: string): Promise<string[]> {
  const index = await readIndexJson(await unpacked(file));
  return index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined).sort();
}

/** The blob digests an archive holds, listed or not, as GNU tar sees its entries (gzip detected by tar). */
async function blobsIn(file: string): Promise<string[]> {
  const r = await run('tar', ['-tf', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .map((n) => /^(?:\.\/)?blobs\/(\w+)\/([0-9a-f]+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}:${m[2]}`)
    .sort();
}

async function noTempFiles(dir: string): Promise<void> {
  expect((await readdir(dir)).filter((f) => f.startsWith('.ocikit-'))).toEqual([]);
}

async function verifyOk(file: string): Promise<void> {
  const r = await ocikit(['verify', file]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

for (const ext of ['tar', 'tar.gz']) {
  describe(`write verbs on a .${ext} archive`, () => {
    it('tag and untag: the archive is rewritten with the name, then without it; its blobs stay', async () => {
      const { dir, file } = await packed(ext);
      await expectSuccess(['tag', `${file}:v1`, 'two', 'three'], { env });
      expect(await tagsOf(file)).toEqual(['three', 'two', 'v1']);
      await expectSuccess(['untag', `${file}:v1`], { env });
      await expectSuccess(['untag', `${file}:two`], { env });
      await expectSuccess(['untag', `${file}:three`], { env });
      expect((await readIndexJson(await unpacked(file))).manifests).toEqual([]);
      // Unlisted, as in a layout until gc: every blob is still there.
      expect(await blobsIn(file)).toEqual([E.single.image, E.single.config, ...E.single.layers].sort());
      await verifyOk(file);
      await noTempFiles(dir);
      // Compression kept.
      expect((await readFile(file)).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(ext === 'tar.gz');
    });

    it('untag of a missing tag and tag of a missing manifest: NOT_FOUND, the archive untouched', async () => {
      const { dir, file } = await packed(ext);
      await expectFailure(['untag', `${file}:nope`], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
      await expectFailure(['tag', `${file}:nope`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
      await expectFailure(['tag', `${file}@sha256:${'0'.repeat(64)}`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    });

    it('attach: the artifact is listed, and referrers of the subject find it (read back from the archive)', async () => {
      const { dir, file } = await packed(ext);
      const sbom = path.join(dir, 'sbom.spdx.json');
      await writeFile(sbom, '{"spdxVersion":"SPDX-2.3"}');
      const r = await expectSuccess(['attach', `${file}:v1`, '--artifact-type', 'application/spdx+json', sbom], { env });
      const artifact = r.stdout.trim();
      expect(artifact).toMatch(/^sha256:[0-9a-f]{64}$/);
      const layout = await unpacked(file);
      const refs = await expectJson<{ manifests: Array<{ digest: string; artifactType: string }> }>(['referrers', `${layout}:v1`]);
      expect(refs.manifests).toEqual([expect.objectContaining({ digest: artifact, artifactType: 'application/spdx+json' })]);
      if (ext === 'tar') {
        // An uncompressed archive is read in place.
        const inPlace = await expectJson<{ manifests: Array<{ digest: string }> }>(['referrers', `${file}:v1`]);
        expect(inPlace.manifests.map((m) => m.digest)).toEqual([artifact]);
      }
      await verifyOk(file);
      await noTempFiles(dir);
    });

    it('blob push, manifest push, index create: stored, named, and verified', async () => {
      const { dir, file } = await packed(ext);
      const cfg = path.join(dir, 'config.json');
      const payload = path.join(dir, 'payload.txt');
      await writeFile(cfg, '{}');
      await writeFile(payload, 'hello from an archive\n');
      const c = await expectJson<{ digest: string; size: number }>(['blob', 'push', file, cfg, '--media-type', 'application/vnd.oci.empty.v1+json'], { env });
      const p = await expectJson<{ digest: string; size: number }>(['blob', 'push', file, payload], { env });
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'text/plain',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: c.digest, size: c.size },
        layers: [{ mediaType: 'text/plain', digest: p.digest, size: p.size }],
      });
      const m = (await expectSuccess(['manifest', 'push', `${file}:notes`, '-'], { env, input: manifest })).stdout.trim();
      const idx = (await expectSuccess(['index', 'create', `${file}:all`, 'v1', 'notes'], { env })).stdout.trim();
      expect(idx).toMatch(/^sha256:/);
      expect(await tagsOf(file)).toEqual(['all', 'notes', 'v1']);
      const layout = await unpacked(file);
      expect((await readFile(blobFile(layout, p.digest), 'utf8'))).toBe('hello from an archive\n');
      expect((await readFile(blobFile(layout, m))).toString()).toBe(manifest);
      await verifyOk(file);
      await noTempFiles(dir);
    });

    it('manifest delete drops its entries (blobs stay); blob delete is IN_USE while listed, then leaves the blob out', async () => {
      const { dir, file } = await packed(ext);
      const layer = E.single.layers[0]!;
      await expectFailure(['blob', 'delete', `${file}@${layer}`], { exit: 1, code: 'IN_USE', unchanged: dir });
      await expectFailure(['manifest', 'delete', `${file}@sha256:${'0'.repeat(64)}`], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
      await expectSuccess(['manifest', 'delete', `${file}:v1`], { env });
      expect(await tagsOf(file)).toEqual([]);
      const before = await blobsIn(file);
      await expectSuccess(['blob', 'delete', `${file}@${layer}`], { env });
      expect(await blobsIn(file)).toEqual(before.filter((d) => d !== layer));
      await expectFailure(['blob', 'delete', `${file}@${layer}`], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
      await verifyOk(file);
      await noTempFiles(dir);
    });

    it('is reproducible: the same edits of two copies write the same bytes', async () => {
      const { dir, file } = await packed(ext);
      const copy = path.join(dir, `b.${ext}`);
      await copyFile(file, copy);
      const sbom = path.join(dir, 'sbom.json');
      await writeFile(sbom, '{}');
      for (const f of [file, copy]) {
        await expectSuccess(['attach', `${f}:v1`, '--artifact-type', 'application/spdx+json', sbom], { env });
        await expectSuccess(['tag', `${f}:v1`, 'again'], { env });
      }
      expect(await sha256Of(copy)).toBe(await sha256Of(file));
    });
  });
}

describe('archives that are not there, or not archives', () => {
  it('tag and attach on a missing archive: NOT_FOUND, nothing created; blob push and manifest push create one', async () => {
    const dir = await cases.dir();
    const file = path.join(dir, 'new.tar');
    const blob = path.join(dir, 'blob.bin');
    await writeFile(blob, 'content');
    await expectFailure(['tag', `${file}:v1`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    await expectFailure(['attach', `oci-archive:${file}:v1`, '--artifact-type', 'text/plain', blob], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    // A push whose input is missing creates nothing either.
    await expectFailure(['blob', 'push', `oci-archive:${file}`, path.join(dir, 'missing.bin')], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    const d = await expectJson<{ digest: string }>(['blob', 'push', `oci-archive:${file}`, blob]);
    expect(await blobsIn(file)).toEqual([d.digest]);
    // manifest push: a manifest whose blobs the new archive does not hold is refused, and creates nothing.
    const gz = path.join(dir, 'm.tar.gz');
    const image = await readFile(blobFile(fixture('single-image'), E.single.image));
    await expectFailure(['manifest', 'push', `oci-archive:${gz}:one`, '-'], { exit: 1, code: 'NOT_FOUND', unchanged: dir, input: image });
    const cfg = path.join(dir, 'config.json');
    await writeFile(cfg, '{}');
    const c = await expectJson<{ digest: string; size: number }>(['blob', 'push', `oci-archive:${gz}`, cfg]);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'text/plain',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: c.digest, size: c.size },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: c.digest, size: c.size }],
    });
    await expectSuccess(['manifest', 'push', `oci-archive:${gz}:one`, '-'], { input: manifest });
    expect((await readFile(gz)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await tagsOf(gz)).toEqual(['one']);
  });

  it('a file that is not a layout archive is refused (INVALID_LAYOUT) and left as it was', async () => {
    const dir = await cases.dir();
    const file = path.join(dir, 'notes.tar');
    await writeFile(file, 'my notes\n'.repeat(100));
    await expectFailure(['blob', 'push', `oci-archive:${file}`, file], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
    await expectFailure(['tag', `oci-archive:${file}:v1`, 'x'], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
  });
});

describe('skopeo reads what an edit wrote', () => {
  it('a tag added to an archive is an image skopeo inspects', async () => {
    const { file } = await packed('tar');
    await expectSuccess(['tag', `${file}:v1`, 'edited'], { env });
    const r = await run('skopeo', ['inspect', `oci-archive:${file}:edited`]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { Digest: string }).Digest).toBe(E.single.image);
  });
});

describe('an archive rewrite interrupted or raced', () => {
  /** An archive of one image with a 24 MiB layer: a rewrite long enough to be killed halfway. */
  async function bigArchive(): Promise<{ dir: string; file: string }> {
    const dir = await cases.dir();
    const layout = path.join(dir, 'layout');
    await makeImageLayout(layout, { layerBytes: 24 * 1024 * 1024, tag: 'v1' });
    const file = path.join(dir, 'big.tar');
    await expectSuccess(['pack', layout, file], { env });
    return { dir, file };
  }

  it('kill -9 at any moment leaves the old archive byte for byte (or the complete new one), and the next run leaves no temporary file', async () => {
    const { dir, file } = await bigArchive();
    const old = await readFile(file);
    const oldHash = await sha256Of(file);
    // The archive the edit writes, from an uncrashed run on a copy (edits are reproducible).
    const probe = path.join(dir, 'probe.tar');
    await copyFile(file, probe);
    const start = performance.now();
    await expectSuccess(['tag', `${probe}:v1`, 'two'], { env });
    const duration = performance.now() - start;
    const edited = await sha256Of(probe);
    const plan = crashPlan('archive tag', 5);
    let killed = 0;
    for (let i = 0; i < plan.trials; i++) {
      await writeFile(file, old);
      const proc = spawnOcikit(['tag', `${file}:v1`, 'two'], env);
      if (await killAfter(proc, drawDelay(plan, duration))) killed++;
      const now = await sha256Of(file);
      expect([oldHash, edited], `trial ${i}, seed ${plan.seed}`).toContain(now);
      await expectSuccess(['tag', `${file}:v1`, 'two'], { env });
      expect(await sha256Of(file), `seed ${plan.seed}`).toBe(edited);
      expect((await readdir(dir)).filter((f) => f.startsWith('.ocikit-')), `seed ${plan.seed}`).toEqual([]);
    }
    console.log(`archive tag crash: seed ${plan.seed}, ${plan.trials} trials, ${killed} killed mid-run, uncrashed run ${Math.round(duration)} ms`);
  }, 120_000);

  it('two edits at once: each one either lands or fails with LOCKED; no success is lost', async () => {
    const { file } = await bigArchive();
    const procs = ['one', 'two'].map((t) => ({ tag: t, proc: spawnOcikit(['tag', `${file}:v1`, t, '--output', 'json'], env) }));
    const landed: string[] = [];
    for (const { tag, proc } of procs) {
      const { code } = await proc.exited;
      if (code === 0) landed.push(tag);
      else {
        expect(code).toBe(1);
        expect((jsonDocument<JsonError>({ code: 1, stdout: proc.output().stdout, stderr: '', stdoutBytes: Buffer.from(proc.output().stdout) })).error.code).toBe('LOCKED');
      }
    }
    expect(landed.length).toBeGreaterThan(0);
    const tags = await tagsOf(file);
    for (const t of landed) expect(tags).toContain(t);
  }, 60_000);
});
