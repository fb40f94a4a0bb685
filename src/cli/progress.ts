/**
 * The progress display of the commands that move or read blobs (push, pull,
 * copy, pack, unpack, verify), drawn from the library's progress events
 * (graph/progress-events.ts) on a TTY stderr only:
 *
 *   pushing 120.0 MiB / 310.2 MiB  3/7 blobs  12.0 MiB/s  ETA 16s
 *     sha256:4f1c2a9be0d3… [=======>       ] 120.0 MiB / 300.0 MiB
 *
 * Bytes done count blobs in flight; the rate is over the last few seconds,
 * not since the start (a stall shows as a falling rate, a long idle start
 * does not drag it down); large blobs get a line each. The block is redrawn
 * in place and erased at the end, so the terminal shows only the summary.
 *
 * Our own renderer, not a library: what it needs beyond a bar (in-flight
 * bytes of many blobs summed into one line, a rate over a time window,
 * lines that come and go, drawing driven by a clock a test can fake) is
 * most of its code either way.
 */
import { formatBytes, type Descriptor, type ProgressEvent } from '../index.js';
import type { Context } from './context.js';

/** Blobs this large get a line of their own while they move. */
export const LARGE_BLOB = 16 * 1024 * 1024;
/** At most this often the block is redrawn (events in between only update the counts). */
export const REDRAW_MS = 200;
/** The rate is measured over this much of the recent past. */
export const RATE_WINDOW_MS = 5000;
/** Lines of large blobs shown at once; more are summed up in one line. */
const MAX_BLOB_LINES = 5;
const BAR_WIDTH = 16;

/** What the display writes to: stderr, or a fake terminal in tests. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

interface Flight {
  desc: Descriptor;
  bytes: number;
}

/** `\r` and the cursor moved up to the first row of a block of `rows` rows. */
function toBlockStart(rows: number): string {
  // Not ESC[0A for a one-row block: terminals read a zero count as one.
  return rows > 1 ? `\r\x1b[${rows - 1}A` : '\r';
}

/** At most `width` columns: a line that wrapped would take two rows, and the redraw would miscount them. */
function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(width - 1, 0))}…`;
}

/** 75 -> "1m15s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The state and the drawing, without timers of its own: `onEvent` redraws
 * when REDRAW_MS have passed since the last frame (or a large blob starts),
 * `tick` (the CLI's interval timer) redraws while nothing arrives, `stop`
 * erases the block.
 */
export class ProgressDisplay {
  /** Sizes of what was found, less what was skipped: what this command will move. */
  private total = 0;
  private items = 0;
  /** Sizes of the descriptors done. */
  private finished = 0;
  private finishedItems = 0;
  /** Bytes read so far of the blobs not done yet. */
  private inFlight = 0;
  /**
   * What became of each digest. One is found more than once (a graph announced
   * before the copy, then found again by its walk; a blob several roots share)
   * and counted once; skipped only if this command did not copy it already.
   */
  private readonly fate = new Map<string, 'found' | 'skipped' | 'done'>();
  /** Blobs started and not done, by descriptor: the events of one blob carry the same object. */
  private readonly flights = new Map<Descriptor, Flight>();
  /** (time, bytes done) at each frame of the rate window, oldest first. */
  private samples: Array<{ at: number; bytes: number }> = [];
  private rows = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly stream: ProgressStream,
    private readonly verb: string,
    private readonly now: () => number = Date.now,
  ) {}

  onEvent(e: ProgressEvent): void {
    const size = e.descriptor.size;
    const digest = e.descriptor.digest;
    const was = this.fate.get(digest);
    switch (e.type) {
      case 'found':
        if (was === undefined) this.plan(digest, size);
        break;
      case 'skip':
        if (was === 'found') {
          this.total -= size;
          this.items--;
        }
        if (was !== 'done') this.fate.set(digest, 'skipped');
        break;
      case 'start':
        // Settled already and moving again (pushed to a second repository): it counts again.
        if (was !== 'found') this.plan(digest, size);
        this.flights.set(e.descriptor, { desc: e.descriptor, bytes: 0 });
        break;
      case 'bytes': {
        let flight = this.flights.get(e.descriptor);
        if (!flight) this.flights.set(e.descriptor, (flight = { desc: e.descriptor, bytes: 0 }));
        flight.bytes += e.bytes;
        this.inFlight += e.bytes;
        break;
      }
      case 'done': {
        const flight = this.flights.get(e.descriptor);
        if (flight) {
          this.inFlight -= flight.bytes;
          this.flights.delete(e.descriptor);
        }
        this.fate.set(digest, 'done');
        this.finished += size;
        this.finishedItems++;
        break;
      }
    }
    // A large blob shows up as it starts, however recent the last frame.
    const largeStart = e.type === 'start' && size >= LARGE_BLOB;
    if (largeStart || this.now() - this.lastDraw >= REDRAW_MS) this.draw();
  }

  private plan(digest: string, size: number): void {
    this.fate.set(digest, 'found');
    this.total += size;
    this.items++;
  }

  /** A frame even when no event came: a stalled transfer shows its rate falling. */
  tick(): void {
    if (this.items > 0) this.draw();
  }

  /**
   * Erase the block: the terminal is left as it was before the first frame
   * (also before another line goes to the terminal: the next frame is drawn below it).
   */
  stop(): void {
    if (this.rows > 0) this.stream.write(`${toBlockStart(this.rows)}\x1b[J`);
    this.rows = 0;
  }

  /** Bytes done, counting what has been read of the blobs in flight. */
  get bytesDone(): number {
    return this.finished + this.inFlight;
  }

  /** Record this frame's bytes; bytes per second over the last RATE_WINDOW_MS, once there is a second of it to measure. */
  private sample(at: number): number | undefined {
    this.samples.push({ at, bytes: this.bytesDone });
    // Keep the newest sample at or before the window's start, so the window stays full.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const span = at - first.at;
    return span >= 1000 ? ((this.bytesDone - first.bytes) * 1000) / span : undefined;
  }

  /** The lines of one frame. */
  private frame(rate: number | undefined): string[] {
    const done = this.bytesDone;
    const total = Math.max(this.total, done);
    const head = [`${this.verb} ${formatBytes(done)} / ${formatBytes(total)}`, `${this.finishedItems}/${this.items} blobs`];
    if (rate !== undefined) {
      head.push(`${formatBytes(Math.round(rate))}/s`);
      if (rate > 0) head.push(`ETA ${formatDuration((total - done) / rate)}`);
    }
    const lines = [head.join('  ')];
    const large = [...this.flights.values()].filter((f) => f.desc.size >= LARGE_BLOB);
    for (const f of large.slice(0, MAX_BLOB_LINES)) lines.push(`  ${shortDigest(f.desc.digest)} ${bar(f.bytes, f.desc.size)} ${formatBytes(f.bytes)} / ${formatBytes(f.desc.size)}`);
    if (large.length > MAX_BLOB_LINES) lines.push(`  and ${large.length - MAX_BLOB_LINES} more large blobs`);
    return lines;
  }

  private draw(): void {
    const at = this.now();
    this.lastDraw = at;
    // A terminal that does not say its width (0 under some pseudo-terminals) is taken as 80 columns.
    const width = Math.max((this.stream.columns || 80) - 1, 10);
    const lines = this.frame(this.sample(at)).map((l) => fit(l, width));
    // One write per frame: back to the block's first row, each row cleared and written, and
    // whatever the last frame had below erased (a shorter block leaves no stale rows, and
    // never scrolls: the rows it moves through were already on the screen).
    this.stream.write(`${this.rows > 0 ? toBlockStart(this.rows) : '\r'}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\x1b[J`);
    this.rows = lines.length;
  }
}

function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon + 1 + 12)}…`;
}

function bar(bytes: number, size: number): string {
  const filled = size > 0 ? Math.min(BAR_WIDTH, Math.floor((bytes / size) * BAR_WIDTH)) : BAR_WIDTH;
  return `[${'='.repeat(filled)}${filled < BAR_WIDTH ? '>' : ''}${' '.repeat(Math.max(BAR_WIDTH - filled - 1, 0))}]`;
}

/**
 * While the display is up, whatever else goes to stderr (a warning, --debug
 * lines) must not land inside its block: `before` (erasing the block) runs
 * ahead of every other write, and the next frame is drawn below the text.
 * The display writes through the returned stream, which bypasses that.
 */
function writesAround(stderr: NodeJS.WriteStream, before: () => void): { stream: ProgressStream; restore: () => void } {
  const write = stderr.write;
  const hadOwn = Object.prototype.hasOwnProperty.call(stderr, 'write');
  stderr.write = function (this: NodeJS.WriteStream, ...args: Parameters<NodeJS.WriteStream['write']>) {
    before();
    return write.apply(this, args);
  } as NodeJS.WriteStream['write'];
  return {
    stream: {
      isTTY: true,
      get columns() {
        return stderr.columns;
      },
      write: (chunk) => write.call(stderr, chunk),
    },
    restore: () => {
      if (hadOwn) stderr.write = write;
      else delete (stderr as { write?: unknown }).write;
    },
  };
}

export interface Progress {
  /** Undefined when nothing is drawn: the library then does not count bytes at all. */
  onEvent?: (e: ProgressEvent) => void;
  stop(): void;
}

/**
 * The progress display for a command, on stderr when it is a TTY and
 * neither --no-progress, -q nor JSON output is asked for; nothing otherwise.
 */
export function startProgress(ctx: Context, verb: string): Progress {
  const stderr = ctx.out.stderr as NodeJS.WriteStream;
  const enabled = stderr.isTTY === true && ctx.args.progress !== false && !ctx.out.quiet && !ctx.out.json;
  if (!enabled) return { stop: () => undefined };
  const own = writesAround(stderr, () => display.stop());
  const display = new ProgressDisplay(own.stream, verb);
  // unref: a display never keeps a finished command alive.
  const timer = setInterval(() => display.tick(), REDRAW_MS).unref();
  return {
    onEvent: (e) => display.onEvent(e),
    stop: () => {
      clearInterval(timer);
      own.restore();
      display.stop();
    },
  };
}

/** Run `work` with a progress display for `verb`, erased whatever the outcome. */
export async function withProgress<T>(ctx: Context, verb: string, work: (onEvent: Progress['onEvent']) => Promise<T>): Promise<T> {
  const progress = startProgress(ctx, verb);
  try {
    return await work(progress.onEvent);
  } finally {
    progress.stop();
  }
}
