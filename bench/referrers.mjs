#!/usr/bin/env node
/**
 * Benchmark (not a test): how long `ocikit referrers` takes on a layout with
 * many manifests, and whether the cost grows linearly with their number.
 *
 *   npm run build && node bench/referrers.mjs [--runs N] [--sizes 2500,5000,10000] [--keep] [--json]
 *
 * Builds layouts of 2,500, 5,000 and 10,000 manifests (images with 9
 * artifacts each: 1 image + 9 referrers = 10 manifests per group), written
 * directly with node:crypto + node:fs so that building stays fast and does not
 * depend on the code being measured. Then times, for the subject of the last
 * group:
 *   - the CLI: `node bin/ocikit.js referrers DIR:img-N` (wall clock, process
 *     start included; `ocikit --version` alone is shown for comparison), and
 *   - the library in-process: LayoutDir.open + referrersIndex, on a fresh
 *     LayoutDir each run so that no cache helps.
 * Prints the median of several runs as a markdown table; with --json, the
 * BENCH row (measure.mjs) is the CLI at the largest size, whose target is
 * under 1 s at 10,000 manifests.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { BIN, emit, hasFlag, measure, median, numberOption, ROOT, row, say, stringOption } from './measure.mjs';

// Multiples of 10 (an image and its 9 artifacts).
const SIZES = stringOption('--sizes', '2500,5000,10000').split(',').map((n) => Math.round(Number(n) / 10) * 10).filter((n) => n > 0);
const ARTIFACTS_PER_IMAGE = 9;
const RUNS = numberOption('--runs', 5);
const KEEP = hasFlag('--keep');

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
};

/** Write one blob; returns its descriptor (without media type). */
function blob(dir, bytes) {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  const hex = createHash('sha256').update(buf).digest('hex');
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex), buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

/** A layout with `total` manifests: total/10 tagged images, each with 9 untagged artifacts listed in index.json. */
function buildLayout(dir, total) {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const config = { mediaType: MT.config, ...blob(dir, '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}') };
  const layer = { mediaType: MT.layer, ...blob(dir, Buffer.alloc(512, 1)) };
  const empty = { mediaType: MT.empty, ...blob(dir, '{}') };
  const entries = [];
  const images = total / (1 + ARTIFACTS_PER_IMAGE);
  for (let i = 0; i < images; i++) {
    const image = { schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer], annotations: { 'bench.image': String(i) } };
    const imageDesc = { mediaType: MT.manifest, ...blob(dir, JSON.stringify(image)) };
    entries.push({ ...imageDesc, annotations: { 'org.opencontainers.image.ref.name': `img-${i}` } });
    for (let a = 0; a < ARTIFACTS_PER_IMAGE; a++) {
      const payload = { mediaType: 'application/json', ...blob(dir, JSON.stringify({ image: i, artifact: a })) };
      const artifactType = `application/vnd.bench.type${a % 3}`;
      const annotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' };
      const m = { schemaVersion: 2, mediaType: MT.manifest, artifactType, config: empty, layers: [payload], subject: imageDesc, annotations };
      entries.push({ mediaType: MT.manifest, ...blob(dir, JSON.stringify(m)), artifactType, annotations });
    }
  }
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }));
  return `img-${images - 1}`;
}

function timeCli(argv) {
  const times = [];
  let out = '';
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const res = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (res.status !== 0) throw new Error(`ocikit ${argv.join(' ')} exited ${res.status}: ${res.stderr}`);
    out = res.stdout;
  }
  return { ms: median(times), out };
}

/** Wall clock and CPU time (user + system, this process): CPU time says more when the machine is busy. */
async function timeLibrary(lib, dir, tag) {
  const times = [];
  const cpu = [];
  let index;
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const layout = await lib.LayoutDir.open(dir);
    const subject = await layout.resolve(tag);
    index = await lib.referrersIndex(layout, subject);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms: median(times), cpuMs: median(cpu), index };
}

async function main() {
  const lib = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href).catch(() => {
    throw new Error('dist/ is missing: run `npm run build` first');
  });
  const work = mkdtempSync(path.join(tmpdir(), 'ocikit-bench-'));
  const startup = timeCli(['--version']).ms;
  const rows = [];
  try {
    for (const total of SIZES) {
      const dir = path.join(work, `layout-${total}`);
      const t0 = performance.now();
      const tag = buildLayout(dir, total);
      const buildMs = performance.now() - t0;
      // The files just written are still being written back to disk; let that finish first, so the
      // timed runs measure reading, not the kernel's writeback of the build.
      spawnSync('sync');
      const cli = timeCli(['referrers', `${dir}:${tag}`]);
      const found = JSON.parse(cli.out).manifests.length;
      if (found !== ARTIFACTS_PER_IMAGE) throw new Error(`expected ${ARTIFACTS_PER_IMAGE} referrers, the CLI listed ${found}`);
      const inproc = await timeLibrary(lib, dir, tag);
      if (inproc.index.manifests.length !== ARTIFACTS_PER_IMAGE) throw new Error('the library listed the wrong number of referrers');
      // One more CLI run for its peak RSS (GNU time), kept out of the timed runs.
      const rssMiB = (await measure(process.execPath, [BIN, 'referrers', `${dir}:${tag}`])).peakMiB;
      rows.push({ total, buildMs, cliMs: cli.ms, libMs: inproc.ms, libCpuMs: inproc.cpuMs, rssMiB });
      process.stderr.write(`${total} manifests: built in ${buildMs.toFixed(0)} ms, CLI ${cli.ms.toFixed(0)} ms, library ${inproc.ms.toFixed(0)} ms\n`);
    }
  } finally {
    if (KEEP) process.stderr.write(`layouts kept in ${work}\n`);
    else rmSync(work, { recursive: true, force: true });
  }

  const base = rows[0];
  say(`\n\`ocikit referrers\` on a layout directory (median of ${RUNS} runs, Node ${process.version}; \`ocikit --version\` alone: ${startup.toFixed(0)} ms)\n`);
  say('| manifests | CLI wall clock (ms) | CLI minus startup (ms) | library wall clock (ms) | library CPU (ms) | library µs per manifest | library ratio to 2,500 |');
  say('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    say(
      `| ${r.total.toLocaleString('en-US')} | ${r.cliMs.toFixed(0)} | ${(r.cliMs - startup).toFixed(0)} | ${r.libMs.toFixed(0)} | ${r.libCpuMs.toFixed(0)} | ${((r.libMs * 1000) / r.total).toFixed(1)} | ${(r.libMs / base.libMs).toFixed(2)}× |`,
    );
  }
  const last = rows[rows.length - 1];
  emit([
    row({
      name: `referrers CLI at ${last.total.toLocaleString('en-US')} manifests`,
      ocikit_s: last.cliMs / 1000,
      // The target is under 1 s at 10,000 manifests; a smaller trial run is shown without it.
      target_s: last.total === 10_000 ? 1 : null,
      ocikit_rss_mib: last.rssMiB,
      note: `median of ${RUNS}; Node start-up alone ${(startup / 1000).toFixed(2)} s`,
    }),
  ]);
  const load = os.loadavg()[0];
  say(`\nLoad average (1 min) at the end: ${load.toFixed(2)} on ${os.cpus().length} CPUs${load > os.cpus().length ? ' — the machine was busy; wall-clock figures are inflated' : ''}.`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exitCode = 1;
});
