/**
 * Cutting body transfers that stall.
 *
 * A socket's idle timeout does not protect a server from slow clients: a
 * client that reads (or sends) one byte a minute keeps its socket "active"
 * for ever, and a blob send holds one of the server's blob slots, an open
 * file and its buffers for as long as it lasts. So every body transfer,
 * either way, is watched in windows of `windowMs`: a window in which fewer
 * than `minBytes` moved ends the transfer with a TIMEOUT error. A transfer
 * that merely slows down is cut between one and two windows after it fell
 * below the rate; one that keeps up is never cut, however long it takes.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { OcikitError } from '../errors.js';

export interface StallLimit {
  /** Length of one window (ms). */
  windowMs: number;
  /** Bytes that must move within each window. */
  minBytes: number;
}

/**
 * The default: 16 KiB per 30 s window, about 550 bytes a second, far below
 * any real link, so only a client that has (nearly) stopped is cut. Progress
 * is counted where the body meets the socket: uploads as bytes arrive,
 * downloads as the socket takes each file read (64 KiB), so in practice a
 * download needs one read to drain per window (about 2 KiB/s).
 */
export const DEFAULT_STALL_LIMIT: StallLimit = { windowMs: 30_000, minBytes: 16 * 1024 };

/**
 * Counts progress and calls `onStall` once, with a TIMEOUT error, at the end
 * of the first window that saw fewer than `minBytes`. `stop()` when the
 * transfer ends either way.
 */
export function watchStall(limit: StallLimit, what: string, onStall: (err: OcikitError) => void): { progress(bytes: number): void; stop(): void } {
  let moved = 0;
  const timer = setInterval(() => {
    if (moved < limit.minBytes) {
      clearInterval(timer);
      onStall(
        new OcikitError('TIMEOUT', `${what} moved ${moved} bytes in ${limit.windowMs / 1000} s (less than ${limit.minBytes}): the client stalled, so the transfer was cut`, {
          expected: limit.minBytes,
          actual: moved,
        }),
      );
    }
    moved = 0;
  }, limit.windowMs);
  return {
    progress: (bytes) => {
      moved += bytes;
    },
    stop: () => clearInterval(timer),
  };
}

/** A pass-through stage of a pipeline that reports the bytes flowing through it. */
export class ProgressTap extends Transform {
  constructor(private readonly onBytes: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}
