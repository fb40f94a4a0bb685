/**
 * Where bytes go when the writer reuses its buffers (the archive writer, a
 * blob copied from a local file range): a file written with positional
 * writes, or a stream (standard output, a compressor). `write` resolves once the
 * chunk may be reused by the caller, which lets blob copies cycle through a
 * few buffers instead of allocating a fresh one per chunk (at 1 GiB that
 * allocation, its page faults and the garbage collection after it cost more
 * than the copy itself).
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface ByteSink {
  /** Write `chunk`; `transient` says the caller will overwrite it once the promise resolves. */
  write(chunk: Uint8Array, transient?: boolean): Promise<void>;
  /** Flush and finish; resolves when every byte has reached its destination. */
  end(): Promise<void>;
}

/**
 * Positional writes to an open file: the chunk is free again when the write returns.
 *
 * Flush-behind: a file that will be fsynced when complete (an archive, a
 * blob) is fsynced along the way too, once per `flushEvery` bytes with at
 * most one fsync in flight, so the disk writes the early part of the file
 * while the rest is still being read and hashed. The caller's final fsync
 * then waits only for the tail, instead of the whole file's writeback landing
 * on the clock after the last byte (for a GiB that is most of a second, as
 * long as copying it). The same bytes reach the disk either way; this only
 * starts the writeback earlier, like `sync_file_range`, which Node.js lacks.
 */
export class FileSink implements ByteSink {
  private position: number;
  private flushedTo: number;
  private flushing?: Promise<void>;
  private flushFailure?: unknown;

  /** `start`: where the first write goes (a download that resumes appends to the bytes kept). */
  constructor(
    private readonly handle: FileHandle,
    private readonly opts: { flushEvery?: number; start?: number } = {},
  ) {
    this.position = opts.start ?? 0;
    this.flushedTo = this.position;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.flushFailure) throw this.flushFailure;
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
    this.flushBehind();
  }

  /** Where the next write goes: the number of bytes written so far. */
  get offset(): number {
    return this.position;
  }

  /**
   * Overwrite bytes already written, at `at` (before `offset`): a tar header
   * whose size is known only once its content has gone by (a layer
   * decompressed while it is written, see targets/docker-archive-writer.ts).
   */
  async rewrite(chunk: Uint8Array, at: number): Promise<void> {
    if (at < 0 || at + chunk.length > this.position) throw new RangeError(`rewrite of ${chunk.length} bytes at ${at} is past the ${this.position} written`);
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, at + done);
      done += bytesWritten;
    }
  }

  /** Several chunks in one system call where the kernel takes them all (it nearly always does). */
  async writeMany(chunks: Buffer[]): Promise<void> {
    if (this.flushFailure) throw this.flushFailure;
    const total = chunks.reduce((sum, c) => sum + c.length, 0);
    let { bytesWritten: skip } = await this.handle.writev(chunks, this.position);
    this.position += skip;
    if (skip < total) {
      for (const c of chunks) {
        if (skip < c.length) await this.write(c.subarray(skip));
        skip = Math.max(0, skip - c.length);
      }
    }
    this.flushBehind();
  }

  private flushBehind(): void {
    const every = this.opts.flushEvery;
    if (!every || this.flushing || this.position - this.flushedTo < every) return;
    const upTo = this.position;
    this.flushing = this.handle.datasync().then(
      () => {
        this.flushedTo = upTo;
        this.flushing = undefined;
      },
      (err: unknown) => {
        this.flushFailure ??= err;
        this.flushing = undefined;
      },
    );
  }

  /** Waits for a flush-behind still running (the caller fsyncs and closes: it owns the handle). */
  async end(): Promise<void> {
    await this.flushing;
    if (this.flushFailure) throw this.flushFailure;
  }

  /**
   * The file as the last stage of a stream pipeline (a download, a
   * decompressor). A FileHandle's own write stream would close the handle,
   * or, told not to, never emit 'close', which leaves pipeline() waiting
   * forever. `highWaterMark` lets small network chunks queue up and go out in
   * one writev instead of one write each.
   */
  asWritable(highWaterMark?: number): Writable {
    return new Writable({
      highWaterMark,
      write: (chunk: Buffer, _encoding, cb) => {
        this.write(chunk).then(() => cb(), cb);
      },
      writev: (entries, cb) => {
        this.writeMany(entries.map((e) => e.chunk as Buffer)).then(() => cb(), cb);
      },
      final: (cb) => {
        this.end().then(() => cb(), cb);
      },
    });
  }
}

/**
 * A Writable (possibly the head of a pipeline whose completion `finished`
 * reports). A stream may keep a chunk after its write callback (a PassThrough
 * does), so transient chunks are copied.
 */
export class StreamSink implements ByteSink {
  private failure?: unknown;

  constructor(
    private readonly head: Writable,
    private readonly finished: Promise<void>,
  ) {
    finished.catch((err: unknown) => (this.failure ??= err));
  }

  async write(chunk: Uint8Array, transient = false): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.head.write(transient ? Buffer.from(chunk) : chunk)) {
      await Promise.race([once(this.head, 'drain'), this.finished]);
    }
    if (this.failure) throw this.failure;
  }

  async end(): Promise<void> {
    this.head.end();
    await this.finished;
  }
}

/**
 * Sequential writes, at the descriptor's own offset, to a file descriptor
 * someone else owns: standard output redirected to a file. Node writes such a
 * stdout synchronously on the main thread, which would stop hashing while
 * the disk is written; this writes in the thread pool, so the two overlap as
 * they do for FileSink.
 */
export class FdSink implements ByteSink {
  constructor(private readonly fd: number) {}

  async write(chunk: Uint8Array): Promise<void> {
    for (let done = 0; done < chunk.length; ) {
      done += await new Promise<number>((resolve, reject) =>
        fs.write(this.fd, chunk, done, chunk.length - done, null, (err, n) => (err ? reject(err) : resolve(n))),
      );
    }
  }

  async end(): Promise<void> {
    // The descriptor stays open: it belongs to whoever handed it over.
  }
}

/** The sink for an output stream: its descriptor directly when it is a regular file, else the stream. */
export function sinkForStream(out: Writable & { fd?: unknown }, finished: Promise<void>): ByteSink {
  if (typeof out.fd === 'number') {
    try {
      if (fs.fstatSync(out.fd).isFile()) return new FdSink(out.fd);
    } catch {
      // Not something fstat understands: use the stream.
    }
  }
  return new StreamSink(out, finished);
}
