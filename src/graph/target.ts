/**
 * A target is any place content can live: a content-addressed store of blobs
 * and manifests plus tags pointing into it. Every command is a short function
 * over targets (see design.md).
 */
import type { Readable } from 'node:stream';
import type { Descriptor, ImageIndex } from '../spec/types.js';

export interface ReferrersFilter {
  artifactType?: string;
}

export interface ReadTarget {
  /** Human-readable name used in messages: "layout ./dir", "archive x.tar", "registry host/repo". */
  readonly description: string;
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
  /** Resolve a tag, or a digest (`sha256:...`), to the descriptor of a manifest. */
  resolve(ref: string): Promise<Descriptor>;
  tags(): AsyncIterable<string>;
  /** Descriptors of the manifests whose `subject` is `subject`, as the referrers API answers. */
  referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor>;
  close?(): Promise<void>;
}

export interface WriteTarget extends ReadTarget {
  /** Store content under its descriptor; verifies digest and size; content already present counts as written. */
  push(desc: Descriptor, content: Readable | Uint8Array): Promise<void>;
  /** Point tag `ref` at `desc` (the manifest must already be stored). */
  tag(desc: Descriptor, ref: string): Promise<void>;
  /**
   * Like exists(), for a writer that will skip storing `desc` because it is
   * there and then rely on it: a target that other processes clean up
   * (a layout and its gc) also keeps it for this process.
   */
  retain?(desc: Descriptor): Promise<boolean>;
}

/** Whether `dst` has `desc`, kept for the caller where the target can promise that (see WriteTarget.retain). */
export function isRetained(dst: WriteTarget, desc: Descriptor): Promise<boolean> {
  return dst.retain ? dst.retain(desc) : dst.exists(desc);
}

/** A target with an index.json: a layout directory or archive. */
export interface LayoutReadTarget extends ReadTarget {
  readIndex(): Promise<ImageIndex>;
}

export function isLayoutTarget(t: ReadTarget): t is LayoutReadTarget {
  return typeof (t as Partial<LayoutReadTarget>).readIndex === 'function';
}
