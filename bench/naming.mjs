#!/usr/bin/env node
/**
 * Benchmark: `ocikit pack` and `ocikit unpack` of a layout whose index.json
 * tags one image many times, at two sizes, and how the time grows between
 * them. Naming (index-entries' applyNames) is linear: 4x the tags should take
 * about 4x the time (less while process start-up dominates); the first build
 * named tag by tag, each a pass over the whole index, and took 16x (unpack of
 * 8,000 tags: 19 s). Not a test: run it by hand or via run-all.mjs.
 *
 *   npm run build && node bench/naming.mjs [--tags 2500,10000] [--runs 3] [--json]
 *
 * The layout is the single-image fixture with index.json rewritten to N tags
 * (t0 ... tN-1) of its one manifest, made without ocikit.
 */
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

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-naming-'));
try {
  const results = new Map();
  for (const n of sizes) {
    const layout = path.join(work, `layout-${n}`);
    await layoutWithTags(layout, n);
    const pack = [];
    const unpack = [];
    let peakMiB = 0;
    for (let r = 0; r < runs; r++) {
      const archive = path.join(work, `archive-${n}-${r}.tar`);
      const out = path.join(work, `unpacked-${n}-${r}`);
      const p = await measure(process.execPath, [BIN, 'pack', layout, archive]);
      const u = await measure(process.execPath, [BIN, 'unpack', archive, out]);
      pack.push(p.seconds);
      unpack.push(u.seconds);
      peakMiB = Math.max(peakMiB, p.peakMiB, u.peakMiB);
      await rm(archive, { force: true });
      await rm(out, { recursive: true, force: true });
    }
    results.set(n, { pack: median(pack), unpack: median(unpack), peakMiB });
    say(`${n} tags: pack ${median(pack).toFixed(2)} s, unpack ${median(unpack).toFixed(2)} s (median of ${runs}; runs pack ${pack.map((s) => s.toFixed(2)).join(', ')}, unpack ${unpack.map((s) => s.toFixed(2)).join(', ')}), peak RSS ${peakMiB.toFixed(0)} MiB`);
  }
  const rows = [];
  for (const n of sizes) {
    const r = results.get(n);
    rows.push(row({ name: `pack of ${n} tags`, ocikit_s: r.pack, ocikit_rss_mib: r.peakMiB, note: `median of ${runs}` }));
    rows.push(row({ name: `unpack of ${n} tags`, ocikit_s: r.unpack, ocikit_rss_mib: r.peakMiB, note: `median of ${runs}` }));
  }
  if (sizes.length >= 2) {
    const [small, big] = [sizes[0], sizes[sizes.length - 1]];
    const factor = big / small;
    for (const cmd of ['pack', 'unpack']) {
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
