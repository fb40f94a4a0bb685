/**
 * Small made-up images for tests that need many distinct ones (the
 * concurrency tests): each image is one layout directory holding one tagged
 * manifest with its own config and layer, plus an optional layer shared by
 * every image made with the same `sharedLayer` bytes, so that writers of
 * different images race on the same blob too. Written with node:fs only (via
 * audit-layouts' storeBlob), not with ocikit, so the tests do not check
 * ocikit against itself.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobFile, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, storeBlob, storeJson, type Desc } from './audit-layouts.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar';

export interface MadeImage {
  dir: string;
  tag: string;
  manifest: Desc;
  /** Config and layers, i.e. every blob the manifest needs besides itself. */
  blobs: Desc[];
}

/** A layout at `dir` with one image tagged `tag`; `seed` makes its config and own layer unique. */
export async function makeImageLayout(dir: string, opts: { tag: string; seed: string; sharedLayer?: Buffer; layerBytes?: number }): Promise<MadeImage> {
  const own = Buffer.alloc(opts.layerBytes ?? 4096);
  // Deterministic filler derived from the seed: distinct images, reproducible runs.
  for (let off = 0, block = 0; off < own.length; block++) {
    off += createHash('sha256').update(`${opts.seed}/${block}`).digest().copy(own, off);
  }
  const layers: Desc[] = [];
  if (opts.sharedLayer) layers.push(await storeBlob(dir, opts.sharedLayer, LAYER));
  layers.push(await storeBlob(dir, own, LAYER));
  const config = await storeJson(dir, { architecture: 'amd64', os: 'linux', config: { Env: [`SEED=${opts.seed}`] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }, OCI_CONFIG);
  const manifest = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }, OCI_MANIFEST);
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': opts.tag } }] }),
  );
  return { dir, tag: opts.tag, manifest, blobs: [config, ...layers] };
}

/**
 * Problems with the blobs a manifest needs in `layout`, checked without
 * ocikit: each must be there and hash to its digest, with its size.
 * Manifests of an index are followed.
 */
export async function blobProblems(layout: string, manifest: Desc): Promise<string[]> {
  const problems: string[] = [];
  const check = async (d: Desc): Promise<Buffer | undefined> => {
    let bytes: Buffer;
    try {
      bytes = await readFile(blobFile(layout, d.digest));
    } catch {
      problems.push(`${d.digest} missing`);
      return undefined;
    }
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== d.digest || bytes.length !== d.size) problems.push(`${d.digest} has other content (${actual}, ${bytes.length} bytes)`);
    return bytes;
  };
  const walk = async (d: Desc): Promise<void> => {
    const bytes = await check(d);
    if (!bytes) return;
    const doc = JSON.parse(bytes.toString('utf8')) as { config?: Desc; layers?: Desc[]; manifests?: Desc[] };
    for (const child of doc.manifests ?? []) await walk(child);
    for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) await check(blob);
  };
  await walk(manifest);
  return problems;
}
