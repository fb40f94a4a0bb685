/**
 * Artifacts ocikit writes must not get in other tools' way: skopeo copies the
 * image out of a layout that holds artifacts (and ocikit still reads the
 * source's referrers afterwards), and umoci still reads such a layout. Also:
 * concurrent `ocikit attach` processes on one layout lose nothing.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFixture, expectedDigests, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { indexTags, ocikitOk, once, peer, pushFixtureImage, readBlob, requireTool } from '../helpers/peers.js';
import { schemaAvailable, validateAgainstSchema } from '../helpers/schema.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SBOM_TYPE = 'application/spdx+json';
const SIG_TYPE = 'application/vnd.example.signature';

interface Referrers {
  manifests: Array<{ digest: string; artifactType?: string }>;
}

let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir('ocikit-artifacts-interop-');
});
afterAll(async () => tmp?.cleanup());

/**
 * A layout written by ocikit alone: the single-image fixture pushed in with
 * blob push + manifest push as `v1`, an SBOM attached to it, and a signature
 * attached to the SBOM.
 */
const artifactLayout = once(async () => {
  const dir = path.join(tmp.dir, 'with-artifacts');
  const image = (await expectedDigests())['single-image']!['image'] as string;
  await ocikitOk(['init', dir]);
  await pushFixtureImage(dir, 'single-image', image, 'v1');
  const files = path.join(tmp.dir, 'payloads');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'sbom.spdx.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'v1' }));
  await writeFile(path.join(files, 'sbom.sig'), 'not really a signature\n');
  const sbom = (await ocikitOk(['attach', `oci:${dir}:v1`, '--artifact-type', SBOM_TYPE, `${path.join(files, 'sbom.spdx.json')}:${SBOM_TYPE}`])).stdout.trim();
  const sig = (await ocikitOk(['attach', `oci:${dir}@${sbom}`, '--artifact-type', SIG_TYPE, path.join(files, 'sbom.sig')])).stdout.trim();
  return { dir, image, sbom, sig };
});

async function referrersOf(ref: string): Promise<string[]> {
  return (JSON.parse((await ocikitOk(['referrers', ref])).stdout) as Referrers).manifests.map((m) => m.digest);
}

describe('skopeo and a layout holding artifacts', () => {
  it('skopeo copy oci:DIR:v1 oci:OTHER:v1 copies the image byte for byte; the source is untouched and ocikit still reads its referrers', async () => {
    const skopeo = requireTool('skopeo');
    const { dir, image, sbom, sig } = await artifactLayout();
    const before = await snapshotTree(dir);
    const other = path.join(tmp.dir, 'skopeo-copy');
    await peer(skopeo, ['copy', '--quiet', `oci:${dir}:v1`, `oci:${other}:v1`]);

    expect(indexTags(other).get('v1')).toBe(image);
    expect((await readBlob(other, image)).equals(await readBlob(dir, image))).toBe(true);
    expect((await ocikitOk(['resolve', `oci:${other}:v1`])).stdout.trim()).toBe(image);
    // skopeo copies the image only; the artifacts stay behind in the source, which still answers.
    expect(await referrersOf(`oci:${other}:v1`)).toEqual([]);
    expect(await snapshotTree(dir)).toEqual(before);
    expect(await referrersOf(`oci:${dir}:v1`)).toEqual([sbom]);
    expect(await referrersOf(`oci:${dir}@${sbom}`)).toEqual([sig]);
  });

  it('skopeo inspect reads the image of a layout holding artifacts', async () => {
    const skopeo = requireTool('skopeo');
    const { dir, image } = await artifactLayout();
    const raw = (await peer(skopeo, ['inspect', '--raw', `oci:${dir}:v1`])).stdoutBytes;
    expect(raw.equals(await readBlob(dir, image))).toBe(true);
  });
});

describe('umoci and a layout holding artifacts', () => {
  it('umoci stat --image DIR:v1 works, and umoci ls lists only the image tag', async () => {
    const umoci = requireTool('umoci');
    const { dir } = await artifactLayout();
    const stat = await peer(umoci, ['stat', '--json', '--image', `${dir}:v1`]);
    const doc = JSON.parse(stat.stdout) as { history: unknown[] };
    expect(doc.history).toHaveLength(2);
    expect((await peer(umoci, ['ls', '--layout', dir])).stdout.split('\n').filter(Boolean)).toEqual(['v1']);
  });
});

describe('concurrent attach', () => {
  it('8 ocikit attach processes started at once on one layout leave 8 distinct referrers and a valid index.json', async () => {
    const dir = await copyFixture('single-image', path.join(tmp.dir, 'concurrent'));
    const image = (await expectedDigests())['single-image']!['image'] as string;
    const files = path.join(tmp.dir, 'concurrent-payloads');
    await mkdir(files, { recursive: true });
    const N = 8;
    for (let i = 0; i < N; i++) await writeFile(path.join(files, `part-${i}.txt`), `payload ${i}\n`);

    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => ocikit(['attach', `oci:${dir}:v1`, '--artifact-type', `application/vnd.example.part${i}`, path.join(files, `part-${i}.txt`)], { timeoutMs: 60_000 })),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const digests = results.map((r) => r.stdout.trim());
    expect(new Set(digests).size).toBe(N);

    // index.json: parseable, the image once, each artifact once, nothing else.
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; artifactType?: string }> };
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([image, ...digests].sort());
    for (const m of index.manifests) expect(m.mediaType).toBe(MANIFEST);
    if (schemaAvailable) expect(validateAgainstSchema('index', index)).toEqual([]);

    // Every referrer is found, with its own type, and every blob they name is stored.
    const listed = JSON.parse((await ocikitOk(['referrers', `oci:${dir}:v1`])).stdout) as Referrers;
    expect(listed.manifests.map((m) => m.digest).sort()).toEqual([...digests].sort());
    expect(listed.manifests.map((m) => m.artifactType).sort()).toEqual(Array.from({ length: N }, (_, i) => `application/vnd.example.part${i}`).sort());
    for (const d of digests) {
      const m = JSON.parse((await readBlob(dir, d)).toString('utf8')) as { layers: Array<{ digest: string }>; config: { digest: string } };
      for (const b of [m.config.digest, ...m.layers.map((l) => l.digest)]) await readBlob(dir, b);
      if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
    }
    // No lock, lease or temp file left behind.
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });
});
