/**
 * Progress that tells the truth, end to end, with an image whose layer is
 * 20 MiB:
 * - the library reports the layer's bytes while it moves (push, pull, copy,
 *   pack, unpack, verify, and the earlier archive a pack merges with): its
 *   `bytes` events come before its `done` and add up to its size;
 * - the CLI under a real pseudo-terminal (util-linux `script`) draws the
 *   layer's line and leaves only its summary on the screen;
 * - with stderr not a terminal, nothing but the summary is printed.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  BYTES_STEP,
  copyReference,
  formatBytes,
  openReadTarget,
  openWriteTarget,
  pack,
  parseReference,
  pullImages,
  pushLayout,
  unpack,
  verifyTarget,
  type Descriptor,
  type LayoutReadTarget,
  type ProgressEvent,
  type ReadTarget,
} from '../../src/index.js';
import { afterFile, BIN, ocikit, run, type RunResult } from '../helpers/cli.js';
import { makeImageLayout, type MadeImage } from '../helpers/image-layouts.js';
import { once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { FakeTerminal } from '../helpers/terminal.js';

const { cleanups, tmp } = afterFile();
const LAYER_SIZE = 20 * 1024 * 1024;

const registry = once(async () => {
  const r = await startRegistry();
  cleanups.push(r.stop);
  return r;
});

/** One image tagged v1 whose first layer is 20 MiB (cheap filler: only its size matters here). */
const image = once(async (): Promise<MadeImage & { layer: Descriptor }> => {
  const dir = path.join(await tmp(), 'big');
  const made = await makeImageLayout(dir, { tag: 'v1', seed: 'progress', sharedLayer: Buffer.alloc(LAYER_SIZE, 'ocikit progress '), layerBytes: 64 });
  return { ...made, layer: made.blobs.find((b) => b.size === LAYER_SIZE)! };
});

async function withTarget<T>(input: string, fn: (t: ReadTarget) => Promise<T>): Promise<T> {
  const ref = parseReference(input);
  const t = await openReadTarget(ref, { wholeArchive: true });
  try {
    return await fn(t);
  } finally {
    await t.close?.();
  }
}

/**
 * The events of the 20 MiB layer: found (twice where the graph was announced
 * before the copy), start, one `bytes` per BYTES_STEP adding up to its size,
 * then done; and for every descriptor, found first and skip or done last.
 */
function expectLayerReported(events: ProgressEvent[], layer: Descriptor): void {
  const mine = events.filter((e) => e.descriptor.digest === layer.digest);
  expect(mine.map((e) => e.type).join(' ')).toMatch(/^(found )+start( bytes)+ done$/);
  const bytes = mine.filter((e): e is Extract<ProgressEvent, { type: 'bytes' }> => e.type === 'bytes');
  expect(bytes.length).toBe(LAYER_SIZE / BYTES_STEP);
  expect(bytes.reduce((n, e) => n + e.bytes, 0)).toBe(LAYER_SIZE);
  for (const [digest, types] of byDigest(events)) {
    expect(types[0], digest).toBe('found');
    expect(['skip', 'done'], digest).toContain(types.at(-1));
  }
}

function byDigest(events: ProgressEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of events) (m.get(e.descriptor.digest) ?? m.set(e.descriptor.digest, []).get(e.descriptor.digest)!).push(e.type);
  return m;
}

describe('the library reports bytes as a 20 MiB layer moves', () => {
  it('pack, pack again (merging the earlier archive), unpack, copy and verify', async () => {
    const img = await image();
    const dir = await tmp();
    const archive = path.join(dir, 'big.tar');

    const packed: ProgressEvent[] = [];
    await withTarget(img.dir, (src) => pack(src, parseReference(img.dir), archive, { onEvent: (e) => packed.push(e) }));
    expectLayerReported(packed, img.layer);

    // Writing into the archive again copies its earlier content first: that moves the layer's bytes too.
    const merged: ProgressEvent[] = [];
    await withTarget(img.dir, (src) => pack(src, parseReference(img.dir), archive, { onEvent: (e) => merged.push(e) }));
    const earlierCopy = merged.slice(0, merged.findIndex((e) => e.type === 'done' && e.descriptor.digest === img.manifest.digest) + 1);
    expectLayerReported(earlierCopy, img.layer);

    const unpacked: ProgressEvent[] = [];
    await withTarget(archive, (src) => unpack(src, parseReference(archive), path.join(dir, 'unpacked'), { onEvent: (e) => unpacked.push(e) }));
    expectLayerReported(unpacked, img.layer);

    const copied: ProgressEvent[] = [];
    await copyReference(parseReference(`${img.dir}:v1`), parseReference(`oci:${path.join(dir, 'copied')}`), { onEvent: (e) => copied.push(e) });
    expectLayerReported(copied, img.layer);

    for (const where of [img.dir, archive]) {
      const verified: ProgressEvent[] = [];
      const report = await withTarget(where, (t) => verifyTarget(t, { onEvent: (e) => verified.push(e) }));
      expect(report.ok).toBe(true);
      expectLayerReported(verified, img.layer);
    }
  });

  it('push to a registry and pull back; what the destination has is skipped, and leaves the total', async () => {
    const img = await image();
    const reg = await registry();
    const pushed: ProgressEvent[] = [];
    await withTarget(img.dir, async (src) => pushLayout(src as LayoutReadTarget, reg.host, 'progress/big', { onEvent: (e) => pushed.push(e) }));
    expectLayerReported(pushed, img.layer);

    const dir = path.join(await tmp(), 'pulled');
    const pulled: ProgressEvent[] = [];
    const dst = await openWriteTarget(parseReference(`oci:${dir}`), { create: true });
    try {
      await pullImages([parseReference(`${reg.host}/progress/big:v1`)], dst, { onEvent: (e) => pulled.push(e) });
      expectLayerReported(pulled, img.layer);

      // Pulled again: everything found is skipped, no bytes move, the total comes to nothing.
      const again: ProgressEvent[] = [];
      await pullImages([parseReference(`${reg.host}/progress/big:v1`)], dst, { onEvent: (e) => again.push(e) });
      expect(new Set(again.map((e) => e.type))).toEqual(new Set(['found', 'skip']));
    } finally {
      await dst.close?.();
    }
  });
});

describe('a local source of many images: the total is known before anything moves', () => {
  /** Every digest the command settles (skips or copies) was found before the first blob started. */
  function expectFoundUpFront(events: ProgressEvent[]): void {
    const firstStart = events.findIndex((e) => e.type === 'start');
    expect(firstStart).toBeGreaterThan(0);
    const foundEarly = new Set(events.slice(0, firstStart).filter((e) => e.type === 'found').map((e) => e.descriptor.digest));
    const settled = new Set(events.filter((e) => e.type === 'done' || e.type === 'skip').map((e) => e.descriptor.digest));
    expect([...settled].filter((d) => !foundEarly.has(d))).toEqual([]);
  }

  it('pack and push of a layout with two images', async () => {
    const base = await tmp();
    const two = await makeImageLayout(path.join(base, 'two'), { tag: 'v1', seed: 'first', layerBytes: 2048 });
    const other = await makeImageLayout(path.join(base, 'other'), { tag: 'v2', seed: 'second', layerBytes: 2048 });
    await copyReference(parseReference(`${other.dir}:v2`), parseReference(`oci:${two.dir}:v2`));

    const packed: ProgressEvent[] = [];
    await withTarget(two.dir, (src) => pack(src, parseReference(two.dir), path.join(base, 'two.tar'), { onEvent: (e) => packed.push(e) }));
    expectFoundUpFront(packed);
    // Both images' blobs and manifests: 2 x (manifest, config, layer).
    expect(new Set(packed.filter((e) => e.type === 'done').map((e) => e.descriptor.digest)).size).toBe(6);

    const reg = await registry();
    const pushed: ProgressEvent[] = [];
    await withTarget(two.dir, (src) => pushLayout(src as LayoutReadTarget, reg.host, 'progress/two', { onEvent: (e) => pushed.push(e) }));
    expectFoundUpFront(pushed);
  });
});

/** util-linux `script`, which runs a command on a new pseudo-terminal. */
function scriptTool(): string {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir, 'script'), constants.X_OK);
      return path.join(dir, 'script');
    } catch {
      // not here
    }
  }
  throw new Error('script (util-linux) is required by this test to run ocikit on a pseudo-terminal; install it with: apt-get install -y bsdutils');
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run the CLI with stdout and stderr on a pseudo-terminal; the terminal's bytes, and the screen they leave. */
async function onTerminal(args: string[]): Promise<{ res: RunResult; term: FakeTerminal }> {
  const res = await run(scriptTool(), ['-qfec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null']);
  const term = new FakeTerminal();
  term.write(res.stdout);
  return { res, term };
}

/** The layer's line as the display draws it (short digest), seen in some frame. */
function layerLine(img: { layer: Descriptor }): string {
  return `${img.layer.digest.slice(0, 'sha256:'.length + 12)}…`;
}

describe('the CLI on a pseudo-terminal', () => {
  it('pack, unpack, copy, verify, push and pull draw the 20 MiB layer with its size, and leave only the result', async () => {
    const img = await image();
    const reg = await registry();
    const dir = await tmp();
    const archive = path.join(dir, 'tty.tar');
    const runs: Array<[string, string[]]> = [
      ['packing', ['pack', img.dir, archive]],
      ['unpacking', ['unpack', archive, path.join(dir, 'unpacked')]],
      ['copying', ['copy', `${img.dir}:v1`, `oci:${path.join(dir, 'copied')}`]],
      ['verifying', ['verify', archive]],
      ['pushing', ['push', img.dir, `${reg.host}/progress/tty`]],
      ['pulling', ['pull', `${reg.host}/progress/tty:v1`, path.join(dir, 'pulled')]],
    ];
    for (const [verb, args] of runs) {
      const { res, term } = await onTerminal(args);
      expect(res.code, res.stdout).toBe(0);
      expect(res.stdout).toContain(verb);
      expect(res.stdout).toContain(layerLine(img));
      expect(res.stdout).toContain(`/ ${formatBytes(LAYER_SIZE)}`);
      // Nothing of the display is left: only the command's result lines.
      const screen = term.visible();
      expect(screen.length).toBeGreaterThan(0);
      expect(screen.join('\n')).not.toContain(verb);
      expect(screen.join('\n')).not.toContain(layerLine(img));
    }
  });

  it('Ctrl-C while the display is up: it is erased before the command says it stopped', async () => {
    const img = await image();
    const dir = await tmp();
    // pack writes to a FIFO held open here and never read: it stalls in the middle of the layer, display up.
    const fifo = path.join(dir, 'stalled');
    await run('mkfifo', [fifo]);
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const command = `${[process.execPath, BIN, 'pack', img.dir, '-'].map(quote).join(' ')} > ${quote(fifo)}`;
      const child = spawn(scriptTool(), ['-qfec', command, '/dev/null'], { env: { ...process.env, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let interrupted = false;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (interrupted || !out.includes(layerLine(img))) return;
        // ^C typed on the terminal: its line discipline sends SIGINT to ocikit.
        interrupted = true;
        child.stdin.write('\x03');
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      expect(interrupted, out).toBe(true);
      expect(code).toBe(130);
      const term = new FakeTerminal();
      term.write(out);
      // One line is left: the command's own, saying it stopped; nothing of the display.
      expect(term.visible()).toHaveLength(1);
      expect(term.visible()[0]).not.toContain('packing');
      expect(term.visible()[0]).not.toContain(layerLine(img));
    } finally {
      await reader.close();
    }
  });

  it('--no-progress and -q draw nothing on a terminal', async () => {
    const img = await image();
    const dir = await tmp();
    for (const flag of ['--no-progress', '-q']) {
      const { res } = await onTerminal(['pack', flag, img.dir, path.join(dir, `quiet${flag}.tar`)]);
      expect(res.code).toBe(0);
      expect(res.stdout).not.toContain('\x1b[');
    }
  });
});

describe('stderr that is not a terminal', () => {
  it('gets no progress at all from pack, unpack, copy, verify, push and pull', async () => {
    const img = await image();
    const reg = await registry();
    const dir = await tmp();
    const archive = path.join(dir, 'plain.tar');
    for (const args of [
      ['pack', img.dir, archive],
      ['unpack', archive, path.join(dir, 'unpacked')],
      ['copy', `${img.dir}:v1`, `oci:${path.join(dir, 'copied')}`],
      ['verify', archive],
      ['push', img.dir, `${reg.host}/progress/plain`],
      ['pull', `${reg.host}/progress/plain:v1`, path.join(dir, 'pulled')],
    ]) {
      const res = await ocikit(args);
      expect(res.code, `${args[0]}: ${res.stderr}`).toBe(0);
      expect(res.stderr, args[0]).toBe('');
    }
  });
});
