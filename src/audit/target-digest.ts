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
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createDigestHash, digestBytes } from '../digest/digest.js';
import { fromFsError } from '../errors.js';
import { openRegularFile } from '../fs/safe-open.js';
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
  const dir = target.location !== undefined && (await stat(target.location).catch(() => undefined))?.isDirectory() ? target.location : undefined;
  if (dir !== undefined) {
    const digest = await digestFile(path.join(dir, 'index.json'));
    return digest === undefined ? undefined : { digest, of: 'index.json' };
  }
  const bytes = await target.readLayoutFile('index.json', INDEX_JSON_LIMIT);
  return bytes ? { digest: digestBytes(bytes), of: 'index.json' } : undefined;
}

/**
 * A layout directory's index.json hashed in small reads: at 50,000 entries it
 * is about 10 MiB, and reading it whole raised the peak memory of
 * `inspect --html` by 1-4 MiB (of the 150 allowed). Opened as every layout
 * file is: no symlink, regular files only.
 */
async function digestFile(file: string): Promise<string | undefined> {
  let opened;
  try {
    opened = await openRegularFile(file, { what: 'index.json' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const { fh } = opened;
  try {
    const hash = createDigestHash('sha256');
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
    }
    return `sha256:${hash.digest('hex')}`;
  } catch (err) {
    throw fromFsError(err, file, 'index.json');
  } finally {
    await fh.close();
  }
}
