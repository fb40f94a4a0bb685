/**
 * Shared by the benchmarks: an OCI layout holding one image whose only layer
 * is `sizeMiB` MiB of random (incompressible) bytes, written in 4 MiB chunks
 * so building it needs no memory. Built with node:crypto and node:fs only,
 * not with ocikit, so the benchmarks do not measure ocikit against itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

async function storeJson(dir, doc) {
  const bytes = Buffer.from(JSON.stringify(doc));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(path.join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Returns the layer's path and digest; the image is tagged `big`. */
export async function makeBigLayout(dir, sizeMiB) {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const tmp = path.join(dir, 'layer.tmp');
  const hash = createHash('sha256');
  const out = createWriteStream(tmp);
  for (let i = 0; i < sizeMiB / 4; i++) {
    const chunk = randomBytes(4 * 1024 * 1024);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  const hex = hash.digest('hex');
  const layerPath = path.join(dir, 'blobs', 'sha256', hex);
  await rename(tmp, layerPath);
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${hex}`, size: sizeMiB * 1024 * 1024 };
  const config = await storeJson(dir, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } });
  const manifest = await storeJson(dir, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [layer],
  });
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'big' } }],
    }),
  );
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { layerPath, digest: layer.digest };
}
