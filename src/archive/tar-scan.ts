/**
 * Scan an uncompressed tar by its headers alone: read a 512-byte header,
 * compute where the next one starts from the entry's size, seek there. Entry
 * data is never read (except the small bodies of PAX and GNU long-name
 * headers), so opening a 10 GiB archive costs about as much as a small one.
 *
 * Understands ustar, POSIX PAX (`path`, `linkpath`, `size`), GNU tar (`L`/`K`
 * long names, base-256 sizes) and old v7 headers, names with or without a
 * leading `./`, with or without directory entries.
 *
 * Safety: every name is checked as it is read. Absolute names, `..`
 * components and NUL bytes are refused wherever they appear, as are devices,
 * FIFOs, sparse files and any entry type other than regular files and
 * directories; links are refused unless the caller resolves them itself
 * (docker archives link their own entries). A header with a bad checksum, a
 * size that runs past the end of the file, or an archive that ends before its
 * end-of-archive marker is refused too. All of these are UNSAFE_ARCHIVE_ENTRY.
 */
import { OcikitError } from '../errors.js';
import type { ArchiveFile } from './archive-file.js';

export const TAR_BLOCK = 512;
/** PAX and GNU long-name bodies are names and a few numbers; anything bigger is not a tar we want. */
export const MAX_META_SIZE = 1024 * 1024;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink';

export interface TarEntry {
  /** Normalized: no leading `./` or `/`-runs, no trailing `/`, no `.` components. */
  name: string;
  type: TarEntryType;
  /** Offset of the entry's data in the archive. */
  offset: number;
  size: number;
  /** Links only: the target as written in the archive. */
  linkname?: string;
  /** Offset of the entry's (first) header, for messages. */
  headerOffset: number;
}

export interface ScanOptions {
  /** Yield symlinks and hard links instead of refusing them (the caller resolves them inside the archive). */
  allowLinks?: boolean;
  /** Told the offset of the end-of-archive marker once the scan reaches it (archive/tar-end.ts looks past it). */
  onEnd?: (markerOffset: number) => void;
}

export function unsafeEntry(archive: string, message: string, hint?: string): OcikitError {
  return new OcikitError('UNSAFE_ARCHIVE_ENTRY', `refusing archive ${archive}: ${message}`, { path: archive, hint });
}

/**
 * Normalize an entry name, or explain why it is unsafe. Returns '' for the
 * archive root (`./`). Never used to build a path on disk: ocikit writes
 * blobs under their digests, so this only decides what an entry means.
 */
export function normalizeEntryName(raw: string): { name: string } | { problem: string } {
  if (raw.includes('\0')) return { problem: 'a name contains a NUL byte' };
  if (raw.startsWith('/')) return { problem: `absolute path ${JSON.stringify(raw)}` };
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return { problem: `path ${JSON.stringify(raw)} has a ".." component` };
    parts.push(part);
  }
  return { name: parts.join('/') };
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** A NUL-terminated string field. */
function field(b: Buffer, start: number, length: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/** An octal number field (space or NUL padded), or GNU base-256 when the high bit of the first byte is set. */
function numeric(b: Buffer, start: number, length: number): number | undefined {
  if (b[start]! & 0x80) {
    if (b[start] === 0xff) return undefined; // negative: never a valid size
    let n = b[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + b[i]!;
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const text = field(b, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

function checksumOk(b: Buffer): boolean {
  const stored = numeric(b, 148, 8);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

/**
 * The type flag and data size a header block declares, or undefined when it
 * is no valid header (bad checksum or size field). The streaming end finder
 * (archive/tar-end.ts) reads headers with it, so that it and scanTar agree
 * on where every entry lies.
 */
export function headerSpan(header: Buffer): { typeflag: string; size: number } | undefined {
  if (!checksumOk(header)) return undefined;
  const size = numeric(header, 124, 12);
  return size === undefined ? undefined : { typeflag: String.fromCharCode(header[156]!), size };
}

/** The `size` record of a PAX header: undefined when absent, NaN when it is not a whole number. */
export function paxSizeOf(records: Map<string, string>): number | undefined {
  const s = records.get('size');
  if (s === undefined) return undefined;
  return /^\d+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : NaN;
}

/** PAX records: "LEN key=value\n", LEN counting the whole record. */
export function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // padding
    const space = body.indexOf(0x20, pos);
    const len = space > pos ? Number(body.toString('latin1', pos, space)) : NaN;
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw new Error('malformed PAX record');
    }
    const record = body.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new Error('malformed PAX record');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** PAX (`x`, `g`) and GNU long-name (`L`, `K`) headers describe the next entry; their own size is never overridden. */
export function isMetaHeader(typeflag: string): boolean {
  return typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K';
}

const TYPE_NAMES: Record<string, string> = {
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
  S: 'GNU sparse file',
  V: 'volume label',
  M: 'multi-volume continuation',
  D: 'GNU dump directory',
};

/**
 * Yield every file, directory (and, with `allowLinks`, link) entry of the
 * archive, in archive order. Throws UNSAFE_ARCHIVE_ENTRY as soon as
 * something is wrong; nothing is yielded for the bad entry.
 */
export async function* scanTar(file: ArchiveFile, opts: ScanOptions = {}): AsyncGenerator<TarEntry> {
  const where = file.path;
  const fail = (msg: string, hint?: string): never => {
    throw unsafeEntry(where, msg, hint);
  };
  let pos = 0;
  // Overrides from PAX / GNU headers, applying to the next real entry.
  let paxPath: string | undefined;
  let paxLink: string | undefined;
  let paxSize: number | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;

  const readBody = async (offset: number, size: number, what: string): Promise<Buffer> => {
    if (size > MAX_META_SIZE) fail(`${what} at offset ${offset} is ${size} bytes (more than ${MAX_META_SIZE})`);
    const body = await file.readSmall(offset, size);
    if (body.length < size) fail(`the archive ends inside the ${what} at offset ${offset}`, 'the file is truncated');
    return body;
  };

  for (;;) {
    const header = await file.readSmall(pos, TAR_BLOCK);
    if (header.length < TAR_BLOCK) {
      if (pos === 0 && header.length === 0) fail('the file is empty');
      fail(
        header.length === 0 ? `it ends at offset ${pos} without an end-of-archive marker` : `it ends inside the header at offset ${pos}`,
        'the file is truncated; copy or download it again',
      );
    }
    if (isZeroBlock(header)) {
      if (paxPath !== undefined || longName !== undefined) fail(`a PAX or GNU long-name header at offset ${pos - TAR_BLOCK} is followed by no entry`);
      opts.onEnd?.(pos);
      return;
    }
    if (!checksumOk(header)) {
      fail(pos === 0 ? 'it is not a tar archive (bad header checksum at offset 0)' : `bad header checksum at offset ${pos}`, 'the file is corrupt or not a tar');
    }
    const span = headerSpan(header);
    if (span === undefined) return fail(`invalid size field in the header at offset ${pos}`);
    const { typeflag, size: headerSize } = span;
    const dataOffset = pos + TAR_BLOCK;
    const size = isMetaHeader(typeflag) ? headerSize : paxSize ?? headerSize;
    if (dataOffset + size > file.size) {
      fail(`the entry at offset ${pos} declares ${size} bytes but the file ends ${file.size - dataOffset} bytes later`, 'the file is truncated');
    }
    const next = dataOffset + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;

    switch (typeflag) {
      case 'x': {
        let records: Map<string, string>;
        try {
          records = parsePax(await readBody(dataOffset, size, 'PAX header'));
        } catch (err) {
          if (err instanceof OcikitError) throw err;
          return fail(`malformed PAX header at offset ${pos}`);
        }
        for (const key of records.keys()) if (key.startsWith('GNU.sparse.')) fail(`the entry after offset ${pos} is a sparse file, which ocikit does not read`);
        paxPath = records.get('path') ?? paxPath;
        paxLink = records.get('linkpath') ?? paxLink;
        const s = paxSizeOf(records);
        if (s !== undefined) {
          if (Number.isNaN(s)) fail(`invalid PAX size ${JSON.stringify(records.get('size'))} at offset ${pos}`);
          paxSize = s;
        }
        pos = next;
        continue;
      }
      case 'g':
        // Global PAX headers (git archive writes a comment) carry nothing a layout needs.
        pos = next;
        continue;
      case 'L':
        longName = field(await readBody(dataOffset, size, 'GNU long name'), 0, size);
        pos = next;
        continue;
      case 'K':
        longLink = field(await readBody(dataOffset, size, 'GNU long link name'), 0, size);
        pos = next;
        continue;
    }

    const ustar = header.toString('latin1', 257, 263) === 'ustar\0';
    const prefix = ustar ? field(header, 345, 155) : '';
    const rawName = paxPath ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const rawLink = paxLink ?? longLink ?? field(header, 157, 100);
    paxPath = paxLink = paxSize = longName = longLink = undefined;

    const normalized = normalizeEntryName(rawName);
    if ('problem' in normalized) fail(normalized.problem);
    const name = (normalized as { name: string }).name;
    const display = JSON.stringify(rawName);

    let type: TarEntryType;
    switch (typeflag) {
      case '0':
      case '\0':
      case '7':
        type = rawName.endsWith('/') && typeflag === '\0' ? 'directory' : 'file'; // v7 tars mark directories by a trailing slash
        break;
      case '5':
        type = 'directory';
        break;
      case '1':
      case '2': {
        type = typeflag === '1' ? 'hardlink' : 'symlink';
        if (!opts.allowLinks) fail(`entry ${display} is a ${type === 'hardlink' ? 'hard link' : 'symbolic link'}; layout archives hold only files and directories`);
        break;
      }
      default:
        return fail(`entry ${display} is a ${TYPE_NAMES[typeflag] ?? `tar entry of type ${JSON.stringify(typeflag)}`}; only regular files and directories are accepted`);
    }
    if (name === '' && type !== 'directory') fail(`an entry of type ${type} has an empty name`);

    const entry: TarEntry = { name, type, offset: dataOffset, size: type === 'file' ? size : 0, headerOffset: pos };
    if (type === 'symlink' || type === 'hardlink') entry.linkname = rawLink;
    pos = next;
    if (name !== '') yield entry;
  }
}
