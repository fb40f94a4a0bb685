/**
 * Where bytes go when the writer reuses its buffers (the archive writer, a
 * blob copied from a local file range): a file written with positional
 * writes, or a stream (standard output, a compressor). `write` resolves once the
 * chunk may be reused by the caller, which lets blob copies cycle through two
 * buffers instead of allocating a fresh one per chunk (at 1 GiB that
 * allocation, its page faults and the garbage collection after it cost more
 * than the copy itself).
 */
import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface ByteSink {
  /** Write `chunk`; `transient` says the caller will overwrite it once the promise resolves. */
  write(chunk: Uint8Array, transient?: boolean): Promise<void>;
  /** Flush and finish; resolves when every byte has reached its destination. */
  end(): Promise<void>;
}

/** Positional writes to an open file: the chunk is free again when the write returns. */
export class FileSink implements ByteSink {
  private position = 0;
  constructor(private readonly handle: FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  async end(): Promise<void> {
    // The caller fsyncs and closes: it owns the handle.
  }

  /**
   * The file as the last stage of a stream pipeline (after a compressor). A
   * FileHandle's own write stream would close the handle, or, told not to,
   * never emit 'close', which leaves pipeline() waiting forever.
   */
  asWritable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, cb) => {
        this.write(chunk).then(() => cb(), cb);
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
