#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack` against `tar -cf` of the same layout directory,
 * and reading the archive back (`ocikit unpack`, which verifies every digest)
 * against `tar -xf` of the same archive, in one run on one machine, at
 * 512 MiB and at 1 GiB (issue 18: pack <= 1.1x, unpack <= 1.2x).
 * Prints wall time, peak RSS and the ratios (with --json, also the BENCH
 * line of measure.mjs). Not a test: run it by hand or via run-all.mjs.
 *
 *   npm run build && node bench/pack.mjs [--size-mib N] [--rounds 3] [--keep] [--json]
 *
 * Without --size-mib both sizes run; with it, that one size. The layout
 * holds one image whose single layer is SIZE MiB of random
 * (incompressible) bytes. Peak RSS: see measure.mjs. The page cache is warm for
 * every run (each command reads the same files right after another), which
 * favours neither side.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, RSS_LIMIT_MIB, say } from './measure.mjs';

const sizes = numberOption('--size-mib', 0) ? [numberOption('--size-mib', 0)] : [512, 1024];
const keep = hasFlag('--keep');
const rounds = numberOption('--rounds', 3);
const PACK_TARGET = 1.1;
const UNPACK_TARGET = 1.2;

const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB`;
const sh = (script) => ['sh', ['-c', script]];

/**
 * Run every command of `commands` once per round, in turn (the disk's speed drifts over a run on
 * a shared machine, so rounds alternate the commands), `before` each; the median of each.
 */
async function alternate(commands, before) {
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      await before();
      runs[name].push(await measure(cmd, args));
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, rs]) => {
      const sorted = [...rs].sort((a, b) => a.seconds - b.seconds);
      return [name, { ...sorted[Math.floor(sorted.length / 2)], peakMiB: Math.max(...rs.map((r) => r.peakMiB)), all: rs.map((r) => r.seconds.toFixed(2)).join(', ') }];
    }),
  );
}

async function benchSize(work, sizeMiB) {
  const layout = path.join(work, `layout-${sizeMiB}`);
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
  // Two pairs that do the same job. `pack FILE` fsyncs the archive before renaming it into place
  // (a crash never leaves a half-written archive under the final name), so its peer is tar made
  // as durable. `pack - > FILE` is not fsynced, exactly like `tar -cf FILE`.
  const packed = await alternate(
    {
      tar: sh(`tar -cf '${tarOut}' -C '${layout}' .`),
      tarSync: sh(`tar -cf '${tarOut}' -C '${layout}' . && sync '${tarOut}'`),
      pack: [process.execPath, [BIN, 'pack', layout, ocikitOut]],
      packStdout: sh(`'${process.execPath}' '${BIN}' pack '${layout}' - > '${ocikitOut}' 2>/dev/null`),
    },
    settle,
  );

  // Reading back: both extract the same archive (ocikit's) into a directory that does not exist
  // yet. unpack fsyncs every blob before renaming it into place (fs/atomic.ts) and tar does not,
  // so tar is measured twice: as the peer (`tar -xf`) and made as durable (`&& sync`:
  // the settle step left no other dirty pages, so that flushes what tar wrote and nothing else).
  await settle();
  await measure(process.execPath, [BIN, 'pack', layout, ocikitOut]);
  await measure('sh', ['-c', `cat '${ocikitOut}' > /dev/null`]);
  const outDir = path.join(work, 'out');
  const clean = () => measure('sh', ['-c', `rm -rf '${outDir}' && sync`]);
  const unpacked = await alternate(
    {
      tarX: sh(`mkdir '${outDir}' && tar -xf '${ocikitOut}' -C '${outDir}'`),
      tarXSync: sh(`mkdir '${outDir}' && tar -xf '${ocikitOut}' -C '${outDir}' && sync`),
      unpack: [process.execPath, [BIN, 'unpack', ocikitOut, outDir]],
    },
    clean,
  );
  await clean();
  const lsRun = await measure(process.execPath, [BIN, 'ls', ocikitOut]);
  if (!keep) await rm(layout, { recursive: true, force: true });

  const { tar: tarRun, tarSync: tarSyncRun, pack: packRun, packStdout: packStdoutRun } = packed;
  const { tarX: tarXRun, tarXSync: tarXSyncRun, unpack: unpackRun } = unpacked;
  const fmtAll = (r) => `${fmt(r)} (runs: ${r.all})`;
  say(`${sizeMiB} MiB, median of ${rounds} rounds:`);
  say(`tar -cf FILE            ${fmtAll(tarRun)}`);
  say(`tar -cf FILE + sync     ${fmtAll(tarSyncRun)}`);
  say(`ocikit pack - > FILE    ${fmtAll(packStdoutRun)}   ratio ${(packStdoutRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf (target <= ${PACK_TARGET}x)`);
  say(`ocikit pack FILE        ${fmtAll(packRun)}   ratio ${(packRun.seconds / tarSyncRun.seconds).toFixed(2)}x tar -cf + sync (target <= ${PACK_TARGET}x), ${(packRun.seconds / tarRun.seconds).toFixed(2)}x tar -cf`);
  say(`tar -xf                 ${fmtAll(tarXRun)}`);
  say(`tar -xf + sync          ${fmtAll(tarXSyncRun)}`);
  say(`ocikit unpack           ${fmtAll(unpackRun)}   ratio ${(unpackRun.seconds / tarXRun.seconds).toFixed(2)}x tar -xf (target <= ${UNPACK_TARGET}x; verifies every blob), ${(unpackRun.seconds / tarXSyncRun.seconds).toFixed(2)}x tar -xf + sync`);
  say(`ocikit ls archive       ${fmt(lsRun)}   (headers only: independent of the layer size)`);
  const rssOk = (r) => (r.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED');
  say(`peak RSS limit ${RSS_LIMIT_MIB} MiB: pack ${rssOk(packRun)}, pack to stdout ${rssOk(packStdoutRun)}, unpack ${rssOk(unpackRun)}`);
  const median = `median of ${rounds}`;
  return [
    row({ name: `pack ${sizeMiB} MiB layer to stdout, neither fsynced`, ocikit_s: packStdoutRun.seconds, peer: 'tar -cf FILE', peer_s: tarRun.seconds, target: PACK_TARGET, ocikit_rss_mib: packStdoutRun.peakMiB, note: median }),
    row({ name: `pack ${sizeMiB} MiB layer to a file, both durable`, ocikit_s: packRun.seconds, peer: 'tar -cf + sync FILE', peer_s: tarSyncRun.seconds, target: PACK_TARGET, ocikit_rss_mib: packRun.peakMiB, note: median }),
    row({ name: `pack ${sizeMiB} MiB layer to a file, against tar not fsynced`, ocikit_s: packRun.seconds, peer: 'tar -cf FILE', peer_s: tarRun.seconds, ocikit_rss_mib: packRun.peakMiB, note: `${median}; pack fsyncs, tar does not` }),
    row({ name: `unpack ${sizeMiB} MiB layer`, ocikit_s: unpackRun.seconds, peer: 'tar -xf', peer_s: tarXRun.seconds, target: UNPACK_TARGET, ocikit_rss_mib: unpackRun.peakMiB, note: `${median}; verifies every blob; unpack fsyncs, tar does not` }),
    row({ name: `unpack ${sizeMiB} MiB layer, both durable`, ocikit_s: unpackRun.seconds, peer: 'tar -xf + sync', peer_s: tarXSyncRun.seconds, ocikit_rss_mib: unpackRun.peakMiB, note: median }),
    row({ name: `ls of a ${sizeMiB} MiB archive`, ocikit_s: lsRun.seconds, ocikit_rss_mib: lsRun.peakMiB, note: 'headers only' }),
  ];
}

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const rows = [];
  for (const sizeMiB of sizes) rows.push(...(await benchSize(work, sizeMiB)));
  emit(rows);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
