/**
 * Writing a layout archive as a stream: a WriteTarget that the graph copy
 * feeds, turning each push into one tar entry, with no temporary directory
 * and memory flat in blob size (a blob flows from its source through the tar
 * into the file; a tar header needs the size up front, and the blob's
 * descriptor gives it). A blob that is a byte range of a local file (from a
 * layout or an uncompressed archive) is copied with positional reads and
 * writes through reused buffers, hashed on the way (fs/file-range.ts):
 * that is what keeps `pack` close to `tar -cf` while it verifies every digest.
 *
 * Reproducible: the same content gives the same bytes whatever the source's
 * file order, mtimes, owners or umask. Every entry has mode 0644 (0755 for
 * directories), uid/gid 0, empty user and group names and one mtime
 * (SOURCE_DATE_EPOCH, else 0). Order: `oci-layout`; the `blobs/` directories;
 * non-manifest blobs in the order they are pushed (the graph copy runs at
 * concurrency 1 for archives, which makes that order a function of the graph
 * alone); then manifests and indexes, held back until commit (set aside in a
 * scratch file beside the archive, so that memory holds only where each one
 * is and which manifests it names) and written children before parents in a depth-first order
 * from index.json; `index.json` last. A reader can therefore stream the
 * archive in one pass and meet every blob before anything that points at it.
 * gzip output carries no name and mtime 0, and its OS byte is set to 255
 * ("unknown") so the same Node.js writes the same bytes on every platform.
 *
 * Output goes to a temporary file beside the destination, renamed into place
 * by `commit()`; `abort()` (or any failure) removes it, a SIGINT or SIGTERM
 * too (fs/temp-files.ts), and the next archive written to that directory
 * removes one that a SIGKILL left. Written to a stream
 * (stdout), a failure leaves a truncated tar that readers refuse.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { NotFoundError, OcikitError, UsageError, fromFsError } from '../errors.js';
import { parseDigest } from '../digest/digest.js';
import { VerifyStream, sizeMismatch, verifiesFor, verifyBytes } from '../digest/verify-stream.js';
import { FLUSH_EVERY, fsyncDir, tempPathFor } from '../fs/atomic.js';
import { copyIfFileRange } from '../fs/file-range.js';
import { ScratchFile, type ScratchPlace } from '../fs/scratch-file.js';
import { withLock } from '../fs/lock.js';
import { removeLeftoverTempFiles, trackTempFile, untrackTempFile } from '../fs/temp-files.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { parseManifestBytes } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE, readAll } from '../graph/content.js';
import { isWalkable, successors } from '../graph/successors.js';
import { addEntry, nameRef, setTag } from '../spec/index-entries.js';
import { abilities, type ReadTarget, type WriteTarget } from '../graph/target.js';
import { compressor, type Compression } from '../archive/compression.js';
import { FileSink, StreamSink, sinkForStream, type ByteSink } from '../fs/byte-sink.js';
import { TAR_TRAILER, encodeTarHeader, paddingFor } from '../archive/tar-header.js';
import { batched, jsonChunks } from '../util/json-chunks.js';

const FILE_MODE = 0o644;

/** A manifest held back: where its bytes are in the scratch file, and the manifests it names (written before it). */
interface HeldManifest extends ScratchPlace {
  children: readonly string[];
}
/** One array for the many manifests (images, artifacts) that name no other manifest. */
const NO_CHILDREN: readonly string[] = Object.freeze([]);
const DIR_MODE = 0o755;
const OCI_LAYOUT_BYTES = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

export interface ArchiveWriterOptions {
  compression?: Compression;
  /** mtime of every entry, in seconds since the epoch (default: SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  /** Delta bundles: blobs that this target holds are left out of the archive. */
  exclude?: ReadTarget;
}

export interface ArchiveStats {
  /** Blob entries written (manifests included). */
  blobs: number;
  /** Bytes of blob content written (before compression). */
  bytes: number;
  /** Blobs left out because the `exclude` target has them. */
  excluded: number;
}

/** SOURCE_DATE_EPOCH (reproducible-builds.org) as seconds, or 0 when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['SOURCE_DATE_EPOCH'];
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

export class ArchiveWriter implements WriteTarget {
  readonly description: string;
  readonly abilities = abilities('keep-index');
  readonly stats: ArchiveStats = { blobs: 0, bytes: 0, excluded: 0 };
  private readonly sink: ByteSink;
  private readonly mtime: number;
  private readonly exclude?: ReadTarget;
  private readonly file?: { dest: string; tmp: string; handle: fsp.FileHandle };
  /** Stops the output stream (stdout, a compressor) on abort. */
  private readonly stopOutput?: (err?: Error) => void;
  /** Entries are written one at a time, in call order. */
  private queue: Promise<void> = Promise.resolve();
  private failure?: unknown;
  private state: 'open' | 'committed' | 'aborted' = 'open';
  /** Digests already in the archive (or queued for it). */
  private readonly written = new Set<string>();
  private readonly excluded = new Set<string>();
  /** Manifests held back until commit: their bytes in the scratch file, their walkable children here. */
  private readonly manifests = new Map<string, HeldManifest>();
  private readonly scratch: ScratchFile;
  private readonly dirs = new Set<string>();
  private index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };

  private constructor(
    output: { sink: ByteSink; stop?: (err?: Error) => void },
    description: string,
    opts: ArchiveWriterOptions,
    file?: { dest: string; tmp: string; handle: fsp.FileHandle },
  ) {
    this.description = description;
    this.sink = output.sink;
    this.stopOutput = output.stop;
    this.file = file;
    this.exclude = opts.exclude;
    this.mtime = opts.mtime ?? sourceDateEpoch();
    this.scratch = new ScratchFile(file ? path.dirname(file.dest) : os.tmpdir());
    this.enqueue(() => this.writeEntry('oci-layout', OCI_LAYOUT_BYTES));
  }

  /** Write an archive to `dest`, atomically: nothing appears there unless `commit()` succeeds. */
  static async toFile(dest: string, opts: ArchiveWriterOptions = {}): Promise<ArchiveWriter> {
    checkCompression(opts.compression, dest);
    try {
      const st = await fsp.stat(dest);
      if (st.isDirectory()) throw new UsageError(`cannot write an archive to ${dest}: it is a directory`, { hint: 'name a file, e.g. image.tar' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(err, dest, 'archive');
    }
    // A pack killed with SIGKILL left its partial archive here; nothing will ever rename it.
    await removeLeftoverTempFiles(path.dirname(dest), 'tmp');
    const tmp = tempPathFor(dest);
    let handle: fsp.FileHandle;
    trackTempFile(tmp);
    try {
      handle = await fsp.open(tmp, 'wx', FILE_MODE);
    } catch (err) {
      untrackTempFile(tmp);
      throw fromFsError(err, path.dirname(dest), 'the directory of the archive', 'writing to');
    }
    const description = `archive ${dest}`;
    const compression = opts.compression ?? 'none';
    // The archive is fsynced before it is renamed into place; flush-behind starts that writeback early.
    const file = new FileSink(handle, { flushEvery: FLUSH_EVERY });
    const output = compression === 'none' ? { sink: file } : compressedOutput(compression, description, file.asWritable());
    return new ArchiveWriter(output, description, opts, { dest, tmp, handle });
  }

  /** Write an archive to a stream (stdout). */
  static toStream(out: Writable, opts: ArchiveWriterOptions = {}): ArchiveWriter {
    checkCompression(opts.compression, 'standard output');
    const description = 'archive on standard output';
    const compression = opts.compression ?? 'none';
    const output =
      compression === 'none' ? { sink: sinkForStream(out, finished(out)), stop: (err?: Error) => out.destroy(err) } : compressedOutput(compression, description, out);
    return new ArchiveWriter(output, description, opts);
  }

  // ---- WriteTarget ----

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    let parsed: ReturnType<typeof parseDigest>;
    try {
      parsed = parseDigest(desc.digest);
      this.assertOpen();
    } catch (err) {
      // The content is ours to end either way: a stream left open holds its source's file handle
      // (siblings of a failed blob, already fetched, arrive here after the failure).
      if (!(content instanceof Uint8Array)) content.destroy();
      throw err;
    }
    if (this.written.has(desc.digest)) {
      if (!(content instanceof Uint8Array)) content.destroy();
      return;
    }
    this.written.add(desc.digest);
    try {
      if (isWalkable(desc)) {
        // Held back until commit, to be written children-first in a fixed order.
        const bytes = content instanceof Uint8Array ? Buffer.from(content) : await readAll(content, MAX_DOCUMENT_SIZE);
        verifyBytes(bytes, { digest: desc.digest, size: desc.size, source: `manifest for ${this.description}` });
        const parsed = parseManifestBytes(bytes, desc.mediaType, `${desc.digest}`);
        const children = successors(parsed).filter(isWalkable).map((c) => c.digest);
        const place = await this.scratch.append(bytes);
        this.manifests.set(desc.digest, { offset: place.offset, size: place.size, children: children.length > 0 ? children : NO_CHILDREN });
        return;
      }
      const source = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
      // A stream the source already verifies for this very descriptor is not hashed twice.
      const verified = verifiesFor(source, desc);
      const stream = verified ? source : source.pipe(new VerifyStream({ digest: desc.digest, size: desc.size, source: `content for ${desc.digest}` }));
      if (!verified) {
        source.on('error', (err) => stream.destroy(err));
        // It may fail before its turn in the queue comes; the error stays on the stream for the writer to meet.
        stream.on('error', () => undefined);
      }
      await this.enqueue(async () => {
        await this.ensureDirs(parsed.algorithm);
        await this.writeEntry(`blobs/${parsed.algorithm}/${parsed.encoded}`, stream, desc.size);
      });
    } catch (err) {
      this.written.delete(desc.digest);
      if (!(content instanceof Uint8Array)) content.destroy();
      throw err;
    }
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (this.written.has(desc.digest) || this.excluded.has(desc.digest)) return true;
    if (this.exclude && (await this.exclude.exists(desc))) {
      this.excluded.add(desc.digest);
      this.stats.excluded++;
      return true;
    }
    return false;
  }

  async tag(desc: Descriptor, ref: string): Promise<void> {
    this.requireStored(desc);
    const name = nameRef(ref);
    this.index = setTag(this.index, desc, name.tag, name);
  }

  /** List a manifest in index.json without a tag (referrers, untagged roots). */
  async addEntry(desc: Descriptor): Promise<void> {
    this.requireStored(desc);
    this.index = addEntry(this.index, desc);
  }

  /** IndexKeeper: the archive's index.json, edited whole; every entry it lists must be in the archive. */
  async editIndex(edit: (index: ImageIndex) => ImageIndex): Promise<void> {
    const next = edit(this.index);
    for (const e of next.manifests) this.requireStored(e);
    this.index = next;
  }

  /** index.json's entries as named so far (a merge reports which earlier tags moved). */
  entries(): readonly Descriptor[] {
    return this.index.manifests;
  }

  // ---- the read side: manifests already written, by descriptor (names are not read back) ----

  async fetch(desc: Descriptor): Promise<Readable> {
    const m = this.manifests.get(desc.digest);
    if (m) return Readable.from([await this.scratch.read(m)]);
    // Left out of a delta because the base has it: the base can still say what it is.
    if (this.excluded.has(desc.digest) && this.exclude) return this.exclude.fetch(desc);
    throw new OcikitError('UNSUPPORTED', `${this.description} is being written; its blobs cannot be read back`, { digest: desc.digest });
  }

  async statBlob(digest: string): Promise<Descriptor> {
    const m = this.manifests.get(digest);
    if (m) return { mediaType: MediaType.OctetStream, digest, size: m.size };
    throw new NotFoundError(`blob ${digest} cannot be read from ${this.description}`, { digest });
  }

  // ---- finishing ----

  /**
   * Write the held-back manifests and index.json, end the tar, and move the
   * file into place; `beforeRename` may still refuse (a merge checks that
   * nobody replaced the archive it read meanwhile). With `lockPath`, that
   * check and the rename run under that lock (fs/lock.ts), held for them alone.
   */
  async commit(opts: { beforeRename?: () => Promise<void>; lockPath?: string } = {}): Promise<void> {
    try {
      this.assertOpen();
      for (const digest of this.manifestOrder()) {
        const { algorithm, encoded } = parseDigest(digest);
        const held = this.manifests.get(digest)!;
        await this.enqueue(async () => {
          const bytes = await this.scratch.read(held);
          await this.ensureDirs(algorithm);
          await this.writeEntry(`blobs/${algorithm}/${encoded}`, bytes);
        });
      }
      await this.enqueue(() => this.writeJsonEntry('index.json', this.index));
      await this.enqueue(async () => {
        await this.sink.write(TAR_TRAILER);
        await this.sink.end();
      });
      if (this.failure) throw this.failure;
      if (this.file) {
        await this.file.handle.sync();
        await this.file.handle.close();
        const file = this.file;
        const replace = async () => {
          await opts.beforeRename?.();
          await fsp.rename(file.tmp, file.dest);
        };
        // The check before the rename and the rename are one step for every writer holding the
        // same lock: without it, two writers could both pass the check, and the second rename
        // would drop the first's archive unseen.
        if (opts.lockPath) await withLock(opts.lockPath, async (lock) => (await lock.confirm(), await replace()));
        else await replace();
        untrackTempFile(this.file.tmp);
        await fsyncDir(path.dirname(this.file.dest));
      }
      this.state = 'committed';
      await this.scratch.close();
    } catch (err) {
      await this.abort(err);
      throw err;
    }
  }

  /** Give up: stop the output and remove the temporary file. Safe to call more than once. */
  async abort(reason?: unknown): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.scratch.close();
    this.failure ??= reason ?? new OcikitError('IO_ERROR', `writing ${this.description} was cancelled`);
    this.stopOutput?.(this.failure instanceof Error ? this.failure : undefined);
    if (this.file) {
      // close() waits for a write in flight; later entries see the failure and do not start.
      await this.file.handle.close().catch(() => undefined);
      await fsp.rm(this.file.tmp, { force: true });
      untrackTempFile(this.file.tmp);
    }
  }

  async close(): Promise<void> {
    await this.abort();
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.state !== 'open') throw new OcikitError('IO_ERROR', `${this.description} is already ${this.state}`);
  }

  private fail(err: unknown): void {
    this.failure ??= err;
  }

  private requireStored(desc: Descriptor): void {
    if (!this.written.has(desc.digest) && !this.excluded.has(desc.digest)) {
      throw new NotFoundError(`cannot list ${desc.digest} in ${this.description}: it was not copied`, { digest: desc.digest });
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => {
      if (this.failure) throw this.failure;
      return task();
    });
    this.queue = run.catch((err) => this.fail(err));
    return run;
  }

  /** Directory entries, so that other tools extract the layout with fixed permissions. */
  private async ensureDirs(algorithm: string): Promise<void> {
    for (const dir of ['blobs/', `blobs/${algorithm}/`]) {
      if (this.dirs.has(dir)) continue;
      this.dirs.add(dir);
      await this.writeEntry(dir, undefined);
    }
  }

  private async writeEntry(name: string, content: Buffer | Readable | undefined, size?: number): Promise<void> {
    const isDirectory = content === undefined;
    const length = isDirectory ? 0 : Buffer.isBuffer(content) ? content.length : size!;
    try {
      await this.sink.write(encodeTarHeader({ name, type: isDirectory ? 'directory' : 'file', size: length, mode: isDirectory ? DIR_MODE : FILE_MODE, mtime: this.mtime }));
      if (Buffer.isBuffer(content)) await this.sink.write(content);
      else if (content) await this.writeContent(content, length);
      if (length % 512 !== 0) await this.sink.write(paddingFor(length));
    } catch (err) {
      if (content instanceof Readable) content.destroy();
      this.fail(err);
      throw err;
    }
    if (name.startsWith('blobs/') && !isDirectory) {
      this.stats.blobs++;
      this.stats.bytes += length;
    }
  }

  /**
   * A JSON document as an entry, written as it is serialized (the bytes of
   * JSON.stringify, in pieces): index.json lists every entry, and at 50,000
   * entries the whole text and its bytes were 20 MiB at once. The tar
   * header needs the size first, so the pieces are produced twice: counted,
   * then written.
   */
  private async writeJsonEntry(name: string, value: unknown): Promise<void> {
    const pieces = () => batched(jsonChunks(value, { compact: true }), 64 * 1024);
    let size = 0;
    for (const piece of pieces()) size += Buffer.byteLength(piece);
    const bytes = function* () {
      for (const piece of pieces()) yield Buffer.from(piece);
    };
    await this.writeEntry(name, Readable.from(bytes(), { objectMode: false }), size);
  }

  /** A blob's bytes, already verifying (see push): the fast range copy when the source is a local file. */
  private async writeContent(content: Readable, size: number): Promise<void> {
    if (await copyIfFileRange(content, (chunk) => this.sink.write(chunk, true))) return;
    let written = 0;
    for await (const chunk of content) {
      written += (chunk as Buffer).length;
      // Verification upstream guarantees this; the tar framing depends on it, so it is checked anyway.
      if (written > size) throw sizeMismatch({ digest: '(entry)', size, source: this.description }, written);
      await this.sink.write(chunk as Buffer);
    }
    if (written !== size) throw sizeMismatch({ digest: '(entry)', size, source: this.description }, written);
  }

  /**
   * Manifests held back, children before parents: depth-first from
   * index.json, then any left over by digest. The path being walked is an
   * explicit stack, not nested calls: an index nested thousands deep is
   * written like any other (a recursive walk ran out of stack).
   */
  private manifestOrder(): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (start: string) => {
      const path: Array<{ digest: string; children: readonly string[]; next: number }> = [];
      const enter = (digest: string) => {
        if (seen.has(digest)) return;
        seen.add(digest);
        const m = this.manifests.get(digest);
        if (!m) return;
        path.push({ digest, children: m.children, next: 0 });
      };
      enter(start);
      while (path.length > 0) {
        const top = path[path.length - 1]!;
        if (top.next < top.children.length) enter(top.children[top.next++]!);
        else order.push(path.pop()!.digest);
      }
    };
    for (const e of this.index.manifests) visit(e.digest);
    for (const digest of [...this.manifests.keys()].sort()) visit(digest);
    return order;
  }
}

/** A compressor in front of `out`: the sink writes into it, and the pipeline reports when all has reached `out`. */
function compressedOutput(compression: Exclude<Compression, 'none'>, description: string, out: Writable): { sink: ByteSink; stop: (err?: Error) => void } {
  const head = compressor(compression, description);
  const stages: NodeJS.ReadWriteStream[] = [head, ...(compression === 'gzip' ? [new GzipOsByte()] : [])];
  const done = pipeline([...stages, out] as unknown as ReadonlyArray<NodeJS.ReadWriteStream>);
  return { sink: new StreamSink(head as unknown as Writable, done), stop: (err?: Error) => (head as unknown as Writable).destroy(err) };
}

/** Fail before any file is created when the compression cannot be written (zstd on Node < 22.15). */
function checkCompression(compression: Compression | undefined, dest: string): void {
  if (compression === 'zstd') compressor('zstd', dest).destroy();
}

/** gzip's header byte 9 names the OS that wrote it; 255 ("unknown") keeps output the same on every platform. */
class GzipOsByte extends Transform {
  private seen = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.seen <= 9 && this.seen + chunk.length > 9) {
      chunk = Buffer.from(chunk);
      chunk[9 - this.seen] = 0xff;
    }
    this.seen += chunk.length;
    cb(null, chunk);
  }
}
