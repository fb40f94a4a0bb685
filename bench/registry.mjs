#!/usr/bin/env node
/**
 * Benchmark: ocikit against skopeo on a local registry, in one run on one
 * machine (issue 5, performance):
 *
 *   push-1gib    `ocikit push LAYOUT HOST/big`  vs `skopeo copy oci:LAYOUT:big docker://HOST/big:big`   target <= 0.8x, RSS < 150 MB (issue 18)
 *   pull-1gib    `ocikit pull HOST/big:big DIR` vs `skopeo copy docker://HOST/big:big oci:DIR:big`     target <= 0.7x
 *   push-small   `ocikit push LAYOUT HOST/small` (200 images, one command)
 *                vs a shell loop of 200 `skopeo copy oci:LAYOUT:img-N docker://HOST/small:img-N`   target <= 0.25x
 *
 *   npm run build && node bench/registry.mjs [--runs 3] [--size-mib 1024] [--images 200] [--json] [--keep]
 *
 * Conditions, so that neither tool is favoured:
 * - every push goes into a registry started for that one push (Debian's
 *   docker-registry 2.8, plain HTTP on loopback, storage in a temp dir), so
 *   nothing is there already; both pulls read from the same registry;
 * - layers are real gzip (stored blocks of random bytes): skopeo would
 *   compress an uncompressed layer on its way to a registry, which would
 *   time gzip instead of the transfer;
 * - the page cache is warmed before the first run, each pull writes into a
 *   new directory, and the order of the two tools alternates between runs;
 * - each run pairs the two tools back to back; the times reported are the
 *   medians over runs, the ratio is the median of the per-run ratios (a
 *   load change on a shared machine hits both sides of a pair alike), and
 *   RSS is the largest peak seen over all runs.
 *
 * With --json the last stdout line is `BENCH {"rows":[...]}` for `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBigLayout } from './big-layout.mjs';
import { measure, median, numberOption } from './measure.mjs';
import { startRegistry } from './registry-server.mjs';
import { makeSmallLayouts } from './small-layouts.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ocikit.js');
const args = process.argv.slice(2);
const runs = numberOption('--runs', 3);
const sizeMiB = numberOption('--size-mib', 1024);
const imageCount = numberOption('--images', 200);
const json = args.includes('--json');
const keep = args.includes('--keep');
// Progress goes to stderr with --json, so stdout carries only the BENCH line (and the table before it).
const log = (line) => (json ? console.error(line) : console.log(line));

const ocikit = (...argv) => measure(process.execPath, [BIN, ...argv, '--no-progress']);
const skopeo = (...argv) => measure('skopeo', ['copy', '--quiet', ...argv]);

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-registry-'));
/** Registries started and not yet stopped, for the cleanup after a failure. */
const live = new Set();
async function withRegistry(fn) {
  const reg = await startRegistry(work);
  live.add(reg);
  try {
    return await fn(reg.host);
  } finally {
    live.delete(reg);
    await reg.stop();
  }
}

/** One pair: the two commands back to back, in `order`. */
async function pair(ocikitRun, skopeoRun, ocikitFirst) {
  if (ocikitFirst) {
    const o = await ocikitRun();
    return { o, s: await skopeoRun() };
  }
  const s = await skopeoRun();
  return { o: await ocikitRun(), s };
}

/** Row names as `npm run bench` reports them: `push-1gib` at the default size. */
const sizeLabel = sizeMiB % 1024 === 0 ? `${sizeMiB / 1024}gib` : `${sizeMiB}mib`;
const BIG_PUSH = `push-${sizeLabel}`;
const BIG_PULL = `pull-${sizeLabel}`;
const SMALL_PUSH = `push-${imageCount}-small`;
const results = { [BIG_PUSH]: [], [BIG_PULL]: [], [SMALL_PUSH]: [] };
const targets = { [BIG_PUSH]: 0.8, [BIG_PULL]: 0.7, [SMALL_PUSH]: 0.25 };
try {
  const big = path.join(work, 'big');
  const small = path.join(work, 'small');
  log(`building a layout with a ${sizeMiB} MiB gzip layer and one with ${imageCount} small images in ${work} ...`);
  await makeBigLayout(big, sizeMiB, { gzip: true });
  const tags = await makeSmallLayouts(small, imageCount);
  await measure('sh', ['-c', `cat '${big}'/blobs/sha256/* '${small}'/blobs/sha256/* > /dev/null`]);
  const loop = (host) => `for t in ${tags.join(' ')}; do skopeo copy --quiet --dest-tls-verify=false oci:'${small}':$t docker://${host}/small:$t || exit 1; done`;

  for (let run = 1; run <= runs; run++) {
    const ocikitFirst = run % 2 === 1;
    log(`run ${run}/${runs} (load ${loadavg().map((l) => l.toFixed(2)).join(' ')}), ${ocikitFirst ? 'ocikit' : 'skopeo'} first`);
    // Push into two fresh registries; the pulls then read from the one ocikit filled.
    await withRegistry(async (ocikitHost) => {
      const push = await pair(
        () => ocikit('push', big, `${ocikitHost}/big`),
        () => withRegistry((host) => skopeo('--dest-tls-verify=false', `oci:${big}:big`, `docker://${host}/big:big`)),
        ocikitFirst,
      );
      results[BIG_PUSH].push(push);
      const out = await mkdtemp(path.join(work, 'pull-'));
      try {
        results[BIG_PULL].push(
          await pair(
            () => ocikit('pull', `${ocikitHost}/big:big`, path.join(out, 'ocikit')),
            () => skopeo('--src-tls-verify=false', `docker://${ocikitHost}/big:big`, `oci:${path.join(out, 'skopeo')}:big`),
            ocikitFirst,
          ),
        );
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
    results[SMALL_PUSH].push(
      await pair(
        () => withRegistry((host) => ocikit('push', small, `${host}/small`)),
        () => withRegistry((host) => measure('sh', ['-c', loop(host)])),
        ocikitFirst,
      ),
    );
    for (const [name, rs] of Object.entries(results)) {
      const { o, s } = rs[rs.length - 1];
      log(`  ${name.padEnd(15)} ocikit ${o.seconds.toFixed(2)} s (${o.peakMiB.toFixed(0)} MiB)  skopeo ${s.seconds.toFixed(2)} s  ${(o.seconds / s.seconds).toFixed(2)}x`);
    }
  }
} finally {
  for (const reg of live) await reg.stop();
  if (keep) log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}

const rows = Object.entries(results).map(([name, rs]) => ({
  name,
  ocikit_s: round(median(rs.map((r) => r.o.seconds))),
  peer: 'skopeo',
  peer_s: round(median(rs.map((r) => r.s.seconds))),
  ratio: round(median(rs.map((r) => r.o.seconds / r.s.seconds))),
  target: targets[name],
  ocikit_rss_mib: Math.round(Math.max(...rs.map((r) => r.o.peakMiB))),
}));

console.log(`\nregistry benchmark: ${runs} run(s), ${sizeMiB} MiB layer, ${imageCount} small images, load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
console.log('| what | ocikit | skopeo | ratio | target | ocikit peak RSS |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const ok = r.ratio <= r.target ? 'met' : 'missed';
  const rss = r.name === BIG_PUSH ? ` (limit 150 MB: ${r.ocikit_rss_mib * 1.048576 < 150 ? 'met' : 'missed'})` : '';
  console.log(`| ${r.name} | ${r.ocikit_s.toFixed(2)} s | ${r.peer_s.toFixed(2)} s | ${r.ratio.toFixed(2)}x | <= ${r.target}x (${ok}) | ${r.ocikit_rss_mib} MiB${rss} |`);
}
if (json) console.log(`BENCH ${JSON.stringify({ rows })}`);

function round(x) {
  return Math.round(x * 1000) / 1000;
}
