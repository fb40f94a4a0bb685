/**
 * The write verbs on layout archives (issue 14): tag, untag, attach, blob
 * push, manifest push, index create, manifest delete and blob delete, each
 * on a .tar and a .tar.gz, write a new archive (every blob and entry of the
 * old one kept, its compression too), read back by verify, referrers and
 * GNU tar; the same edit writes the same bytes. Before issue 14 every one of
 * these commands refused an archive (exit 2). What happens when an edit is
 * interrupted, raced or pointed at the wrong file: archive-edit-safety.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, caseDirs, ocikit } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess, fixture, loadExpected, type Expected } from './_support.js';
import { blobName, blobsIn, EDIT_ENV, indexOf, member, noTempFiles, packedFixture, sha256Of, tagsOf, verifyOk } from './archive-helpers.js';

const { tmp } = afterFile();
let base = '';
let E: Expected;
const cases = caseDirs(() => base);
const env = EDIT_ENV;

beforeAll(async () => {
  base = await tmp();
  E = await loadExpected();
});

const packed = (ext: string) => packedFixture(cases.dir, ext);

for (const ext of ['tar', 'tar.gz']) {
  describe(`write verbs on a .${ext} archive`, () => {
    it('tag and untag: the archive is rewritten with the name, then without it; its blobs stay', async () => {
      const { dir, file } = await packed(ext);
      await expectSuccess(['tag', `${file}:v1`, 'two', 'three'], { env });
      expect(await tagsOf(file)).toEqual(['three', 'two', 'v1']);
      await expectSuccess(['untag', `${file}:v1`], { env });
      await expectSuccess(['untag', `${file}:two`], { env });
      await expectSuccess(['untag', `${file}:three`], { env });
      expect((await indexOf(file)).manifests).toEqual([]);
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
      // referrers reads an uncompressed archive in place; a compressed one through unpack.
      let readable = file;
      if (ext !== 'tar') await expectSuccess(['unpack', file, (readable = path.join(dir, 'layout'))]);
      const refs = await expectJson<{ manifests: Array<{ digest: string; artifactType: string }> }>(['referrers', `${readable}:v1`]);
      expect(refs.manifests).toEqual([expect.objectContaining({ digest: artifact, artifactType: 'application/spdx+json' })]);
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
      expect((await member(file, blobName(p.digest))).toString()).toBe('hello from an archive\n');
      expect((await member(file, blobName(m))).toString()).toBe(manifest);
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

describe('archive specifics', () => {
  it('blob delete --force leaves out a blob a listed manifest uses; verify then reports it missing', async () => {
    const { dir, file } = await packed('tar');
    const layer = E.single.layers[0]!;
    await expectFailure(['blob', 'delete', `${file}@${layer}`], { exit: 1, code: 'IN_USE', unchanged: dir });
    await expectSuccess(['blob', 'delete', `${file}@${layer}`, '--force'], { env });
    expect(await blobsIn(file)).not.toContain(layer);
    expect((await ocikit(['verify', file])).code).toBe(1);
  });

  it('manifest delete takes a referrer out of a fallback-tag index (regclient-style) and drops an emptied one', async () => {
    const dir = await cases.dir();
    const file = path.join(dir, 'fallback.tar');
    await expectSuccess(['pack', fixture('referrers-fallback'), file], { env });
    const fallbackTag = `sha256-${E.fallback.image.slice('sha256:'.length)}`;
    const referrers = async () =>
      (await expectJson<{ manifests: Array<{ digest: string }> }>(['referrers', `${file}@${E.fallback.image}`])).manifests.map((m) => m.digest).sort();
    expect(await tagsOf(file)).toContain(fallbackTag);
    const before = await referrers();
    expect(before.length).toBeGreaterThan(0);
    for (const [i, referrer] of before.entries()) {
      await expectSuccess(['manifest', 'delete', `${file}@${referrer}`], { env });
      expect(await referrers()).toEqual(before.slice(i + 1));
    }
    expect(await tagsOf(file)).not.toContain(fallbackTag);
    await verifyOk(file);
  });
});

