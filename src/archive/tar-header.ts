/**
 * Encoding tar headers for the archives ocikit writes (POSIX ustar, with a
 * PAX extended header when a name does not fit). Pure: bytes in, bytes out.
 *
 * Written here rather than through tar-stream's pack stream because the
 * archive writer copies blob bytes with positional writes from reused
 * buffers (see archive-writer.ts), and tar-stream only offers a stream that
 * takes ownership of every chunk. The field layout follows what tar-stream
 * wrote in earlier ocikit versions (octal fields zero-padded and ended by a
 * space, a `PaxHeader` entry for long names, base-256 sizes past 8 GiB), so
 * archives packed by this version are byte-identical to those.
 */

export const TAR_BLOCK = 512;

export interface TarEntryHeader {
  name: string;
  type: 'file' | 'directory';
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
}

const NAME_MAX = 100;
const PREFIX_MAX = 155;
const TYPEFLAG = { file: '0', directory: '5', pax: 'x' } as const;

/** The header block(s) for one entry: 512 bytes, or a PAX header, its records and then the ustar block. */
export function encodeTarHeader(entry: TarEntryHeader): Buffer {
  const split = splitName(entry.name);
  if (split) return ustarBlock(entry, TYPEFLAG[entry.type], entry.size, split.name, split.prefix);
  const records = Buffer.from(paxRecord('path', entry.name));
  const paxHeader = ustarBlock(entry, TYPEFLAG.pax, records.length, 'PaxHeader', '');
  const body = Buffer.alloc(paddedSize(records.length));
  records.copy(body);
  return Buffer.concat([paxHeader, body, ustarBlock(entry, TYPEFLAG[entry.type], entry.size, 'PaxHeader', '')]);
}

/** The end of an archive: two zero blocks. */
export const TAR_TRAILER = Buffer.alloc(2 * TAR_BLOCK);

/** Size rounded up to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/** Zero bytes that complete the last block of `size` bytes of content. */
export function paddingFor(size: number): Buffer {
  return Buffer.alloc(paddedSize(size) - size);
}

/** ustar keeps a long name as prefix + "/" + name; undefined when it cannot (then PAX carries it). */
function splitName(full: string): { name: string; prefix: string } | undefined {
  // Non-ASCII names go through PAX, which is defined as UTF-8; ustar fields have no encoding.
  if (!/^[\x20-\x7e]*$/.test(full)) return undefined;
  if (full.length <= NAME_MAX) return { name: full, prefix: '' };
  // The first "/" from which the rest fits in the name field (a trailing "/" of a directory stays in the name).
  for (let i = full.indexOf('/'); i !== -1 && i < full.length - 1; i = full.indexOf('/', i + 1)) {
    const prefix = full.slice(0, i);
    const name = full.slice(i + 1);
    if (prefix.length > PREFIX_MAX) return undefined;
    if (name.length <= NAME_MAX) return { name, prefix };
  }
  return undefined;
}

function ustarBlock(entry: TarEntryHeader, typeflag: string, size: number, name: string, prefix: string): Buffer {
  const block = Buffer.alloc(TAR_BLOCK);
  block.write(name, 0, 'latin1');
  block.write(octal(entry.mode & 0o7777, 6), 100, 'latin1');
  block.write(octal(0, 6), 108, 'latin1'); // uid
  block.write(octal(0, 6), 116, 'latin1'); // gid
  writeSize(block, size);
  block.write(octal(Math.floor(entry.mtime), 11), 136, 'latin1');
  block.write(typeflag, 156, 'latin1');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  // uname and gname (265, 297) stay empty: no names of this machine in the archive.
  block.write(octal(0, 6), 329, 'latin1'); // devmajor
  block.write(octal(0, 6), 337, 'latin1'); // devminor
  if (prefix) block.write(prefix, 345, 'latin1');
  // The checksum is computed with its own field counted as eight spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  block.write(octal(sum, 6), 148, 'latin1');
  return block;
}

/** `digits` octal digits, zero-padded, then a space (the field's last byte stays NUL). */
function octal(value: number, digits: number): string {
  const s = value.toString(8);
  if (s.length > digits) throw new RangeError(`${value} does not fit in a ${digits}-digit tar field`);
  return `${s.padStart(digits, '0')} `;
}

/** Sizes up to 8 GiB - 1 in octal; larger ones in GNU base-256 (high bit set, big-endian in the remaining 11 bytes). */
function writeSize(block: Buffer, size: number): void {
  if (size < 8 ** 11) {
    block.write(octal(size, 11), 124, 'latin1');
    return;
  }
  block[124] = 0x80;
  let rest = size;
  for (let i = 135; i > 124; i--) {
    block[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** One PAX record: "<length> <key>=<value>\n", where length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length = bodyLength + String(length).length;
  return `${length}${body}`;
}
