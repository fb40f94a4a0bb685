/**
 * A tar read once, front to back, as it streams past: an archive on stdin,
 * or a compressed archive read whole (`unpack`, `verify`). Nothing is
 * spooled: each entry's bytes are handed to the caller as they arrive, and
 * the caller hashes them, writes them into a layout, or keeps the small ones.
 *
 * tar-stream parses the entries (the in-place reader, tar-scan.ts, stays for
 * uncompressed files, where seeking beats reading). What ocikit adds around it
 * is what the in-place reader enforces too:
 * - compression is found from the first bytes (gzip, zstd where Node has it,
 *   else a plain tar), never from a name: stdin has none;
 * - names are normalized and checked (no absolute paths, `..` or NUL), and
 *   only regular files and directories are accepted: links, devices and FIFOs
 *   are UNSAFE_ARCHIVE_ENTRY;
 * - reading stops at the end-of-archive marker and its padding (TarEndFinder):
 *   a gzip bomb's gigabytes of zeros after the tar are never decompressed, and
 *   what follows is reported as trailing data;
 * - a stream that ends before that marker (a truncated download, a cut pipe)
 *   is refused, as is a corrupt compressed stream;
 * - decompressed bytes are bounded as the spool is (OCIKIT_SPOOL_LIMIT, or 100
 *   times the compressed bytes read so far, at least 256 MiB): an entry that
 *   expands without end is a bomb even when nothing is written to disk.
 */
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { OcikitError } from '../errors.js';
import { decompressor, detectCompression, type Compression } from './compression.js';
import { spoolLimit, SPOOL_LIMIT_ENV } from './spool.js';
import { TarEndFinder, type TrailingData } from './tar-end.js';
import { normalizeEntryName, unsafeEntry } from './tar-scan.js';

export interface StreamedEntry {
  /** Normalized as tar-scan.ts normalizes names ('' is the archive root). */
  name: string;
  type: 'file' | 'directory';
  size: number;
}

export interface StreamedTar {
  compression: Compression;
  /** What followed the end-of-archive marker and its padding, if anything. */
  trailing?: TrailingData;
}

export interface TarStreamOptions {
  /** What messages call the archive: its path, or "stdin". */
  source: string;
  /** The compressed size, when known (a file): the decompression limit is then fixed up front, as for a spool. */
  compressedSize?: number;
}

/** Bytes needed to tell gzip and zstd from a tar. */
const MAGIC_BYTES = 4;

/**
 * Read the tar on `input`, calling `onEntry` for each entry in archive order
 * with a stream of its bytes, which it must read to the end (or fail). An
 * error from `onEntry` stops the reading and is thrown as it is.
 */
export async function readTarStream(
  input: Readable,
  opts: TarStreamOptions,
  onEntry: (entry: StreamedEntry, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<StreamedTar> {
  const { source } = opts;
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await readHead(chunks);
  if (head.length === 0) {
    throw new OcikitError('INVALID_LAYOUT', `not an OCI layout archive: ${source} is empty`, { path: source, hint: source === 'stdin' ? 'pipe an archive in: ocikit pack SRC - | ocikit unpack - DIR' : undefined });
  }
  const compression = detectCompression(head);
  const extract = tarStream.extract();
  const finder = new TarEndFinder();
  // The first failure of the feeding side (a corrupt gzip stream, the limit), once known: the entry
  // being read then fails only because the parser was stopped, and the cause is what to report.
  let feedError: unknown;
  const feeding = feed(input, chunks, head, compression, finder, extract, opts, (err) => (feedError ??= err));
  // Settled here, awaited below: an early failure must not be an unhandled rejection meanwhile.
  feeding.catch(() => undefined);
  try {
    for await (const e of extract) {
      await onEntry(checkedEntry(e.header, source), e as AsyncIterable<Buffer>);
      // Whatever the caller left unread (a directory's empty body, an ignored file) is skipped.
      for await (const _ of e) void _;
    }
    await feeding;
  } catch (err) {
    const cause = feedError ?? err;
    extract.destroy();
    input.destroy();
    await feeding.catch(() => undefined);
    throw asArchiveError(cause, source, compression);
  }
  if (finder.marker === undefined) {
    throw unsafeEntry(source, 'the tar ends before its end-of-archive marker (truncated?)', 'check that the whole archive arrived (a cut pipe or an interrupted download leaves a truncated one)');
  }
  return { compression, trailing: finder.trailing };
}

async function readHead(chunks: AsyncIterator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < MAGIC_BYTES) {
    const next = await chunks.next();
    if (next.done) break;
    parts.push(next.value);
    have += next.value.length;
  }
  return Buffer.concat(parts);
}

/** Decompress (when needed) and hand the tar to `extract`, up to its end. */
async function feed(
  input: Readable,
  chunks: AsyncIterator<Buffer>,
  head: Buffer,
  compression: Compression,
  finder: TarEndFinder,
  extract: tarStream.Extract,
  opts: TarStreamOptions,
  /** Told of a failure before the parser is stopped because of it. */
  failed: (err: unknown) => void,
): Promise<void> {
  let compressed = 0;
  let tarBytes = 0;
  const write = async (chunk: Buffer): Promise<boolean> => {
    const keep = finder.push(chunk);
    if (keep > 0) {
      if (!extract.write(keep === chunk.length ? chunk : chunk.subarray(0, keep))) await drained(extract);
      tarBytes += keep;
    }
    // Past the tar's end and its padding: the rest is never read (or decompressed).
    return finder.trailing === undefined;
  };
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    if (compression === 'none') {
      for await (const chunk of rest()) if (!(await write(chunk))) break;
    } else {
      const inflate = decompressor(compression, opts.source);
      const compressedInput = rest();
      // The compressed bytes go in on their own: the output side is read below, at the pace of `extract`.
      const pump = (async () => {
        for await (const chunk of compressedInput) {
          compressed += chunk.length;
          if (!inflate.write(chunk)) await drained(inflate);
        }
        inflate.end();
      })();
      pump.catch((err: unknown) => inflate.destroy(err as Error));
      try {
        for await (const chunk of inflate as AsyncIterable<Buffer>) {
          if (tarBytes + chunk.length > spoolLimit(opts.compressedSize ?? compressed)) throw limitExceeded(opts, compression, compressed);
          if (!(await write(chunk))) break;
        }
      } finally {
        // Stopped at the tar's end or on a failure: the input is not read further, and the
        // pump, which may be waiting for its next chunk, ends with it.
        inflate.destroy();
        input.destroy();
        await pump.catch(() => undefined);
      }
    }
    (extract as unknown as { end(): void }).end(); // streamx's types ask for a last chunk; there is none
  } catch (err) {
    failed(err);
    extract.destroy(err as Error);
    throw err;
  } finally {
    input.destroy();
  }
}

/**
 * Until `stream` takes more: 'drain', or 'close' once the other side gave up
 * (a stream destroyed meanwhile never drains, and waiting for it would hang).
 */
function drained(stream: { destroyed: boolean; on(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }): Promise<void> {
  if (stream.destroyed) return Promise.reject(new Error('the reader stopped'));
  return new Promise((resolve, reject) => {
    const drain = () => {
      stream.off('drain', drain);
      stream.off('close', close);
      resolve();
    };
    const close = () => {
      stream.off('drain', drain);
      stream.off('close', close);
      reject(new Error('the reader stopped'));
    };
    stream.on('drain', drain);
    stream.on('close', close);
  });
}

function checkedEntry(header: tarStream.Header, source: string): StreamedEntry {
  const normalized = normalizeEntryName(header.name);
  if ('problem' in normalized) throw unsafeEntry(source, normalized.problem);
  const type: string = header.type ?? 'file';
  if (type !== 'file' && type !== 'directory') {
    throw unsafeEntry(source, `entry ${JSON.stringify(header.name)} is a ${type}; a layout archive holds only regular files and directories`);
  }
  return { name: normalized.name, type, size: type === 'file' ? (header.size ?? 0) : 0 };
}

/** Failures of the compressed stream or of the tar itself, as one clear error about the archive. */
function asArchiveError(err: unknown, source: string, compression: Compression): unknown {
  if (err instanceof OcikitError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new OcikitError('UNSAFE_ARCHIVE_ENTRY', `refusing archive ${source}: its ${compression} stream is corrupt or truncated (${(err as Error).message})`, {
      path: source,
      cause: err,
      hint: 'check that the whole archive arrived (a cut pipe or an interrupted download leaves a truncated one)',
    });
  }
  if (typeof code === 'string') return err; // a read error of the input itself (EIO, EPIPE...): the CLI reports it as such
  // A damaged gzip stream often yields garbage before its checksum fails, and the tar parser sees that first.
  const what = compression === 'none' ? 'not a readable tar' : `its ${compression} stream does not hold a readable tar (corrupt?)`;
  return new OcikitError('UNSAFE_ARCHIVE_ENTRY', `refusing archive ${source}: ${what} (${(err as Error).message})`, {
    path: source,
    cause: err,
    hint: 'give an OCI layout archive: a tar, or a gzip-compressed tar (ocikit pack writes both)',
  });
}

function limitExceeded(opts: TarStreamOptions, compression: Compression, compressed: number): OcikitError {
  const limit = spoolLimit(opts.compressedSize ?? compressed);
  const from = opts.compressedSize !== undefined ? `${opts.compressedSize} bytes` : `the first ${compressed} bytes of it`;
  return new OcikitError('LIMIT_EXCEEDED', `refusing archive ${opts.source}: decompressed, it grows past the limit of ${limit} bytes (from ${from} ${compression}-compressed)`, {
    path: opts.source,
    expected: limit,
    hint: `an archive that expands this much is likely a decompression bomb; if it is genuine, raise the limit with ${SPOOL_LIMIT_ENV}=SIZE (e.g. 64G)`,
  });
}
