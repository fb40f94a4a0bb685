#!/usr/bin/env node
/**
 * Benchmark: `ocikit verify` of a layout holding one image with a 1 GiB
 * random layer, against a bare sha256 of the same file in Node (the hashing
 * limit), in one run on one machine. Prints both times and the ratio
 * (target: verify within 1.3x). Not a test: run it by hand.
 *
 *   npm run build && node bench/verify.mjs [--size-mib 1024] [--rounds 3] [--keep]
 *
 * Both sides run as fresh Node processes (so both pay the start-up cost) and
 * read the file through the page cache, warmed by a first untimed read. The
 * rounds alternate the two sides and the best time of each is reported,
 * which keeps noise from other work on the machine out of the ratio.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBigLayout } from './big-layout.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ocikit.js');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || fallback : fallback;
};
const sizeMiB = opt('--size-mib', 1024);
const rounds = opt('--rounds', 3);
const keep = args.includes('--keep');

/** The baseline: what hashing the file costs in Node, streamed the usual way (1 MiB reads). */
const BARE_SHA256 = `
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const h = createHash('sha256');
createReadStream(process.argv[1], { highWaterMark: 1024 * 1024 })
  .on('data', (c) => h.update(c))
  .on('end', () => console.log('sha256:' + h.digest('hex')));
`;

function timed(cmd, argv) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (code !== 0) reject(new Error(`${path.basename(cmd)} ${argv.slice(0, 2).join(' ')} exited ${code}: ${err}${out}`));
      else resolve({ seconds, out });
    });
  });
}

const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-verify-'));
try {
  process.stdout.write(`building a layout with a ${sizeMiB} MiB random layer in ${dir} ...\n`);
  const { layerPath, digest } = await makeBigLayout(dir, sizeMiB);
  // Warm the page cache, and check that the baseline computes the right thing.
  const warm = await timed(process.execPath, ['-e', BARE_SHA256, layerPath]);
  if (warm.out.trim() !== digest) throw new Error(`baseline hashed ${warm.out.trim()}, expected ${digest}`);

  const bare = [];
  const verify = [];
  for (let i = 0; i < rounds; i++) {
    bare.push((await timed(process.execPath, ['-e', BARE_SHA256, layerPath])).seconds);
    verify.push((await timed(process.execPath, [BIN, 'verify', dir])).seconds);
  }
  const best = (xs) => Math.min(...xs);
  const mibps = (s) => (sizeMiB / s).toFixed(0);
  const fmt = (xs) => xs.map((s) => s.toFixed(2)).join(', ');
  process.stdout.write(`bare sha256 (node): best ${best(bare).toFixed(2)} s (${mibps(best(bare))} MiB/s); runs: ${fmt(bare)}\n`);
  process.stdout.write(`ocikit verify:      best ${best(verify).toFixed(2)} s (${mibps(best(verify))} MiB/s); runs: ${fmt(verify)}\n`);
  const ratio = best(verify) / best(bare);
  process.stdout.write(`ratio verify / sha256: ${ratio.toFixed(2)}x (target <= 1.30x): ${ratio <= 1.3 ? 'OK' : 'OVER'}\n`);
} finally {
  if (keep) process.stdout.write(`kept ${dir}\n`);
  else await rm(dir, { recursive: true, force: true });
}
