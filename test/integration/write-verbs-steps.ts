/**
 * (Not a test file: the write-verbs-*.test.ts files run it, one target kind each, so that vitest spreads them.)
 *
 * Every write verb on every target kind it works on (issue 14): `blob push`,
 * `manifest push`, `index create`, `tag`, `attach`, `untag`, `manifest
 * delete` and `blob delete`, run the same way against distribution 2.8 (no
 * referrers API: the sha256-<hex> fallback tag), against `ocikit serve
 * --writable` (referrers API), on a layout directory and on a layout
 * archive (each verb rewrites it), then read back through ocikit's own read
 * verbs. Before issue 14 every one of
 * them on a registry was a usage error (exit 2, "not a layout directory").
 */
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, ocikit } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { expectFailure, expectJson, expectSuccess } from './_support.js';
import { startServe } from './serve-helpers.js';

/** What the steps need of their test file: its clean-ups and temp directories (afterFile()). */
export interface FileScope {
  cleanups: Array<() => Promise<void>>;
  tmp: () => Promise<string>;
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

type Kind = 'distribution' | 'serve' | 'layout' | 'archive';

interface Target {
  kind: Kind;
  /** The reference without a tag or digest: `HOST/REPO` or `oci:DIR`. */
  base: string;
}

function targetOf(kind: Kind, { cleanups, tmp }: FileScope): () => Promise<Target> {
  const all: Record<Kind, () => Promise<Target>> = {
  distribution: once(async () => {
    const reg = await startRegistry();
    cleanups.push(reg.stop);
    return { kind: 'distribution', base: `${reg.host}/walk/app` };
  }),
  serve: once(async () => {
    const layout = path.join(await tmp(), 'served');
    await expectSuccess(['init', layout]);
    const server = await startServe([layout, '--writable']);
    return { kind: 'serve', base: `${server.host}/walk/app` };
  }),
  layout: once(async () => {
    const layout = path.join(await tmp(), 'layout');
    await expectSuccess(['init', layout]);
    return { kind: 'layout', base: `oci:${layout}` };
  }),
  // Created by the walk's first step (copy into a new archive); every later step rewrites it.
  archive: once(async () => ({ kind: 'archive', base: `oci-archive:${path.join(await tmp(), 'walk.tar')}` })),
  };
  return all[kind];
}

interface Digests {
  digest: string;
  size: number;
}

/** The steps every kind goes through, each building on the one before (once per kind). */
function walk(kind: Kind, scope: FileScope) {
  const { tmp } = scope;
  const target = targetOf(kind, scope);
  const seeded = once(async () => {
    const t = await target();
    await expectSuccess(['copy', `${path.join(FIXTURES, 'single-image')}:v1`, `${t.base}:v1`]);
    const image = (await expectSuccess(['resolve', `${t.base}:v1`])).stdout.trim();
    return { t, image };
  });
  const blobs = once(async () => {
    const { t } = await seeded();
    const dir = await tmp();
    const layerFile = path.join(dir, 'layer.tar');
    const layerBytes = Buffer.alloc(70_000, 7);
    await writeFile(layerFile, layerBytes);
    const layer = await expectJson<Digests>(['blob', 'push', t.base, layerFile]);
    const configBytes = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layerBytes)] } }));
    const config = await expectJson<Digests>(['blob', 'push', t.base, '-'], { input: configBytes });
    const stray = await expectJson<Digests>(['blob', 'push', t.base, '-'], { input: `stray ${kind}\n` });
    return { t, dir, layer, layerBytes, config, configBytes, stray };
  });
  const pushed = once(async () => {
    const b = await blobs();
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: IMAGE_CONFIG, digest: b.config.digest, size: b.config.size },
        layers: [{ mediaType: LAYER, digest: b.layer.digest, size: b.layer.size }],
      }),
    );
    const file = path.join(b.dir, 'manifest.json');
    await writeFile(file, manifest);
    const desc = await expectJson<Digests>(['manifest', 'push', `${b.t.base}:arm`, file]);
    return { ...b, manifest, manifestDigest: desc.digest };
  });
  const attached = once(async () => {
    const { t, image } = await seeded();
    const dir = await tmp();
    const sbom = path.join(dir, 'sbom.spdx.json');
    await writeFile(sbom, '{"spdxVersion":"SPDX-2.3"}\n');
    const desc = await expectJson<Digests>(['attach', `${t.base}:v1`, '--artifact-type', 'application/spdx+json', sbom], { env: { SOURCE_DATE_EPOCH: '1704067200' } });
    return { t, image, artifact: desc.digest };
  });

  return { seeded, blobs, pushed, attached };
}

export const referrerDigests = async (ref: string) => (await expectJson<{ manifests: Array<{ digest: string }> }>(['referrers', ref])).manifests.map((m) => m.digest);
const tagsOf = async (base: string) => (await expectSuccess(['tags', base])).stdout.split('\n').filter(Boolean);

/** The walk-through's write verbs on one target kind, step by step. */
export function describeWriteVerbs(kind: Kind, scope: FileScope): void {
  const { tmp } = scope;
  describe(`write verbs on ${kind}`, { timeout: 60_000 }, () => {
    const w = walk(kind, scope);

    it('blob push stores a file and stdin, hashed as they stream; blob fetch gives the bytes back', async () => {
      const { t, layer, layerBytes, config, configBytes } = await w.blobs();
      expect(layer).toMatchObject({ digest: sha256(layerBytes), size: layerBytes.length });
      expect(config).toMatchObject({ digest: sha256(configBytes), size: configBytes.length });
      const back = await ocikit(['blob', 'fetch', `${t.base}@${layer.digest}`]);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdoutBytes.equals(layerBytes)).toBe(true);
    });

    it('manifest push stores the exact bytes under the tag', async () => {
      const { t, manifest, manifestDigest } = await w.pushed();
      expect(manifestDigest).toBe(sha256(manifest));
      expect((await expectSuccess(['resolve', `${t.base}:arm`])).stdout.trim()).toBe(manifestDigest);
      const fetched = await ocikit(['manifest', 'fetch', `${t.base}:arm`]);
      expect(fetched.stdoutBytes.equals(manifest)).toBe(true);
    });

    it('manifest push refuses a manifest whose blobs are not there (NOT_FOUND, nothing tagged)', async () => {
      const { t, dir } = await w.blobs();
      const file = path.join(dir, 'dangling.json');
      const missing = sha256('not pushed anywhere');
      await writeFile(file, JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: IMAGE_CONFIG, digest: missing, size: 19 }, layers: [] }));
      await expectFailure(['manifest', 'push', `${t.base}:dangling`, file], { exit: 1, code: 'NOT_FOUND' });
      await expectFailure(['resolve', `${t.base}:dangling`], { exit: 1, code: 'NOT_FOUND' });
    });

    it('index create builds an index over two manifests of the same target, platforms filled in', async () => {
      const { t, manifestDigest } = await w.pushed();
      const { image } = await w.seeded();
      const desc = await expectJson<Digests>(['index', 'create', `${t.base}:multi`, 'v1', `@${manifestDigest}`]);
      const index = await expectJson<{ manifests: Array<{ digest: string; platform?: { architecture: string } }> }>(['manifest', 'fetch', `${t.base}:multi`]);
      expect(index.manifests.map((m) => m.digest)).toEqual([image, manifestDigest]);
      expect(index.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
      expect((await expectSuccess(['resolve', `${t.base}:multi`])).stdout.trim()).toBe(desc.digest);
    });

    it('tag names the same manifest under new tags', async () => {
      const { t, image } = await w.seeded();
      await expectSuccess(['tag', `${t.base}:v1`, 'stable', 'v1.0']);
      for (const tag of ['stable', 'v1.0']) expect((await expectSuccess(['resolve', `${t.base}:${tag}`])).stdout.trim()).toBe(image);
    });

    it('attach stores the artifact with its subject; referrers and discover list it', async () => {
      const { t, image, artifact } = await w.attached();
      expect(await referrerDigests(`${t.base}:v1`)).toEqual([artifact]);
      const tree = await expectJson<{ referrers: Array<{ digest: string; artifactType: string }> }>(['discover', `${t.base}:v1`]);
      expect(tree.referrers.map((r) => [r.digest, r.artifactType])).toEqual([[artifact, 'application/spdx+json']]);
      const fallback = `sha256-${image.slice('sha256:'.length)}`;
      // distribution 2.8 ignores the subject: the fallback tag lists it. serve has the referrers API: no such tag.
      if (kind === 'distribution') expect(await tagsOf(t.base)).toContain(fallback);
      if (kind === 'serve') expect(await tagsOf(t.base)).not.toContain(fallback);
    });

    it('manifest delete of a referrer removes it from referrers and discover (and from the fallback tag)', async () => {
      const { t, artifact } = await w.attached();
      await expectSuccess(['manifest', 'delete', `${t.base}@${artifact}`]);
      expect(await referrerDigests(`${t.base}:v1`)).toEqual([]);
      const tree = await expectJson<{ referrers: unknown[] }>(['discover', `${t.base}:v1`]);
      expect(tree.referrers).toEqual([]);
      // A registry no longer has it; a layout or archive no longer lists it (its blob waits for gc, or stays in the archive).
      if (kind === 'layout' || kind === 'archive') expect((await expectJson<Array<{ digest: string }>>(['ls', t.base])).map((e) => e.digest)).not.toContain(artifact);
      else await expectFailure(['manifest', 'fetch', `${t.base}@${artifact}`], { exit: 1, code: 'NOT_FOUND' });
      if (kind === 'distribution') {
        // The fallback tag stays, listing nothing: an empty listing answers as none does.
        const { image } = await w.seeded();
        const fallback = await expectJson<{ manifests: unknown[] }>(['manifest', 'fetch', `${t.base}:sha256-${image.slice('sha256:'.length)}`]);
        expect(fallback.manifests).toEqual([]);
      }
    });

    it('manifest delete by tag resolves the tag and deletes that digest (as oras does)', async () => {
      const { t } = await w.seeded();
      await expectSuccess(['index', 'create', `${t.base}:doomed`, 'v1', '--annotation', `purpose=delete-${kind}`]);
      const digest = (await expectSuccess(['resolve', `${t.base}:doomed`])).stdout.trim();
      await expectSuccess(['manifest', 'delete', `${t.base}:doomed`]);
      await expectFailure(['resolve', `${t.base}:doomed`], { exit: 1, code: 'NOT_FOUND' });
      // A registry no longer has it; a layout or archive no longer lists it (its blob waits for gc, or stays in the archive).
      if (kind === 'layout' || kind === 'archive') expect((await expectJson<Array<{ digest: string }>>(['ls', t.base])).map((e) => e.digest)).not.toContain(digest);
      else await expectFailure(['resolve', `${t.base}@${digest}`], { exit: 1, code: 'NOT_FOUND' });
    });

    it('manifest delete of a digest that is not there: NOT_FOUND, exit 1', async () => {
      const { t } = await w.seeded();
      await expectFailure(['manifest', 'delete', `${t.base}@${sha256(`nothing ${kind}`)}`], { exit: 1, code: 'NOT_FOUND' });
    });

    it('untag removes a tag where the target allows it; a refusal changes nothing', async () => {
      const { t, image } = await w.seeded();
      await expectSuccess(['tag', `${t.base}:v1`, 'short-lived']);
      const r = await ocikit(['untag', `${t.base}:short-lived`, '--format', 'json']);
      if (kind === 'distribution' && r.code !== 0) {
        // distribution 2.8 has no tag deletion: its refusal is an error, and the tag stays.
        expect(r.code, r.stderr).toBe(1);
        expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('UNSUPPORTED');
        expect((await expectSuccess(['resolve', `${t.base}:short-lived`])).stdout.trim()).toBe(image);
        return;
      }
      expect(r.code, r.stderr).toBe(0);
      await expectFailure(['resolve', `${t.base}:short-lived`], { exit: 1, code: 'NOT_FOUND' });
      expect((await expectSuccess(['resolve', `${t.base}:v1`])).stdout.trim()).toBe(image);
    });

    it('usage errors before anything is sent: blob push to REF:TAG, blob delete without a digest, manifest delete naming no manifest (exit 2)', async () => {
      const { t } = await w.seeded();
      await expectFailure(['blob', 'push', `${t.base}:v1`, '-'], { exit: 2, code: 'USAGE', input: 'x' });
      await expectFailure(['blob', 'delete', `${t.base}:v1`], { exit: 2, code: 'USAGE' });
      await expectFailure(['manifest', 'delete', t.base], { exit: 2, code: 'USAGE' });
      // Registry tags are plain tags; a layout or archive holds REPO:TAG names.
      if (kind !== 'layout' && kind !== 'archive') await expectFailure(['tag', `${t.base}:v1`, 'other/repo:x'], { exit: 2, code: 'USAGE' });
    });

    it('untag of a tag that is not there: NOT_FOUND, exit 1', async () => {
      const { t } = await w.seeded();
      await expectFailure(['untag', `${t.base}:never-was`], { exit: 1, code: 'NOT_FOUND' });
    });

    it('blob delete removes a blob where the target allows it', async () => {
      const { t, stray } = await w.blobs();
      await expectSuccess(['blob', 'delete', `${t.base}@${stray.digest}`]);
      await expectFailure(['blob', 'fetch', `${t.base}@${stray.digest}`, '-o', path.join(await tmp(), 'out')], { exit: 1, code: 'NOT_FOUND' });
    });
  });
}

