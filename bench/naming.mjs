#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack`, `ocikit unpack` and `ocikit pull` of a layout
 * whose index.json tags one image many times, at two sizes, and how the time
 * grows between them. `pull` reads every tag from `ocikit serve` of that
 * layout on loopback (pushing 10,000 tags into a registry first would take
 * longer than the measurement); it asks the registry for each tag, so its
 * time is dominated by one request per tag, not by naming. Naming (index-entries' applyNames) is linear: 4x the tags should take
 * about 4x the time (less while process start-up dominates); the first build
 * named tag by tag, each a pass over the whole index, and took 16x (unpack of
 * 8,000 tags: 19 s). Not a test: run it by hand or via run-all.mjs.
 *
 *   npm run build && node bench/naming.mjs [--tags 2500,10000] [--runs 3] [--json]
 *
 * Pull runs with --no-referrers (a referrers query per tag would double the
 * requests without touching naming).
 *
 * The layout is the single-image fixture with index.json rewritten to N tags
 * (t0 ... tN-1) of its one manifest, made without ocikit.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, emit, measure, median, numberOption, ROOT, row, say, stringOption } from './measure.mjs';

const sizes = stringOption('--tags', '2500,10000').split(',').map(Number);
const runs = numberOption('--runs', 3);
const REF_NAME = 'org.opencontainers.image.ref.name';

async function layoutWithTags(dir, n) {
  await cp(path.join(ROOT, 'fixtures', 'single-image'), dir, { recursive: true });
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
  const entry = index.manifests[0];
  index.manifests = Array.from({ length: n }, (_, i) => ({ ...entry, annotations: { [REF_NAME]: `t${i}` } }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

/** `ocikit serve DIR` on a free loopback port; resolves to its `127.0.0.1:PORT` and a stop function. */
function serve(dir) {
  const child = spawn(process.execPath, [BIN, 'serve', dir, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`ocikit serve exited ${code}`)));
    child.stdout.on('data', (c) => {
      out += c.toString('utf8');
      const m = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ host: m[1], stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))) });
    });
  });
}

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-naming-'));
try {
  const results = new Map();
  for (const n of sizes) {
    const layout = path.join(work, `layout-${n}`);
    await layoutWithTags(layout, n);
    const pack = [];
    const unpack = [];
    const pull = [];
    let peakMiB = 0;
    const server = await serve(layout);
    for (let r = 0; r < runs; r++) {
      const archive = path.join(work, `archive-${n}-${r}.tar`);
      const out = path.join(work, `unpacked-${n}-${r}`);
      const p = await measure(process.execPath, [BIN, 'pack', layout, archive]);
      const u = await measure(process.execPath, [BIN, 'unpack', archive, out]);
      const pulled = path.join(work, `pulled-${n}-${r}`);
      const l = await measure(process.execPath, [BIN, 'pull', '--plain-http', '--no-referrers', '--no-progress', `${server.host}/layout-${n}`, pulled]);
      pack.push(p.seconds);
      unpack.push(u.seconds);
      pull.push(l.seconds);
      peakMiB = Math.max(peakMiB, p.peakMiB, u.peakMiB, l.peakMiB);
      await rm(archive, { force: true });
      await rm(out, { recursive: true, force: true });
      await rm(pulled, { recursive: true, force: true });
    }
    await server.stop();
    results.set(n, { pack: median(pack), unpack: median(unpack), pull: median(pull), peakMiB });
    const runsOf = (xs) => xs.map((s) => s.toFixed(2)).join(', ');
    say(`${n} tags: pack ${median(pack).toFixed(2)} s, unpack ${median(unpack).toFixed(2)} s, pull ${median(pull).toFixed(2)} s (median of ${runs}; runs pack ${runsOf(pack)}, unpack ${runsOf(unpack)}, pull ${runsOf(pull)}), peak RSS ${peakMiB.toFixed(0)} MiB`);
  }
  const rows = [];
  for (const n of sizes) {
    const r = results.get(n);
    rows.push(row({ name: `pack of ${n} tags`, ocikit_s: r.pack, ocikit_rss_mib: r.peakMiB, note: `median of ${runs}` }));
    rows.push(row({ name: `unpack of ${n} tags`, ocikit_s: r.unpack, ocikit_rss_mib: r.peakMiB, note: `median of ${runs}` }));
    rows.push(row({ name: `pull of ${n} tags`, ocikit_s: r.pull, ocikit_rss_mib: r.peakMiB, note: `median of ${runs}, from ocikit serve on loopback` }));
  }
  if (sizes.length >= 2) {
    const [small, big] = [sizes[0], sizes[sizes.length - 1]];
    const factor = big / small;
    for (const cmd of ['pack', 'unpack', 'pull']) {
      const ratio = results.get(big)[cmd] / results.get(small)[cmd];
      say(`${cmd}: ${big} / ${small} tags = ${ratio.toFixed(2)}x (linear: <= ${factor}x, quadratic: ${factor * factor}x)`);
      // The target catches a return to quadratic naming with room for a noisy machine.
      rows.push(row({ name: `${cmd}: ${big} tags against ${small}`, ocikit_s: results.get(big)[cmd], peer: `${cmd} of ${small} tags`, peer_s: results.get(small)[cmd], target: factor * 1.5, note: `linear: <= ${factor}x, quadratic: ${factor * factor}x` }));
    }
  }
  emit(rows);
} finally {
  await rm(work, { recursive: true, force: true });
}
