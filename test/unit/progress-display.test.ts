/**
 * The progress display (src/cli/progress.ts) on a fake terminal with a fake
 * clock: what a user sees while blobs move, frame by frame, and that nothing
 * is left once it stops. Values are written with the CLI's own formatBytes,
 * so the checks hold whatever style it prints sizes in.
 */
import { describe, expect, it } from 'vitest';
import { formatBytes, type Descriptor, type ProgressEvent } from '../../src/index.js';
import { formatDuration, LARGE_BLOB, ProgressDisplay, RATE_WINDOW_MS, REDRAW_MS, startProgress } from '../../src/cli/progress.js';
import { Context } from '../../src/cli/context.js';
import { FakeTerminal } from '../helpers/terminal.js';

const MiB = 1024 * 1024;

function blob(n: number, size: number): Descriptor {
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size };
}

const manifest: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'d'.repeat(64)}`, size: 500 };
const config: Descriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 300 };

/** A display on a fake 80-column terminal whose clock the test moves. */
function setup(columns = 80) {
  const term = new FakeTerminal(columns);
  const clock = { now: 0 };
  const display = new ProgressDisplay(term, 'pushing', () => clock.now);
  const send = (...events: ProgressEvent[]) => events.forEach((e) => display.onEvent(e));
  /** Move the clock on and let the display's timer fire. */
  const advance = (ms: number) => {
    clock.now += ms;
    display.tick();
  };
  return { term, clock, display, send, advance };
}

describe('progress display', () => {
  it('counts the bytes of a blob in flight, against the total of what was found', () => {
    const { term, send, advance } = setup();
    const layer = blob(1, 300 * MiB);
    send({ type: 'found', descriptor: manifest }, { type: 'found', descriptor: config }, { type: 'found', descriptor: layer });
    send({ type: 'start', descriptor: config }, { type: 'done', descriptor: config }, { type: 'start', descriptor: layer });
    for (let i = 0; i < 120; i++) send({ type: 'bytes', descriptor: layer, bytes: MiB });
    advance(REDRAW_MS);

    const [head, blobLine, ...rest] = term.visible();
    const total = 500 + 300 + 300 * MiB;
    // Done = the finished config plus 120 MiB of the layer still moving (the old display showed 300 B here).
    expect(head).toContain(`pushing ${formatBytes(300 + 120 * MiB)} / ${formatBytes(total)}`);
    expect(head).toContain('1/3 blobs');
    // The large blob has its own line: short digest, bytes so far of its size.
    expect(blobLine).toContain(`sha256:${'1'.repeat(12)}…`);
    expect(blobLine).toContain(`${formatBytes(120 * MiB)} / ${formatBytes(300 * MiB)}`);
    expect(rest).toEqual([]);
  });

  it('takes skipped content off the total, and gives small blobs no line of their own', () => {
    const { term, send, advance } = setup();
    const have = blob(2, 50 * MiB);
    const small = blob(3, LARGE_BLOB - 1);
    send({ type: 'found', descriptor: have }, { type: 'found', descriptor: small }, { type: 'skip', descriptor: have });
    send({ type: 'start', descriptor: small }, { type: 'bytes', descriptor: small, bytes: MiB });
    advance(REDRAW_MS);
    expect(term.visible()).toEqual([expect.stringContaining(`${formatBytes(MiB)} / ${formatBytes(LARGE_BLOB - 1)}`)]);
    expect(term.visible()[0]).toContain('0/1 blobs');
  });

  it('counts a digest found twice once, and a skip of what it already copied not at all', () => {
    const { term, send, advance } = setup();
    const shared = blob(2, 40 * MiB);
    const had = blob(3, 10 * MiB);
    // Announced up front, then found again by the walk of each of two roots.
    send({ type: 'found', descriptor: shared }, { type: 'found', descriptor: had }, { type: 'found', descriptor: shared }, { type: 'found', descriptor: had });
    send({ type: 'skip', descriptor: had }, { type: 'start', descriptor: shared }, { type: 'bytes', descriptor: shared, bytes: 40 * MiB }, { type: 'done', descriptor: shared });
    send({ type: 'found', descriptor: shared }, { type: 'skip', descriptor: shared }, { type: 'found', descriptor: had }, { type: 'skip', descriptor: had });
    advance(REDRAW_MS);
    expect(term.visible()[0]).toContain(`${formatBytes(40 * MiB)} / ${formatBytes(40 * MiB)}`);
    expect(term.visible()[0]).toContain('1/1 blobs');
    // The same blob sent again (to a second repository) moves again: it counts again.
    send({ type: 'start', descriptor: shared }, { type: 'bytes', descriptor: shared, bytes: 40 * MiB }, { type: 'done', descriptor: shared });
    advance(REDRAW_MS);
    expect(term.visible()[0]).toContain(`${formatBytes(80 * MiB)} / ${formatBytes(80 * MiB)}`);
    expect(term.visible()[0]).toContain('2/2 blobs');
  });

  it('shows the rate over the last seconds, not since the start, and the ETA from it', () => {
    const { term, send, advance } = setup();
    const layer = blob(4, 1000 * MiB);
    send({ type: 'found', descriptor: layer }, { type: 'start', descriptor: layer });
    // A slow start: 10 s with nothing moving, then 8 MiB per 200 ms (40 MiB/s) for 8 s.
    for (let t = 0; t < 10_000; t += REDRAW_MS) advance(REDRAW_MS);
    for (let t = 0; t < 8000; t += REDRAW_MS) {
      send({ type: 'bytes', descriptor: layer, bytes: 8 * MiB });
      advance(REDRAW_MS);
    }
    const rate = 40 * MiB;
    const head = term.visible()[0]!;
    // Since the start it would be 320 MiB / 18 s; over the window it is the current 40 MiB/s.
    expect(head).toContain(`${formatBytes(rate)}/s`);
    expect(head).toContain(`ETA ${formatDuration((1000 - 320) / 40)}`);

    // A stall: after a whole window without bytes the rate is 0 and no ETA is promised.
    for (let t = 0; t <= RATE_WINDOW_MS; t += REDRAW_MS) advance(REDRAW_MS);
    expect(term.visible()[0]).toContain(`${formatBytes(0)}/s`);
    expect(term.visible()[0]).not.toContain('ETA');
  });

  it('redraws in place: a finished large blob loses its line without scrolling, and stop leaves nothing', () => {
    const { term, send, advance, display } = setup();
    const a = blob(5, 100 * MiB);
    const b = blob(6, 200 * MiB);
    send({ type: 'found', descriptor: a }, { type: 'found', descriptor: b }, { type: 'start', descriptor: a }, { type: 'start', descriptor: b });
    send({ type: 'bytes', descriptor: a, bytes: 10 * MiB }, { type: 'bytes', descriptor: b, bytes: 10 * MiB });
    advance(REDRAW_MS);
    expect(term.visible()).toHaveLength(3);
    for (let i = 0; i < 5; i++) advance(REDRAW_MS); // frames of the same height: drawn over each other
    expect(term.rows).toBe(3);

    send({ type: 'bytes', descriptor: a, bytes: 90 * MiB }, { type: 'done', descriptor: a });
    advance(REDRAW_MS);
    const after = term.visible();
    expect(after).toHaveLength(2);
    expect(after[1]).toContain(`sha256:${'6'.repeat(12)}`);
    expect(after.join('\n')).not.toContain(`sha256:${'5'.repeat(12)}`);
    expect(term.rows).toBe(3); // the shorter frame did not move down the screen

    send({ type: 'bytes', descriptor: b, bytes: 190 * MiB }, { type: 'done', descriptor: b });
    advance(REDRAW_MS);
    expect(term.visible()).toHaveLength(1);
    display.stop();
    expect(term.visible()).toEqual([]);
    // What the command prints next lands where the display was.
    term.write('pushed 2 blobs\n');
    expect(term.visible()).toEqual(['pushed 2 blobs']);
    expect(term.rows).toBe(3);
  });

  it('a one-row block is redrawn without moving up (ESC[0A would move up a row)', () => {
    const { term, send, advance, display } = setup();
    const small = blob(7, 1000);
    send({ type: 'found', descriptor: small }, { type: 'start', descriptor: small });
    advance(REDRAW_MS);
    advance(REDRAW_MS);
    send({ type: 'bytes', descriptor: small, bytes: 1000 }, { type: 'done', descriptor: small });
    advance(REDRAW_MS);
    expect(term.visible()).toEqual([expect.stringContaining('1/1 blobs')]);
    display.stop();
    expect(term.visible()).toEqual([]);
    expect(term.rows).toBe(1);
  });

  it('keeps every row narrower than the terminal, so no row wraps', () => {
    const { term, send, advance } = setup(40);
    const layer = blob(8, 300 * MiB);
    send({ type: 'found', descriptor: layer }, { type: 'start', descriptor: layer }, { type: 'bytes', descriptor: layer, bytes: 3 * MiB });
    for (let i = 0; i < 10; i++) advance(REDRAW_MS);
    expect(term.visible()).toHaveLength(2);
    expect(term.widest).toBeLessThan(40);
  });

  it('draws at most once per REDRAW_MS however many events arrive', () => {
    const { term, send, clock } = setup();
    const layer = blob(9, 300 * MiB);
    send({ type: 'found', descriptor: layer }, { type: 'start', descriptor: layer });
    const before = term.written.length;
    for (let i = 0; i < 1000; i++) {
      clock.now += 1;
      send({ type: 'bytes', descriptor: layer, bytes: 1024 });
    }
    expect(term.written.length - before).toBeLessThanOrEqual(1000 / REDRAW_MS + 1);
  });
});

describe('startProgress: where progress is drawn at all', () => {
  const layer = blob(1, 300 * MiB);
  const events: ProgressEvent[] = [{ type: 'found', descriptor: layer }, { type: 'start', descriptor: layer }, { type: 'bytes', descriptor: layer, bytes: MiB }, { type: 'done', descriptor: layer }];

  function run(stderr: { isTTY?: boolean; columns?: number; write(s: string): boolean }, args: Record<string, unknown>) {
    const ctx = new Context(args, { stderr: stderr as unknown as NodeJS.WritableStream, stdout: new FakeTerminal() as unknown as NodeJS.WritableStream }, args.json === true ? 'json' : 'text');
    const progress = startProgress(ctx, 'pulling');
    for (const e of events) progress.onEvent?.(e);
    progress.stop();
    return progress;
  }

  it('draws on a TTY, and stops cleared', () => {
    const term = new FakeTerminal();
    const progress = run(term, {});
    expect(progress.onEvent).toBeDefined();
    expect(term.written.join('')).toContain('pulling');
    expect(term.visible()).toEqual([]);
  });

  it('a line written to stderr meanwhile (a warning, --debug) goes above the display, which goes on below it', () => {
    const term = new FakeTerminal();
    const ctx = new Context({}, { stderr: term as unknown as NodeJS.WritableStream, stdout: new FakeTerminal() as unknown as NodeJS.WritableStream });
    const progress = startProgress(ctx, 'pushing');
    const second = blob(2, 100 * MiB);
    for (const e of events.slice(0, 3)) progress.onEvent?.(e);
    expect(term.visible()).toHaveLength(2);
    ctx.out.warn('the registry is slow');
    // A large blob starting draws a frame at once: below the warning, not over it.
    progress.onEvent?.({ type: 'found', descriptor: second });
    progress.onEvent?.({ type: 'start', descriptor: second });
    const screen = term.visible();
    expect(screen[0]).toBe('ocikit: warning: the registry is slow');
    expect(screen[1]).toContain('pushing');
    progress.stop();
    expect(term.visible()).toEqual(['ocikit: warning: the registry is slow']);
    // Once stopped, stderr is written to as before.
    ctx.out.warn('done');
    expect(term.visible()).toEqual(['ocikit: warning: the registry is slow', 'ocikit: warning: done']);
  });

  it.each([
    ['stderr is not a TTY', { isTTY: false }, {}],
    ['--no-progress', { isTTY: true }, { progress: false }],
    ['-q', { isTTY: true }, { quiet: true }],
    ['--json', { isTTY: true }, { json: true }],
  ])('writes nothing when %s (and asks the library for no byte counting)', (_what, tty, args) => {
    const written: string[] = [];
    const progress = run({ ...tty, columns: 80, write: (s: string) => written.push(s) > 0 }, args);
    expect(progress.onEvent).toBeUndefined();
    expect(written).toEqual([]);
  });
});
