/**
 * The progress events of every command that moves or reads blobs (copy,
 * pull, push, pack, unpack, verify). The library only emits them; the CLI
 * draws them (src/cli/progress.ts).
 *
 * For each descriptor, in order:
 * - `found`: the walk reached it, before anything about it is known; the
 *   sizes of what was found add up to the total. From a local source, the
 *   whole graph under the roots is found before anything moves; from a
 *   registry, as the walk goes (one image's blobs as soon as its manifest
 *   is read, before they move).
 * - `skip` (the destination has it: take its size off the total) or
 *   `start`, then `bytes` events as its content is read (not for a manifest:
 *   it is written from the bytes the walk parsed), then `done`.
 *
 * A digest may be found more than once in one command: a copy announces
 * the graph under its roots before it starts (graph/announce.ts) and its walk
 * finds it again; roots that share a blob each find it, the later ones to
 * skip it. Count each digest once, and a skip of what the command itself
 * copied is not a skip off the total.
 *
 * `bytes` carries the bytes read since the last one: at most one event per
 * BYTES_STEP of a blob, and one at its last byte, so a blob's `bytes` add up
 * to its size before its `done`. A blob whose bytes never needed reading
 * (the destination received it meanwhile, a registry mounted it) goes from
 * `start` straight to `done`.
 */
import type { Descriptor } from '../spec/types.js';
import type { ByteCounter } from '../digest/verify-stream.js';

export type ProgressEvent =
  | { type: 'found'; descriptor: Descriptor }
  | { type: 'skip'; descriptor: Descriptor }
  | { type: 'start'; descriptor: Descriptor }
  | { type: 'bytes'; descriptor: Descriptor; bytes: number }
  /** `resumedBytes`: bytes of the blob taken from a partial download an earlier run kept, not transferred again. */
  | { type: 'done'; descriptor: Descriptor; resumedBytes?: number };

/** Bytes gathered before a `bytes` event goes out: an event per chunk would be one per 16 KiB off a socket. */
export const BYTES_STEP = 1024 * 1024;

/**
 * A counter for one blob's stream (fs/count-bytes.ts) that turns chunk
 * lengths into `bytes` events, one per BYTES_STEP and one at the blob's end.
 */
export function bytesReporter(desc: Descriptor, emit: (e: ProgressEvent) => void): ByteCounter {
  let pending = 0;
  let read = 0;
  return (n) => {
    pending += n;
    read += n;
    if (pending >= BYTES_STEP || read >= desc.size) {
      const bytes = pending;
      pending = 0;
      emit({ type: 'bytes', descriptor: desc, bytes });
    }
  };
}

/**
 * Events for a blob read from a stream (an archive on stdin, unpack of a
 * .tar.gz): it is known only once it has gone by, so it is reported found,
 * started, read and done at once. The display's total grows as blobs arrive.
 */
export function arrivedBlobReporter(emit: (e: ProgressEvent) => void): (desc: Descriptor) => void {
  return (desc) => {
    emit({ type: 'found', descriptor: desc });
    emit({ type: 'start', descriptor: desc });
    if (desc.size > 0) emit({ type: 'bytes', descriptor: desc, bytes: desc.size });
    emit({ type: 'done', descriptor: desc });
  };
}
