/** The progress line of transfer commands, on a TTY stderr only. */
import { formatBytes, type CopyEvent } from '../index.js';
import type { Context } from './context.js';

/** A one-line progress display on a TTY stderr (bytes, blobs, rate); nothing otherwise. */
export function startProgress(ctx: Context, verb: string): { onEvent: (e: CopyEvent) => void; stop: () => void } {
  const stderr = ctx.out.stderr as NodeJS.WriteStream;
  const enabled = stderr.isTTY === true && ctx.args.progress !== false && !ctx.out.quiet && !ctx.out.json;
  let blobs = 0;
  let skipped = 0;
  let bytes = 0;
  const started = Date.now();
  const onEvent = (e: CopyEvent) => {
    if (e.type === 'skip') skipped++;
    if (e.type === 'done') {
      blobs++;
      bytes += e.descriptor.size;
    }
  };
  if (!enabled) return { onEvent, stop: () => undefined };
  const draw = () => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    stderr.write(`\r\x1b[K${verb} ${blobs} blobs, ${formatBytes(bytes)} (${formatBytes(Math.round(bytes / secs))}/s), ${skipped} skipped`);
  };
  const timer = setInterval(draw, 250);
  return {
    onEvent,
    stop: () => {
      clearInterval(timer);
      stderr.write('\r\x1b[K');
    },
  };
}
