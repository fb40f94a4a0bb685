/**
 * manifest fetch / fetch-config / push and index create through the built
 * CLI. Fetches run on the committed fixtures; pushes on temp copies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyFixture, ocikit, tempDir } from '../helpers/cli.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-manifest-cmds-');
});
afterAll(async () => tmp.cleanup());

let n = 0;
async function copy(name: string): Promise<string> {
  const dir = path.join(tmp.dir, `case-${++n}`);
  await mkdir(dir);
  return copyFixture(name, dir);
}

const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blob = (fixtureName: string, digest: string) => readFile(blobFile(fixture(fixtureName), digest));

describe.concurrent('manifest fetch', () => {
  it('prints the exact stored bytes of a manifest, an index and a Docker manifest list', async () => {
    const cases: Array<[string, string, string]> = [
      ['single-image', `${fixture('single-image')}:v1`, E.single.image],
      ['multi-platform', `${fixture('multi-platform')}:buster`, E.multi.index],
      ['docker-v2', `${fixture('docker-v2')}:latest`, E.docker.index],
    ];
    for (const [name, ref, digest] of cases) {
      const r = await expectSuccess(['manifest', 'fetch', ref]);
      expect(r.stdoutBytes.equals(await blob(name, digest)), ref).toBe(true);
    }
  });

  it('--pretty indents; --format json prints the same document once', async () => {
    const stored = JSON.parse((await blob('single-image', E.single.image)).toString('utf8'));
    const pretty = await expectSuccess(['manifest', 'fetch', fixture('single-image'), '--pretty']);
    expect(pretty.stdout).toBe(`${JSON.stringify(stored, null, 2)}\n`);
    expect(await expectJson(['manifest', 'fetch', fixture('single-image')])).toEqual(stored);
  });

  it('--platform picks the child of an index, byte for byte (arm/v7, arm64 = arm64/v8, Docker lists)', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['multi-platform', '10', 'linux/arm/v7', E.multi.manifests['linux/arm/v7']!.image],
      ['multi-platform', '10', 'linux/arm64', E.multi.manifests['linux/arm64/v8']!.image],
      ['docker-v2', 'latest', 'linux/arm64', E.docker.manifests['linux/arm64/v8']!.image],
    ];
    const results = await Promise.all(cases.map(([f, tag, p]) => expectSuccess(['manifest', 'fetch', `${fixture(f)}:${tag}`, '--platform', p])));
    for (const [i, r] of results.entries()) {
      const [f, , p, digest] = cases[i]!;
      expect(r.stdoutBytes.equals(await blob(f, digest)), p).toBe(true);
    }
  });

  it('--platform with no matching child fails with exit 1 and names the platforms there are', async () => {
    const err = await expectFailure(['manifest', 'fetch', `${fixture('multi-platform')}:10`, '--platform', 'linux/riscv64'], { exit: 1, code: 'NOT_FOUND' });
    expect(err.hint).toContain('linux/arm/v7');
  });

  it('--descriptor prints the descriptor (of the child, with --platform) instead of the content', async () => {
    const text = await expectSuccess(['manifest', 'fetch', `${fixture('multi-platform')}:10`, '--descriptor']);
    expect(JSON.parse(text.stdout)).toEqual({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: E.multi.index, size: E.multi.indexSize });
    const child = await expectJson<Record<string, unknown>>(['manifest', 'fetch', `${fixture('multi-platform')}:10`, '--descriptor', '--platform', 'linux/arm/v7']);
    expect(child).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: E.multi.manifests['linux/arm/v7']!.image,
      size: 402,
      platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
    });
  });
});

describe.concurrent('manifest fetch-config', () => {
  it('prints the exact config bytes, through an index with --platform, pretty or as JSON', async () => {
    const direct = await expectSuccess(['manifest', 'fetch-config', `${fixture('single-image')}:v1`]);
    expect(direct.stdoutBytes.equals(await blob('single-image', E.single.config))).toBe(true);

    const v7 = await expectSuccess(['manifest', 'fetch-config', `${fixture('multi-platform')}:10`, '--platform', 'linux/arm/v7']);
    expect(v7.stdoutBytes.equals(await blob('multi-platform', E.multi.manifests['linux/arm/v7']!.config))).toBe(true);

    const docker = await expectJson<{ architecture: string; variant?: string }>(['manifest', 'fetch-config', fixture('docker-v2'), '--platform', 'linux/arm64']);
    expect(docker.architecture).toBe('arm64');
  });

  it('refuses an index without --platform (usage error), naming the fix', async () => {
    const err = await expectFailure(['manifest', 'fetch-config', `${fixture('multi-platform')}:10`], { exit: 2, code: 'USAGE' });
    expect(err.message).toContain('--platform');
  });
});

describe.concurrent('manifest push', () => {
  /** A small artifact manifest over blobs already in the layout: the empty config and one layer. */
  async function artifactManifest(layout: string): Promise<Buffer> {
    const config = await expectJson<{ digest: string; size: number }>(['blob', 'push', layout, '-'], { input: '{}' });
    const layer = await expectJson<{ digest: string; size: number }>(['blob', 'push', layout, '-'], { input: 'payload\n' });
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.note',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'text/plain', digest: layer.digest, size: layer.size }],
      }),
    );
  }

  it('stores FILE under its digest and tags it; the stored bytes are the given bytes', async () => {
    const dir = path.join(tmp.dir, 'push-file');
    await expectSuccess(['init', dir]);
    const bytes = await artifactManifest(dir);
    const file = path.join(tmp.dir, 'artifact.json');
    await writeFile(file, bytes);
    const r = await expectSuccess(['manifest', 'push', `${dir}:note`, file]);
    expect(r.stdout).toBe(`${sha256(bytes)}\n`);
    expect((await readFile(blobFile(dir, sha256(bytes)))).equals(bytes)).toBe(true);
    expect((await expectSuccess(['manifest', 'fetch', `${dir}:note`])).stdoutBytes.equals(bytes)).toBe(true);
    const index = await readIndexJson(dir);
    expect(index.manifests).toEqual([
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(bytes), size: bytes.length, annotations: { [REF_NAME]: 'note' } },
    ]);
  });

  it('reads - from stdin; without a tag the manifest is listed untagged; --format json prints its descriptor', async () => {
    const mp = await copy('multi-platform');
    const child = E.multi.manifests['linux/ppc64le']!.image;
    const bytes = await readFile(blobFile(mp, child));
    const desc = await expectJson<{ digest: string; size: number; mediaType: string }>(['manifest', 'push', mp, '-'], { input: bytes });
    expect(desc).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child, size: bytes.length });
    const index = await readIndexJson(mp);
    const entry = index.manifests.find((e) => e.digest === child);
    expect(entry).toBeDefined();
    expect(entry!.annotations?.[REF_NAME]).toBeUndefined();
    expect(await expectJson(['tags', mp])).toEqual(['10', 'buster']);

    // Pushing it again, and then with a tag: listed once, the untagged entry becomes the tagged one.
    await expectSuccess(['manifest', 'push', mp, '-'], { input: bytes });
    await expectSuccess(['manifest', 'push', `${mp}:ppc`, '-'], { input: bytes });
    const after = await readIndexJson(mp);
    expect(after.manifests.filter((e) => e.digest === child)).toEqual([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child, size: bytes.length, annotations: { [REF_NAME]: 'ppc' } }]);
  });

  it('refuses a manifest whose blobs are missing, invalid JSON, a non-manifest, and more than 4 MiB, changing nothing', async () => {
    const si = await copy('single-image');
    const missing = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: E.single.config, size: 719 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256('not stored'), size: 10 }],
    });
    await expectFailure(['manifest', 'push', `${si}:x`, '-'], { exit: 1, code: 'NOT_FOUND', unchanged: si, input: missing });
    await expectFailure(['manifest', 'push', `${si}:x`, '-'], { exit: 1, code: 'INVALID_MANIFEST', unchanged: si, input: '{"schemaVersion": 2,' });
    await expectFailure(['manifest', 'push', `${si}:x`, '-'], { exit: 1, code: 'INVALID_MANIFEST', unchanged: si, input: '{"hello":"world"}' });

    const big = JSON.stringify({ ...JSON.parse(missing), layers: [], annotations: { padding: 'x'.repeat(4 * 1024 * 1024) } });
    const bigFile = path.join(tmp.dir, 'big.json');
    await writeFile(bigFile, big);
    await expectFailure(['manifest', 'push', `${si}:x`, bigFile], { exit: 1, code: 'MANIFEST_TOO_LARGE', unchanged: si });
    await expectFailure(['manifest', 'push', `${si}:x`, '-'], { exit: 1, code: 'MANIFEST_TOO_LARGE', unchanged: si, input: big });

    await expectFailure(['manifest', 'push', `${si}@${E.single.image}`, '-'], { exit: 2, code: 'USAGE', unchanged: si, input: missing });
    await expectFailure(['manifest', 'push', `${si}:x`, path.join(tmp.dir, 'no-such-file.json')], { exit: 1, code: 'NOT_FOUND', unchanged: si });
  });
});

describe.concurrent('index create', () => {
  it('builds an index over manifests of the layout, with platforms from their configs, and tags it', async () => {
    const mp = await copy('multi-platform');
    const amd64 = E.multi.manifests['linux/amd64']!.image;
    const arm64 = E.multi.manifests['linux/arm64/v8']!.image;
    const desc = await expectJson<{ digest: string; size: number; mediaType: string }>(['index', 'create', `${mp}:pair`, amd64, `@${arm64}`, '--annotation', 'com.example.k=v']);
    expect(desc.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const stored = await readFile(blobFile(mp, desc.digest));
    expect(sha256(stored)).toBe(desc.digest);
    const index = JSON.parse(stored.toString('utf8'));
    expect(index).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd64, size: 402, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm64, size: 402, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
      annotations: { 'com.example.k': 'v' },
    });
    expect((await expectSuccess(['resolve', `${mp}:pair`, '--platform', 'linux/arm64'])).stdout).toBe(`${arm64}\n`);
    expect(await expectJson(['tags', mp])).toEqual(['10', 'buster', 'pair']);
  });

  it('refuses an unknown source (exit 1) and a malformed annotation (exit 2), changing nothing', async () => {
    const mp = await copy('multi-platform');
    await expectFailure(['index', 'create', `${mp}:x`, 'no-such-tag'], { exit: 1, code: 'NOT_FOUND', unchanged: mp });
    await expectFailure(['index', 'create', `${mp}:x`, '10', '--annotation', 'novalue'], { exit: 2, code: 'USAGE', unchanged: mp });
    const r = await ocikit(['index', 'create', mp]);
    expect(r.code).toBe(2);
  });
});
