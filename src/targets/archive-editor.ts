/**
 * The write verbs on a layout archive (`attach`, `blob push`, `manifest
 * push`, `index create`, `tag`, `untag`, `manifest delete`, `blob delete`,
 * `artifact push` on `oci-archive:FILE`): an archive is one file, written
 * whole, so an edit writes a new archive beside the old one and renames it
 * over it on commit() (targets/archive-rewrite.ts). Until then the old file
 * is untouched; close() without commit() removes the new one.
 *
 * What the new archive holds: every blob of the old one, in the order they
 * lay in it (so an edit of an archive ocikit wrote changes only what the
 * edit changes: after a `tag` the entries are the same, in the same order,
 * and only index.json's content differs), then the
 * blobs this edit stored, then the manifests it stored (children before
 * parents, as pack orders them), then index.json. A tag removed or a
 * manifest deleted leaves its blobs in the archive, as a layout directory
 * keeps them until gc; only `deleteBlob` leaves a blob out. Reproducible:
 * every entry has the writer's fixed mode, owner and mtime
 * (SOURCE_DATE_EPOCH, else 0), and the old file's compression is kept.
 *
 * Reads are served from the archive as the edit has made it so far: the old
 * archive (read in place, or through a spool when compressed) minus the
 * blobs deleted, plus what was stored; names come from the edited index.
 * Blobs that are not manifests, stored by this edit, can be checked
 * (exists, statBlob) but not read back: they went straight into the new
 * file, possibly compressed.
 *
 * The new file is started on the first store (or at commit): blobs the edit
 * deletes must be known before the old ones are copied into it, so a
 * deletion after a store in the same edit is refused (UNSUPPORTED). Every
 * verb does one or the other.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, OcikitError, fromFsError, isOcikitError } from '../errors.js';
import { digestBytes } from '../digest/digest.js';
import { DigestingStream } from '../digest/verify-stream.js';
import { tempPathFor } from '../fs/atomic.js';
import { trackTempFile, untrackTempFile } from '../fs/temp-files.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { addEntry, entryRef, fallbackListingWithout, isFallbackTagEntry, nameRef, removeTag, setTag } from '../spec/index-entries.js';
import { fetchManifest } from '../graph/content.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { isWalkable } from '../graph/successors.js';
import { abilities, type DefaultResolver, type IndexKeeper, type LayoutReadTarget, type ReferrersFilter, type Retainer } from '../graph/target.js';
import type { DeleteBlobOptions, Editor } from '../graph/editor.js';
import { entryClosures } from '../graph/closure.js';
import type { ArchiveWriter } from './archive-writer.js';
import { ArchiveRewrite } from './archive-rewrite.js';
import { defaultInIndex, resolveInIndex, stripTag, tagsOf } from './index-resolve.js';

export interface ArchiveEditorOptions {
  /**
   * A missing archive (or an empty file) is started empty, as `copy` to a
   * new `oci-archive:` path does (blob push, manifest push, artifact push).
   * Without it a missing archive is NOT_FOUND: there is nothing to tag or
   * attach to.
   */
  create?: boolean;
}

export class ArchiveEditor implements Editor, LayoutReadTarget, IndexKeeper, DefaultResolver, Retainer {
  readonly description: string;
  readonly abilities = abilities('read-index', 'keep-index', 'default-image', 'retain', 'lease');
  private readonly rewrite: ArchiveRewrite;
  /** index.json as edited so far: the old one's entries, as they were, with this edit's changes. */
  private index: ImageIndex;
  /** Blobs this edit stored: digest -> size. */
  private readonly added = new Map<string, number>();
  /** Blobs of the old archive this edit leaves out. */
  private readonly deleted = new Set<string>();
  /** The old archive's blob digests, looked up on every read. */
  private earlierDigests?: Set<string>;
  private writer?: Promise<ArchiveWriter>;
  private referrersMap?: Promise<Map<string, Descriptor[]>>;
  private state: 'open' | 'committed' | 'closed' = 'open';

  private constructor(rewrite: ArchiveRewrite, index: ImageIndex) {
    this.rewrite = rewrite;
    this.description = `archive ${rewrite.dest}`;
    this.index = index;
  }

  get location(): string {
    return this.rewrite.file;
  }

  /**
   * Open the archive at `file` for an edit. A file that is not a layout
   * archive is refused (INVALID_LAYOUT), as a merge refuses it; a missing
   * one is NOT_FOUND unless `create`.
   */
  static async open(file: string, opts: ArchiveEditorOptions = {}): Promise<ArchiveEditor> {
    const rewrite = await ArchiveRewrite.open(file);
    if (!rewrite.existed && !opts.create) {
      await rewrite.close();
      throw new NotFoundError(`archive ${file} does not exist`, {
        path: file,
        hint: 'check the path; blob push, manifest push and artifact push create a new archive, and copy or pack write one from an image',
      });
    }
    const index = rewrite.earlier ? await rewrite.earlier.readIndex() : { schemaVersion: 2 as const, mediaType: MediaType.ImageIndex, manifests: [] };
    return new ArchiveEditor(rewrite, index);
  }

  // ---- reads: the archive as edited so far ----

  /** The index as edited so far: read-only and shared, as every IndexReader's (edits replace it, never change it). */
  async readIndex(): Promise<ImageIndex> {
    return this.index;
  }

  async resolve(ref: string): Promise<Descriptor> {
    return resolveInIndex(this, this.index, ref);
  }

  async resolveDefault(): Promise<Descriptor> {
    return defaultInIndex(this.description, this.index);
  }

  async *tags(): AsyncIterable<string> {
    yield* tagsOf(this.index);
  }

  async *referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor> {
    // Built once per state of the edit: a change to names or manifests drops it.
    this.referrersMap ??= buildReferrersMap(this, this.index);
    yield* filterReferrers(lookupReferrers(await this.referrersMap, subject.digest), filter);
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (this.added.has(desc.digest)) {
      // The writer holds the manifests it was given, verified; other blobs are already in the new file.
      if (this.added.get(desc.digest) !== desc.size) throw this.notHere(desc.digest);
      return (await this.started()).fetch(desc);
    }
    if (!this.inEarlier(desc.digest)) throw this.notHere(desc.digest);
    return this.rewrite.earlier!.fetch(desc);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (this.added.has(desc.digest)) return this.added.get(desc.digest) === desc.size;
    return this.inEarlier(desc.digest) && this.rewrite.earlier!.exists(desc);
  }

  /** exists(): nothing else writes into this edit's new file, so what is there stays there. */
  async retain(desc: Descriptor): Promise<boolean> {
    return this.exists(desc);
  }

  async statBlob(digest: string): Promise<Descriptor> {
    const size = this.added.get(digest);
    if (size !== undefined) return { mediaType: MediaType.OctetStream, digest, size };
    if (!this.inEarlier(digest)) throw this.notHere(digest);
    return this.rewrite.earlier!.statBlob(digest);
  }

  // ---- stores: into the new file ----

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    // The content is ours to end whenever it is not stored: a stream left open holds its source.
    const drop = () => void (content instanceof Uint8Array || content.destroy());
    let writer: ArchiveWriter;
    try {
      this.assertOpen();
      if (await this.exists(desc)) return drop();
      writer = await this.started();
    } catch (err) {
      drop();
      throw err;
    }
    await writer.push(desc, content);
    this.added.set(desc.digest, desc.size);
    if (isWalkable(desc)) this.referrersMap = undefined;
  }

  /**
   * A tar entry's header states its size, so content of unknown size is
   * first hashed into a temporary file beside the archive (memory stays flat
   * in blob size), then stored from there.
   */
  async pushStream(content: Readable, mediaType: string = MediaType.OctetStream): Promise<Descriptor> {
    try {
      this.assertOpen();
    } catch (err) {
      content.destroy();
      throw err;
    }
    const tmp = tempPathFor(this.rewrite.file);
    trackTempFile(tmp);
    try {
      const fh = await fsp.open(tmp, 'wx', 0o600).catch((err: unknown) => {
        content.destroy();
        throw fromFsError(err, path.dirname(tmp), 'the directory of the archive', 'writing to');
      });
      const hasher = new DigestingStream('sha256');
      await pipeline(content, hasher, fh.createWriteStream());
      const desc: Descriptor = { mediaType, digest: hasher.digest, size: hasher.bytes };
      await this.push(desc, createReadStream(tmp));
      return desc;
    } finally {
      await fsp.rm(tmp, { force: true });
      untrackTempFile(tmp);
    }
  }

  // ---- names: index.json, written at commit ----

  async tag(desc: Descriptor, ref: string): Promise<void> {
    this.assertOpen();
    await this.requireStored(desc, 'tag');
    const name = nameRef(ref);
    this.setIndex(setTag(this.index, desc, name.tag, name));
  }

  async addEntry(desc: Descriptor): Promise<void> {
    this.assertOpen();
    await this.requireStored(desc, 'list');
    this.setIndex(addEntry(this.index, desc));
  }

  /** IndexKeeper: index.json edited whole; every entry it lists must be in the archive. */
  async editIndex(edit: (index: ImageIndex) => ImageIndex): Promise<void> {
    this.assertOpen();
    const next = edit(this.index);
    for (const e of next.manifests) await this.requireStored(e, 'list');
    this.setIndex(next);
  }

  async untag(name: string): Promise<Descriptor[]> {
    this.assertOpen();
    const { index, removed } = removeTag(this.index, name, this.description);
    if (removed.length === 0) throw new NotFoundError(`tag "${name}" not found in ${this.description}`, { path: this.rewrite.dest });
    this.setIndex(index);
    return removed;
  }

  /**
   * Remove every index.json entry of the manifest (its tags included), and
   * its line in any fallback-tag index (`sha256-<hex>`, as regclient writes
   * them) that lists it as a referrer: such an index is stored anew without
   * it, and one left empty loses its entry (as in a layout directory). Its
   * blobs stay in the archive. NOT_FOUND when index.json neither lists the
   * manifest nor lists it as a referrer.
   */
  async deleteManifest(desc: Descriptor): Promise<void> {
    this.assertOpen();
    const manifests: Descriptor[] = [];
    for (const e of this.index.manifests) {
      if (e.digest === desc.digest) continue;
      const rewritten = isFallbackTagEntry(e) ? await this.fallbackIndexWithout(e, desc.digest) : undefined;
      if (rewritten !== null) manifests.push(rewritten ?? e);
    }
    if (manifests.length === this.index.manifests.length && manifests.every((e, i) => e === this.index.manifests[i])) {
      const stored = await this.exists(desc);
      throw new NotFoundError(`manifest ${desc.digest} is not listed in ${this.description}${stored ? ' (it is stored, reached through an index that lists it)' : ''}`, {
        digest: desc.digest,
        hint: stored ? 'delete the index that lists it instead' : undefined,
      });
    }
    this.setIndex({ ...this.index, manifests });
  }

  /**
   * Leave a blob out of the new archive. Refused (IN_USE, nothing changed)
   * while a manifest index.json lists reaches it, or is it, unless `force`:
   * the archive would list content it does not hold. What is listed goes
   * with `manifest delete` or `untag` first.
   */
  async deleteBlob(desc: Descriptor, opts: DeleteBlobOptions = {}): Promise<void> {
    this.assertOpen();
    if (!this.inEarlier(desc.digest) && !this.added.has(desc.digest)) throw this.notHere(desc.digest);
    if (this.writer) {
      throw new OcikitError('UNSUPPORTED', `cannot delete ${desc.digest} from ${this.description}: this edit has already stored content, and the old archive's blobs were copied with it`, {
        digest: desc.digest,
        hint: 'delete blobs in an edit of their own (ocikit blob delete)',
      });
    }
    if (!opts.force) await this.refuseInUse(desc.digest);
    this.deleted.add(desc.digest);
    this.referrersMap = undefined;
  }

  // ---- finishing ----

  /** Write the new archive and rename it over the old one (LOCKED if another writer replaced the old one meanwhile). */
  async commit(): Promise<void> {
    this.assertOpen();
    const writer = await this.started();
    await writer.editIndex(() => this.index);
    await this.rewrite.commit();
    this.state = 'committed';
  }

  /** Drop the new file unless committed, and close the old archive (and its spool). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.rewrite.close();
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.state !== 'open') throw new OcikitError('IO_ERROR', `the edit of ${this.description} is already ${this.state}`);
  }

  /** Whether the old archive holds `digest` and this edit has not deleted it. */
  private inEarlier(digest: string): boolean {
    this.earlierDigests ??= new Set(this.rewrite.earlier?.blobDigests());
    return this.earlierDigests.has(digest) && !this.deleted.has(digest);
  }

  private notHere(digest: string): NotFoundError {
    return new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, path: this.rewrite.dest });
  }

  private setIndex(index: ImageIndex): void {
    this.index = index;
    this.referrersMap = undefined;
  }

  private async requireStored(desc: Descriptor, verb: string): Promise<void> {
    if (!(await this.exists(desc))) throw new NotFoundError(`cannot ${verb} ${desc.digest}: it is not stored in ${this.description}`, { digest: desc.digest });
  }

  /** The new file, started on first need: the old archive's blobs (less those deleted) first, in their order. */
  private started(): Promise<ArchiveWriter> {
    this.writer ??= (async () => {
      const writer = await this.rewrite.start();
      const earlier = this.rewrite.earlier;
      await this.rewrite.readingEarlier(async () => {
        for (const blob of earlier?.storedBlobs() ?? []) {
          if (!this.deleted.has(blob.digest)) await writer.push(blob, await earlier!.fetch(blob));
        }
      });
      return writer;
    })();
    return this.writer;
  }

  /**
   * The fallback-tag entry `entry` with `digest` taken out of its index,
   * stored: undefined when its index does not list it, null when nothing
   * would be left.
   */
  private async fallbackIndexWithout(entry: Descriptor, digest: string): Promise<Descriptor | null | undefined> {
    let doc: ImageIndex;
    try {
      doc = (await fetchManifest(this, stripTag(entry))).doc as ImageIndex;
    } catch (err) {
      // Not an index: it lists nothing we could remove (verify reports it). A missing or damaged blob is an error to see.
      if (isOcikitError(err, 'INVALID_MANIFEST')) return undefined;
      throw err;
    }
    const rest = fallbackListingWithout(doc, digest);
    if (!rest) return rest;
    const bytes = Buffer.from(JSON.stringify(rest));
    const next: Descriptor = { ...entry, digest: digestBytes(bytes), size: bytes.length };
    await this.push(stripTag(next), bytes);
    return next;
  }

  /** IN_USE when a manifest index.json lists is `digest` or reaches it (graph/closure: what gc counts as reachable). */
  private async refuseInUse(digest: string): Promise<void> {
    const closures = await entryClosures(this, this.index.manifests, 'blob delete stopped');
    const users = this.index.manifests.filter((e) => closures.get(e.digest)!.closure.has(digest));
    if (users.length > 0) {
      const names = users.slice(0, 3).map((e) => entryRef(e) ?? e.digest);
      throw new OcikitError('IN_USE', `blob ${digest} is used by ${users.length} manifest(s) listed in ${this.description}: ${names.join(', ')}${users.length > 3 ? ', ...' : ''}; nothing was changed`, {
        digest,
        hint: 'remove what lists it first (ocikit manifest delete, ocikit untag), or pass --force',
      });
    }
  }
}
