/**
 * An OCI image-layout directory as a target.
 *
 * Writes follow design.md: blobs go through a verifying stream into a temp
 * file in the layout root (same filesystem) and are renamed into
 * blobs/<alg>/<hex>; index.json is rewritten last, atomically, under a lock
 * other ocikit processes respect. Reads verify every byte against the
 * descriptor and refuse blob paths that are symlinks, directories or devices.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { Readable } from 'node:stream';
import { OcikitError, NotFoundError, fromFsError } from '../errors.js';
import { digestBytes, isDigestGrammar, parseDigest } from '../digest/digest.js';
import { DigestingStream, VerifyStream, sizeMismatch, verifiesFor, verifyBytes } from '../digest/verify-stream.js';
import { fsyncDir, fsyncFile, streamToFileAtomic, tempPathFor, writeChunksAtomic, writeFileAtomic } from '../fs/atomic.js';
import { jsonChunks } from '../util/json-chunks.js';
import { trackTempFile, untrackTempFile } from '../fs/temp-files.js';
import { withLock, type HeldLock } from '../fs/lock.js';
import { VerifiedFileRange } from '../fs/file-range.js';
import { openRegularFile, readSmallRegularFileSync, readRegularFile, readRegularText } from '../fs/safe-open.js';
import { readLiveLeases, WriteLease } from '../fs/lease.js';
import { assertOwnDirsSafe } from '../fs/layout-own-dirs.js';
import { downloadResumable } from '../fs/partial-download.js';
import { internMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { checkOciLayoutFile } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE, readAll } from '../graph/content.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { addEntry, entryRef, fallbackListingWithout, isFallbackTagEntry, nameRef, removeTag, setTag } from '../spec/index-entries.js';
import { defaultInIndex, resolveInIndex, tagsOf } from './index-resolve.js';
import { abilities, type LayoutReadTarget, type PartialKeeper, type ReferrersFilter, type RestOfBlob, type UploadStore } from '../graph/target.js';
import { entryClosures } from '../graph/closure.js';
import type { DeleteBlobOptions, Editor } from '../graph/editor.js';
import { readLayoutDirFile, walkDirectory, type FileListing, type LayoutFileEntry } from './file-listing.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
const LOCK_NAME = '.ocikit.lock';
const LAYOUT_VERSION = '1.0.0';
/** Documents up to this size are read in one synchronous call (see readSmallRegularFileSync). */
const SYNC_READ_LIMIT = 256 * 1024;
/** `oci-layout` holds one short JSON object; anything bigger is not one. */
const SMALL_FILE_LIMIT = 64 * 1024;

export class LayoutDir implements UploadStore, LayoutReadTarget, FileListing, Editor, PartialKeeper {
  readonly dir: string;
  readonly description: string;

  get location(): string {
    return this.dir;
  }

  readonly abilities = abilities('read-index', 'keep-index', 'default-image', 'read-ranges', 'retain', 'lease', 'uploads', 'list-files', 'keep-partials');
  private readonly lease: WriteLease;
  /** The text's SHA-256, not the text: the text of an index of 50,000 entries is 10 MB held for nothing. */
  private parsedIndex?: { key: string; textHash: string; index: ImageIndex };
  private referrersCache?: { index: ImageIndex; map: Promise<Map<string, Descriptor[]>> };
  private ownDirsChecked?: Promise<void>;

  /** `<dir>/blobs`, normalised once: blob paths are built per read, and path.join's normalising showed in profiles. */
  private readonly blobsDir: string;

  private constructor(dir: string) {
    // Normalised as every path built from it (path.join) is: `nosuch/..` must be checked as the
    // directory it is written into, not found missing and then written into all the same.
    this.dir = path.normalize(dir);
    this.blobsDir = path.join(this.dir, 'blobs');
    this.description = `layout ${this.dir}`;
    this.lease = new WriteLease(this.dir);
  }

  /** Create an empty layout (or accept an existing one). Refuses a non-empty directory that is not a layout. */
  static async init(given: string): Promise<LayoutDir> {
    const layout = new LayoutDir(given);
    const dir = layout.dir;
    let entries: string[] = [];
    try {
      const st = await fsp.stat(dir);
      if (!st.isDirectory()) throw new OcikitError('INVALID_LAYOUT', `cannot create a layout at ${dir}: it exists and is not a directory`, { path: dir });
      entries = await fsp.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(err, dir, 'directory');
    }
    if (entries.includes(OCI_LAYOUT_FILE)) return LayoutDir.open(dir);
    // An init that was killed before writing oci-layout left a directory that is not a layout yet and would
    // refuse every later init; pull or unpack re-run after the kill must be able to finish the job.
    if (entries.length > 0 && !(await isInterruptedInit(dir, entries))) {
      throw new OcikitError('INVALID_LAYOUT', `cannot create a layout in ${dir}: the directory is not empty and is not an OCI layout`, {
        path: dir,
        hint: 'choose an empty or new directory',
      });
    }
    await layout.assertWritable();
    await fsp.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    // index.json first, oci-layout last: a crash in between leaves a directory that is not yet a layout.
    await writeFileAtomic(path.join(dir, INDEX_FILE), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] }));
    await writeFileAtomic(path.join(dir, OCI_LAYOUT_FILE), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    return layout;
  }

  /** Open an existing layout, checking `oci-layout` and that index.json is readable. */
  static async open(given: string): Promise<LayoutDir> {
    const layout = new LayoutDir(given);
    const dir = layout.dir;
    let st;
    try {
      st = await fsp.stat(dir);
    } catch (err) {
      throw fromFsError(err, dir, 'layout directory');
    }
    if (!st.isDirectory()) throw new OcikitError('INVALID_LAYOUT', `not an OCI layout: ${dir} is not a directory`, { path: dir });
    const layoutFile = path.join(dir, OCI_LAYOUT_FILE);
    let text: string;
    try {
      text = (await readRegularFile(layoutFile, SMALL_FILE_LIMIT, { what: `oci-layout file of ${dir}` })).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new OcikitError('INVALID_LAYOUT', `not an OCI layout: ${dir} has no oci-layout file`, { path: layoutFile, hint: `create one with: ocikit init ${dir}` });
      }
      throw asLayoutProblem(err, dir, 'oci-layout');
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new OcikitError('INVALID_LAYOUT', `invalid oci-layout file in ${dir}: not JSON`, { path: layoutFile, cause: err });
    }
    const problems = checkOciLayoutFile(doc);
    if (problems.length > 0) throw new OcikitError('INVALID_LAYOUT', `invalid oci-layout file in ${dir}: ${problems[0]!.message}`, { path: layoutFile });
    await layout.readIndex();
    return layout;
  }

  blobPath(digest: string): string {
    // Both parts are checked by parseDigest (no "/", no ".."), so plain concatenation is what path.join would give.
    const { algorithm, encoded } = parseDigest(digest);
    return `${this.blobsDir}${path.sep}${algorithm}${path.sep}${encoded}`;
  }

  /**
   * index.json, parsed. Another process may change it at any time, so every
   * call looks at the file; but reading and parsing a 10,000-entry index costs
   * tens of milliseconds, and a command asks several times (open, resolve,
   * referrers). So the parse is reused while the file's identity and
   * timestamps are unchanged: ocikit (and every tool that replaces index.json
   * by rename) gives a new inode, and an edit in place changes size or the
   * nanosecond mtime/ctime. Failing that, it is reused while the text is the
   * same. Callers treat the result as read-only; the edits in
   * index-entries.ts build new objects.
   */
  async readIndex(): Promise<ImageIndex> {
    const key = await this.indexFileKey();
    if (key !== undefined && this.parsedIndex?.key === key) return this.parsedIndex.index;
    const text = await this.readIndexText();
    const textHash = createHash('sha256').update(text).digest('hex');
    if (this.parsedIndex?.textHash !== textHash) this.parsedIndex = { key: key ?? '', textHash, index: parseIndexText(text, this.dir) };
    else this.parsedIndex.key = key ?? '';
    return this.parsedIndex.index;
  }

  /** dev, inode, size and nanosecond times of index.json; undefined when it is not a plain file (the read reports why). */
  private async indexFileKey(): Promise<string | undefined> {
    try {
      const st = await fsp.lstat(path.join(this.dir, INDEX_FILE), { bigint: true });
      if (!st.isFile()) return undefined;
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return undefined;
    }
  }

  private async readIndexText(): Promise<string> {
    const file = path.join(this.dir, INDEX_FILE);
    try {
      const text = await readRegularText(file, MAX_DOCUMENT_SIZE * 16, { what: `index.json of ${this.dir}` });
      if (text === undefined) throw indexNotUtf8(this.dir, file);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OcikitError('INVALID_LAYOUT', `not an OCI layout: ${this.dir} has no index.json`, { path: file });
      throw asLayoutProblem(err, this.dir, INDEX_FILE);
    }
  }

  /**
   * Read-modify-write index.json under the layout lock. `edit` returns the new
   * index, or undefined for no change. The file is replaced atomically.
   */
  async updateIndex(edit: (index: ImageIndex) => ImageIndex | undefined | Promise<ImageIndex | undefined>): Promise<ImageIndex> {
    return this.exclusive(async (lock) => {
      const current = await this.readIndex();
      const next = await edit(current);
      if (!next || next === current) return current;
      await this.writeIndexLocked(next, lock);
      return next;
    });
  }

  /** Run `fn` holding the layout lock (gc holds it for its whole run). Not reentrant. */
  async exclusive<T>(fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    await this.assertWritable();
    return withLock(path.join(this.dir, LOCK_NAME), fn);
  }

  /**
   * Refuse to change a layout whose own directories (blobs, blobs/<alg>,
   * leases) are symlinks or not directories: writes and deletes
   * through them would land outside the layout (fs/layout-own-dirs.ts).
   * Every write and delete path of this class (exclusive, push, pushStream,
   * commitVerifiedFile, retain, init) waits for it first. Checked once per
   * instance, i.e. per command: the danger is a layout prepared that way,
   * not one rebuilt under a running command.
   */
  assertWritable(): Promise<void> {
    this.ownDirsChecked ??= assertOwnDirsSafe(this.dir);
    return this.ownDirsChecked;
  }

  /** assertWritable(), destroying `source` when it refuses: nobody else will read it (its file handle or socket would linger). */
  private async assertWritableFor(source: Readable): Promise<void> {
    try {
      await this.assertWritable();
    } catch (err) {
      source.destroy();
      throw err;
    }
  }

  /**
   * Replace index.json; only inside exclusive(). The lock is confirmed right
   * before the new file is renamed into place: a holder that lost it (stopped
   * or starved for longer than the lock's stale time) writes nothing and
   * fails with LOCKED, instead of overwriting the update of whoever took over.
   */
  async writeIndexLocked(next: ImageIndex, lock: HeldLock): Promise<void> {
    // Written as it is serialized (the bytes JSON.stringify gives): at 50,000 entries the whole
    // text and its bytes at once were 20 MiB on top of the index itself.
    await writeChunksAtomic(path.join(this.dir, INDEX_FILE), jsonChunks(next, { compact: true }), undefined, { beforeRename: () => lock.confirm() });
    this.referrersCache = undefined;
  }

  /** End of a command: release this process's write lease (index.json now references what it keeps). */
  async close(): Promise<void> {
    await this.lease.release();
  }

  /** Open a blob for reading: a regular file (no symlink, FIFO or directory) of the descriptor's size. */
  private async openBlob(desc: Descriptor): Promise<{ fh: fsp.FileHandle; file: string }> {
    const file = this.blobPath(desc.digest);
    let fh: fsp.FileHandle;
    let size: number;
    try {
      ({ fh, size } = await openRegularFile(file, { what: `blob ${desc.digest} in ${this.dir}` }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${desc.digest} not found in ${this.description}`, { path: file, digest: desc.digest });
      throw err;
    }
    if (size !== desc.size) {
      await fh.close();
      throw new OcikitError('SIZE_MISMATCH', `size mismatch for ${desc.digest} (${file}): expected ${desc.size} bytes, file has ${size}`, {
        path: file,
        digest: desc.digest,
        expected: desc.size,
        actual: size,
      });
    }
    return { fh, file };
  }

  async fetchBytes(desc: Descriptor): Promise<Buffer> {
    return this.fetchBytesSync(desc) ?? readAll(await this.fetch(desc), Math.max(desc.size, MAX_DOCUMENT_SIZE));
  }

  fetchBytesSync(desc: Descriptor): Buffer | undefined {
    if (desc.size > SYNC_READ_LIMIT) return undefined;
    const file = this.blobPath(desc.digest);
    let read: { bytes: Buffer; size: number };
    try {
      read = readSmallRegularFileSync(file, desc.size, { what: `blob ${desc.digest} in ${this.dir}` });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${desc.digest} not found in ${this.description}`, { path: file, digest: desc.digest });
      throw err;
    }
    const expected = { digest: desc.digest, size: desc.size, source: file };
    if (read.size !== desc.size) throw sizeMismatch(expected, read.size);
    verifyBytes(read.bytes, expected);
    return read.bytes;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const { fh, file } = await this.openBlob(desc);
    return new VerifiedFileRange(
      { fd: fh.fd, start: 0, size: desc.size, path: file, release: () => fh.close() },
      { digest: desc.digest, size: desc.size, source: file },
    );
  }

  async exists(desc: Descriptor): Promise<boolean> {
    try {
      const st = await fsp.lstat(this.blobPath(desc.digest));
      return st.isFile() && st.size === desc.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * exists(), leased first. A writer that finds a blob already stored skips
   * it and later lists a manifest that needs it; an unlisted blob (an image
   * untagged, a tag moved) is what a concurrent gc deletes, so without the
   * lease the layout would end up listing a manifest whose blobs are gone.
   */
  async retain(desc: Descriptor): Promise<boolean> {
    await this.assertWritable();
    await this.lease.add(desc.digest);
    return this.exists(desc);
  }

  async statBlob(digest: string): Promise<Descriptor> {
    const file = this.blobPath(digest);
    try {
      const st = await fsp.lstat(file);
      if (!st.isFile()) throw new OcikitError('UNSAFE_BLOB_PATH', `blob ${digest} in ${this.dir} is not a regular file`, { path: file, digest });
      return { mediaType: MediaType.OctetStream, digest, size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, path: file });
      throw fromFsError(err, file, 'blob');
    }
  }

  /**
   * Store content whose digest is not known in advance (`blob push`): hash it
   * into a temp file, then move it into place. Returns its descriptor.
   */
  async pushStream(content: Readable, mediaType: string = MediaType.OctetStream): Promise<Descriptor> {
    await this.assertWritableFor(content);
    const hasher = new DigestingStream('sha256');
    const tmp = tempPathFor(path.join(this.dir, 'x'), this.dir);
    trackTempFile(tmp);
    try {
      const fh = await fsp.open(tmp, 'wx', 0o644).catch((err: unknown) => {
        content.destroy();
        throw fromFsError(err, this.dir, 'the layout', 'writing to');
      });
      await pipeline(content, hasher, fh.createWriteStream());
      await fsyncFile(tmp);
      const desc = { mediaType, digest: hasher.digest, size: hasher.bytes };
      await this.lease.add(desc.digest);
      if (await this.exists(desc)) {
        await fsp.rm(tmp, { force: true });
        return desc;
      }
      const dest = this.blobPath(desc.digest);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(tmp, dest);
      await fsyncDir(path.dirname(dest));
      return desc;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    } finally {
      untrackTempFile(tmp);
    }
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    parseDigest(desc.digest);
    const source = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
    await this.assertWritableFor(source);
    // Lease before the existence check: a concurrent gc must not delete a blob we are about to rely on.
    await this.lease.add(desc.digest);
    if (await this.exists(desc)) {
      source.destroy();
      return;
    }
    const dest = this.blobPath(desc.digest);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    // Content that another target already streams through a verifier for this very descriptor
    // (every ocikit fetch does: a registry download, an archive entry) is hashed once, there:
    // it fails before its end unless it matches, and the temp file is renamed only after a clean end.
    const checks = verifiesFor(source, desc) ? [] : [new VerifyStream({ digest: desc.digest, size: desc.size, source: `content for ${desc.digest}` })];
    await streamToFileAtomic(source, checks, dest, { tmpDir: this.dir, mode: 0o644 });
  }

  /**
   * push() for a download that can resume: an earlier download of `desc`
   * that was interrupted left its bytes as a partial file in the layout
   * root, and only the rest is fetched (fs/partial-download.ts). Leased and
   * skipped when present as push() is.
   */
  async pushResumable(desc: Descriptor, fetchFrom: (offset: number) => Promise<RestOfBlob>): Promise<{ resumedBytes: number }> {
    parseDigest(desc.digest);
    await this.assertWritable();
    await this.lease.add(desc.digest);
    if (await this.exists(desc)) return { resumedBytes: 0 };
    const dest = this.blobPath(desc.digest);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    return downloadResumable({ dir: this.dir, desc, dest, fetchFrom });
  }

  /**
   * Move `file`, a temp file in this layout's root whose content the caller
   * has already checked against `desc` (a finished registry upload in
   * `serve`), into place as the blob. Saves copying a large upload a second
   * time. A blob already stored counts as written; the file is removed then.
   */
  async commitVerifiedFile(file: string, desc: Descriptor): Promise<void> {
    parseDigest(desc.digest);
    try {
      await this.assertWritable();
      await this.lease.add(desc.digest);
      if (await this.exists(desc)) {
        await fsp.rm(file, { force: true });
        return;
      }
      await fsyncFile(file);
      const dest = this.blobPath(desc.digest);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(file, dest);
      await fsyncDir(path.dirname(dest));
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw err;
    }
  }

  /**
   * Bytes `start`..`end` (inclusive) of a stored blob, for HTTP range
   * requests. A part cannot be checked against the digest (the client
   * checks the whole); whole reads go through the verifying fetch().
   */
  async fetchRange(desc: Descriptor, start: number, end: number): Promise<Readable> {
    const { fh, file } = await this.openBlob(desc);
    if (start < 0 || end < start || end >= desc.size) {
      await fh.close();
      throw new OcikitError('SIZE_MISMATCH', `cannot read bytes ${start}-${end} of ${desc.digest} (${file}): it has ${desc.size} bytes`, {
        path: file,
        digest: desc.digest,
        expected: desc.size,
      });
    }
    return fh.createReadStream({ start, end, highWaterMark: 256 * 1024 });
  }

  async resolve(ref: string): Promise<Descriptor> {
    return resolveInIndex(this, await this.readIndex(), ref);
  }

  /** The manifest a reference with neither tag nor digest means: the only image, when there is exactly one. */
  async resolveDefault(): Promise<Descriptor> {
    return defaultInIndex(this.description, await this.readIndex());
  }

  /** IndexKeeper: one edit of index.json under the layout's lock. */
  async editIndex(edit: (index: ImageIndex) => ImageIndex): Promise<void> {
    await this.updateIndex(edit);
  }

  async tag(desc: Descriptor, ref: string): Promise<void> {
    if (!(await this.exists(desc))) {
      throw new NotFoundError(`cannot tag ${desc.digest}: it is not stored in ${this.description}`, { digest: desc.digest });
    }
    const name = nameRef(ref);
    await this.updateIndex(async (index) => (await this.requireStored(desc, 'tag'), setTag(index, desc, name.tag, name)));
  }

  /** Checked again under the lock: the manifest must still be there when index.json starts pointing at it. */
  private async requireStored(desc: Descriptor, verb: string): Promise<void> {
    if (!(await this.exists(desc))) throw new NotFoundError(`cannot ${verb} ${desc.digest}: it is not stored in ${this.description}`, { digest: desc.digest });
  }

  /** Remove a tag (and its index.json entry). Blobs stay until `gc`, which also drops the manifest's referrers. */
  async untag(ref: string): Promise<Descriptor[]> {
    let removed: Descriptor[] = [];
    await this.updateIndex((index) => {
      const r = removeTag(index, ref, this.description);
      removed = r.removed;
      return r.removed.length > 0 ? r.index : undefined;
    });
    if (removed.length === 0) throw new NotFoundError(`tag "${ref}" not found in ${this.description}`);
    return removed;
  }

  /** List a manifest in index.json without a tag (artifacts with a subject, untagged roots). */
  async addEntry(desc: Descriptor): Promise<void> {
    if (!(await this.exists(desc))) throw new NotFoundError(`cannot list ${desc.digest}: it is not stored in ${this.description}`, { digest: desc.digest });
    await this.updateIndex(async (index) => (await this.requireStored(desc, 'list'), addEntry(index, desc)));
  }

  /**
   * Remove a manifest from index.json: every entry with its digest (each of
   * its tags), and its line in any fallback-tag index (`sha256-<hex>`, as
   * regclient writes them) that lists it as a referrer. Such an index is
   * rewritten as a new blob, stored before index.json points at it; one left
   * empty loses its entry. Blobs stay until gc. NOT_FOUND when index.json
   * neither lists the manifest nor lists it as a referrer.
   *
   * `opts.listed` narrows which entries of the digest go (serve deletes in
   * one repository of the layout); the fallback listings are rewritten only
   * when no entry of the digest is left.
   */
  async deleteManifest(desc: Descriptor, opts: { listed?: (entry: Descriptor) => boolean } = {}): Promise<void> {
    const doomed = (e: Descriptor) => e.digest === desc.digest && (opts.listed?.(e) ?? true);
    let changed = false;
    await this.updateIndex(async (index) => {
      const kept = index.manifests.filter((e) => !doomed(e));
      const stillListed = kept.some((e) => e.digest === desc.digest);
      const manifests: Descriptor[] = [];
      for (const e of kept) {
        if (stillListed || !isFallbackTagEntry(e)) {
          manifests.push(e);
          continue;
        }
        const rewritten = await this.fallbackIndexWithout(e, desc.digest);
        if (rewritten === null) continue;
        manifests.push(rewritten ?? e);
      }
      changed = manifests.length !== index.manifests.length || manifests.some((e, i) => e !== index.manifests[i]);
      return changed ? { ...index, manifests } : undefined;
    });
    if (!changed) {
      const stored = await this.exists(desc);
      throw new NotFoundError(`manifest ${desc.digest} is not listed in ${this.dir}/index.json${stored ? ' (it is stored, reached through an index that lists it)' : ''}`, {
        digest: desc.digest,
        hint: stored ? 'delete the index that lists it instead' : undefined,
      });
    }
  }

  /**
   * The fallback-tag entry `entry` rewritten without `digest`: undefined when
   * its index does not list it, null when nothing would be left.
   */
  private async fallbackIndexWithout(entry: Descriptor, digest: string): Promise<Descriptor | null | undefined> {
    let doc: ImageIndex;
    try {
      doc = JSON.parse((await this.fetchBytes(entry)).toString('utf8')) as ImageIndex;
    } catch (err) {
      // Not JSON: it lists nothing we could remove (verify reports it). A missing or damaged blob is an error to see.
      if (err instanceof SyntaxError) return undefined;
      throw err;
    }
    const rest = fallbackListingWithout(doc, digest);
    if (!rest) return rest;
    const bytes = Buffer.from(JSON.stringify(rest));
    const next: Descriptor = { ...entry, digest: digestBytes(bytes), size: bytes.length };
    await this.push(next, bytes);
    return next;
  }

  /**
   * Remove a blob file, under the lock. Refused (IN_USE, nothing removed)
   * while a manifest listed in index.json reaches it (itself included) or a
   * running ocikit process has leased it to rely on it, unless `force`:
   * `blob delete` is for stray or unwanted content; what is listed goes with
   * `manifest delete`/`untag` and then gc, which never breaks an image.
   */
  async deleteBlob(desc: Descriptor, opts: DeleteBlobOptions = {}): Promise<void> {
    await this.statBlob(desc.digest);
    await this.exclusive(async (lock) => {
      if (!opts.force) await this.refuseInUse(desc.digest);
      // Decided under the lock; one that lost it since writes nothing.
      await lock.confirm();
      const file = this.blobPath(desc.digest);
      try {
        await fsp.unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${desc.digest} not found in ${this.description}`, { digest: desc.digest, path: file });
        throw fromFsError(err, file, 'blob');
      }
      await fsyncDir(path.dirname(file));
    });
  }

  private async refuseInUse(digest: string): Promise<void> {
    const index = await this.readIndex();
    const closures = await entryClosures(this, index.manifests, 'blob delete stopped');
    const users = index.manifests.filter((e) => closures.get(e.digest)!.closure.has(digest));
    const hint = 'remove what lists it first (ocikit manifest delete, ocikit untag), or pass --force';
    if (users.length > 0) {
      const names = users.slice(0, 3).map((e) => entryRef(e) ?? e.digest);
      throw new OcikitError('IN_USE', `blob ${digest} is used by ${users.length} manifest(s) listed in ${this.dir}/index.json: ${names.join(', ')}${users.length > 3 ? ', ...' : ''}`, {
        digest,
        hint,
      });
    }
    // This process's own leases do not count: it is the one asking (serve holds a lease on everything pushed to it).
    if ((await readLiveLeases(this.dir, true, this.lease)).has(digest)) {
      throw new OcikitError('IN_USE', `blob ${digest} in ${this.dir} is held by another running ocikit process that is about to list it`, { digest, hint });
    }
  }

  /** Edits of a layout are durable as they are made. */
  async commit(): Promise<void> {}

  async *tags(): AsyncIterable<string> {
    yield* tagsOf(await this.readIndex());
  }

  async *referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor> {
    yield* filterReferrers(lookupReferrers(await this.referrersMap(), subject.digest), filter);
  }

  /** One walk per index.json version: repeated queries (discover's recursion) reuse it. */
  private async referrersMap(): Promise<Map<string, Descriptor[]>> {
    const index = await this.readIndex();
    if (this.referrersCache?.index !== index) {
      this.referrersCache = { index, map: buildReferrersMap(this, index) };
    }
    return this.referrersCache.map;
  }

  /** Every file and directory of the layout (verify: unreferenced blobs, stray files). */
  listFiles(): AsyncIterable<LayoutFileEntry> {
    return walkDirectory(this.dir);
  }

  readLayoutFile(name: string, limit?: number): Promise<Buffer | undefined> {
    return readLayoutDirFile(this.dir, name, limit);
  }
}

/** Only what init writes before `oci-layout`: an empty blobs/sha256, index.json, and temp files of its atomic writes. */
async function isInterruptedInit(dir: string, entries: string[]): Promise<boolean> {
  if (!entries.every((n) => n === 'blobs' || n === INDEX_FILE || n.startsWith('.ocikit-tmp-'))) return false;
  if (!entries.includes('blobs')) return true;
  const algs = await fsp.readdir(path.join(dir, 'blobs')).catch(() => undefined);
  if (!algs || !algs.every((a) => a === 'sha256')) return false;
  return algs.length === 0 || (await fsp.readdir(path.join(dir, 'blobs', 'sha256')).catch(() => ['?'])).length === 0;
}

/** A layout file that is a symlink, a FIFO or a directory makes the layout invalid (not an unsafe blob). */
function asLayoutProblem(err: unknown, dir: string, name: string): OcikitError {
  if (err instanceof OcikitError && err.code === 'UNSAFE_BLOB_PATH') {
    return new OcikitError('INVALID_LAYOUT', `invalid layout ${dir}: ${name} is not a regular file`, { path: err.path, cause: err });
  }
  return fromFsError(err, path.join(dir, name), name);
}

/**
 * index.json's bytes as text. JSON is UTF-8, and bytes that are not would be
 * read with replacement characters, as another name or digest than the one
 * written: refused, as `verify` reports them. (This is also what lets verify
 * trust the index the target parsed instead of reading the file a second
 * time, which for an index.json of 10 MiB left 10 MiB more in the process
 * heap for the rest of an audit.)
 */
export function indexText(bytes: Buffer, where: string, file: string): string {
  if (!isUtf8(bytes)) throw indexNotUtf8(where, file);
  return bytes.toString('utf8');
}

export function indexNotUtf8(where: string, file: string): OcikitError {
  return new OcikitError('INVALID_LAYOUT', `invalid layout ${where}: index.json is not valid UTF-8`, { path: file });
}

export function parseIndexText(text: string, dir: string): ImageIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new OcikitError('INVALID_LAYOUT', `invalid layout ${dir}: index.json is not valid JSON (${(err as Error).message})`, { path: path.join(dir, INDEX_FILE), cause: err });
  }
  const index = doc as ImageIndex;
  if (!index || typeof index !== 'object' || Array.isArray(index) || !Array.isArray(index.manifests)) {
    throw new OcikitError('INVALID_LAYOUT', `invalid layout ${dir}: index.json has no manifests array`, { path: path.join(dir, INDEX_FILE) });
  }
  for (const [i, e] of index.manifests.entries()) {
    const problem = entryProblem(e);
    if (problem) {
      throw new OcikitError('INVALID_LAYOUT', `invalid layout ${dir}: index.json manifests[${i}] ${problem}`, { path: path.join(dir, INDEX_FILE) });
    }
    // Kept for the life of the target: one copy of each media type, not one per entry.
    e.mediaType = internMediaType(e.mediaType);
  }
  return index;
}

/**
 * What makes an index.json entry unusable. The digest must fit the generic
 * grammar (an algorithm ocikit cannot verify is reported when the entry is
 * read, so `ls` still lists it); anything else would become a bogus blob path.
 */
function entryProblem(e: unknown): string | undefined {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'is not a descriptor object';
  const d = e as Record<string, unknown>;
  if (typeof d['mediaType'] !== 'string') return 'has no mediaType string';
  if (typeof d['digest'] !== 'string' || !isDigestGrammar(d['digest'])) return `has an invalid digest ${JSON.stringify(d['digest'])}`;
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return `has an invalid size ${JSON.stringify(size)}`;
  return undefined;
}
