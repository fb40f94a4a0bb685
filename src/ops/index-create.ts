/** `index create`: an image index over manifests already stored in a target. */
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { imagePlatform } from '../targets/open.js';
import type { ReadTarget } from '../graph/target.js';

export interface CreateIndexOptions {
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** The index bytes (compact JSON, the form that is hashed) for `sources`, each with its platform filled from its config. */
export async function buildIndex(target: ReadTarget, sources: Descriptor[], opts: CreateIndexOptions = {}): Promise<Uint8Array> {
  const manifests: Descriptor[] = [];
  for (const src of sources) {
    const entry: Descriptor = { mediaType: src.mediaType, digest: src.digest, size: src.size };
    const platform = src.platform ?? (await imagePlatform(target, src));
    if (platform) entry.platform = platform;
    if (src.artifactType) entry.artifactType = src.artifactType;
    if (!manifests.some((m) => m.digest === entry.digest)) manifests.push(entry);
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
  if (opts.artifactType) index.artifactType = opts.artifactType;
  if (opts.annotations && Object.keys(opts.annotations).length > 0) index.annotations = opts.annotations;
  return Buffer.from(JSON.stringify(index));
}
