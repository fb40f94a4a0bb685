/**
 * The spool: a compressed archive decompressed once into a temporary file,
 * to be read in place like any tar (see archive/compression.ts for why).
 *
 * What a hostile or damaged archive could do to it, and what stops that:
 * - Gigabytes of zeros after the tar's end (a gzip bomb: 3 MB on disk, 3 GB
 *   spooled) — decompression stops at the end-of-archive marker and its
 *   record padding (archive/tar-end.ts); what follows is reported as trailing
 *   data and never decompressed further.
 * - Gigabytes inside an entry — the spool is bounded (spoolLimit): past the
 *   limit it is removed and the command fails with LIMIT_EXCEEDED.
 * - Ctrl-C or SIGTERM halfway — the spool is a tracked temp file
 *   (fs/temp-files.ts) that the CLI's signal handler removes.
 * - SIGKILL halfway — its name carries the pid, and the next spool made in
 *   that directory removes spools of processes that no longer run.
 * Once complete, the spool is opened and at once unlinked: reads go through
 * the descriptor, and the space is freed when it closes, however ocikit ends.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { OcikitError, UsageError } from '../errors.js';
import { parseByteSize } from '../util/byte-size.js';
import { FileSink } from '../fs/byte-sink.js';
import { removeLeftoverTempFiles, tempFileName, trackTempFile, untrackTempFile } from '../fs/temp-files.js';
import { ArchiveFile } from './archive-file.js';
import { TarEndFinder } from './tar-end.js';

/** Environment variable with the spool limit in bytes (suffixes K, M, G, T: powers of 1024). */
export const SPOOL_LIMIT_ENV = 'OCIKIT_SPOOL_LIMIT';
/**
 * Default limit: 100 times the compressed size, and never below 256 MiB.
 * Layouts hold layers that are compressed already (ratio near 1); a docker
 * save of uncompressed layers reaches 3 to 10; a spool 100 times larger than
 * its archive is a bomb far more often than an image.
 */
const SPOOL_RATIO = 100;
export const SPOOL_MIN_LIMIT = 256 * 1024 * 1024;

/** The most a spool of an archive of `compressedSize` bytes may hold: $OCIKIT_SPOOL_LIMIT, else the default above. */
export function spoolLimit(compressedSize: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[SPOOL_LIMIT_ENV];
  if (raw !== undefined && raw !== '') {
    const n = parseByteSize(raw);
    if (n === undefined || n <= 0) throw new UsageError(`${SPOOL_LIMIT_ENV} must be a size in bytes such as 4G or 512M, got ${JSON.stringify(raw)}`);
    return n;
  }
  return Math.max(SPOOL_MIN_LIMIT, SPOOL_RATIO * compressedSize);
}

export interface SpoolRequest {
  /** The compressed archive's name, for messages. */
  file: string;
  /** Its bytes. */
  input: Readable;
  /** Its compression, for messages. */
  compression: string;
  /** Its size on disk, for the default limit. */
  compressedSize: number;
  /** A decompressor for it. */
  decompress: Transform;
  /** The directory the spool goes to. */
  dir: string;
  /** Bytes the spool may hold (default: spoolLimit). */
  limit?: number;
}

/** Decompress `file` into a spool in `dir`, up to the tar's end, and open it. */
export async function spool(req: SpoolRequest): Promise<ArchiveFile> {
  const { file, dir, decompress } = req;
  const limit = req.limit ?? spoolLimit(req.compressedSize);
  await removeLeftoverTempFiles(dir, 'spool');
  const tmp = path.join(dir, tempFileName('spool'));
  trackTempFile(tmp);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx', 0o600);
    const finder = await decompressUpToEnd(req, new FileSink(handle), limit);
    await handle.close();
    handle = undefined;
    // Cut at the end only when the finder knew where it was; else the scan of the spool judges it all.
    const archive = await ArchiveFile.open(tmp, file, finder.marker !== undefined ? { trailing: finder.trailing } : undefined);
    await fsp.unlink(tmp);
    return archive;
  } catch (err) {
    decompress.destroy();
    req.input.destroy();
    await handle?.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    if (err instanceof OcikitError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new OcikitError('UNSAFE_ARCHIVE_ENTRY', `refusing archive ${file}: its ${req.compression} stream is corrupt or truncated (${(err as Error).message})`, { path: file, cause: err });
    }
    // Reads come from a descriptor already open, so a file system error is the spool's: no room, no directory.
    throw new OcikitError('IO_ERROR', `cannot decompress ${file} into ${dir}: ${code ?? (err as Error).message}`, {
      path: dir,
      cause: err,
      hint: 'point TMPDIR at a writable directory with room for the decompressed archive (copy, pack and unpack spool beside their destination)',
    });
  } finally {
    untrackTempFile(tmp);
  }
}

/** Stream the decompressed archive into `sink` until the tar's end (or the stream's), within `limit` bytes. */
async function decompressUpToEnd(req: SpoolRequest, sink: FileSink, limit: number): Promise<TarEndFinder> {
  const { input } = req;
  input.on('error', (err) => req.decompress.destroy(err));
  input.pipe(req.decompress);
  const finder = new TarEndFinder();
  let written = 0;
  try {
    for await (const chunk of req.decompress as AsyncIterable<Buffer>) {
      const keep = finder.push(chunk);
      if (written + keep > limit) throw limitExceeded(req, limit);
      if (keep > 0) await sink.write(keep === chunk.length ? chunk : chunk.subarray(0, keep));
      written += keep;
      // Past the tar's end and its padding: the rest is never decompressed (leaving the loop ends the stream).
      if (finder.trailing) break;
    }
    await sink.end();
  } finally {
    input.destroy();
  }
  return finder;
}

function limitExceeded(req: SpoolRequest, limit: number): OcikitError {
  return new OcikitError(
    'LIMIT_EXCEEDED',
    `refusing archive ${req.file}: decompressed, it grows past the spool limit of ${limit} bytes (${req.compressedSize} bytes ${req.compression}-compressed)`,
    {
      path: req.file,
      expected: limit,
      hint: `an archive that expands this much is likely a decompression bomb; if it is genuine, raise the limit with ${SPOOL_LIMIT_ENV}=SIZE (e.g. 64G) or decompress it yourself first`,
    },
  );
}
