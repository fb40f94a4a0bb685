#!/usr/bin/env node
/**
 * Benchmark: start-up cost. `ocikit --version` and `ocikit ls` of a small
 * layout (three images) against `node -e 0` (Node alone), each run many
 * times as a fresh process, alternating, median of each (issue 18 targets:
 * --version within 1.5x, ls within 2x). No hyperfine: a median of many runs
 * is robust enough against the noise of a shared machine. Not a test.
 *
 *   npm run build && node bench/version.mjs [--runs 30] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, emit, measure, median, numberOption, row, say } from './measure.mjs';
import { makeSmallLayouts } from './small-layouts.mjs';

const runs = numberOption('--runs', 30);
const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-version-'));
try {
  const layout = path.join(work, 'small');
  await makeSmallLayouts(layout, 3);
  const commands = {
    node: [process.execPath, ['-e', '0']],
    version: [process.execPath, [BIN, '--version']],
    ls: [process.execPath, [BIN, 'ls', layout]],
  };
  const times = { node: [], version: [], ls: [] };
  const rss = { node: 0, version: 0, ls: 0 };
  // One untimed run of each first: loads node and the dist/ files into the page cache.
  for (const [cmd, args] of Object.values(commands)) await measure(cmd, args);
  for (let i = 0; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const r = await measure(cmd, args);
      times[name].push(r.seconds);
      rss[name] = Math.max(rss[name], r.peakMiB);
    }
  }
  const [n, v, l] = [median(times.node), median(times.version), median(times.ls)];
  const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
  say(`node -e 0:        median ${ms(n)} over ${runs} runs`);
  say(`ocikit --version: median ${ms(v)}, peak RSS ${rss.version.toFixed(0)} MiB, ratio ${(v / n).toFixed(2)}x (target <= 1.5x): ${v / n <= 1.5 ? 'OK' : 'OVER'}`);
  say(`ocikit ls SMALL:  median ${ms(l)}, peak RSS ${rss.ls.toFixed(0)} MiB, ratio ${(l / n).toFixed(2)}x (target <= 2x): ${l / n <= 2 ? 'OK' : 'OVER'}`);
  emit([
    row({ name: 'ocikit --version (start-up)', ocikit_s: v, peer: 'node -e 0', peer_s: n, target: 1.5, ocikit_rss_mib: rss.version, note: `median of ${runs}` }),
    row({ name: 'ocikit ls of a layout of 3 images (start-up)', ocikit_s: l, peer: 'node -e 0', peer_s: n, target: 2, ocikit_rss_mib: rss.ls, note: `median of ${runs}` }),
  ]);
} finally {
  await rm(work, { recursive: true, force: true });
}
