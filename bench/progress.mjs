#!/usr/bin/env node
/**
 * Benchmark: what the progress display costs. `verify` (read and hash, the
 * most CPU-bound verb) and `pack` of a layout with one large layer, each run
 * on a pseudo-terminal (util-linux `script`) with the display drawn, against
 * the same command on the same pseudo-terminal with --no-progress. The bytes
 * are counted inside the verifying streams (src/fs/count-bytes.ts) and a
 * frame is drawn at most every 200 ms, so the two should be indistinguishable.
 * Prints wall time, peak RSS and the ratios (with --json, the BENCH line of
 * measure.mjs). Not a test.
 *
 *   npm run build && node bench/progress.mjs [--size-mib 512] [--rounds 5] [--keep] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 512);
const rounds = numberOption('--rounds', 5);
const keep = hasFlag('--keep');

const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
/** `ocikit ARGS` with stdout and stderr on a new pseudo-terminal. */
const onTerminal = (args) => ['script', ['-qfec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null']];

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const layout = path.join(work, 'layout');
  say(`building a layout with a ${sizeMiB} MiB random layer in ${work} ...`);
  await makeBigLayout(layout, sizeMiB);
  await measure('sh', ['-c', `cat '${layout}'/blobs/sha256/* > /dev/null`]);
  const out = path.join(work, 'out.tar');

  const commands = {
    verify: onTerminal(['verify', layout]),
    verifyQuiet: onTerminal(['verify', '--no-progress', layout]),
    pack: onTerminal(['pack', layout, '-']),
    packQuiet: onTerminal(['pack', '--no-progress', layout, '-']),
  };
  // pack writes the archive to stdout, which `script` hands to the terminal: send it to a file instead.
  for (const name of ['pack', 'packQuiet']) commands[name][1][1] = `${commands[name][1][1]} > ${quote(out)}`;
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  // Alternate the commands in each round: a shared machine's speed drifts over a run.
  for (let round = 0; round < rounds; round++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) runs[name].push(await measure(cmd, args));
  }
  const mid = (name) => {
    const sorted = [...runs[name]].sort((a, b) => a.seconds - b.seconds);
    return { ...sorted[Math.floor(sorted.length / 2)], peakMiB: Math.max(...runs[name].map((r) => r.peakMiB)), all: runs[name].map((r) => r.seconds.toFixed(2)).join(', ') };
  };
  const [verify, verifyQuiet, pack, packQuiet] = ['verify', 'verifyQuiet', 'pack', 'packQuiet'].map(mid);
  const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB (runs: ${r.all})`;
  say(`median of ${rounds} rounds, ${sizeMiB} MiB layer, on a pseudo-terminal:`);
  say(`verify                  ${fmt(verify)}   ratio ${(verify.seconds / verifyQuiet.seconds).toFixed(2)}x --no-progress`);
  say(`verify --no-progress    ${fmt(verifyQuiet)}`);
  say(`pack -                  ${fmt(pack)}   ratio ${(pack.seconds / packQuiet.seconds).toFixed(2)}x --no-progress`);
  say(`pack --no-progress -    ${fmt(packQuiet)}`);
  const note = `median of ${rounds}, on a pseudo-terminal`;
  emit([
    row({ name: `verify ${sizeMiB} MiB layer with progress`, ocikit_s: verify.seconds, peer: 'verify --no-progress', peer_s: verifyQuiet.seconds, target: 1.1, ocikit_rss_mib: verify.peakMiB, note }),
    row({ name: `pack ${sizeMiB} MiB layer with progress`, ocikit_s: pack.seconds, peer: 'pack --no-progress', peer_s: packQuiet.seconds, target: 1.1, ocikit_rss_mib: pack.peakMiB, note }),
  ]);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
