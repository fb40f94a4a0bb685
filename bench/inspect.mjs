#!/usr/bin/env node
/**
 * Benchmark: `ocikit inspect` (and `ocikit verify`) of layouts with 2,500,
 * 5,000 and 10,000 image manifests, to show the cost grows linearly and
 * stays in seconds. Every image has its own config and shares one small
 * layer; every tenth image also has an SBOM referrer (an OCI 1.1 artifact
 * listed untagged in index.json, as oras writes them). Not a test: run it by
 * hand.
 *
 *   npm run build && node bench/inspect.mjs [--sizes 2500,5000,10000] [--keep]
 *
 * Each command runs as a fresh process with stdout discarded; the best of
 * two runs is reported, with the time per manifest and the ratio to the
 * smallest size (linear growth keeps time/manifest flat).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ocikit.js');
const args = process.argv.slice(2);
const sizesArg = args.includes('--sizes') ? args[args.indexOf('--sizes') + 1] : '2500,5000,10000';
const sizes = sizesArg.split(',').map(Number);
const keep = args.includes('--keep');

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

function timed(argv) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`ocikit ${argv.join(' ')} exited ${code}: ${err}`));
      else resolve(Number(process.hrtime.bigint() - start) / 1e9);
    });
  });
}

const best = async (argv) => Math.min(await timed(argv), await timed(argv));

const root = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-inspect-'));
try {
  const rows = [];
  for (const n of sizes) {
    const dir = path.join(root, `layout-${n}`);
    const manifests = makeLayout(dir, n);
    const inspect = await best(['inspect', dir, '--output', 'json']);
    const text = await best(['inspect', dir]);
    const verify = await best(['verify', dir]);
    rows.push({ n, manifests, inspect, text, verify });
    process.stdout.write(
      `${String(n).padStart(6)} images (${manifests} manifests): inspect --output json ${inspect.toFixed(2)} s, inspect (text) ${text.toFixed(2)} s, verify ${verify.toFixed(2)} s\n`,
    );
  }
  const base = rows[0];
  process.stdout.write('\nlinearity (time per manifest, and time relative to the smallest layout vs. size relative to it):\n');
  for (const r of rows) {
    const sizeRatio = r.manifests / base.manifests;
    const per = (s) => `${((s / r.manifests) * 1000).toFixed(3)} ms`;
    process.stdout.write(
      `${String(r.n).padStart(6)}: size x${sizeRatio.toFixed(1)}; inspect x${(r.inspect / base.inspect).toFixed(2)} (${per(r.inspect)}/manifest), ` +
        `text x${(r.text / base.text).toFixed(2)}, verify x${(r.verify / base.verify).toFixed(2)} (${per(r.verify)}/manifest)\n`,
    );
  }
} finally {
  if (keep) process.stdout.write(`kept ${root}\n`);
  else await rm(root, { recursive: true, force: true });
}
