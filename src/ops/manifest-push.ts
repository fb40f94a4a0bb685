/** Storing a manifest or index given as bytes (`manifest push`, `index create`, `attach`). */
import { NotFoundError, OcikitError } from '../errors.js';
import { digestBytes } from '../digest/digest.js';
import type { Descriptor } from '../spec/types.js';
import { effectiveArtifactType, parseManifestBytes } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { successors } from '../graph/successors.js';
import type { Editor } from '../graph/editor.js';

/** What storing a manifest needs of an Editor; serve --writable's layout (an UploadStore) has it too. */
export type ManifestStore = Pick<Editor, 'description' | 'retain' | 'push' | 'tag' | 'addEntry'>;

export interface PushManifestOptions {
  /** Media type to store under; defaults to the document's own `mediaType` (or what its shape says). */
  mediaType?: string;
  tags?: string[];
  /** Where the bytes came from, for messages: "from m.json", "from stdin". */
  source?: string;
  /** List in index.json even without a tag (artifacts, untagged roots). Default: when untagged. */
  listUntagged?: boolean;
}

/**
 * Validate and store a manifest, then name it: under its tags, or (a layout)
 * listed in index.json untagged. Refuses a manifest whose config, layers or
 * children are not stored yet, so nothing ever points at missing content.
 */
export async function pushManifest(layout: ManifestStore, bytes: Uint8Array, opts: PushManifestOptions = {}): Promise<Descriptor> {
  if (bytes.length > MAX_DOCUMENT_SIZE) {
    throw new OcikitError('MANIFEST_TOO_LARGE', `manifest${opts.source ? ` ${opts.source}` : ''} is ${bytes.length} bytes; the limit is ${MAX_DOCUMENT_SIZE}`, { actual: bytes.length, expected: MAX_DOCUMENT_SIZE });
  }
  const parsed = parseManifestBytes(bytes, opts.mediaType, opts.source);
  const missing: string[] = [];
  // retain: the blobs must also survive a concurrent gc until the manifest is listed.
  for (const d of successors(parsed)) if (!(await layout.retain(d))) missing.push(d.digest);
  if (missing.length > 0) {
    throw new NotFoundError(`the manifest refers to ${missing.length} blob(s) not stored in ${layout.description}: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`, {
      digest: missing[0],
      hint: 'push the blobs first (ocikit blob push)',
    });
  }
  const desc: Descriptor = { mediaType: parsed.mediaType, digest: digestBytes(bytes), size: bytes.length };
  const artifactType = effectiveArtifactType(parsed.doc);
  if (parsed.doc.subject && artifactType) desc.artifactType = artifactType;
  if (parsed.doc.subject && parsed.doc.annotations) desc.annotations = { ...parsed.doc.annotations };
  await layout.push(desc, bytes);
  const tags = opts.tags ?? [];
  for (const tag of tags) await layout.tag(desc, tag);
  if (tags.length === 0 && opts.listUntagged !== false) await layout.addEntry(desc);
  return desc;
}
