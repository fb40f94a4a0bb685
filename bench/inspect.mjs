#!/usr/bin/env node
/**
 * Benchmark: `ocikit inspect` (and `ocikit verify`) of layouts with 2,500,
 * 5,000 and 10,000 image manifests, to show the cost grows linearly and
 * stays in seconds. Every image has its own config and shares one small
 * layer; every tenth image also has an SBOM referrer (an OCI 1.1 artifact
 * listed untagged in index.json, as oras writes them). Not a test: run it by
 * hand.
 *
 *   npm run build && node bench/inspect.mjs [--sizes 2500,5000,10000] [--keep] [--json]
 *
 * Each command runs as a fresh process with stdout discarded; the best of
 * two runs is reported, with the time per manifest and the ratio to the
 * smallest size (linear growth keeps time/manifest flat). With --json, the
 * BENCH rows (measure.mjs) are inspect and verify at the largest size (no
 * target: shown for information).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, emit, hasFlag, measure, row, say, stringOption } from './measure.mjs';

const sizes = stringOption('--sizes', '2500,5000,10000').split(',').map(Number);
const keep = hasFlag('--keep');

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

function store(dir, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

const storeJson = (dir, doc) => store(dir, Buffer.from(JSON.stringify(doc)));

/** A layout with `n` tagged images (own config, one shared layer) and an SBOM for every tenth. Returns the manifest count. */
function makeLayout(dir, n) {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  store(dir, Buffer.from('{}'));
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...store(dir, Buffer.alloc(2048, 1)) };
  const entries = [];
  for (let i = 0; i < n; i++) {
    const config = storeJson(dir, {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: [`N=${i}`], Labels: { 'org.opencontainers.image.version': String(i) } },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    });
    const image = { mediaType: MANIFEST, ...storeJson(dir, { schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [layer] }) };
    entries.push({ ...image, annotations: { 'org.opencontainers.image.ref.name': `t${i}` } });
    if (i % 10 === 0) {
      const sbom = { mediaType: 'application/spdx+json', ...store(dir, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `image ${i}` }))) };
      const artifact = storeJson(dir, { schemaVersion: 2, mediaType: MANIFEST, artifactType: 'application/spdx+json', config: EMPTY, layers: [sbom], subject: image });
      entries.push({ mediaType: MANIFEST, ...artifact, artifactType: 'application/spdx+json' });
    }
  }
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  return entries.length;
}

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
    const inspectRun = await best(['inspect', dir, '--output', 'json']);
    const text = (await best(['inspect', dir])).seconds;
    const verifyRun = await best(['verify', dir]);
    const [inspect, verify] = [inspectRun.seconds, verifyRun.seconds];
    rows.push({ n, manifests, inspect, text, verify, inspectRss: inspectRun.peakMiB, verifyRss: verifyRun.peakMiB });
    say(
      `${String(n).padStart(6)} images (${manifests} manifests): inspect --output json ${inspect.toFixed(2)} s, inspect (text) ${text.toFixed(2)} s, verify ${verify.toFixed(2)} s`,
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
  emit([
    row({ name: `inspect --output json, ${last.manifests} manifests`, ocikit_s: last.inspect, ocikit_rss_mib: last.inspectRss, note: 'best of 2' }),
    row({ name: `verify, ${last.manifests} manifests`, ocikit_s: last.verify, ocikit_rss_mib: last.verifyRss, note: 'best of 2' }),
  ]);
} finally {
  if (keep) say(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
