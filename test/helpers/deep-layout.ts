/**
 * A layout whose tagged root is an image index nested `depth` levels deep:
 * index -> index -> ... -> image manifest (config + one layer). Real images
 * nest two or three levels; hostile ones nest thousands, which is what the
 * nesting tests feed every command. Blobs are written directly (not through
 * ocikit) so the helper is an independent oracle and fast: 10,000 levels take
 * well under a second.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export interface DeepLayout {
  layout: string;
  /** The tagged root (the outermost index). */
  root: Desc;
  tag: string;
}

type Desc = { mediaType: string; digest: string; size: number };

function blobStore(layout: string): (bytes: string | Buffer, mediaType: string) => Desc {
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  return (bytes, mediaType) => {
    const buf = Buffer.from(bytes);
    const hex = createHash('sha256').update(buf).digest('hex');
    writeFileSync(path.join(blobs, hex), buf);
    return { mediaType, digest: `sha256:${hex}`, size: buf.length };
  };
}

export function makeDeepLayout(layout: string, depth: number, tag = 'deep'): DeepLayout {
  const store = blobStore(layout);
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  // An empty tar (two zero blocks) so unpack has a real layer to apply.
  const layer = store(Buffer.alloc(1024), OCI_LAYER);
  const config = store(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }), OCI_CONFIG);
  let node: Desc = store(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }), OCI_MANIFEST);
  for (let i = 0; i < depth; i++) {
    // Every entry names the platform, so `--platform linux/amd64` has a path to follow all the way down.
    const child = { ...node, platform: { architecture: 'amd64', os: 'linux' } };
    node = store(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] }), OCI_INDEX);
  }
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...node, annotations: { 'org.opencontainers.image.ref.name': tag } }] };
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  return { layout, root: node, tag };
}

/**
 * Add a chain of `length` artifacts to a layout made by makeDeepLayout: the
 * first refers to the tagged root, each next one to the one before (a
 * signature of a signature of ...). Each is listed untagged in index.json,
 * as oras does.
 */
export function addReferrerChain(deep: DeepLayout, length: number): Desc[] {
  const store = blobStore(deep.layout);
  const empty = store('{}', 'application/vnd.oci.empty.v1+json');
  const chain: Desc[] = [];
  let subject = deep.root;
  for (let i = 0; i < length; i++) {
    const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.chain', config: empty, layers: [empty], subject };
    subject = store(JSON.stringify(doc), OCI_MANIFEST);
    chain.push({ ...subject, artifactType: 'application/vnd.example.chain' } as Desc);
  }
  const file = path.join(deep.layout, 'index.json');
  const index = JSON.parse(readFileSync(file, 'utf8')) as { manifests: Desc[] };
  index.manifests.push(...chain);
  writeFileSync(file, JSON.stringify(index));
  return chain;
}
