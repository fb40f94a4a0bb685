#!/usr/bin/env node
/**
 * Benchmark: `ocikit copy LAYOUT docker-archive:FILE` against `skopeo copy
 * oci:LAYOUT docker-archive:FILE` of the same image, whose single layer is
 * SIZE MiB of random bytes in a gzip stream (the shape of a real layer: both
 * tools decompress it into the archive and check it against its diff_id).
 * Prints wall time and peak RSS, which must not grow with the layer size
 * (with --json, also the BENCH line of measure.mjs). Not a test: run it by
 * hand or via run-all.mjs.
 *
 *   npm run build && node bench/docker-archive.mjs [--size-mib 1024] [--rounds 3] [--keep] [--json]
 *
 * skopeo is optional: without it, only ocikit's row is printed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, median, measure, numberOption, row, RSS_LIMIT_MIB, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 1024);
const rounds = numberOption('--rounds', 3);
const keep = hasFlag('--keep');

function hasSkopeo() {
  try {
    execFileSync('skopeo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const layout = path.join(work, 'layout');
  say(`building a layout with a ${sizeMiB} MiB random gzip layer in ${work} ...`);
  await makeBigLayout(layout, sizeMiB, { gzip: true });
  const out = path.join(work, 'image.tar');
  const settle = () => measure('sh', ['-c', `rm -f '${out}' && sync`]);
  const commands = { ocikit: [process.execPath, [BIN, 'copy', `${layout}:big`, `docker-archive:${out}:example/big:1`]] };
  if (hasSkopeo()) commands.skopeo = ['skopeo', ['copy', '-q', `oci:${layout}:big`, `docker-archive:${out}:example/big:1`]];
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      await settle();
      runs[name].push(await measure(cmd, args));
    }
  }
  const summary = (name) => ({ seconds: median(runs[name].map((r) => r.seconds)), peakMiB: Math.max(...runs[name].map((r) => r.peakMiB)) });
  const ocikit = summary('ocikit');
  const skopeo = runs.skopeo ? summary('skopeo') : undefined;
  const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB`;
  say(`median of ${rounds} rounds, ${sizeMiB} MiB layer:`);
  say(`ocikit copy -> docker-archive   ${fmt(ocikit)}${skopeo ? `   ratio ${(ocikit.seconds / skopeo.seconds).toFixed(2)}x skopeo` : ''}`);
  if (skopeo) say(`skopeo copy -> docker-archive   ${fmt(skopeo)}`);
  say(`peak RSS limit ${RSS_LIMIT_MIB} MiB: ${ocikit.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED'}`);
  emit([
    row({
      name: `copy ${sizeMiB} MiB gzip layer to docker-archive`,
      ocikit_s: ocikit.seconds,
      peer: skopeo ? 'skopeo copy oci: docker-archive:' : null,
      peer_s: skopeo?.seconds ?? null,
      ocikit_rss_mib: ocikit.peakMiB,
      note: `median of ${rounds}; decompressed and checked against diff_id, fsynced`,
    }),
  ]);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
