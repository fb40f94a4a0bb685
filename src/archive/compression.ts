/**
 * Compressed archives. A tar can be read in place only when it is not
 * compressed: gzip and zstd streams have no index, so reaching one blob
 * means decompressing everything before it.
 *
 * So a command that opens a compressed archive as a target (every read
 * command: ls, tags, resolve, manifest and blob fetch, referrers, discover,
 * inspect, diff, copy, serve) has it decompressed once, streaming, into a
 * temporary file, which is then read in place like any uncompressed archive:
 * one code path for all of them. Memory stays flat whatever the blob sizes
 * (the data goes to disk, never into a buffer), decompression happens once,
 * and every reader downstream gets the verified random access it already
 * knows. The temporary file is unlinked as soon as it is open, so it
 * disappears when ocikit exits, whatever way it exits; archive/spool.ts says
 * how it is bounded and cleaned up when ocikit is stopped while writing it.
 *
 * Whole-archive reads of a compressed stream (`unpack`, `verify`, and any
 * archive on stdin) need no random access and no spool: they read the tar
 * once, front to back (archive/tar-stream-reader.ts).
 */
import { tmpdir } from 'node:os';
import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { OcikitError } from '../errors.js';
import { ArchiveFile } from './archive-file.js';
import { spool } from './spool.js';

export type Compression = 'none' | 'gzip' | 'zstd';

/** What the first bytes of a file say about its compression. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** The compression a file name asks for when ocikit writes an archive. */
export function compressionForName(name: string): Compression {
  const lower = name.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'gzip';
  if (lower.endsWith('.tar.zst') || lower.endsWith('.tzst')) return 'zstd';
  return 'none';
}

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: () => Transform; createZstdCompress?: () => Transform };

/** Node gained zstd in zlib in v22.15/v23.8; on older Nodes a .tar.zst is refused clearly. */
export function zstdAvailable(): boolean {
  return typeof (zlib as ZlibWithZstd).createZstdDecompress === 'function';
}

function zstdUnsupported(file: string): OcikitError {
  return new OcikitError('UNSUPPORTED', `${file} is zstd-compressed, and this Node.js (${process.version}) has no zstd support`, {
    path: file,
    hint: 'decompress it first (zstd -d FILE) or run ocikit on Node.js 22.15 or later',
  });
}

export function decompressor(kind: Exclude<Compression, 'none'>, file: string): Transform {
  if (kind === 'gzip') return zlib.createGunzip();
  const z = zlib as ZlibWithZstd;
  if (!z.createZstdDecompress) throw zstdUnsupported(file);
  return z.createZstdDecompress();
}

export function compressor(kind: Exclude<Compression, 'none'>, file: string): Transform {
  if (kind === 'gzip') return zlib.createGzip();
  const z = zlib as ZlibWithZstd;
  if (!z.createZstdCompress) throw zstdUnsupported(file);
  return z.createZstdCompress();
}

export interface SpoolOptions {
  /** Where the decompressed copy goes (default: the system temp directory). */
  spoolDir?: string;
  /** The most the decompressed copy may hold (default: archive/spool.ts spoolLimit, which reads OCIKIT_SPOOL_LIMIT). */
  spoolLimit?: number;
}

/**
 * Open an archive for random access: the file itself when it is an
 * uncompressed tar, else a decompressed temporary copy.
 */
export async function openArchiveFile(file: string, opts: SpoolOptions = {}): Promise<{ archive: ArchiveFile; compression: Compression }> {
  const original = await ArchiveFile.open(file);
  const compression = detectCompression(await original.read(0, 4));
  if (compression === 'none') return { archive: original, compression };
  try {
    if (compression === 'zstd' && !zstdAvailable()) throw zstdUnsupported(file);
    // Decompressed from the descriptor already open: the very file whose first bytes were read.
    const request = { file, compression, compressedSize: original.size, input: original.stream(0, original.size), decompress: decompressor(compression, file) };
    return { archive: await spool({ ...request, dir: opts.spoolDir ?? tmpdir(), limit: opts.spoolLimit }), compression };
  } finally {
    await original.close();
  }
}

/** A compressed archive file opened to be read whole, front to back (archive/tar-stream-reader.ts). */
export interface ArchiveFileStream {
  input: Readable;
  compressedSize: number;
  close(): Promise<void>;
}

/**
 * A compressed archive to read as a stream: whole-archive reads (unpack,
 * verify) need no random access, so no spool either. Undefined for an
 * uncompressed tar, which is read in place instead.
 */
export async function compressedArchiveStream(file: string): Promise<ArchiveFileStream | undefined> {
  const archive = await ArchiveFile.open(file);
  try {
    const compression = detectCompression(await archive.read(0, 4));
    if (compression === 'none') {
      await archive.close();
      return undefined;
    }
    if (compression === 'zstd' && !zstdAvailable()) throw zstdUnsupported(file);
    return { input: archive.stream(0, archive.size), compressedSize: archive.size, close: () => archive.close() };
  } catch (err) {
    await archive.close();
    throw err;
  }
}
