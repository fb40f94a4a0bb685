/**
 * Shared by the benchmarks: an OCI layout holding one image whose only layer
 * is `sizeMiB` MiB of random (incompressible) bytes, written in 4 MiB chunks
 * so building it needs no memory. Built with node:crypto, node:zlib and
 * node:fs only, not with ocikit, so the benchmarks do not measure ocikit
 * against itself.
 *
 * With `{ gzip: true }` the random bytes are wrapped in a real gzip stream of
 * stored (level 0) blocks and the layer is `tar+gzip`: the shape of a real
 * image layer, which registry tools pass through as it is. skopeo compresses
 * a layer it finds uncompressed on its way to a registry, so without this a
 * push comparison would time gzip, not the transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

async function storeJson(dir, doc) {
  const bytes = Buffer.from(JSON.stringify(doc));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(path.join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Returns the layer's path and digest; the image is tagged `big`. */
export async function makeBigLayout(dir, sizeMiB, opts = {}) {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const tmp = path.join(dir, 'layer.tmp');
  const file = createWriteStream(tmp);
  // Hash and count what reaches the file (the gzip stream's output, when there is one).
  const hash = createHash('sha256');
  const diffHash = createHash('sha256');
  let size = 0;
  const gzip = opts.gzip ? createGzip({ level: 0 }) : undefined;
  const written = new Promise((resolve, reject) => {
    file.on('finish', resolve).on('error', reject);
    gzip?.on('error', reject);
  });
  if (gzip) {
    gzip.on('data', (c) => {
      hash.update(c);
      size += c.length;
      if (!file.write(c)) gzip.pause();
    });
    file.on('drain', () => gzip.resume());
    gzip.on('end', () => file.end());
  }
  const sink = gzip ?? file;
  for (let i = 0; i < sizeMiB / 4; i++) {
    const chunk = randomBytes(4 * 1024 * 1024);
    diffHash.update(chunk);
    if (!gzip) {
      hash.update(chunk);
      size += chunk.length;
    }
    if (!sink.write(chunk)) await new Promise((r) => sink.once('drain', r));
  }
  sink.end();
  await written;
  const hex = hash.digest('hex');
  const layerPath = path.join(dir, 'blobs', 'sha256', hex);
  await rename(tmp, layerPath);
  const mediaType = `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`;
  const layer = { mediaType, digest: `sha256:${hex}`, size };
  const diffId = `sha256:${diffHash.digest('hex')}`;
  const config = await storeJson(dir, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } });
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
