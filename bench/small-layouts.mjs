/**
 * For the registry benchmark: one OCI layout holding `count` small images
 * that share base layers, the shape of a fleet of services built FROM the
 * same base: every image has base layer A (4 MiB), half of them base layer
 * B1 (1 MiB) and the other half B2, then a 64 KiB top layer and a config of
 * their own. Tagged `img-0` ... `img-<count-1>`. Layers are real gzip (stored
 * blocks of random bytes) so that no tool recompresses them on the way.
 * Built with node:crypto, node:zlib and node:fs only, not with ocikit.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function store(dir, bytes, mediaType) {
  const digest = sha256(bytes);
  await writeFile(path.join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** A gzip layer of `size` random bytes, with the digest of its uncompressed content (the diff_id). */
async function randomLayer(dir, size) {
  const content = randomBytes(size);
  return { desc: await store(dir, gzipSync(content, { level: 0 }), LAYER), diffId: sha256(content) };
}

export async function makeSmallLayouts(dir, count) {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const baseA = await randomLayer(dir, 4 * 1024 * 1024);
  const baseB = [await randomLayer(dir, 1024 * 1024), await randomLayer(dir, 1024 * 1024)];
  const manifests = [];
  for (let i = 0; i < count; i++) {
    const layers = [baseA, baseB[i % 2], await randomLayer(dir, 64 * 1024)];
    const config = await store(
      dir,
      Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [`SERVICE=${i}`] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } })),
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = await store(
      dir,
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layers.map((l) => l.desc) })),
      'application/vnd.oci.image.manifest.v1+json',
    );
    manifests.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': `img-${i}` } });
  }
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']);
}
