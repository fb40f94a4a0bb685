/**
 * `copy SRC DST`: one image (or, with `allTags`, every tag) from any readable
 * target into a layout directory or a new layout archive. Registries are
 * refused for now with UNSUPPORTED, as openReadTarget does.
 *
 * Naming: DST's tag if given (one image only), else the source's tag; an
 * image selected by digest is listed untagged. Referrers come along with
 * `referrers` (`-r`), listed untagged in the destination's index.json.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OcikitError, UsageError } from '../errors.js';
import { layoutName, type Reference } from '../reference.js';
import type { Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { openReadTarget } from '../targets/open.js';
import type { ReadTarget } from '../graph/target.js';
import { writeArchive } from './pack.js';
import { selectRoots, transfer, type Root, type TransferResult } from './transfer.js';
import { prepareLayout } from './unpack.js';

export interface CopyReferenceOptions {
  referrers?: boolean;
  allTags?: boolean;
  platform?: Platform;
  concurrency?: number;
  onEvent?: (e: CopyEvent) => void;
}

export interface CopyReferenceResult extends TransferResult {
  destination: string;
}

/** Open a source that will be read whole: a compressed archive is spooled next to `near` (or in the temp directory). */
export async function openWholeSource(ref: Reference, near?: string): Promise<ReadTarget> {
  return openReadTarget(ref, { wholeArchive: true, spoolDir: near !== undefined && existsSync(near) ? near : os.tmpdir() });
}

export async function copyReference(srcRef: Reference, dstRef: Reference, opts: CopyReferenceOptions = {}): Promise<CopyReferenceResult> {
  if (dstRef.digest) throw new UsageError(`${dstRef.original}: a destination cannot choose a digest; give a tag or none`);
  if (dstRef.kind !== 'layout-dir' && dstRef.kind !== 'layout-archive') {
    throw new OcikitError('UNSUPPORTED', `copying to ${dstRef.kind} targets is not supported yet (${dstRef.original})`, {
      hint: 'copy to a layout directory (oci:DIR) or a layout archive (oci-archive:FILE.tar)',
    });
  }
  if (opts.allTags && dstRef.tag) throw new UsageError('--all-tags keeps the source tags; drop the tag from the destination');

  // A compressed source is spooled beside the destination: same disk the user chose for the data.
  const spoolNear = path.dirname(path.resolve(dstRef.path!));
  const src = await openWholeSource(srcRef, spoolNear);
  try {
    const roots = await selectRoots(src, srcRef, { allTags: opts.allTags, platform: opts.platform });
    // The destination's name as written (TAG or REPO:TAG), never the one the source entry had.
    if (dstRef.tag) for (const r of roots) r.tags = [layoutName(dstRef)!];
    const destination = dstRef.original;
    if (dstRef.kind === 'layout-archive') {
      const result = await writeArchive(src, roots, dstRef.path!, { referrers: opts.referrers ?? false, onEvent: opts.onEvent });
      return { ...result, destination };
    }
    return { ...(await copyToLayout(src, roots, dstRef.path!, opts)), destination };
  } finally {
    await src.close?.();
  }
}

async function copyToLayout(src: ReadTarget, roots: Root[], dir: string, opts: CopyReferenceOptions): Promise<TransferResult> {
  const prepared = await prepareLayout(dir);
  try {
    return await transfer(src, prepared.layout, roots, { referrers: opts.referrers ?? false, concurrency: opts.concurrency, onEvent: opts.onEvent });
  } catch (err) {
    await prepared.rollback().catch(() => undefined);
    throw err;
  } finally {
    // Release the write lease: left behind, it outlives the process in .ocikit-leases/ until a gc
    // notices the pid is gone (and a reused pid would keep its blobs from gc for good).
    await prepared.layout.close();
  }
}
