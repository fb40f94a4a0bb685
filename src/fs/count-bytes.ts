/**
 * Counting the bytes of a fetched blob as they are read, for progress.
 *
 * Every target's fetch returns a verifying stream (VerifyStream, or a
 * VerifiedFileRange for content in a local file), and those take a counter
 * they call per chunk: the stream handed on stays the same object, so its
 * consumer still skips a second hash (VERIFIES) and still copies a file range
 * with positional reads instead of streaming it. Any other stream (content in
 * memory, a descriptor's embedded `data`) is counted by a pass-through stage.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { COUNTS_BYTES, VerifyStream, type ByteCounter } from '../digest/verify-stream.js';
import { VerifiedFileRange } from './file-range.js';

class CountingStream extends Transform {
  constructor(private readonly onBytes: ByteCounter) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

/** `stream`, or a stream of the same bytes, with `onBytes` told the length of every chunk read from it. */
export function countBytes(stream: Readable, onBytes: ByteCounter): Readable {
  if (stream instanceof VerifyStream || stream instanceof VerifiedFileRange) {
    stream[COUNTS_BYTES] = onBytes;
    return stream;
  }
  const counting = new CountingStream(onBytes);
  stream.on('error', (err) => counting.destroy(err));
  counting.on('close', () => stream.destroy());
  // A failure before the consumer attaches stays on the stream (`errored`, which pipeline reports), as in verifiedStream.
  counting.on('error', () => undefined);
  return stream.pipe(counting);
}
