#!/usr/bin/env node
// The README's main job: a short, real walk through ocikit on the fixtures,
// using only the built CLI. It prints each step and ends with one success line.
// Usage: node bin/demo.mjs [WORKDIR]   (default: a fresh temp directory)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'ocikit.js');
const fixtures = path.join(root, 'fixtures');
const work = process.argv[2] ? path.resolve(process.argv[2]) : mkdtempSync(path.join(tmpdir(), 'ocikit-demo-'));
mkdirSync(work, { recursive: true });
const layout = path.join(work, 'layout');
let step = 0;

function ocikit(args, { show = true, input } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  if (r.status !== 0) {
    process.stderr.write(`\n$ ocikit ${args.join(' ')}\n${r.stdout}${r.stderr}demo: FAILED at step ${step} (exit ${r.status})\n`);
    process.exit(1);
  }
  if (show && r.stdout.trim()) process.stdout.write(`${indent(r.stdout.trimEnd())}\n`);
  return r.stdout.trim();
}

function fail(why) {
  process.stderr.write(`demo: FAILED: ${why}\n`);
  process.exit(1);
}

/** Start `ocikit serve` on a free loopback port; resolves once it prints its address. */
function startServe(target) {
  step++;
  process.stdout.write(`\n[${step}] Serve the archive as an OCI registry on loopback (read in place)\n    $ ocikit serve ${target} --addr 127.0.0.1:0\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', target, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(out);
      if (m) {
        process.stdout.write(`${indent(out.trim())}\n`);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`ocikit serve exited with ${code} before listening: ${err.trim()}`)));
  });
}

function say(what, args) {
  step++;
  process.stdout.write(`\n[${step}] ${what}\n    $ ocikit ${args.join(' ')}\n`);
}

function indent(s) {
  return s.split('\n').map((l) => `    ${l}`).join('\n');
}

function run(what, args, opts) {
  say(what, args);
  return ocikit(args, opts);
}

process.stdout.write(`ocikit demo in ${work}\n`);
run('Create an empty OCI image layout', ['init', layout]);

// A build system's view: push the image's blobs, then its manifest with a tag.
const src = path.join(fixtures, 'single-image');
const srcIndex = JSON.parse(readFileSync(path.join(src, 'index.json'), 'utf8'));
const manifestDigest = srcIndex.manifests[0].digest;
const manifestPath = path.join(src, 'blobs', 'sha256', manifestDigest.slice(7));
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
for (const blob of [manifest.config, ...manifest.layers]) {
  run(`Store blob ${blob.digest.slice(0, 19)}... (${blob.size} bytes)`, ['blob', 'push', layout, path.join(src, 'blobs', 'sha256', blob.digest.slice(7))]);
}
const image = run('Store the image manifest, tagged v1', ['manifest', 'push', `${layout}:v1`, manifestPath]);

const sbom = path.join(work, 'sbom.spdx.json');
writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'demo', packages: [] }));
const sbomDigest = run('Attach an SPDX SBOM to the image', ['attach', `${layout}:v1`, '--artifact-type', 'application/spdx+json', `${sbom}:application/spdx+json`]);
const sig = path.join(work, 'sbom.sig');
writeFileSync(sig, 'demo signature bytes\n');
run('Sign the SBOM (an artifact whose subject is the SBOM)', ['attach', `${layout}@${sbomDigest}`, '--artifact-type', 'application/vnd.example.signature', sig]);

run('List what the layout holds', ['ls', layout]);
run('Discover the referrers graph of the image', ['discover', `${layout}:v1`]);
run('Resolve a platform through a multi-platform index', ['resolve', `${path.join(fixtures, 'multi-platform')}:10`, '--platform', 'linux/arm/v7']);

// The air gap: pack on the connected side, carry one file, serve it on the other side, pull it back over HTTP.
const archive = path.join(work, 'delivery.tar');
run('Pack the image and its referrers into one reproducible archive', ['pack', layout, archive]);
run('Verify the archive in place, without unpacking it', ['verify', archive]);
const server = await startServe(archive);
const registry = `127.0.0.1:${server.port}`;
const received = path.join(work, 'received');
try {
  run(`Pull it back through ocikit serve's registry API (${registry})`, ['pull', `${registry}/delivery:v1`, received]);
  run('Ask the served registry for the referrers API answer', ['referrers', `${registry}/delivery:v1`]);
} finally {
  server.child.kill('SIGTERM');
}
run('Verify every digest, size and reference of the received layout', ['verify', received]);
run('Discover the SBOM and its signature on the received image', ['discover', `${received}:v1`]);
run('Check garbage collection has nothing to free', ['gc', received, '--dry-run']);

const expected = ocikit(['referrers', `${layout}:v1`], { show: false });
const got = ocikit(['referrers', `${received}:v1`], { show: false });
if (expected !== got) fail('the received layout answers referrers differently from the original');
if (ocikit(['resolve', `${received}:v1`], { show: false }) !== image) fail('the received image has a different digest');
process.stdout.write(`\ndemo: OK — image ${image} with its SBOM and signature went through an archive and a registry and arrived intact in ${received}\n`);
