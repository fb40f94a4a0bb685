#!/usr/bin/env node
/**
 * Benchmark: `ocikit inspect` (and `ocikit verify`) of layouts with 2,500,
 * 5,000 and 10,000 image manifests, to show the cost grows linearly and
 * stays in seconds. Every image has its own config and shares one small
 * layer; every tenth image also has an SBOM referrer (an OCI 1.1 artifact
 * listed untagged in index.json, as oras writes them). Not a test: run it by
 * hand.
 *
 *   npm run build && node bench/inspect.mjs [--sizes 2500,5000,10000] [--rss-manifests 50000] [--keep] [--json]
 *
 * Each command runs as a fresh process with stdout discarded; the best of
 * two runs is reported, with the time per manifest and the ratio to the
 * smallest size (linear growth keeps time/manifest flat). With --json, the
 * BENCH rows (measure.mjs) are inspect and verify at the largest size (no
 * target: shown for information), and the peak RSS of ls, verify, inspect
 * and inspect --html (text and JSON), diff, gc, pack, unpack and copy, and
 * ls/verify/inspect/inspect --verify/diff/unpack of the packed .tar and .tar.gz, on a layout of
 * 50,000 manifests (--rss-manifests N), each of which must stay within 150 MiB
 * (push to a registry: bench/registry.mjs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, emit, hasFlag, measure, numberOption, row, say, stringOption } from './measure.mjs';
import { imagesFor, makeManyManifestLayout as makeLayout } from './many-manifests.mjs';

const sizes = stringOption('--sizes', '2500,5000,10000').split(',').map(Number);
const keep = hasFlag('--keep');
/** Manifests in the layout whose peak RSS is measured per command (issue 16: every command within 150 MiB at 50,000). */
const rssManifests = numberOption('--rss-manifests', 50000);

/** Best wall time of two runs (stdout discarded), and the larger peak RSS. */
async function best(argv) {
  const a = await measure(process.execPath, [BIN, ...argv]);
  const b = await measure(process.execPath, [BIN, ...argv]);
  return { seconds: Math.min(a.seconds, b.seconds), peakMiB: Math.max(a.peakMiB, b.peakMiB) };
}

const root = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-inspect-'));
try {
  const rows = [];
  for (const n of sizes) {
    const dir = path.join(root, `layout-${n}`);
    const manifests = makeLayout(dir, n);
    const inspectRun = await best(['inspect', dir, '--format', 'json']);
    const text = (await best(['inspect', dir])).seconds;
    const verifyRun = await best(['verify', dir]);
    const [inspect, verify] = [inspectRun.seconds, verifyRun.seconds];
    rows.push({ n, manifests, inspect, text, verify, inspectRss: inspectRun.peakMiB, verifyRss: verifyRun.peakMiB });
    say(
      `${String(n).padStart(6)} images (${manifests} manifests): inspect --format json ${inspect.toFixed(2)} s, inspect (text) ${text.toFixed(2)} s, verify ${verify.toFixed(2)} s`,
    );
  }
  const base = rows[0];
  say('\nlinearity (time per manifest, and time relative to the smallest layout vs. size relative to it):');
  for (const r of rows) {
    const sizeRatio = r.manifests / base.manifests;
    const per = (s) => `${((s / r.manifests) * 1000).toFixed(3)} ms`;
    say(
      `${String(r.n).padStart(6)}: size x${sizeRatio.toFixed(1)}; inspect x${(r.inspect / base.inspect).toFixed(2)} (${per(r.inspect)}/manifest), ` +
        `text x${(r.text / base.text).toFixed(2)}, verify x${(r.verify / base.verify).toFixed(2)} (${per(r.verify)}/manifest)`,
    );
  }
  const last = rows[rows.length - 1];
  // Peak RSS of every command that prints what a big layout holds, each run once, stdout discarded.
  const big = path.join(root, `layout-rss`);
  const bigManifests = makeLayout(big, imagesFor(rssManifests));
  const html = path.join(root, 'report.html');
  const tar = path.join(root, 'big.tar');
  const gz = path.join(root, 'big.tar.gz');
  const rssRows = [];
  for (const [name, argv] of [
    ['ls', ['ls', big]],
    ['ls --format json', ['ls', big, '--format', 'json']],
    ['verify', ['verify', big]],
    ['verify --format json', ['verify', big, '--format', 'json']],
    ['inspect', ['inspect', big]],
    ['inspect --format json', ['inspect', big, '--format', 'json']],
    ['inspect --html', ['inspect', big, '--html', html]],
    ['diff of two layouts', ['diff', big, big]],
    ['gc --dry-run', ['gc', big, '--dry-run']],
    ['pack', ['pack', big, tar]],
    ['pack .tar.gz', ['pack', big, gz]],
    ['ls of the .tar', ['ls', tar]],
    ['verify of the .tar', ['verify', tar]],
    ['inspect of the .tar', ['inspect', tar]],
    ['inspect --verify of the .tar', ['inspect', tar, '--verify']],
    ['diff of the layout and the .tar', ['diff', big, tar]],
    ['verify of the .tar.gz', ['verify', gz]],
    ['inspect of the .tar.gz', ['inspect', gz]],
    ['unpack of the .tar', ['unpack', tar, path.join(root, 'unpacked')]],
    ['unpack of the .tar.gz', ['unpack', gz, path.join(root, 'unpacked-gz')]],
    ['copy --all-tags', ['copy', '--all-tags', big, path.join(root, 'copied')]],
  ]) {
    const run = await measure(process.execPath, [BIN, ...argv]);
    say(`${name}, ${bigManifests} manifests: ${run.seconds.toFixed(2)} s, peak RSS ${run.peakMiB.toFixed(0)} MiB`);
    rssRows.push(row({ name: `${name}, ${bigManifests} manifests (peak RSS)`, ocikit_s: run.seconds, ocikit_rss_mib: run.peakMiB, note: 'one run' }));
  }
  emit([
    row({ name: `inspect --format json, ${last.manifests} manifests`, ocikit_s: last.inspect, ocikit_rss_mib: last.inspectRss, note: 'best of 2' }),
    row({ name: `verify, ${last.manifests} manifests`, ocikit_s: last.verify, ocikit_rss_mib: last.verifyRss, note: 'best of 2' }),
    ...rssRows,
  ]);
} finally {
  if (keep) say(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
