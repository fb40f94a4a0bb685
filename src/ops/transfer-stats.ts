/** Counting what a push or pull moved, from the graph copy's events, for progress and the summary line. */
import type { CopyEvent } from '../graph/copy.js';
import { isWalkable } from '../graph/successors.js';
import { formatBytes } from '../util/byte-size.js';

export interface TransferStats {
  blobs: number;
  blobsSkipped: number;
  bytes: number;
  manifests: number;
  manifestsSkipped: number;
  referrers: number;
  /** Bytes of blobs taken from partial downloads that an interrupted run kept (fs/partial-download.ts), not transferred again. */
  resumedBytes: number;
}

export function emptyStats(): TransferStats {
  return { blobs: 0, blobsSkipped: 0, bytes: 0, manifests: 0, manifestsSkipped: 0, referrers: 0, resumedBytes: 0 };
}

export function countEvent(stats: TransferStats, e: CopyEvent): void {
  const manifest = isWalkable(e.descriptor);
  if (e.type === 'skip') {
    if (manifest) stats.manifestsSkipped++;
    else stats.blobsSkipped++;
  } else if (e.type === 'done') {
    if (manifest) stats.manifests++;
    else {
      stats.blobs++;
      stats.bytes += e.descriptor.size;
      stats.resumedBytes += e.resumedBytes ?? 0;
    }
  }
}

/** `pulled 12 blobs (1.1 GiB, 80.0 MiB resumed, 9 skipped), 4 manifests, 3 referrers` */
export function summaryLine(verb: string, s: TransferStats): string {
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  const resumed = s.resumedBytes > 0 ? `, ${formatBytes(s.resumedBytes)} resumed` : '';
  return `${verb} ${plural(s.blobs, 'blob')} (${formatBytes(s.bytes)}${resumed}, ${s.blobsSkipped} skipped), ${plural(s.manifests, 'manifest')}${s.manifestsSkipped ? ` (${s.manifestsSkipped} skipped)` : ''}, ${plural(s.referrers, 'referrer')}`;
}
