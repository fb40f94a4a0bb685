#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack` against `tar -cf` of the same layout directory,
 * and reading the archive back (`ocikit unpack`, which verifies every digest)
 * against a bare `sha256sum` of the same bytes, in one run on one machine.
 * Prints wall time, peak RSS and the ratios. Not a test: run it by hand.
 *
 *   npm run build && node bench/pack.mjs [--size-mib 1024] [--keep]
 *
 * The layout holds one image whose single layer is SIZE MiB of random
 * (incompressible) bytes. Peak RSS comes from /proc/<pid>/status VmHWM,
 * sampled until the process exits (Linux only). The page cache is warm for
 * every run (each command reads the same files right after another), which
 * favours neither side.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBigLayout } from './big-layout.mjs';
import { measure } from './measure.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ocikit.js');
const args = process.argv.slice(2);
const sizeMiB = Number(args[args.indexOf('--size-mib') + 1] ?? 1024) || 1024;
const keep = args.includes('--keep');

const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB`;

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const layout = path.join(work, 'layout');
  console.log(`building a layout with a ${sizeMiB} MiB random layer in ${work} ...`);
  await makeBigLayout(layout, sizeMiB);
  // Warm the page cache so that the first command measured does not pay for it alone.
  // (GNU tar skips reading file data when writing to /dev/null, so warm with cat.)
  await measure('sh', ['-c', `cat '${layout}'/blobs/sha256/* > /dev/null`]);

  const tarOut = path.join(work, 'tar.tar');
  const ocikitOut = path.join(work, 'ocikit.tar');
  const tarRun = await measure('tar', ['-cf', tarOut, '-C', layout, '.']);
  const packRun = await measure(process.execPath, [BIN, 'pack', layout, ocikitOut]);
  const shaRun = await measure('sha256sum', [ocikitOut]);
  const unpackRun = await measure(process.execPath, [BIN, 'unpack', ocikitOut, path.join(work, 'unpacked')]);
  const lsRun = await measure(process.execPath, [BIN, 'ls', ocikitOut]);

  console.log(`archive sizes: tar ${(await stat(tarOut)).size} bytes, ocikit ${(await stat(ocikitOut)).size} bytes`);
  console.log(`tar -cf            ${fmt(tarRun)}`);
  console.log(`ocikit pack        ${fmt(packRun)}   ratio ${(packRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf (target <= 1.3x)`);
  console.log(`sha256sum archive  ${fmt(shaRun)}`);
  console.log(`ocikit unpack      ${fmt(unpackRun)}   ratio ${(unpackRun.seconds / shaRun.seconds).toFixed(2)}x sha256sum (verifies and writes every blob)`);
  console.log(`ocikit ls archive  ${fmt(lsRun)}   (headers only: independent of the layer size)`);
  console.log(`peak RSS limit 150 MiB: pack ${packRun.peakMiB <= 150 ? 'ok' : 'EXCEEDED'}, unpack ${unpackRun.peakMiB <= 150 ? 'ok' : 'EXCEEDED'}`);
} finally {
  if (keep) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
