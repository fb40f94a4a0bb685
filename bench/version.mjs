#!/usr/bin/env node
/**
 * Benchmark: start-up cost. `ocikit --version` against `node -e 0` (Node
 * alone), each run many times as a fresh process, alternating, median of
 * each (target: within 2x). No hyperfine: a median of many runs is robust
 * enough against the noise of a shared machine. Not a test.
 *
 *   npm run build && node bench/version.mjs [--runs 30] [--json]
 */
import { BIN, emit, measure, median, numberOption, row, say } from './measure.mjs';

const runs = numberOption('--runs', 30);
const node = [];
const ocikit = [];
let rss = 0;
// One untimed run of each first: loads node and the dist/ files into the page cache.
await measure(process.execPath, ['-e', '0']);
await measure(process.execPath, [BIN, '--version']);
for (let i = 0; i < runs; i++) {
  node.push((await measure(process.execPath, ['-e', '0'])).seconds);
  const r = await measure(process.execPath, [BIN, '--version']);
  ocikit.push(r.seconds);
  rss = Math.max(rss, r.peakMiB);
}
const [o, n] = [median(ocikit), median(node)];
say(`node -e 0:        median ${(n * 1000).toFixed(0)} ms over ${runs} runs`);
say(`ocikit --version: median ${(o * 1000).toFixed(0)} ms over ${runs} runs, peak RSS ${rss.toFixed(0)} MiB`);
say(`ratio ${(o / n).toFixed(2)}x (target <= 2x): ${o / n <= 2 ? 'OK' : 'OVER'}`);
emit([row({ name: 'ocikit --version (start-up)', ocikit_s: o, peer: 'node -e 0', peer_s: n, target: 2, ocikit_rss_mib: rss, note: `median of ${runs}` })]);
