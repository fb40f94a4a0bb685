#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack` against `tar -cf` of the same layout directory,
 * and reading the archive back (`ocikit unpack`, which verifies every digest)
 * against a bare `sha256sum` of the same bytes, in one run on one machine.
 * Prints wall time, peak RSS and the ratios (with --json, also the BENCH
 * line of measure.mjs). Not a test: run it by hand or via run-all.mjs.
 *
 *   npm run build && node bench/pack.mjs [--size-mib 1024] [--keep] [--json]
 *
 * The layout holds one image whose single layer is SIZE MiB of random
 * (incompressible) bytes. Peak RSS: see measure.mjs. The page cache is warm for
 * every run (each command reads the same files right after another), which
 * favours neither side.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, RSS_LIMIT_MIB, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 1024);
const keep = hasFlag('--keep');

const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB`;

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const layout = path.join(work, 'layout');
  say(`building a layout with a ${sizeMiB} MiB random layer in ${work} ...`);
  await makeBigLayout(layout, sizeMiB);
  // Warm the page cache so that the first command measured does not pay for it alone.
  // (GNU tar skips reading file data when writing to /dev/null, so warm with cat.)
  await measure('sh', ['-c', `cat '${layout}'/blobs/sha256/* > /dev/null`]);

  const tarOut = path.join(work, 'tar.tar');
  const ocikitOut = path.join(work, 'ocikit.tar');
  // Each timed command starts with no dirty pages left by the one before (whose writeback would
  // otherwise land on the next command's clock).
  const settle = () => measure('sync', []);
  await settle();
  const tarRun = await measure('tar', ['-cf', tarOut, '-C', layout, '.']);
  await settle();
  // ocikit pack fsyncs the archive before renaming it into place (a crash never leaves a
  // half-written archive under the final name); tar does not, so also time tar made as durable.
  const tarSyncRun = await measure('sh', ['-c', `rm -f '${tarOut}' && tar -cf '${tarOut}' -C '${layout}' . && sync '${tarOut}'`]);
  await settle();
  const packRun = await measure(process.execPath, [BIN, 'pack', layout, ocikitOut]);
  await settle();
  const shaRun = await measure('sha256sum', [ocikitOut]);
  const unpackRun = await measure(process.execPath, [BIN, 'unpack', ocikitOut, path.join(work, 'unpacked')]);
  const lsRun = await measure(process.execPath, [BIN, 'ls', ocikitOut]);

  say(`archive sizes: tar ${(await stat(tarOut)).size} bytes, ocikit ${(await stat(ocikitOut)).size} bytes`);
  say(`tar -cf            ${fmt(tarRun)}`);
  say(`tar -cf + sync     ${fmt(tarSyncRun)}   (the archive fsynced, as ocikit's is)`);
  say(`ocikit pack        ${fmt(packRun)}   ratio ${(packRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf (target <= 1.3x), ${(packRun.seconds / tarSyncRun.seconds).toFixed(2)}x tar -cf + sync`);
  say(`sha256sum archive  ${fmt(shaRun)}`);
  say(`ocikit unpack      ${fmt(unpackRun)}   ratio ${(unpackRun.seconds / shaRun.seconds).toFixed(2)}x sha256sum (verifies and writes every blob)`);
  say(`ocikit ls archive  ${fmt(lsRun)}   (headers only: independent of the layer size)`);
  say(`peak RSS limit ${RSS_LIMIT_MIB} MiB: pack ${packRun.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED'}, unpack ${unpackRun.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED'}`);
  emit([
    row({ name: `pack ${sizeMiB} MiB layer`, ocikit_s: packRun.seconds, peer: 'tar -cf', peer_s: tarRun.seconds, target: 1.3, ocikit_rss_mib: packRun.peakMiB, note: 'pack fsyncs its archive, tar does not' }),
    row({ name: `pack ${sizeMiB} MiB layer, both durable`, ocikit_s: packRun.seconds, peer: 'tar -cf + sync FILE', peer_s: tarSyncRun.seconds, target: 1.3, ocikit_rss_mib: packRun.peakMiB }),
    row({ name: `unpack ${sizeMiB} MiB layer`, ocikit_s: unpackRun.seconds, peer: 'sha256sum', peer_s: shaRun.seconds, ocikit_rss_mib: unpackRun.peakMiB, note: 'verifies and writes every blob' }),
    row({ name: `ls of a ${sizeMiB} MiB archive`, ocikit_s: lsRun.seconds, ocikit_rss_mib: lsRun.peakMiB, note: 'headers only' }),
  ]);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
