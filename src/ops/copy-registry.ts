/**
 * `copy` when either end is a registry: the same roots and the same graph
 * copy as between layouts (ops/transfer.ts), with targets opened with the
 * registry options (TLS, credentials) the command line gave. Registry to
 * registry copies stream blob by blob; between repositories of one registry,
 * blobs the source was seen to hold are mounted instead of uploaded.
 */
import { OcikitError, UsageError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { openReadTarget } from '../targets/open.js';
import { RegistryTarget } from '../targets/registry.js';
import { writeArchive } from './pack.js';
import type { ArchiveMergeResult } from './archive-merge.js';
import { selectRoots, transfer, type TransferResult } from './transfer.js';
import { prepareLayout } from './unpack.js';
import { registryClient, type RegistryOptions } from '../registry/client.js';

export interface RegistryCopyOptions {
  referrers?: boolean;
  allTags?: boolean;
  platform?: Platform;
  concurrency?: number;
  registry?: RegistryOptions;
  onEvent?: (e: CopyEvent) => void;
}

export interface RegistryCopyResult extends TransferResult, Partial<ArchiveMergeResult> {
  destination: string;
  /** The archive file written, for an archive destination. */
  archive?: string;
}

export function involvesRegistry(src: Reference, dst: Reference): boolean {
  return src.kind === 'registry' || dst.kind === 'registry';
}

export async function copyWithRegistry(srcRef: Reference, dstRef: Reference, opts: RegistryCopyOptions = {}): Promise<RegistryCopyResult> {
  if (dstRef.digest) throw new UsageError(`${dstRef.original}: a destination cannot choose a digest; give a tag or none`);
  if (opts.allTags && dstRef.tag) throw new UsageError('--all-tags keeps the source tags; drop the tag from the destination');
  const src = await openReadTarget(srcRef, { wholeArchive: true, registry: opts.registry });
  const topts = { referrers: opts.referrers ?? false, concurrency: opts.concurrency, onEvent: opts.onEvent };
  try {
    const roots = await selectRoots(src, srcRef, { allTags: opts.allTags, platform: opts.platform });
    if (dstRef.tag) for (const r of roots) r.tags = [dstRef.tag];
    const destination = dstRef.original;
    switch (dstRef.kind) {
      case 'registry': {
        const dst = new RegistryTarget(registryClient(dstRef.registry!, opts.registry), dstRef.repository!, true);
        return { ...(await transfer(src, dst, roots, topts)), destination };
      }
      case 'layout-dir': {
        const prepared = await prepareLayout(dstRef.path!);
        try {
          return { ...(await transfer(src, prepared.layout, roots, topts)), destination };
        } catch (err) {
          await prepared.rollback().catch(() => undefined);
          throw err;
        } finally {
          await prepared.layout.close();
        }
      }
      case 'layout-archive':
        return { ...(await writeArchive(src, roots, dstRef.path!, { referrers: opts.referrers ?? false, onEvent: opts.onEvent })), destination };
      default:
        throw new OcikitError('UNSUPPORTED', `copying to ${dstRef.kind} targets is not supported (${dstRef.original})`);
    }
  } finally {
    await src.close?.();
  }
}
