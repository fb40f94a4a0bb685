/**
 * Layouts with real weight for tests that need writes to take a while (the
 * crash harness): images whose layers are random, incompressible bytes of a
 * chosen size, written directly (not through ocikit, so the setup does not
 * depend on the code under test).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addArtifact, OCI_CONFIG, OCI_MANIFEST, storeBlob, storeJson, tagged, type Desc, type IndexJson } from './audit-layouts.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar';

/** An empty layout (`oci-layout`, empty index.json, blobs/sha256), as `ocikit init` makes it. */
export async function emptyLayout(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return dir;
}

/** Store an image of random layers (sizes in bytes) and return its manifest descriptor; nothing is listed in index.json. */
export async function storeRandomImage(dir: string, layerSizes: number[]): Promise<Desc> {
  const layers: Desc[] = [];
  for (const size of layerSizes) layers.push(await storeBlob(dir, randomBytes(size), LAYER));
  const config = await storeJson(dir, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }, OCI_CONFIG);
  return storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }, OCI_MANIFEST);
}

/** A layout whose index.json tags one random image per entry of `images` (tag → layer sizes). */
export async function randomLayout(dir: string, images: Record<string, number[]>): Promise<Record<string, Desc>> {
  await emptyLayout(dir);
  const out: Record<string, Desc> = {};
  for (const [tag, sizes] of Object.entries(images)) out[tag] = await storeRandomImage(dir, sizes);
  await writeIndex(dir, Object.entries(out).map(([tag, d]) => tagged(d, tag)));
  return out;
}

export async function writeIndex(dir: string, manifests: Desc[]): Promise<void> {
  const index: IndexJson = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

/** Every blob file of a layout, as `sha256:<hex>`, sorted. */
export async function blobDigests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const alg of await readdir(path.join(dir, 'blobs'))) for (const hex of await readdir(path.join(dir, 'blobs', alg))) out.push(`${alg}:${hex}`);
  return out.sort();
}

/** index.json's entries, parsed. */
export async function indexEntries(dir: string): Promise<Desc[]> {
  return (JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as IndexJson).manifests;
}

/**
 * What the crash harness moves around (pull, unpack, push into serve): two
 * tagged images of a few MiB in three layers each, and an SBOM-like artifact
 * on the first, so that referrers travel too. About 10 MiB in all.
 */
export async function transferLayout(dir: string): Promise<{ tags: Record<string, string>; referrer: string }> {
  const MiB = 1024 * 1024;
  const images = await randomLayout(dir, { one: [2 * MiB, 2 * MiB, MiB], two: [2 * MiB, 2 * MiB, MiB] });
  const referrer = await addArtifact(dir, { artifactType: 'application/spdx+json', subject: images['one']!, layers: [{ bytes: randomBytes(256 * 1024), mediaType: 'application/spdx+json' }] });
  return { tags: Object.fromEntries(Object.entries(images).map(([t, d]) => [t, d.digest])), referrer: referrer.digest };
}

/** The tag → digest map of a layout's index.json. */
export async function tagMap(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await indexEntries(dir)) {
    const tag = e['annotations'] as Record<string, string> | undefined;
    if (tag?.['org.opencontainers.image.ref.name'] !== undefined) out[tag['org.opencontainers.image.ref.name']] = e.digest;
  }
  return out;
}
