/**
 * An OCI image layout packed in a tar, read in place.
 *
 * Opening scans the tar's headers once (see archive/tar-scan.ts), then reads
 * `oci-layout` and `index.json` at their offsets. A blob is served by
 * streaming its byte range of the file through a VerifyStream, so reads are
 * verified exactly as for a layout directory, and nothing is ever extracted.
 * Entry order does not matter (index.json first or last), nor `./` prefixes,
 * directory entries or extra files (`manifest.json`, `repositories`).
 *
 * A compressed archive is decompressed once into a temporary file, which is
 * then read in place the same way (archive/compression.ts).
 */
import type { Readable } from 'node:stream';
import { NotFoundError, OcikitError } from '../errors.js';
import { parseDigest } from '../digest/digest.js';
import { VerifyStream } from '../digest/verify-stream.js';
import { VerifiedFileRange } from '../fs/file-range.js';
import { openArchiveFile, type SpoolOptions } from '../archive/compression.js';
import { TarIndex } from '../archive/tar-index.js';
import type { TrailingData, TrailingDataSource } from '../archive/tar-end.js';
import type { TarEntry } from '../archive/tar-scan.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { checkOciLayoutFile } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { INDEX_FILE, indexNotUtf8, OCI_LAYOUT_FILE, parseIndexText } from './layout-dir.js';
import { defaultInIndex, resolveInIndex, tagsOf } from './index-resolve.js';
import { abilities, type LayoutReadTarget, type ReferrersFilter } from '../graph/target.js';
import { LAYOUT_FILE_LIMIT, type FileListing, type LayoutFileEntry } from './file-listing.js';

/** oci-layout is a line of JSON. */
export const SMALL_FILE_LIMIT = 64 * 1024;
/** index.json may list tens of thousands of entries. */
export const INDEX_FILE_LIMIT = MAX_DOCUMENT_SIZE * 16;
export const BLOB_ENTRY = /^blobs\/([a-z0-9]+(?:[+._-][a-z0-9]+)*)\/([a-zA-Z0-9=_-]+)$/;

export type LayoutArchiveOptions = SpoolOptions;

export class LayoutArchive implements LayoutReadTarget, FileListing, TrailingDataSource {
  readonly path: string;
  readonly description: string;

  get location(): string {
    return this.path;
  }

  readonly abilities = abilities('read-index', 'default-image', 'list-files', 'trailing-data');
  private readonly tar: TarIndex;
  private readonly index: ImageIndex;
  private referrersMap?: Promise<Map<string, Descriptor[]>>;

  private constructor(tar: TarIndex, index: ImageIndex) {
    this.tar = tar;
    this.path = tar.path;
    this.description = `archive ${tar.path}`;
    this.index = index;
  }

  static async open(file: string, opts: LayoutArchiveOptions = {}): Promise<LayoutArchive> {
    const { archive } = await openArchiveFile(file, opts);
    try {
      return await LayoutArchive.fromTar(await TarIndex.build(archive));
    } catch (err) {
      await archive.close();
      throw err;
    }
  }

  /** A layout held by an already scanned tar (a Docker 25+ `docker save` archive is one). */
  static async fromTar(tar: TarIndex): Promise<LayoutArchive> {
    const layoutEntry = tar.lookup(OCI_LAYOUT_FILE);
    const indexEntry = tar.lookup(INDEX_FILE);
    const index = await layoutIndexOf(tar.path, {
      ociLayout: layoutEntry && (() => tar.readSmall(layoutEntry, SMALL_FILE_LIMIT, OCI_LAYOUT_FILE)),
      index: async () => {
        if (!indexEntry) return undefined;
        const text = await tar.readText(indexEntry, INDEX_FILE_LIMIT, INDEX_FILE);
        if (text === undefined) throw indexNotUtf8(tar.path, tar.path);
        return text;
      },
      hint: tar.has('manifest.json') ? `it looks like a docker save archive; read it as docker-archive:${tar.path}` : undefined,
    });
    // A blob stored as a link must lead to a file inside the archive: refused now, not when read.
    for (const name of tar.names()) if (BLOB_ENTRY.test(name)) tar.lookup(name);
    return new LayoutArchive(tar, index);
  }

  /** The archive cannot change under us: one parse serves every caller (read-only, see IndexReader). */
  async readIndex(): Promise<ImageIndex> {
    return this.index;
  }

  /** Digests of every blob the archive holds (for unpack, verify and delta checks). */
  blobDigests(): string[] {
    const out: string[] = [];
    for (const name of this.tar.names()) {
      const m = BLOB_ENTRY.exec(name);
      if (m && this.tar.lookup(name)) out.push(`${m[1]}:${m[2]}`);
    }
    return out;
  }

  /**
   * The file holding a blob, found by its entry name when asked: the tar's
   * own table already has every entry, and a second map by digest was
   * 100,000 keys for a layout of 50,000 manifests. A digest that does not
   * make a blob entry name (`..`, `/`) names no blob.
   */
  private blobEntry(digest: string): TarEntry | undefined {
    const colon = digest.indexOf(':');
    const name = `blobs/${digest.slice(0, colon)}/${digest.slice(colon + 1)}`;
    return colon > 0 && BLOB_ENTRY.test(name) ? this.tar.lookup(name) : undefined;
  }

  /**
   * Every blob the archive holds, in the order its entries lie in the tar:
   * an archive rewritten by an edit keeps the order it had (archive-editor.ts).
   */
  storedBlobs(): Descriptor[] {
    return this.blobDigests()
      .map((digest) => ({ digest, entry: this.blobEntry(digest)! }))
      .sort((a, b) => a.entry.offset - b.entry.offset)
      .map(({ digest, entry }) => ({ mediaType: MediaType.OctetStream, digest, size: entry.size }));
  }

  private entryFor(digest: string): TarEntry {
    const entry = this.blobEntry(digest);
    if (!entry) throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, path: this.path });
    return entry;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    parseDigest(desc.digest);
    const entry = this.entryFor(desc.digest);
    if (entry.size !== desc.size) {
      throw new OcikitError('SIZE_MISMATCH', `size mismatch for ${desc.digest} in ${this.description}: expected ${desc.size} bytes, the archive entry has ${entry.size}`, {
        path: this.path,
        digest: desc.digest,
        expected: desc.size,
        actual: entry.size,
      });
    }
    return new VerifiedFileRange(this.tar.range(entry), { digest: desc.digest, size: desc.size, source: `${this.path}:${entry.name}` });
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobEntry(desc.digest)?.size === desc.size;
  }

  async statBlob(digest: string): Promise<Descriptor> {
    parseDigest(digest);
    return { mediaType: MediaType.OctetStream, digest, size: this.entryFor(digest).size };
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
    // The archive cannot change under us: one walk serves every query.
    this.referrersMap ??= buildReferrersMap(this);
    yield* filterReferrers(lookupReferrers(await this.referrersMap, subject.digest), filter);
  }

  async close(): Promise<void> {
    await this.tar.close();
  }

  /** Every entry of the archive (verify: unreferenced blobs, stray files). */
  async *listFiles(): AsyncIterable<LayoutFileEntry> {
    for (const name of this.tar.names()) {
      const e = this.tar.entry(name);
      if (!e || name === '') continue;
      const type = e.type === 'file' ? 'file' : e.type === 'directory' ? 'directory' : e.type === 'symlink' ? 'symlink' : 'other';
      yield { path: name, type, size: e.type === 'file' ? e.size : 0 };
    }
  }

  /** Data after the tar's end-of-archive marker, which no entry covers (verify warns of it). */
  trailingData(): TrailingData | undefined {
    return this.tar.trailing;
  }

  async readLayoutFile(name: string, limit = LAYOUT_FILE_LIMIT): Promise<Buffer | undefined> {
    const entry = this.tar.lookup(name);
    return entry ? this.tar.readSmall(entry, limit, name) : undefined;
  }
}

/**
 * A layout archive's two files at its root, read when asked: oci-layout first
 * (a tar that is no layout is refused for that, whatever else it holds), then
 * index.json. Undefined for a file the archive does not have.
 */
export interface LayoutFiles {
  ociLayout: (() => Promise<Buffer>) | undefined;
  /** index.json's text (a reader refuses bytes that are not UTF-8 with indexNotUtf8). */
  index: () => Promise<string | undefined>;
  /** Why the archive may lack oci-layout (a docker save archive). */
  hint?: string;
}

/**
 * The index of a layout archive, once its `oci-layout` file is checked:
 * INVALID_LAYOUT when either file is missing or wrong. Shared by the
 * in-place reader and the streamed one (targets/streamed-layout.ts).
 */
export async function layoutIndexOf(where: string, files: LayoutFiles): Promise<ImageIndex> {
  if (!files.ociLayout) throw new OcikitError('INVALID_LAYOUT', `not an OCI layout archive: ${where} has no oci-layout file`, { path: where, hint: files.hint });
  let layoutDoc: unknown;
  try {
    layoutDoc = JSON.parse((await files.ociLayout()).toString('utf8'));
  } catch (err) {
    throw new OcikitError('INVALID_LAYOUT', `invalid oci-layout file in ${where}: ${(err as Error).message}`, { path: where, cause: err });
  }
  const problems = checkOciLayoutFile(layoutDoc);
  if (problems.length > 0) throw new OcikitError('INVALID_LAYOUT', `invalid oci-layout file in ${where}: ${problems[0]!.message}`, { path: where });
  const text = await files.index();
  if (text === undefined) throw new OcikitError('INVALID_LAYOUT', `not an OCI layout archive: ${where} has no index.json`, { path: where });
  return parseIndexText(text, where);
}

/** Pipe an unverified byte stream through a VerifyStream for `desc`, propagating source errors. */
export function verifiedStream(source: Readable, desc: Descriptor, where: string): Readable {
  const verify = new VerifyStream({ digest: desc.digest, size: desc.size, source: where });
  source.on('error', (err) => verify.destroy(err));
  verify.on('close', () => source.destroy());
  // A small blob can flow through and fail verification before its consumer
  // attaches (LayoutDir.push checks the layout first). The error stays on the
  // stream (`errored`), where pipeline() finds it; without this listener it
  // would be thrown as an unhandled 'error' event meanwhile.
  verify.on('error', () => undefined);
  return source.pipe(verify);
}

