#!/usr/bin/env node
/**
 * Benchmark: `ocikit verify` of a layout holding one image with a 1 GiB
 * random layer, against a bare sha256 of the same file in Node (the hashing
 * limit), in one run on one machine. Prints both times and the ratio
 * (target: verify within 1.3x). Not a test: run it by hand.
 *
 *   npm run build && node bench/verify.mjs [--size-mib 1024] [--rounds 3] [--keep] [--json]
 *
 * Both sides run as fresh Node processes (so both pay the start-up cost) and
 * read the file through the page cache, warmed by a first untimed read. The
 * rounds alternate the two sides and the best time of each is reported,
 * which keeps noise from other work on the machine out of the ratio.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 1024);
const rounds = numberOption('--rounds', 3);
const keep = hasFlag('--keep');

/** The baseline: what hashing the file costs in Node, streamed the usual way (1 MiB reads). */
const BARE_SHA256 = `
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const h = createHash('sha256');
createReadStream(process.argv[1], { highWaterMark: 1024 * 1024 })
  .on('data', (c) => h.update(c))
  .on('end', () => console.log('sha256:' + h.digest('hex')));
`;

const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-verify-'));
try {
  say(`building a layout with a ${sizeMiB} MiB random layer in ${dir} ...`);
  const { layerPath, digest } = await makeBigLayout(dir, sizeMiB);
  // Warm the page cache, and check that the baseline computes the right thing.
  const warm = await measure(process.execPath, ['-e', BARE_SHA256, layerPath], { stdout: 'pipe' });
  if (warm.stdout.trim() !== digest) throw new Error(`baseline hashed ${warm.stdout.trim()}, expected ${digest}`);

  const bare = [];
  const verify = [];
  let verifyRss = 0;
  for (let i = 0; i < rounds; i++) {
    bare.push((await measure(process.execPath, ['-e', BARE_SHA256, layerPath])).seconds);
    const v = await measure(process.execPath, [BIN, 'verify', dir]);
    verify.push(v.seconds);
    verifyRss = Math.max(verifyRss, v.peakMiB);
  }
  const best = (xs) => Math.min(...xs);
  const mibps = (s) => (sizeMiB / s).toFixed(0);
  const fmt = (xs) => xs.map((s) => s.toFixed(2)).join(', ');
  say(`bare sha256 (node): best ${best(bare).toFixed(2)} s (${mibps(best(bare))} MiB/s); runs: ${fmt(bare)}`);
  say(`ocikit verify:      best ${best(verify).toFixed(2)} s (${mibps(best(verify))} MiB/s); runs: ${fmt(verify)}; peak RSS ${verifyRss.toFixed(0)} MiB`);
  const ratio = best(verify) / best(bare);
  say(`ratio verify / sha256: ${ratio.toFixed(2)}x (target <= 1.30x): ${ratio <= 1.3 ? 'OK' : 'OVER'}`);
  emit([row({ name: `verify ${sizeMiB} MiB layer`, ocikit_s: best(verify), peer: 'sha256 (node)', peer_s: best(bare), target: 1.3, ocikit_rss_mib: verifyRss, note: `best of ${rounds}` })]);
} finally {
  if (keep) say(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
