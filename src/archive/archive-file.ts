/**
 * Random access to an archive file by position. The file is opened once and
 * read with positional reads (pread), so every reader sees the bytes of the
 * file that was scanned even if the path is replaced meanwhile, and any number
 * of byte-range streams can run at once.
 *
 * A numeric descriptor rather than a FileHandle: a FileHandle left to the
 * garbage collector prints a warning on stderr, and targets are closed by
 * whoever opened them, or by process exit in the CLI.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { OcikitError, fromFsError } from '../errors.js';
import type { FileRange } from '../fs/file-range.js';
import type { TrailingData } from './tar-end.js';

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const fstatAsync = promisify(fs.fstat);
const readAsync = (fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** Header reads fetch this much at once, so a run of small entries costs one read, not one per header. */
const WINDOW = 64 * 1024;
const STREAM_CHUNK = 1024 * 1024;

/** A spool (archive/spool.ts) holds a decompressed tar up to its end; this says what the stream held after that. */
export interface SpoolCut {
  trailing?: TrailingData;
}

export class ArchiveFile {
  readonly path: string;
  readonly size: number;
  /** Set for a spool cut at the tar's end: the bytes after it are not in this file. */
  readonly cut?: SpoolCut;
  private fd: number | undefined;
  private window?: { start: number; bytes: Buffer };

  private constructor(path: string, fd: number, size: number, cut?: SpoolCut) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.cut = cut;
  }

  /**
   * Open a regular file (O_NONBLOCK so a FIFO does not hang the open; it is
   * then refused). `name` is what messages call it (a temporary copy is named
   * after the archive it came from).
   */
  static async open(file: string, name = file, cut?: SpoolCut): Promise<ArchiveFile> {
    const what = 'archive';
    // (O_NONBLOCK matters for FIFOs only; regular files ignore it.)
    let fd: number;
    try {
      fd = await openAsync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      throw fromFsError(err, file, what);
    }
    try {
      const st = await fstatAsync(fd);
      if (!st.isFile()) {
        throw new OcikitError('INVALID_LAYOUT', `${name} is not a regular file, so not an archive`, {
          path: name,
          hint: st.isDirectory() ? `for a layout directory write oci:${name}` : undefined,
        });
      }
      return new ArchiveFile(name, fd, st.size, cut);
    } catch (err) {
      await closeAsync(fd).catch(() => undefined);
      throw err;
    }
  }

  private get descriptor(): number {
    if (this.fd === undefined) throw new Error(`archive ${this.path} is closed`);
    return this.fd;
  }

  /** Up to `length` bytes at `position` (fewer only at the end of the file). */
  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      let n: number;
      try {
        n = await readAsync(this.descriptor, buf, filled, length - filled, position + filled);
      } catch (err) {
        throw fromFsError(err, this.path, 'archive');
      }
      if (n === 0) break;
      filled += n;
    }
    return filled === length ? buf : buf.subarray(0, filled);
  }

  /** Like `read`, through a read-ahead window: for tar headers, which are small and often close together. */
  async readSmall(position: number, length: number): Promise<Buffer> {
    const w = this.window;
    if (w && position >= w.start && position + length <= w.start + w.bytes.length) {
      return w.bytes.subarray(position - w.start, position - w.start + length);
    }
    const bytes = await this.read(position, Math.max(length, WINDOW));
    this.window = { start: position, bytes };
    return bytes.subarray(0, Math.min(length, bytes.length));
  }

  /** `size` bytes from `start`, to be read verified (fs/file-range.ts). The descriptor stays shared: the range does not own it. */
  range(start: number, size: number): FileRange {
    return { fd: this.descriptor, start, size, path: this.path, shortRead: () => endedEarly(this.path) };
  }

  /** Stream `size` bytes from `start`, unverified. The descriptor stays open: the stream does not own it. */
  stream(start: number, size: number): Readable {
    return new RangeStream(this, start, size);
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    this.window = undefined;
    if (fd !== undefined) await closeAsync(fd).catch(() => undefined);
  }
}

/**
 * A byte range read with positional reads. fs.createReadStream({ fd }) would
 * close the shared descriptor when destroyed early (autoClose or not), so
 * ranges are read by hand.
 */
class RangeStream extends Readable {
  private readonly file: ArchiveFile;
  private position: number;
  private readonly end: number;

  constructor(file: ArchiveFile, start: number, size: number) {
    super({ highWaterMark: STREAM_CHUNK });
    this.file = file;
    this.position = start;
    this.end = start + size;
  }

  override _read(): void {
    const length = Math.min(STREAM_CHUNK, this.end - this.position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    this.file.read(this.position, length).then(
      (chunk) => {
        if (chunk.length < length) {
          this.destroy(endedEarly(this.file.path));
          return;
        }
        this.position += chunk.length;
        this.push(chunk);
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }
}

function endedEarly(path: string): OcikitError {
  return new OcikitError('UNSAFE_ARCHIVE_ENTRY', `archive ${path} ended early: it was truncated while being read`, { path });
}
