/**
 * `copy SRC DST`: the one copy entry point, whatever the two ends are. One
 * image (or, with `allTags`, every tag) from any readable target (layout
 * directory or archive, docker archive, registry repository) into a layout
 * directory, a layout archive (merged with one already there:
 * ops/archive-merge.ts) or a registry repository: the same roots
 * and the same transfer (ops/transfer.ts) for every pair. Registry to
 * registry copies stream blob by blob; between repositories of one registry,
 * blobs the source was seen to hold are mounted instead of uploaded.
 *
 * Naming: DST's tag if given (one image only), else the source's tag; an
 * image selected by digest is listed untagged. Referrers come along with
 * `referrers` (`-r`), listed untagged in the destination's index.json.
 *
 * A docker archive destination (`docker-archive:FILE[:NAME:TAG]`) is written
 * whole by ops/docker-save.ts: images only, one platform of an index, the
 * old `docker save` format.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OcikitError, UsageError } from '../errors.js';
import { layoutName, type Reference } from '../reference.js';
import type { Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { openReadTarget } from '../targets/open.js';
import { RegistryTarget } from '../targets/registry.js';
import type { ReadTarget } from '../graph/target.js';
import { registryClient, type RegistryOptions } from '../registry/client.js';
import { writeArchive } from './pack.js';
import type { ArchiveMergeResult } from './archive-merge.js';
import { selectRoots, transfer, type Root, type TransferOptions, type TransferResult } from './transfer.js';
import { prepareLayout } from './unpack.js';
import { checkDockerArchiveDestination, writeDockerArchive, type DockerArchiveResult } from './docker-save.js';

export interface CopyReferenceOptions {
  referrers?: boolean;
  allTags?: boolean;
  platform?: Platform;
  concurrency?: number;
  /** For a registry at either end: TLS, credentials, retries (the CLI's global flags). */
  registry?: RegistryOptions;
  /** A docker archive destination: replace a file already there (default: ALREADY_EXISTS). */
  overwrite?: boolean;
  onEvent?: (e: CopyEvent) => void;
}

/** With an archive destination, also what became of an archive already there (ops/archive-merge.ts). */
export interface CopyReferenceResult extends TransferResult, Partial<ArchiveMergeResult>, Partial<Omit<DockerArchiveResult, keyof TransferResult>> {
  destination: string;
  /** The archive file written, for an archive destination. */
  archive?: string;
}

const DESTINATION_KINDS = new Set<Reference['kind']>(['layout-dir', 'layout-archive', 'docker-archive', 'registry']);

/** Open a source that will be read whole: a compressed archive is spooled next to `near` (or in the temp directory). */
export async function openWholeSource(ref: Reference, near?: string, registry?: RegistryOptions): Promise<ReadTarget> {
  return openReadTarget(ref, { spoolDir: near !== undefined && existsSync(near) ? near : os.tmpdir(), registry });
}

export async function copyReference(srcRef: Reference, dstRef: Reference, opts: CopyReferenceOptions = {}): Promise<CopyReferenceResult> {
  if (dstRef.digest) throw new UsageError(`${dstRef.original}: a destination cannot choose a digest; give a tag or none`);
  if (!DESTINATION_KINDS.has(dstRef.kind)) {
    throw new OcikitError('UNSUPPORTED', `copying to ${dstRef.kind} targets is not supported (${dstRef.original})`, {
      hint: 'copy to a layout directory (oci:DIR), a layout archive (oci-archive:FILE.tar) or a registry (HOST/REPO[:TAG])',
    });
  }
  if (dstRef.kind === 'docker-archive') await checkDockerArchiveDestination(dstRef, opts);
  else if (opts.overwrite) throw new UsageError('--overwrite is for docker-archive destinations; layouts and archives are merged into, never replaced');
  if (opts.allTags && dstRef.tag) throw new UsageError('--all-tags keeps the source tags; drop the tag from the destination');

  // A compressed source is spooled beside a local destination: same disk the user chose for the data.
  const spoolNear = dstRef.path !== undefined ? path.dirname(path.resolve(dstRef.path)) : undefined;
  const src = await openWholeSource(srcRef, spoolNear, opts.registry);
  try {
    const roots = await selectRoots(src, srcRef, { allTags: opts.allTags, platform: opts.platform });
    if (dstRef.kind === 'docker-archive') {
      const saved = await writeDockerArchive(src, srcRef, roots, dstRef, { overwrite: opts.overwrite, platform: opts.platform, onEvent: opts.onEvent });
      return { ...saved, destination: dstRef.original };
    }
    // The destination's name as written (TAG or REPO:TAG), never the one the source entry had.
    if (dstRef.tag) for (const r of roots) r.tags = [layoutName(dstRef)!];
    return { ...(await copyRoots(src, roots, dstRef, opts)), destination: dstRef.original };
  } finally {
    await src.close?.();
  }
}

/** The one transfer of `roots` into the destination `dstRef` names, opened for its kind. */
async function copyRoots(src: ReadTarget, roots: Root[], dstRef: Reference, opts: CopyReferenceOptions): Promise<TransferResult> {
  const topts: TransferOptions = { referrers: opts.referrers ?? false, concurrency: opts.concurrency, onEvent: opts.onEvent, announce: true };
  switch (dstRef.kind) {
    case 'registry':
      return transfer(src, new RegistryTarget(registryClient(dstRef.registry!, opts.registry), dstRef.repository!, true), roots, topts);
    case 'layout-archive':
      // An archive is written whole, as a stream, by the same transfer (see pack.ts).
      return writeArchive(src, roots, dstRef.path!, { referrers: topts.referrers, onEvent: opts.onEvent });
    default: {
      const prepared = await prepareLayout(dstRef.path!);
      try {
        return await transfer(src, prepared.layout, roots, topts);
      } catch (err) {
        await prepared.rollback().catch(() => undefined);
        throw err;
      } finally {
        // Release the write lease: left behind, it outlives the process in .ocikit-leases/ until a gc
        // notices the pid is gone (and a reused pid would keep its blobs from gc for good).
        await prepared.layout.close();
      }
    }
  }
}
