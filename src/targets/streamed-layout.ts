/**
 * An OCI layout archive read once, front to back, as a stream (stdin, or a
 * compressed archive read whole): the target behind `unpack -`, `verify -`,
 * and `unpack`/`verify` of a `.tar.gz`, in one pass and without a temp file.
 *
 * A tar may hold index.json after the blobs (ocikit writes it last), so
 * nothing can be judged while the blobs go by; each blob is therefore dealt
 * with as it streams past, and the graph is checked once the stream has
 * ended, from what was remembered:
 * - with `into` (unpack), each blob goes straight into that layout's blob
 *   store through LayoutDir.push (hashed as it is written, temp file, rename;
 *   a blob the layout has is only hashed), and is read back from there, so
 *   the graph copy that follows finds every blob present and writes only
 *   index.json. A blob that does not match its name stops the read: blobs
 *   written before it are unreferenced (gc reclaims them), index.json is not
 *   touched. Memory: the entry list only.
 * - without (verify), each blob is hashed and its outcome remembered; the
 *   bytes of small JSON documents (manifests, indexes, configs: a blob of at
 *   most 4 MiB whose first byte is `{`) are kept, up to KEPT_DOCUMENTS_LIMIT
 *   bytes in all, for the walk to validate. Past that limit documents are
 *   remembered by outcome only, and a walk that needs one is told so
 *   (LIMIT_EXCEEDED, a finding, not a crash); layers are never kept.
 */
import { Readable } from 'node:stream';
import { NotFoundError, OcikitError } from '../errors.js';
import { createDigestHash, parseDigest } from '../digest/digest.js';
import { digestMismatch, sizeMismatch } from '../digest/verify-stream.js';
import { drainVerified } from '../fs/file-range.js';
import { readTarStream, type StreamedEntry, type TarStreamOptions } from '../archive/tar-stream-reader.js';
import type { TrailingData } from '../archive/tar-end.js';
import { unsafeEntry } from '../archive/tar-scan.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { abilities, isRetained, type LayoutReadTarget, type ReferrersFilter } from '../graph/target.js';
import { INDEX_FILE, indexText, OCI_LAYOUT_FILE, type LayoutDir } from './layout-dir.js';
import { BLOB_ENTRY, INDEX_FILE_LIMIT, layoutIndexOf, SMALL_FILE_LIMIT, verifiedStream } from './layout-archive.js';
import { defaultInIndex, resolveInIndex, tagsOf } from './index-resolve.js';
import { LAYOUT_FILE_LIMIT, type FileListing, type LayoutFileEntry } from './file-listing.js';
import { DigestIndex } from '../util/digest-index.js';
import { fitColumn } from '../util/typed-columns.js';

/** Blobs up to this size are read whole and written into the layout while the stream goes on... */
const WRITE_BEHIND_SIZE = 1024 * 1024;
/** ...this many at once (so at most 8 MiB is held for them). */
const WRITES_BEHIND = 8;

/** Documents kept for `verify` of a stream, in bytes: 50,000 manifests and their configs fit. */
export const KEPT_DOCUMENTS_LIMIT = 256 * 1024 * 1024;

export interface StreamedLayoutOptions extends TarStreamOptions {
  /** Write every blob into this layout as it streams past (unpack); else hash it and keep small documents (verify). */
  into?: LayoutDir;
  /** Bytes of documents kept for the walk without `into` (default KEPT_DOCUMENTS_LIMIT). */
  keepLimit?: number;
  /** Told of each blob once it is checked; `stored` when it was written into `into` (it was not there yet). */
  onBlob?: (desc: Descriptor, stored: boolean) => void;
}

/** What is known of a blob entry once it streamed past. */
interface BlobOutcome {
  size: number;
  /** Why it cannot be used (DIGEST_MISMATCH, UNSUPPORTED_DIGEST...), if it cannot. */
  error?: unknown;
  /** Its bytes, when kept as a document. */
  bytes?: Buffer;
  /** Small enough and JSON-looking, but past KEPT_DOCUMENTS_LIMIT. */
  dropped?: boolean;
}

/**
 * Every blob's outcome by digest, compactly: an archive of 50,000 images has
 * some 100,000 blobs, and an object, a digest string and a Map entry each
 * came to 25 MiB of a streamed unpack's peak. A blob is a number
 * (DigestIndex) and its size; the few outcomes that say more (an error, a
 * kept document) are kept beside it.
 */
class BlobTable {
  private readonly digests = new DigestIndex();
  private sizes = new Float64Array(1024);
  private readonly more = new Map<number, Omit<BlobOutcome, 'size'>>();

  get(digest: string): BlobOutcome | undefined {
    const n = this.digests.get(digest);
    if (n === undefined) return undefined;
    return { size: this.sizes[n]!, ...this.more.get(n) };
  }

  set(digest: string, outcome: BlobOutcome): void {
    const n = this.digests.add(digest);
    this.sizes = fitColumn(this.sizes, n);
    this.sizes[n] = outcome.size;
    const { size: _size, ...more } = outcome;
    if (Object.keys(more).length > 0) this.more.set(n, more);
    else this.more.delete(n);
  }

  /** [digest, size] of every blob, in the order first seen. */
  *sizesByDigest(): Generator<[string, number]> {
    for (let n = 0; n < this.digests.size; n++) yield [this.digests.digest(n), this.sizes[n]!];
  }
}

export class StreamedLayout implements LayoutReadTarget, FileListing {
  readonly description: string;
  readonly abilities;
  private referrersMap?: Promise<Map<string, Descriptor[]>>;

  private constructor(
    private readonly source: string,
    private readonly index: ImageIndex,
    private readonly blobs: BlobTable,
    /** Every entry that is not a blob (blob entries are listed from `blobs`). */
    private readonly entries: LayoutFileEntry[],
    private readonly rootFiles: Map<string, Buffer>,
    private readonly trailing: TrailingData | undefined,
    private readonly into: LayoutDir | undefined,
    private readonly keepLimit: number,
  ) {
    this.description = `archive ${source}`;
    // Written into a layout, blobs can be read again; only hashed, they can only be vouched for.
    this.abilities = into
      ? abilities('read-index', 'default-image', 'list-files', 'trailing-data')
      : abilities('read-index', 'default-image', 'list-files', 'trailing-data', 'checked-blobs');
  }

  /** Read the whole archive on `input`; the layout's own files are checked at the end (INVALID_LAYOUT, as for an archive file). */
  static async read(input: Readable, opts: StreamedLayoutOptions): Promise<StreamedLayout> {
    const reader = new EntryReader(opts);
    let trailing: TrailingData | undefined;
    try {
      ({ trailing } = await readTarStream(input, opts, (entry, body) => reader.take(entry, body)));
    } catch (err) {
      // Nothing may still be writing into the layout when the caller rolls back.
      await reader.writes.settled();
      throw err;
    }
    await reader.writes.drained();
    const files = reader.rootFiles;
    const index = await layoutIndexOf(opts.source, {
      ociLayout: files.has(OCI_LAYOUT_FILE) ? async () => files.get(OCI_LAYOUT_FILE)! : undefined,
      index: async () => {
        const bytes = files.get(INDEX_FILE);
        return bytes && indexText(bytes, opts.source, opts.source);
      },
      hint: reader.entries.some((e) => e.path === 'manifest.json') ? 'it looks like a docker save archive; ocikit reads those from a file, as docker-archive:FILE' : undefined,
    });
    // Unpacking, index.json's bytes are not read again once parsed (only verify looks at them as
    // bytes): at 50,000 entries they are 10 MiB held for the rest of the run.
    if (opts.into) files.delete(INDEX_FILE);
    return new StreamedLayout(opts.source, index, reader.blobs, reader.entries, files, trailing, opts.into, opts.keepLimit ?? KEPT_DOCUMENTS_LIMIT);
  }

  get location(): string {
    return this.source;
  }

  async readIndex(): Promise<ImageIndex> {
    return this.index;
  }

  private outcome(desc: Descriptor): BlobOutcome {
    parseDigest(desc.digest);
    const known = this.blobs.get(desc.digest);
    if (!known) throw new NotFoundError(`blob ${desc.digest} not found in ${this.description}`, { digest: desc.digest, path: this.source });
    if (known.size !== desc.size) {
      throw new OcikitError('SIZE_MISMATCH', `size mismatch for ${desc.digest} in ${this.description}: expected ${desc.size} bytes, the archive entry has ${known.size}`, {
        path: this.source,
        digest: desc.digest,
        expected: desc.size,
        actual: known.size,
      });
    }
    if (known.error) throw known.error;
    return known;
  }

  async checkBlob(desc: Descriptor): Promise<void> {
    this.outcome(desc);
  }

  async fetchBytes(desc: Descriptor): Promise<Buffer> {
    const known = this.outcome(desc);
    if (known.bytes) return known.bytes;
    if (this.into) return this.into.fetchBytes(desc);
    if (known.dropped) {
      throw new OcikitError('LIMIT_EXCEEDED', `${desc.digest} in ${this.description} matched its digest, but the archive holds over ${this.keepLimit} bytes of documents, more than a one-pass read keeps`, {
        digest: desc.digest,
        path: this.source,
        hint: 'verify the archive as an uncompressed file (read in place), or unpack it and verify the directory',
      });
    }
    // Only blobs that begin like a JSON object are kept: this one does not, so it is no document.
    throw new OcikitError('INVALID_MANIFEST', `${desc.digest} in ${this.description} is not a JSON document`, { digest: desc.digest, path: this.source });
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (this.into && !this.outcome(desc).bytes) return this.into.fetch(desc);
    return verifiedStream(Readable.from([await this.fetchBytes(desc)]), desc, `${this.source}:${desc.digest}`);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const known = this.blobs.get(desc.digest);
    return known !== undefined && known.size === desc.size && !known.error;
  }

  async statBlob(digest: string): Promise<Descriptor> {
    parseDigest(digest);
    const known = this.blobs.get(digest);
    if (!known) throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, path: this.source });
    return { mediaType: MediaType.OctetStream, digest, size: known.size };
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
    this.referrersMap ??= buildReferrersMap(this);
    yield* filterReferrers(lookupReferrers(await this.referrersMap, subject.digest), filter);
  }

  async *listFiles(): AsyncIterable<LayoutFileEntry> {
    yield* this.entries;
    for (const [digest, size] of this.blobs.sizesByDigest()) yield { path: `blobs/${digest.replace(':', '/')}`, type: 'file', size };
  }

  async readLayoutFile(name: string, limit = LAYOUT_FILE_LIMIT): Promise<Buffer | undefined> {
    const bytes = this.rootFiles.get(name);
    if (bytes && bytes.length > limit) {
      throw new OcikitError('MANIFEST_TOO_LARGE', `${name} in ${this.source} is ${bytes.length} bytes; more than ${limit} is refused`, { path: this.source, expected: limit, actual: bytes.length });
    }
    return bytes;
  }

  trailingData(): TrailingData | undefined {
    return this.trailing;
  }
}

/** Takes the entries as they stream past (see the file comment for what becomes of each). */
class EntryReader {
  readonly blobs = new BlobTable();
  readonly entries: LayoutFileEntry[] = [];
  readonly rootFiles = new Map<string, Buffer>();
  private readonly seen = new Set<string>();
  private kept = 0;
  private readonly arena = new DocumentArena();
  /** Small blobs being written into the layout while the stream goes on. */
  readonly writes = new WritesBehind(WRITES_BEHIND);

  constructor(private readonly opts: StreamedLayoutOptions) {}

  async take(entry: StreamedEntry, body: AsyncIterable<Buffer>): Promise<void> {
    if (entry.name === '') return;
    const m = entry.type === 'file' ? BLOB_ENTRY.exec(entry.name) : null;
    if (m) return this.takeBlob({ mediaType: MediaType.OctetStream, digest: `${m[1]}:${m[2]}`, size: entry.size }, entry.name, body);
    // Names of the few other entries (directories, oci-layout, index.json, stray files); blobs are listed by digest.
    if (!this.seen.has(entry.name)) {
      this.seen.add(entry.name);
      this.entries.push({ path: entry.name, type: entry.type, size: entry.size });
    }
    if (entry.name === OCI_LAYOUT_FILE || entry.name === INDEX_FILE) return this.takeRootFile(entry, body);
  }

  /** oci-layout and index.json, kept whole; a second copy must say the same (as the in-place reader requires). */
  private async takeRootFile(entry: StreamedEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const limit = entry.name === INDEX_FILE ? INDEX_FILE_LIMIT : SMALL_FILE_LIMIT;
    if (entry.size > limit) {
      throw new OcikitError('MANIFEST_TOO_LARGE', `${entry.name} in ${this.opts.source} is ${entry.size} bytes; more than ${limit} is refused`, {
        path: this.opts.source,
        expected: limit,
        actual: entry.size,
      });
    }
    const bytes = await collect(body);
    const prior = this.rootFiles.get(entry.name);
    if (prior && !prior.equals(bytes)) throw unsafeEntry(this.opts.source, `entry ${JSON.stringify(entry.name)} appears twice with different content`);
    this.rootFiles.set(entry.name, bytes);
  }

  private async takeBlob(desc: Descriptor, name: string, body: AsyncIterable<Buffer>): Promise<void> {
    const where = `${this.opts.source}:${name}`;
    const prior = this.blobs.get(desc.digest);
    const outcome: BlobOutcome = { size: desc.size };
    try {
      parseDigest(desc.digest);
      const { into } = this.opts;
      if (into && desc.size <= WRITE_BEHIND_SIZE) {
        // Read whole (it is small), written while the stream goes on: one blob at a time, each
        // write's fsyncs made 100,000 small blobs take minutes.
        const bytes = await collect(body);
        await this.writes.start(async () => this.opts.onBlob?.(desc, await store(into, desc, verifiedStream(Readable.from([bytes]), desc, where))));
      } else if (into) {
        // Hashed once, by the verifying stream that LayoutDir.push recognises; renamed into place only when it matches.
        this.opts.onBlob?.(desc, await store(into, desc, verifiedStream(Readable.from(body), desc, where)));
      } else {
        await this.hash(desc, where, body, outcome);
        this.opts.onBlob?.(desc, false);
      }
    } catch (err) {
      // Writing into a layout, a damaged blob ends the unpack; verifying, it is a finding about that blob.
      if (this.opts.into || !(err instanceof OcikitError)) throw err;
      outcome.error = err;
    }
    // A name stored twice: what one copy got wrong stays known.
    if (prior && !outcome.error && (prior.error || prior.size !== outcome.size)) return;
    this.blobs.set(desc.digest, outcome);
  }

  /**
   * Hash a blob as it streams past, keeping its bytes when it is a document
   * (a plain loop: an archive of 100,000 small blobs made a stream pipeline
   * per blob the slowest part of the read).
   */
  private async hash(desc: Descriptor, where: string, body: AsyncIterable<Buffer>, outcome: BlobOutcome): Promise<void> {
    const expected = { digest: desc.digest, size: desc.size, source: where };
    const { algorithm, encoded } = parseDigest(desc.digest);
    const hash = createDigestHash(algorithm);
    // A document is kept whole; whether this is one shows in its first bytes, so a small layer is not held meanwhile.
    let keep = desc.size <= MAX_DOCUMENT_SIZE;
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > desc.size) throw sizeMismatch(expected, bytes);
      hash.update(chunk);
      if (keep && chunks.length === 0) keep = looksLikeJson(chunk);
      if (keep) chunks.push(chunk);
    }
    if (bytes !== desc.size) throw sizeMismatch(expected, bytes);
    const actual = hash.digest('hex');
    if (actual !== encoded) throw digestMismatch(expected, `${algorithm}:${actual}`);
    if (keep && chunks.length > 0) this.keep(outcome, chunks, bytes);
  }

  private keep(outcome: BlobOutcome, chunks: Buffer[], size: number): void {
    if (this.kept + size > (this.opts.keepLimit ?? KEPT_DOCUMENTS_LIMIT)) {
      outcome.dropped = true;
      return;
    }
    this.kept += size;
    outcome.bytes = this.arena.copy(chunks, size);
  }
}

/**
 * Where kept documents live: copied end to end into 1 MiB slabs. The chunks a
 * document arrives in are views of the decompressor's larger buffers, and a
 * copy of each from Node's shared pool still pins a pool slab: either way, a
 * 1 KiB manifest kept several KiB alive, three times the documents' own size
 * at 50,000 manifests.
 */
class DocumentArena {
  private static readonly SLAB = 1024 * 1024;
  private slab = Buffer.alloc(0);
  private used = 0;

  copy(chunks: Buffer[], size: number): Buffer {
    if (size > DocumentArena.SLAB / 4) return Buffer.concat(chunks, size);
    if (this.used + size > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(DocumentArena.SLAB);
      this.used = 0;
    }
    const start = this.used;
    for (const chunk of chunks) {
      chunk.copy(this.slab, this.used);
      this.used += chunk.length;
    }
    return this.slab.subarray(start, this.used);
  }
}

/**
 * Put a blob into the layout unless it is there (then kept from gc for this
 * process); true when it was written. `content` verifies itself as it flows
 * (verifiedStream), so LayoutDir.push hashes it once, and errors name the entry.
 */
async function store(into: LayoutDir, desc: Descriptor, content: Readable): Promise<boolean> {
  if (await isRetained(into, desc)) {
    // Not written, but still read to its end and checked: a damaged archive is refused either way.
    await drainVerified(content);
    return false;
  }
  await into.push(desc, content);
  return true;
}

/**
 * Writes that run while the caller goes on, at most `n` at once. The first
 * failure is thrown to the next start() or to drained(); settled() waits for
 * every write whatever became of it.
 */
class WritesBehind {
  private readonly running = new Set<Promise<void>>();
  private failure?: { error: unknown };

  constructor(private readonly n: number) {}

  async start(write: () => Promise<void>): Promise<void> {
    this.throwFailure();
    while (this.running.size >= this.n) {
      await Promise.race(this.running);
      this.throwFailure();
    }
    const p: Promise<void> = write()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drained(): Promise<void> {
    await this.settled();
    this.throwFailure();
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A manifest, index or config is a JSON object: its first byte past any whitespace is `{`. */
function looksLikeJson(first: Buffer): boolean {
  for (const b of first) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b;
  }
  return false;
}
