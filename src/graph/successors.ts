/** The content graph: what a manifest points at. */
import { isIndexMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest, LegacyArtifactManifest } from '../spec/types.js';
import type { ParsedManifest } from '../spec/validate.js';

/**
 * Direct successors of a parsed manifest: an index's children; an image
 * manifest's config and layers; a legacy artifact's blobs. The subject is not
 * a successor: a referrer points up at its subject, it does not own it.
 */
export function successors(parsed: ParsedManifest): Descriptor[] {
  switch (parsed.kind) {
    case 'index':
      return [...(parsed.doc as ImageIndex).manifests];
    case 'manifest': {
      const m = parsed.doc as ImageManifest;
      return [m.config, ...m.layers];
    }
    case 'legacy-artifact':
      return [...((parsed.doc as LegacyArtifactManifest).blobs ?? [])];
  }
}

/** True when a descriptor names a document ocikit walks into (index, manifest, legacy artifact). */
export function isWalkable(desc: Descriptor): boolean {
  return isIndexMediaType(desc.mediaType) || desc.mediaType === MediaType.ImageManifest || desc.mediaType === MediaType.DockerManifest || desc.mediaType === MediaType.LegacyArtifactManifest;
}
