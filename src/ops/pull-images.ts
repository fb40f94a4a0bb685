/**
 * `pull`: images from registries into a layout directory or a new layout
 * archive. Each reference brings all platforms of its image (or the one
 * `platform` picks) and, unless turned off, every referrer recursively. A
 * repository named without tag or digest brings every tag (except referrers
 * fallback tags, which are bookkeeping).
 *
 * Entries are named as containerd does: `org.opencontainers.image.ref.name`
 * is the tag, `io.containerd.image.name` the full reference, so images of
 * different repositories with the same tag can sit in one layout and
 * `push REGISTRY` (mirror mode) sends each back to its own repository.
 * A layout's index.json is written once, after every image was copied and
 * verified: a failed pull leaves it as it was.
 */
import { OcikitError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Descriptor, Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { copyRoots, throwIfReferrersFailed } from './transfer.js';
import type { FailedReferrer } from '../graph/copy.js';
import { resolvePlatform } from '../targets/open.js';
import { applyNames, isFallbackTag, type NameEdit } from '../spec/index-entries.js';
import { parseImageName } from '../spec/image-name.js';
import { RegistryTarget } from '../targets/registry.js';
import { keepsIndex, type WriteTarget } from '../graph/target.js';
import { registryClient, type RegistryOptions } from '../registry/client.js';
import { countEvent, emptyStats, type TransferStats } from './transfer-stats.js';
import { prepareLayout } from './unpack.js';

export interface PullOptions {
  platform?: Platform;
  /** Bring referrers along (default true). */
  referrers?: boolean;
  concurrency?: number;
  registry?: RegistryOptions;
  onEvent?: (e: CopyEvent) => void;
}

export interface PulledImage {
  /** `HOST/REPO:TAG` or `HOST/REPO@DIGEST`. */
  reference: string;
  digest: string;
  mediaType: string;
  tag?: string;
}

export interface PullResult extends TransferStats {
  images: PulledImage[];
  referrerDescriptors: Descriptor[];
}

/** A pulled root: the manifest, the full name it was pulled by, and its tag (none when pulled by digest alone). */
interface PullRoot {
  desc: Descriptor;
  name: string;
  tag?: string;
}

/**
 * Pull `refs` (registry references) into `dst`, a LayoutDir or any WriteTarget that keeps an index (an archive being written):
 * for each reference, its roots (pullRoots), copied by the one transfer; then every entry named in one step.
 */
export async function pullImages(refs: Reference[], dst: WriteTarget, opts: PullOptions = {}): Promise<PullResult> {
  const stats = emptyStats();
  const onEvent = (e: CopyEvent) => {
    countEvent(stats, e);
    opts.onEvent?.(e);
  };
  for (const ref of refs) {
    if (ref.kind !== 'registry') throw new OcikitError('USAGE', `${ref.original} is not a registry reference; pull reads from registries (write HOST/REPO[:TAG|@DIGEST])`);
  }
  const referrers = new Map<string, Descriptor>();
  const failedReferrers: FailedReferrer[] = [];
  const roots: PullRoot[] = [];
  for (const ref of refs) {
    const src = new RegistryTarget(registryClient(ref.registry!, opts.registry), ref.repository!, false);
    const selected = await pullRoots(src, ref, opts.platform);
    // Tags are not given here: pull names its entries itself, once, below (nameEntries).
    const r = await copyRoots(src, dst, selected.map((root) => ({ descriptor: root.desc, tags: [] })), { concurrency: opts.concurrency ?? 5, referrers: opts.referrers !== false, onEvent });
    for (const d of r.referrers) referrers.set(d.digest, d);
    failedReferrers.push(...r.failedReferrers);
    for (const root of selected) roots.push(root); // not push(...selected): a repository may have 100,000 tags
  }
  const rootDigests = new Set(roots.map((r) => r.desc.digest));
  const listed = [...referrers.values()].filter((d) => !rootDigests.has(d.digest));
  await nameEntries(dst, roots, listed);
  // Reported once every image is named and every other referrer stored (ops/transfer.ts).
  throwIfReferrersFailed(failedReferrers, dst.description);
  stats.referrers = listed.length;
  const images = roots.map((r): PulledImage => ({ reference: r.name, digest: r.desc.digest, mediaType: r.desc.mediaType, ...(r.tag !== undefined ? { tag: r.tag } : {}) }));
  return { ...stats, images, referrerDescriptors: listed };
}

/**
 * pullImages into the layout directory `dir`, created when missing (with its
 * parents). A pull that fails takes back what it created, as copy and unpack
 * do: a new directory is removed, an empty one emptied, so no empty layout
 * is left for the next command to take for a real one. (A signal ends the
 * process before that: a new directory then stays, with the partial
 * download the next pull resumes.) The write lease is released either way.
 */
export async function pullIntoLayout(refs: Reference[], dir: string, opts: PullOptions = {}): Promise<PullResult> {
  const prepared = await prepareLayout(dir, { createParents: true });
  try {
    return await pullImages(refs, prepared.layout, opts);
  } catch (err) {
    await prepared.rollback().catch(() => undefined);
    throw err;
  } finally {
    await prepared.layout.close();
  }
}

/**
 * Root selection for pull: the digest or tag the reference names, or every
 * tag of the repository but referrers fallback tags (bookkeeping), each
 * through an index to `platform` when one is asked for.
 */
async function pullRoots(src: RegistryTarget, ref: Reference, platform: Platform | undefined): Promise<PullRoot[]> {
  const base = `${ref.registry}/${ref.repository}`;
  const selectors: Array<{ tag?: string; digest?: string }> = [];
  if (ref.digest) selectors.push({ digest: ref.digest, ...(ref.tag ? { tag: ref.tag } : {}) });
  else if (ref.tag) selectors.push({ tag: ref.tag });
  else {
    for await (const t of src.tags()) if (!isFallbackTag(t)) selectors.push({ tag: t });
    if (selectors.length === 0) throw new OcikitError('NOT_FOUND', `${base} has no tags to pull`);
  }
  const roots: PullRoot[] = [];
  for (const sel of selectors) {
    let desc = await src.resolve(sel.digest ?? sel.tag!);
    if (platform) desc = await resolvePlatform(src, desc, platform);
    const name = sel.digest && !sel.tag ? `${base}@${sel.digest}` : `${base}:${sel.tag}`;
    const tag = sel.digest && !sel.tag ? undefined : sel.tag;
    roots.push({ desc, name, ...(tag !== undefined ? { tag } : {}) });
  }
  return roots;
}

/**
 * Each pulled image under its name: repository (without the registry host,
 * as every command reads it) and tag, with the full name written in
 * `io.containerd.image.name`; a name pulled again moves, the same tag of
 * other repositories stays (index-entries' applyNames, one pass).
 */
async function nameEntries(dst: WriteTarget, roots: PullRoot[], referrers: Descriptor[]): Promise<void> {
  const edits: NameEdit[] = roots.map((root) => ({ desc: root.desc, repository: parseImageName(root.name)?.repository, imageName: root.name, ...(root.tag !== undefined ? { tag: root.tag } : {}) }));
  edits.push(...referrers.map((desc) => ({ desc })));
  if (keepsIndex(dst)) {
    await dst.editIndex((index) => applyNames(index, edits));
    return;
  }
  for (const e of edits) if (e.tag !== undefined) await dst.tag(e.desc, e.tag);
}
