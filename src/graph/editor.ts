/**
 * What the write verbs (attach, artifact push, blob push, manifest push,
 * index create, tag, untag, manifest delete, blob delete) need of a target,
 * whatever its kind: a layout directory edited in place under its lock, a
 * registry repository spoken to through the distribution API, or a layout
 * archive written anew (temp file, then rename) when the edit is committed.
 *
 * A verb opens an Editor, reads what it needs through it (names, subjects,
 * referrers: for an archive, the archive as it was plus what this edit has
 * stored), stores blobs first, manifests next, names last, and then calls
 * commit(). close() always runs (the CLI's context does it): for an archive
 * that was not committed it removes the temporary file and leaves the old
 * archive byte for byte as it was.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../spec/types.js';
import type { ReadTarget, WriteTarget } from './target.js';

export interface DeleteBlobOptions {
  /** Remove the blob even though a listed manifest still needs it (that manifest is then incomplete until the blob is stored again). */
  force?: boolean;
}

export interface Editor extends ReadTarget, WriteTarget {
  /** Store content whose digest is not known in advance (blob push, a file of an artifact): hashed as it is stored. */
  pushStream(content: Readable, mediaType?: string): Promise<Descriptor>;
  /**
   * Whether `desc` is stored, kept for this edit where the target can promise
   * that (a layout's lease against a concurrent gc); a manifest is stored
   * only once everything it names is.
   */
  retain(desc: Descriptor): Promise<boolean>;
  /**
   * List a stored manifest without a tag where the target keeps such a list
   * (index.json of a layout or archive: artifacts, untagged roots). A
   * registry has nothing to list: a manifest pushed by digest is there.
   */
  addEntry(desc: Descriptor): Promise<void>;
  /** Remove a tag (REPO:TAG in a layout of several repositories); returns what it named. NOT_FOUND when there is no such tag. */
  untag(name: string): Promise<Descriptor[]>;
  /**
   * Remove a manifest: a layout's or archive's index.json entries for it (its
   * blobs stay until gc), a registry's manifest (DELETE by digest). A
   * referrer is also removed from the fallback tag that lists it, where one
   * is used.
   */
  deleteManifest(desc: Descriptor): Promise<void>;
  /**
   * Remove a blob. A layout refuses (IN_USE) while a manifest listed in its
   * index.json still reaches the blob, unless `force`; a registry decides for
   * itself (many refuse blob deletion: UNSUPPORTED with their answer).
   */
  deleteBlob(desc: Descriptor, opts?: DeleteBlobOptions): Promise<void>;
  /** Make the edit durable: an archive is written and renamed into place; other kinds are already done. */
  commit(): Promise<void>;
  /** Release what the edit holds; an archive edit not committed is dropped and the old archive kept. */
  close(): Promise<void>;
}
