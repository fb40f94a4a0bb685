/** Small images, indexes and artifacts built straight into a MemoryTarget, for unit tests of the core. */
import { digestBytes } from '../../src/digest/digest.js';
import { MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import { MemoryTarget } from '../../src/targets/memory.js';

export async function putBlob(t: MemoryTarget, content: string | Buffer, mediaType: string = MediaType.Layer): Promise<Descriptor> {
  const bytes = Buffer.from(content);
  const desc: Descriptor = { mediaType, digest: digestBytes(bytes), size: bytes.length };
  await t.push(desc, bytes);
  return desc;
}

async function putJson(t: MemoryTarget, doc: object, mediaType: string): Promise<Descriptor> {
  return putBlob(t, JSON.stringify(doc), mediaType);
}

/** An image manifest with a config and the given layers (by content); `subject` makes it an artifact. */
export async function putImage(t: MemoryTarget, name: string, layers: string[], opts: { subject?: Descriptor; artifactType?: string } = {}): Promise<{ manifest: Descriptor; config: Descriptor; layers: Descriptor[] }> {
  const config = await putJson(t, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name }, MediaType.ImageConfig);
  const layerDescs = [];
  for (const l of layers) layerDescs.push(await putBlob(t, l));
  const manifest = await putJson(
    t,
    {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
      config,
      layers: layerDescs,
      ...(opts.subject ? { subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size } } : {}),
    },
    MediaType.ImageManifest,
  );
  return { manifest: opts.artifactType ? { ...manifest, artifactType: opts.artifactType } : manifest, config, layers: layerDescs };
}

export async function putIndex(t: MemoryTarget, children: Descriptor[]): Promise<Descriptor> {
  return putJson(t, { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: children }, MediaType.ImageIndex);
}
