/**
 * Shared by the benchmarks (imported, so run-all.mjs does not run it): an OCI
 * layout of many small manifests, the shape of a busy mirror. Every image has
 * its own config and shares one small layer; every tenth image also has an
 * SBOM referrer (an OCI 1.1 artifact listed untagged in index.json, as oras
 * writes them). Built with node:crypto and node:fs only, not with ocikit.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

function store(dir, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

const storeJson = (dir, doc) => store(dir, Buffer.from(JSON.stringify(doc)));

/** Images needed for about `manifests` manifests (each tenth image brings an SBOM). */
export const imagesFor = (manifests) => Math.ceil(manifests / 1.1);

/** A layout with `n` tagged images (own config, one shared layer) and an SBOM for every tenth. Returns the manifest count. */
export function makeManyManifestLayout(dir, n) {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  store(dir, Buffer.from('{}'));
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...store(dir, Buffer.alloc(2048, 1)) };
  const entries = [];
  for (let i = 0; i < n; i++) {
    const config = storeJson(dir, {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`N=${i}`], Labels: { 'org.opencontainers.image.version': String(i) } },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    });
    const image = { mediaType: MANIFEST, ...storeJson(dir, { schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [layer] }) };
    entries.push({ ...image, annotations: { 'org.opencontainers.image.ref.name': `t${i}` } });
    if (i % 10 === 0) {
      const sbom = { mediaType: 'application/spdx+json', ...store(dir, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `image ${i}` }))) };
      const artifact = storeJson(dir, { schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/spdx+json', config: EMPTY, layers: [sbom], subject: image });
      entries.push({ mediaType: MANIFEST, ...artifact, artifactType: 'application/spdx+json' });
    }
  }
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  return entries.length;
}
