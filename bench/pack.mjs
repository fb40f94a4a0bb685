#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack` against `tar -cf` of the same layout directory,
 * and reading the archive back (`ocikit unpack`, which verifies every digest)
 * against a bare `sha256sum` of the same bytes, in one run on one machine.
 * Prints wall time, peak RSS and the ratios (with --json, also the BENCH
 * line of measure.mjs). Not a test: run it by hand or via run-all.mjs.
 *
 *   npm run build && node bench/pack.mjs [--size-mib 1024] [--rounds 3] [--keep] [--json]
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
const rounds = numberOption('--rounds', 3);

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
  // otherwise land on the next command's clock), and with its output file gone.
  const settle = () => measure('sh', ['-c', `rm -f '${tarOut}' '${ocikitOut}' && sync`]);
  const sh = (script) => ['sh', ['-c', script]];
  // Two pairs that do the same job. `pack FILE` fsyncs the archive before renaming it into place
  // (a crash never leaves a half-written archive under the final name), so its peer is tar made
  // as durable. `pack - > FILE` is not fsynced, exactly like `tar -cf FILE`.
  const commands = {
    tar: sh(`tar -cf '${tarOut}' -C '${layout}' .`),
    tarSync: sh(`tar -cf '${tarOut}' -C '${layout}' . && sync '${tarOut}'`),
    pack: [process.execPath, [BIN, 'pack', layout, ocikitOut]],
    packStdout: sh(`'${process.execPath}' '${BIN}' pack '${layout}' - > '${ocikitOut}' 2>/dev/null`),
  };
  // The disk's speed drifts over a run on a shared machine: rounds alternate the commands and
  // the median of each is reported.
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      await settle();
      runs[name].push(await measure(cmd, args));
    }
  }
  const mid = (name) => {
    const sorted = [...runs[name]].sort((a, b) => a.seconds - b.seconds);
    return { ...sorted[Math.floor(sorted.length / 2)], peakMiB: Math.max(...runs[name].map((r) => r.peakMiB)), all: runs[name].map((r) => r.seconds.toFixed(2)).join(', ') };
  };
  const [tarRun, tarSyncRun, packRun, packStdoutRun] = ['tar', 'tarSync', 'pack', 'packStdout'].map(mid);

  await settle();
  await measure(process.execPath, [BIN, 'pack', layout, ocikitOut]);
  const shaRun = await measure('sha256sum', [ocikitOut]);
  const unpackRun = await measure(process.execPath, [BIN, 'unpack', ocikitOut, path.join(work, 'unpacked')]);
  const lsRun = await measure(process.execPath, [BIN, 'ls', ocikitOut]);

  const fmtAll = (r) => `${fmt(r)} (runs: ${r.all})`;
  say(`median of ${rounds} rounds:`);
  say(`tar -cf FILE            ${fmtAll(tarRun)}`);
  say(`tar -cf FILE + sync     ${fmtAll(tarSyncRun)}`);
  say(`ocikit pack - > FILE    ${fmtAll(packStdoutRun)}   ratio ${(packStdoutRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf (target <= 1.3x)`);
  say(`ocikit pack FILE        ${fmtAll(packRun)}   ratio ${(packRun.seconds / tarSyncRun.seconds).toFixed(2)}x tar -cf + sync (target <= 1.3x), ${(packRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf`);
  say(`sha256sum archive       ${fmt(shaRun)}`);
  say(`ocikit unpack           ${fmt(unpackRun)}   ratio ${(unpackRun.seconds / shaRun.seconds).toFixed(2)}x sha256sum (verifies and writes every blob)`);
  say(`ocikit ls archive       ${fmt(lsRun)}   (headers only: independent of the layer size)`);
  const rssOk = (r) => (r.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED');
  say(`peak RSS limit ${RSS_LIMIT_MIB} MiB: pack ${rssOk(packRun)}, pack to stdout ${rssOk(packStdoutRun)}, unpack ${rssOk(unpackRun)}`);
  const median = `median of ${rounds}`;
  emit([
    row({ name: `pack ${sizeMiB} MiB layer to stdout, neither fsynced`, ocikit_s: packStdoutRun.seconds, peer: 'tar -cf FILE', peer_s: tarRun.seconds, target: 1.3, ocikit_rss_mib: packStdoutRun.peakMiB, note: median }),
    row({ name: `pack ${sizeMiB} MiB layer to a file, both durable`, ocikit_s: packRun.seconds, peer: 'tar -cf + sync FILE', peer_s: tarSyncRun.seconds, target: 1.3, ocikit_rss_mib: packRun.peakMiB, note: median }),
    row({ name: `pack ${sizeMiB} MiB layer to a file, against tar not fsynced`, ocikit_s: packRun.seconds, peer: 'tar -cf FILE', peer_s: tarRun.seconds, ocikit_rss_mib: packRun.peakMiB, note: `${median}; pack fsyncs, tar does not` }),
    row({ name: `unpack ${sizeMiB} MiB layer`, ocikit_s: unpackRun.seconds, peer: 'sha256sum', peer_s: shaRun.seconds, ocikit_rss_mib: unpackRun.peakMiB, note: 'verifies and writes every blob' }),
    row({ name: `ls of a ${sizeMiB} MiB archive`, ocikit_s: lsRun.seconds, ocikit_rss_mib: lsRun.peakMiB, note: 'headers only' }),
  ]);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
