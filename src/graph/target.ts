/**
 * A target is any place content can live: a content-addressed store of blobs
 * and manifests plus tags pointing into it. Every command is a short function
 * over targets (see design.md).
 *
 * The interface is made of small abilities. Every target has the read side
 * (ReadTarget) and writable ones the write side (WriteTarget); what only some
 * targets can do (keep an index.json, read a byte range, hold content against
 * gc, receive uploaded files...) is an ability the target *declares* in its
 * `abilities` set, and callers ask through the guard next to each ability
 * (`keepsIndex(t)`, `readsRanges(t)`...), never through `instanceof` or by
 * probing for a method: a wrapper or a test double then says what it can do
 * in one place, and a caller cannot mistake a method that happens to exist
 * for a promise to behave like a layout.
 */
import type { Readable } from 'node:stream';
import type { Descriptor, ImageIndex } from '../spec/types.js';

export interface ReferrersFilter {
  artifactType?: string;
}

/** Abilities beyond the read/write core; see the interface of the same name below each. */
export type Ability =
  /** IndexReader: has an index.json to read (layout directory, layout archive, a docker archive's synthesized one). */
  | 'read-index'
  /** IndexKeeper: names go into an index.json the target keeps (layout directory, archive being written, memory). */
  | 'keep-index'
  /** DefaultResolver: knows its only image when no tag is given. */
  | 'default-image'
  /** RangeReader: reads part of a blob without reading what comes before. */
  | 'read-ranges'
  /** Retainer: keeps skipped content from a concurrent gc for this process. */
  | 'retain'
  /** Leased: opened for writing, holds a lease that close() releases. */
  | 'lease'
  /** UploadStore: takes verified files into its blob store (serve --writable). */
  | 'uploads'
  /** FileListing (targets/file-listing.ts): lists the layout's files, reads small ones at its root (verify). */
  | 'list-files'
  /** TrailingDataSource (archive/tar-end.ts): read from a tar, says what followed its end. */
  | 'trailing-data'
  /** ResumableFetcher: sends a blob from a byte offset on (a registry: HTTP Range). */
  | 'fetch-from'
  /** PartialKeeper: keeps interrupted blob downloads and resumes them (a layout directory). */
  | 'keep-partials'
  /** BlobChecker: hashed every blob as it streamed past once, and answers from that (an archive read as a stream). */
  | 'checked-blobs'
  /** TaggedPusher: stores a manifest and a tag to it in one step (a registry's PUT by tag). */
  | 'push-tagged';

/** What every target has: a name for messages and the abilities it declares. */
export interface Target {
  /** Human-readable name used in messages: "layout ./dir", "archive x.tar", "registry host/repo". */
  readonly description: string;
  readonly abilities: ReadonlySet<Ability>;
  /** The directory or file a local target lives in (serve names its default repository after it). */
  readonly location?: string;
  close?(): Promise<void>;
}

/** Reads content by descriptor. */
export interface Fetcher extends Target {
  /** The content of `desc`, verified against its digest and size while it streams. */
  fetch(desc: Descriptor): Promise<Readable>;
  /**
   * Optional fast path for small documents (manifests, configs): the whole
   * content, verified, without stream machinery. Walks over thousands of
   * manifests spend most of their time in per-stream overhead otherwise.
   */
  fetchBytes?(desc: Descriptor): Promise<Buffer>;
  /**
   * Optional, for local targets: the same, synchronously, or undefined when
   * the target cannot do it for this descriptor (too large). Lets a walk over
   * 10,000 manifests run as a plain loop instead of 10,000 promise chains.
   */
  fetchBytesSync?(desc: Descriptor): Buffer | undefined;
  exists(desc: Descriptor): Promise<boolean>;
  /** Describe a blob known only by digest (its size), e.g. for `blob fetch REF@DIGEST`. */
  statBlob(digest: string): Promise<Descriptor>;
}

/** Resolves names to manifests. */
export interface TagResolver extends Target {
  /** Resolve a tag, or a digest (`sha256:...`), to the descriptor of a manifest. */
  resolve(ref: string): Promise<Descriptor>;
  tags(): AsyncIterable<string>;
}

/** Lists the manifests that refer to a subject. */
export interface ReferrerLister extends Target {
  /** Descriptors of the manifests whose `subject` is `subject`, as the referrers API answers. */
  referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor>;
}

/** Everything a source of a copy needs. */
export interface ReadTarget extends Fetcher, TagResolver, ReferrerLister {}

/** Stores content. */
export interface Storage extends Target {
  /** Store content under its descriptor; verifies digest and size; content already present counts as written. */
  push(desc: Descriptor, content: Readable | Uint8Array): Promise<void>;
  exists(desc: Descriptor): Promise<boolean>;
}

/** Points names at stored manifests. */
export interface Tagger extends Target {
  /** Point tag `ref` at `desc` (the manifest must already be stored). */
  tag(desc: Descriptor, ref: string): Promise<void>;
}

/**
 * A destination of a copy: storage and tags, and reads by descriptor (a copy
 * into a delta archive reads back manifests its base holds). Names are not
 * resolved or listed through it: a sink being written (an archive) has none
 * to offer yet, and does not pretend to.
 */
export interface WriteTarget extends Fetcher, Storage, Tagger {}

// ---- abilities ----

function declares(t: Target, ability: Ability): boolean {
  return t.abilities.has(ability);
}

/** A target with an index.json to read: a layout directory or archive. */
export interface IndexReader extends Target {
  /**
   * The index, read-only: a target hands the same parse to every caller
   * while it is current (a copy per call of 50,000 entries was megabytes
   * each time); the edits in spec/index-entries.ts build new objects.
   */
  readIndex(): Promise<ImageIndex>;
}

/** A readable target with an index.json (the name most callers know it by). */
export type LayoutReadTarget = ReadTarget & IndexReader;

export function readsIndex<T extends Target>(t: T): t is T & IndexReader {
  return declares(t, 'read-index');
}

/** Kept as the library has exported it: whether `t` is a layout (directory or archive) to read. */
export function isLayoutTarget(t: ReadTarget): t is LayoutReadTarget {
  return readsIndex(t);
}

/**
 * A target whose names live in an index.json it keeps. Names are applied by
 * an edit of the whole index (index-entries' applyNames, one pass), made
 * once, after every blob and manifest is stored; the keeper refuses an index
 * that lists a manifest it does not hold.
 */
export interface IndexKeeper extends Target {
  editIndex(edit: (index: ImageIndex) => ImageIndex): Promise<void>;
}

export function keepsIndex<T extends Target>(t: T): t is T & IndexKeeper {
  return declares(t, 'keep-index');
}

/** A target that knows its only image (a layout with one entry). */
export interface DefaultResolver extends Target {
  resolveDefault(): Promise<Descriptor>;
}

export function resolvesDefault<T extends Target>(t: T): t is T & DefaultResolver {
  return declares(t, 'default-image');
}

/** A target that can read part of a blob without reading what comes before (a layout directory). */
export interface RangeReader extends Target {
  fetchRange(desc: Descriptor, start: number, end: number): Promise<Readable>;
}

export function readsRanges<T extends Target>(t: T): t is T & RangeReader {
  return declares(t, 'read-ranges');
}

/** A target other processes clean up (a layout and its gc), which can keep content for this process. */
export interface Retainer extends Target {
  /**
   * Like exists(), for a writer that will skip storing `desc` because it is
   * there and then rely on it: the target also keeps it for this process.
   */
  retain(desc: Descriptor): Promise<boolean>;
}

export function retains<T extends Target>(t: T): t is T & Retainer {
  return declares(t, 'retain');
}

/** Whether `dst` has `desc`, kept for the caller where the target can promise that (see Retainer). */
export function isRetained(dst: Storage, desc: Descriptor): Promise<boolean> {
  return retains(dst) ? dst.retain(desc) : dst.exists(desc);
}

/**
 * A target read once, as a stream (an archive on stdin): every blob was
 * hashed as it went by and only small documents were kept, so a blob cannot
 * be fetched again, but whether it matched its digest and size is known.
 */
export interface BlobChecker extends Target {
  /** Resolves when the blob was there and matched `desc`; throws what a verifying fetch would have (NOT_FOUND, DIGEST_MISMATCH...). */
  checkBlob(desc: Descriptor): Promise<void>;
}

export function checksBlobs<T extends Target>(t: T): t is T & BlobChecker {
  return declares(t, 'checked-blobs');
}

/** A target opened for writing under a lease: close() must be called when the command ends. */
export interface Leased extends Target {
  close(): Promise<void>;
}

export function holdsLease<T extends Target>(t: T): t is T & Leased {
  return declares(t, 'lease') && typeof t.close === 'function';
}

/**
 * A layout directory receiving uploads (serve --writable): temp files in its
 * own directory, moved into the blob store once verified, and index.json
 * edits under its lock.
 */
export interface UploadStore extends WriteTarget, Retainer {
  readonly dir: string;
  commitVerifiedFile(file: string, desc: Descriptor): Promise<void>;
  updateIndex(edit: (index: ImageIndex) => ImageIndex | undefined | Promise<ImageIndex | undefined>): Promise<ImageIndex>;
  addEntry(desc: Descriptor): Promise<void>;
  /** Drop index.json entries of a manifest (those `listed` picks), as the Editor's deleteManifest does. */
  deleteManifest(desc: Descriptor, opts?: { listed?: (entry: Descriptor) => boolean }): Promise<void>;
  /** Remove a blob nothing listed reaches (IN_USE otherwise, unless `force`). */
  deleteBlob(desc: Descriptor, opts?: { force?: boolean }): Promise<void>;
}

export function receivesUploads<T extends Target>(t: T): t is T & UploadStore {
  return declares(t, 'uploads');
}

/** The rest of a blob from `start` (the offset asked for, or 0 when the source could only send it whole); not verified. */
export interface RestOfBlob {
  start: number;
  body: Readable;
}

/** A source that can send a blob from a byte offset on, so an interrupted download resumes. */
export interface ResumableFetcher extends Target {
  fetchFrom(desc: Descriptor, offset: number): Promise<RestOfBlob>;
}

export function fetchesFrom<T extends Target>(t: T): t is T & ResumableFetcher {
  return declares(t, 'fetch-from');
}

/**
 * A destination that keeps the bytes of a blob download that could not
 * finish, and resumes it the next time (fs/partial-download.ts).
 */
export interface PartialKeeper extends Storage {
  /** Store `desc`, fetched through `fetchFrom` from the end of a kept partial download (or its start); returns the bytes resumed. */
  pushResumable(desc: Descriptor, fetchFrom: (offset: number) => Promise<RestOfBlob>): Promise<{ resumedBytes: number }>;
}

export function keepsPartials<T extends Target>(t: T): t is T & PartialKeeper {
  return declares(t, 'keep-partials');
}

/**
 * A destination that stores a manifest under a tag in one step: a
 * registry's `PUT /manifests/TAG` stores the manifest and sets the tag, so
 * a root that is to be tagged need not also be sent by digest first (for
 * 200 images, 200 manifest PUTs fewer; bench/registry.mjs). A tag() of the
 * same manifest and tag afterwards has nothing left to do.
 */
export interface TaggedPusher extends Storage {
  pushTagged(desc: Descriptor, bytes: Uint8Array, tag: string): Promise<void>;
}

export function pushesTagged<T extends Target>(t: T): t is T & TaggedPusher {
  return declares(t, 'push-tagged');
}

/** Shorthand for a class's declaration: `readonly abilities = abilities('read-index', ...)`. */
export function abilities(...list: Ability[]): ReadonlySet<Ability> {
  return new Set(list);
}
