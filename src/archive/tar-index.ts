/**
 * The entries of a scanned tar, by name, with reads of their bytes in place.
 *
 * Tar allows a name to appear twice (the later entry wins when extracting).
 * An archive that says two different things under one name is refused: the
 * copies must be byte-identical, which is checked once, after the scan, for
 * duplicates only. Links (allowed only for docker archives) must stay inside
 * the archive; they are resolved here and never created on disk.
 */
import type { FileRange } from '../fs/file-range.js';
import { readUtf8 } from '../fs/chunked-text.js';
import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import type { ArchiveFile } from './archive-file.js';
import { normalizeEntryName, scanTar, unsafeEntry, type ScanOptions, type TarEntry } from './tar-scan.js';
import { trailingDataInFile, type TrailingData } from './tar-end.js';
import { EntryTable } from './entry-table.js';

const MAX_LINK_HOPS = 32;
const COMPARE_CHUNK = 1024 * 1024;

export class TarIndex {
  readonly file: ArchiveFile;
  private readonly entries = new EntryTable();
  /** Resolved (archive-relative, normalized) target of each link. */
  private readonly linkTargets = new Map<string, string>();
  /** What follows the end-of-archive marker and its padding (archive/tar-end.ts). */
  trailing?: TrailingData;

  private constructor(file: ArchiveFile) {
    this.file = file;
  }

  get path(): string {
    return this.file.path;
  }

  static async build(file: ArchiveFile, opts: ScanOptions = {}): Promise<TarIndex> {
    const index = new TarIndex(file);
    const duplicates: Array<[TarEntry, TarEntry]> = [];
    let marker = 0;
    for await (const entry of scanTar(file, { ...opts, onEnd: (at) => (marker = at) })) {
      const prior = index.entries.get(entry.name);
      if (prior) {
        if (prior.type === 'directory' && entry.type === 'directory') continue;
        if (prior.type !== entry.type || prior.size !== entry.size || prior.linkname !== entry.linkname) {
          throw unsafeEntry(file.path, `entry ${JSON.stringify(entry.name)} appears twice with different content`);
        }
        if (entry.type === 'file' && entry.size > 0) duplicates.push([prior, entry]);
        continue;
      }
      index.entries.add(entry);
      if (entry.type === 'symlink' || entry.type === 'hardlink') index.linkTargets.set(entry.name, resolveLinkTarget(file.path, entry));
    }
    for (const [a, b] of duplicates) {
      if (!(await index.sameContent(a, b))) throw unsafeEntry(file.path, `entry ${JSON.stringify(a.name)} appears twice with different content`);
    }
    // A spool already knows (it stopped decompressing there); a plain tar is looked at past its marker.
    index.trailing = file.cut ? file.cut.trailing : await trailingDataInFile(file, marker);
    return index;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Every entry name, in archive order. */
  names(): Iterable<string> {
    return this.entries.names();
  }

  /** The entry stored under `name` itself (a link stays a link). */
  entry(name: string): TarEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * The regular file `name` means, following links inside the archive.
   * Undefined when there is no such entry or it is a directory.
   */
  lookup(name: string): TarEntry | undefined {
    let current = name;
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const e = this.entries.get(current);
      if (!e) {
        if (current === name) return undefined;
        throw unsafeEntry(this.file.path, `link ${JSON.stringify(name)} points to ${JSON.stringify(current)}, which is not in the archive`);
      }
      if (e.type === 'file') return e;
      if (e.type === 'directory') return undefined;
      current = this.linkTargets.get(current)!;
    }
    throw unsafeEntry(this.file.path, `link ${JSON.stringify(name)} is part of a loop or a chain of more than ${MAX_LINK_HOPS} links`);
  }

  /** An entry's bytes, refusing entries above `limit` (documents: index.json, manifests, configs). */
  async readSmall(entry: TarEntry, limit: number, what: string): Promise<Buffer> {
    this.checkSmall(entry, limit, what);
    return this.file.read(entry.offset, entry.size);
  }

  private checkSmall(entry: TarEntry, limit: number, what: string): void {
    if (entry.size > limit) {
      throw new OcikitError('MANIFEST_TOO_LARGE', `${what} in ${this.file.path} is ${entry.size} bytes; more than ${limit} is refused`, {
        path: this.file.path,
        expected: limit,
        actual: entry.size,
      });
    }
  }

  /** An entry's UTF-8 text, read in chunks (fs/chunked-text.ts says why); undefined when it is not UTF-8. */
  async readText(entry: TarEntry, limit: number, what: string): Promise<string | undefined> {
    this.checkSmall(entry, limit, what);
    return readUtf8(entry.size, (position, length) => this.file.read(entry.offset + position, length));
  }

  /** An entry's byte range, for a verified read (fs/file-range.ts). */
  range(entry: TarEntry): FileRange {
    return this.file.range(entry.offset, entry.size);
  }

  /** An entry's bytes as a stream, unverified: for content whose digest is not known yet. */
  stream(entry: TarEntry): Readable {
    return this.file.stream(entry.offset, entry.size);
  }

  close(): Promise<void> {
    return this.file.close();
  }

  private async sameContent(a: TarEntry, b: TarEntry): Promise<boolean> {
    for (let done = 0; done < a.size; done += COMPARE_CHUNK) {
      const n = Math.min(COMPARE_CHUNK, a.size - done);
      const [x, y] = await Promise.all([this.file.read(a.offset + done, n), this.file.read(b.offset + done, n)]);
      if (!x.equals(y)) return false;
    }
    return true;
  }
}

/**
 * Where a link points, as an archive-relative name. A symlink's target is
 * relative to the link's directory (docker save writes `<id>/layer.tar ->
 * ../<hex>.tar`); a hard link's is relative to the archive root. Anything
 * absolute or climbing out of the archive is refused.
 */
function resolveLinkTarget(archive: string, entry: TarEntry): string {
  const link = entry.linkname ?? '';
  const what = `${entry.type === 'symlink' ? 'symbolic' : 'hard'} link ${JSON.stringify(entry.name)} -> ${JSON.stringify(link)}`;
  if (link === '' || link.includes('\0')) throw unsafeEntry(archive, `${what} has an empty or invalid target`);
  if (link.startsWith('/')) throw unsafeEntry(archive, `${what} points to an absolute path, outside the archive`);
  const joined = entry.type === 'symlink' ? path.join(path.dirname(entry.name), link) : path.normalize(link);
  const normalized = normalizeEntryName(joined);
  if ('problem' in normalized || joined.startsWith('..')) throw unsafeEntry(archive, `${what} points outside the archive`);
  return normalized.name;
}
