/**
 * The one digest that pins what a report is about, for its header.
 *
 * A reference with a tag or digest pins a manifest: that manifest's digest.
 * A whole layout (directory or archive) is pinned by its index.json: every
 * name and everything reachable hangs from it, and any change to them changes
 * its digest, while the blobs are pinned by digests inside it. Hashing
 * index.json costs one small read; hashing an archive file instead would read
 * gigabytes a second time, change when the same layout is packed with other
 * tar options, and mean nothing for a directory. A registry repository as a
 * whole has no such digest (its tag list is not content-addressed).
 */
import { digestBytes } from '../digest/digest.js';
import type { ReadTarget } from '../graph/target.js';
import type { Descriptor } from '../spec/types.js';
import { hasFileListing } from '../targets/file-listing.js';
import { INDEX_JSON_LIMIT } from './verify.js';

export interface TargetDigest {
  digest: string;
  /** What was hashed: the selected manifest, or the layout's index.json. */
  of: 'manifest' | 'index.json';
}

/** `selected`: the manifest a reference with a tag or digest resolved to. Undefined when nothing pins the target. */
export async function targetDigest(target: ReadTarget, selected?: Descriptor): Promise<TargetDigest | undefined> {
  if (selected) return { digest: selected.digest, of: 'manifest' };
  if (!hasFileListing(target)) return undefined;
  const bytes = await target.readLayoutFile('index.json', INDEX_JSON_LIMIT);
  return bytes ? { digest: digestBytes(bytes), of: 'index.json' } : undefined;
}
