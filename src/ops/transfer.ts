/**
 * The core of copy, pack and unpack: choose the roots (what a reference,
 * tags or "everything" select), run the one graph copy for each, then name
 * them in the destination (tags on roots; referrers and untagged roots listed
 * untagged). The commands differ only in how their two ends are opened.
 */
import { OcikitError, UsageError } from '../errors.js';
import { layoutName, type Reference } from '../reference.js';
import type { Descriptor, Platform } from '../spec/types.js';
import { EventLoopTurns } from '../util/turns.js';
import { copyGraph, type CopyEvent, type FailedReferrer } from '../graph/copy.js';
import { announceGraph } from '../graph/announce.js';
import { fetchManifest } from '../graph/content.js';
import { isWalkable } from '../graph/successors.js';
import { Annotation } from '../spec/media-types.js';
import { parseImageName } from '../spec/image-name.js';
import { resolvePlatform, resolveReference } from '../targets/open.js';
import { applyNames, entryName, entryRef, parseNameRef, selectNamed, type NameEdit } from '../spec/index-entries.js';
import { stripTag } from '../targets/index-resolve.js';
import { isLayoutTarget, keepsIndex, type ReadTarget, type WriteTarget } from '../graph/target.js';

/** A manifest to copy and the names it gets in the destination (none: listed untagged): `TAG` or `REPO:TAG` (index-entries' parseNameRef). */
export interface Root {
  descriptor: Descriptor;
  tags: string[];
}

export interface SelectOptions {
  /** Select these tags of the source (`pack --tag`). */
  tags?: string[];
  /** Every tag of the source (`copy --all-tags`). */
  allTags?: boolean;
  /** Nothing named: everything the source lists (pack, unpack). Otherwise its only image. */
  everything?: boolean;
  /** Through an index, take the manifest for this platform. */
  platform?: Platform;
  /** Leave out untagged index.json entries that are referrers (`--no-referrers` with `everything`). */
  skipListedReferrers?: boolean;
}

/** What a source reference and options select, as roots; roots with the same digest are merged. */
export async function selectRoots(src: ReadTarget, ref: Reference, opts: SelectOptions = {}): Promise<Root[]> {
  const named = ref.tag !== undefined || ref.digest !== undefined || ref.dockerName !== undefined;
  if (named && (opts.tags?.length || opts.allTags)) {
    throw new UsageError(`${ref.original} already names one image; drop :TAG/@DIGEST to select with --tag or --all-tags`);
  }
  // Roots in first-seen order; maps, since an archive may hold 100,000 tags of one image.
  const roots = new Map<string, { descriptor: Descriptor; tags: Set<string> }>();
  const turns = new EventLoopTurns();
  const add = async (desc: Descriptor, tag?: string) => {
    await turns.step();
    const d = opts.platform ? await resolvePlatform(src, desc, opts.platform) : desc;
    let root = roots.get(d.digest);
    if (!root) roots.set(d.digest, (root = { descriptor: d, tags: new Set() }));
    if (tag !== undefined) root.tags.add(tag);
  };

  if (named) {
    const desc = await resolveReference(src, ref);
    const tag = ref.dockerName !== undefined ? entryRef(await entryNamed(src, ref.dockerName)) : ref.tag !== undefined ? await nameIn(src, layoutName(ref)!) : undefined;
    await add(desc, tag);
  } else if (opts.tags?.length) {
    for (const t of opts.tags) await add(await src.resolve(t), await nameIn(src, t));
  } else if (isLayoutTarget(src) && (opts.allTags || opts.everything)) {
    // Every entry with its (repository, tag) name, in one pass: the same tag may be in several repositories,
    // and an archive may hold tens of thousands of tags.
    for (const entry of (await src.readIndex()).manifests) {
      const name = entryRef(entry);
      if (opts.allTags && name === undefined) continue;
      if (opts.skipListedReferrers && name === undefined && (await hasSubject(src, entry))) continue;
      await add(stripTag(entry), name);
    }
    if (opts.allTags && roots.size === 0) throw new OcikitError('NOT_FOUND', `${src.description} has no tags`);
  } else if (opts.allTags || opts.everything) {
    for await (const t of src.tags()) await add(await src.resolve(t), t);
    if (roots.size === 0) throw new OcikitError('NOT_FOUND', `${src.description} has no tags`);
  } else {
    await add(await resolveReference(src, ref));
  }
  return [...roots.values()].map((r) => ({ descriptor: r.descriptor, tags: [...r.tags] }));
}

/** The full name a tag or `REPO:TAG` selects in a layout (the entry resolve picks), so a copy keeps its repository. */
async function nameIn(src: ReadTarget, name: string): Promise<string> {
  if (!isLayoutTarget(src)) return name;
  const entry = selectNamed(await src.readIndex(), name, src.description).at(-1);
  return (entry && entryRef(entry)) ?? name;
}

/** True when `selectRoots` takes every index.json entry of a layout as it is. */
export function selectsWholeLayout(src: ReadTarget, ref: Reference, opts: SelectOptions): boolean {
  const named = ref.tag !== undefined || ref.digest !== undefined || ref.dockerName !== undefined;
  return !named && !opts.tags?.length && !opts.allTags && opts.everything === true && isLayoutTarget(src);
}

/** The index.json entry a docker name resolves to, for its tag. */
async function entryNamed(src: ReadTarget, name: string): Promise<Descriptor> {
  const desc = await src.resolve(name);
  if (!isLayoutTarget(src)) return desc;
  const entries = (await src.readIndex()).manifests.filter((e) => e.digest === desc.digest);
  return entries.find((e) => e.annotations?.['io.containerd.image.name'] === name) ?? entries[0] ?? desc;
}

async function hasSubject(src: ReadTarget, entry: Descriptor): Promise<boolean> {
  if (!isWalkable(entry)) return false;
  return (await fetchManifest(src, entry)).doc.subject !== undefined;
}

export interface TransferOptions {
  /** Bring referrers of every copied manifest along, recursively. */
  referrers?: boolean;
  concurrency?: number;
  /** A blob-transfer limit shared with other transfers running at the same time (see CopyOptions.limit). */
  limit?: <T>(task: () => Promise<T>) => Promise<T>;
  onEvent?: (e: CopyEvent) => void;
  /**
   * Before copying, report everything under the roots as found, where the
   * source reads it locally (graph/announce.ts): a progress display then has
   * its total up front instead of root by root.
   */
  announce?: boolean;
  /**
   * transfer(): return the referrers that could not be copied in
   * `failedReferrers` instead of failing with them once the roots are named
   * (a caller running several transfers reports them all at its end).
   */
  returnFailedReferrers?: boolean;
}

export interface TransferResult {
  roots: Array<{ digest: string; mediaType: string; tags: string[] }>;
  referrers: Descriptor[];
  /** Descriptors the copy covered, copied or skipped. */
  nodes: number;
  bytesCopied: number;
  /** Of those, bytes taken from partial downloads an interrupted run kept (a registry into a layout). */
  resumedBytes: number;
  /**
   * Referrers that could not be copied (see failedReferrersError): from
   * copyRoots, and from transfer() with `returnFailedReferrers` (otherwise it
   * fails with them, and a result never carries any).
   */
  failedReferrers?: FailedReferrer[];
}

/**
 * Copy every root (children before parents, skipping what `dst` has), then
 * name them: tags on roots, untagged roots and referrers listed untagged.
 * A layout directory's index.json is updated once, last, under its lock.
 */
export async function transfer(src: ReadTarget, dst: WriteTarget, roots: Root[], opts: TransferOptions = {}): Promise<TransferResult> {
  const { failedReferrers, ...result } = await copyRoots(src, dst, roots, opts);
  await nameRoots(dst, roots, result.referrers);
  if (opts.returnFailedReferrers) return { ...result, failedReferrers };
  throwIfReferrersFailed(failedReferrers, dst.description);
  return result;
}

/**
 * A referrer the destination refuses (distribution 2.8 takes no legacy
 * `application/vnd.oci.artifact.manifest.v1+json`) must not cost the image
 * its tag or its other referrers: the copy goes on past it, the roots are
 * named, and only then is it reported, naming each referrer that is missing.
 * The error keeps the code of the (first) failure and its cause.
 */
export function failedReferrersError(failed: FailedReferrer[], where: string): OcikitError | undefined {
  if (failed.length === 0) return undefined;
  const first = failed[0]!;
  const cause = first.error;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const what = (f: FailedReferrer) => `${f.referrer.digest} (${f.referrer.artifactType ?? f.referrer.mediaType}, referrer of ${f.subject})`;
  const names = failed.length === 1 ? `referrer ${what(first)}` : `${failed.length} referrers: ${failed.slice(0, 3).map(what).join(', ')}${failed.length > 3 ? ', ...' : ''}`;
  return new OcikitError(cause instanceof OcikitError ? cause.code : 'REGISTRY_ERROR', `${where} did not take ${names}: ${reason}; everything else, tags included, was copied`, {
    cause,
    digest: first.referrer.digest,
    hint: 'the destination does not accept that manifest: leave referrers out (--no-referrers), or use a destination that takes its media type',
  });
}

export function throwIfReferrersFailed(failed: FailedReferrer[], where: string): void {
  const err = failedReferrersError(failed, where);
  if (err) throw err;
}

/**
 * The copying half of a transfer, for use cases that name their roots
 * their own way (pull records the image name, push tags per repository):
 * every root's graph and, with `referrers`, its referrers, each referrer
 * reported once however many roots it hangs on.
 */
export async function copyRoots(src: ReadTarget, dst: WriteTarget, roots: Root[], opts: TransferOptions = {}): Promise<TransferResult & { failedReferrers: FailedReferrer[] }> {
  const result: TransferResult & { failedReferrers: FailedReferrer[] } = { roots: [], referrers: [], nodes: 0, bytesCopied: 0, resumedBytes: 0, failedReferrers: [] };
  const seenReferrers = new Set<string>();
  if (opts.announce && opts.onEvent) await announceGraph(src, roots.map((r) => r.descriptor), opts.onEvent);
  for (const root of roots) {
    // nameRoots sets the tags once everything is copied; a registry can store the root under its first one right away.
    const rootTag = root.tags[0] === undefined ? undefined : nameOf(root.tags[0]).tag;
    const r = await copyGraph(src, dst, root.descriptor, { concurrency: opts.concurrency, limit: opts.limit, referrers: opts.referrers, onEvent: opts.onEvent, continuePastFailedReferrers: true, rootTag });
    result.nodes += r.nodes;
    result.bytesCopied += r.bytesCopied;
    result.resumedBytes += r.resumedBytes;
    result.failedReferrers.push(...r.failedReferrers);
    result.roots.push({ digest: root.descriptor.digest, mediaType: root.descriptor.mediaType, tags: [...root.tags] });
    for (const d of r.referrers) {
      if (!seenReferrers.has(d.digest)) {
        seenReferrers.add(d.digest);
        result.referrers.push(d);
      }
    }
  }
  return result;
}

function untaggedName(desc: Descriptor): { repository?: string; imageName?: string } {
  const { repository } = entryName(desc);
  if (repository === undefined) return {};
  // The name as written when it carries no tag (a tag there would name the untagged entry after all).
  const written = desc.annotations?.[Annotation.ContainerdImageName];
  return { repository, imageName: written !== undefined && parseImageName(written)?.tag === undefined ? written : repository };
}

/** A root's name, `TAG` or `REPO:TAG`, as the edit that gives it. */
function nameOf(name: string): { repository?: string; tag?: string } {
  return parseNameRef(name) ?? { tag: name };
}

async function nameRoots(dst: WriteTarget, roots: Root[], referrers: Descriptor[]): Promise<void> {
  const rootDigests = new Set(roots.map((r) => r.descriptor.digest));
  const edits: NameEdit[] = [];
  for (const root of roots) {
    // An untagged root keeps the repository its entry named (a manifest pushed by digest into one repository).
    if (root.tags.length === 0) edits.push({ desc: root.descriptor, ...untaggedName(root.descriptor) });
    for (const name of root.tags) edits.push({ desc: root.descriptor, ...nameOf(name) });
  }
  for (const d of referrers) if (!rootDigests.has(d.digest)) edits.push({ desc: d });
  if (keepsIndex(dst)) {
    // One edit of index.json (a layout directory's under its lock), after every blob is stored.
    await dst.editIndex((index) => applyNames(index, edits));
    return;
  }
  // A registry keeps no untagged list: only the tags are set.
  for (const e of edits) if (e.tag !== undefined) await dst.tag(e.desc, e.tag);
}
