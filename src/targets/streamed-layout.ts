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
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, OcikitError } from '../errors.js';
import { parseDigest } from '../digest/digest.js';
import { VerifyStream } from '../digest/verify-stream.js';
import { readTarStream, type StreamedEntry, type TarStreamOptions } from '../archive/tar-stream-reader.js';
import type { TrailingData } from '../archive/tar-end.js';
import { unsafeEntry } from '../archive/tar-scan.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { abilities, isRetained, type LayoutReadTarget, type ReferrersFilter } from '../graph/target.js';
import { INDEX_FILE, OCI_LAYOUT_FILE, type LayoutDir } from './layout-dir.js';
import { BLOB_ENTRY, INDEX_FILE_LIMIT, layoutIndexOf, SMALL_FILE_LIMIT, verifiedStream } from './layout-archive.js';
import { defaultInIndex, resolveInIndex, tagsOf } from './index-resolve.js';
import { LAYOUT_FILE_LIMIT, type FileListing, type LayoutFileEntry } from './file-listing.js';

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

export class StreamedLayout implements LayoutReadTarget, FileListing {
  readonly description: string;
  readonly abilities;
  private referrersMap?: Promise<Map<string, Descriptor[]>>;

  private constructor(
    private readonly source: string,
    private readonly index: ImageIndex,
    private readonly blobs: Map<string, BlobOutcome>,
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
    const { trailing } = await readTarStream(input, opts, (entry, body) => reader.take(entry, body));
    const files = reader.rootFiles;
    const index = await layoutIndexOf(opts.source, {
      ociLayout: files.has(OCI_LAYOUT_FILE) ? async () => files.get(OCI_LAYOUT_FILE)! : undefined,
      index: async () => files.get(INDEX_FILE),
      hint: reader.entries.some((e) => e.path === 'manifest.json') ? 'it looks like a docker save archive; ocikit reads those from a file, as docker-archive:FILE' : undefined,
    });
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
  readonly blobs = new Map<string, BlobOutcome>();
  readonly entries: LayoutFileEntry[] = [];
  readonly rootFiles = new Map<string, Buffer>();
  private readonly seen = new Set<string>();
  private kept = 0;

  constructor(private readonly opts: StreamedLayoutOptions) {}

  async take(entry: StreamedEntry, body: AsyncIterable<Buffer>): Promise<void> {
    if (entry.name === '') return;
    if (!this.seen.has(entry.name)) {
      this.seen.add(entry.name);
      this.entries.push({ path: entry.name, type: entry.type, size: entry.size });
    }
    if (entry.type !== 'file') return;
    if (entry.name === OCI_LAYOUT_FILE || entry.name === INDEX_FILE) return this.takeRootFile(entry, body);
    const m = BLOB_ENTRY.exec(entry.name);
    if (m) await this.takeBlob({ mediaType: MediaType.OctetStream, digest: `${m[1]}:${m[2]}`, size: entry.size }, entry.name, body);
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
      const store = into !== undefined && !(await isRetained(into, desc));
      if (store) {
        // Hashed once, by the verifying stream that LayoutDir.push recognises; renamed into place only when it matches.
        await into.push(desc, verifiedStream(Readable.from(body), desc, where));
      } else {
        // A document is kept whole; whether this is one shows in its first bytes, so a small layer is not held meanwhile.
        let keep = !into && desc.size <= MAX_DOCUMENT_SIZE;
        const chunks: Buffer[] = [];
        await pipeline(body, new VerifyStream({ digest: desc.digest, size: desc.size, source: where }), new Writable({
          write(chunk: Buffer, _enc, cb) {
            if (keep && chunks.length === 0) keep = looksLikeJson(chunk);
            if (keep) chunks.push(chunk);
            cb();
          },
        }));
        if (keep && chunks.length > 0) this.keep(outcome, Buffer.concat(chunks));
      }
      this.opts.onBlob?.(desc, store);
    } catch (err) {
      // Writing into a layout, a damaged blob ends the unpack; verifying, it is a finding about that blob.
      if (this.opts.into || !(err instanceof OcikitError)) throw err;
      outcome.error = err;
    }
    // A name stored twice: what one copy got wrong stays known.
    if (prior && !outcome.error && (prior.error || prior.size !== outcome.size)) return;
    this.blobs.set(desc.digest, outcome);
  }

  private keep(outcome: BlobOutcome, bytes: Buffer): void {
    if (this.kept + bytes.length > (this.opts.keepLimit ?? KEPT_DOCUMENTS_LIMIT)) {
      outcome.dropped = true;
      return;
    }
    this.kept += bytes.length;
    outcome.bytes = bytes;
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
