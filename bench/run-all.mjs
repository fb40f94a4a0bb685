#!/usr/bin/env node
/**
 * `npm run bench`: run every benchmark in bench/ with --json, collect their
 * BENCH rows (protocol in measure.mjs) and write one markdown table, with
 * the machine it ran on, to bench/results.md (also printed).
 *
 *   npm run bench [-- --size-mib 64 --sizes 500,1000 --runs 3 --only pack,verify]
 *
 * Every argument except --only is passed on to every script; each takes the
 * options it knows (--size-mib for the big-layer ones, --sizes/--runs for the
 * many-manifest ones) and ignores the rest. A benchmark is any bench/*.mjs
 * except this file and the shared modules, recognised as the files another
 * bench file imports: a new script needs no registration here.
 * Scripts run one after another, so they do not compete for the machine.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SELF = path.basename(fileURLToPath(import.meta.url));
const RESULTS = path.join(BENCH_DIR, 'results.md');
const RSS_LIMIT_MIB = 150;

const argv = process.argv.slice(2);
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1].split(',').map((s) => s.replace(/\.mjs$/, ''))) : undefined;
const passOn = onlyAt >= 0 ? [...argv.slice(0, onlyAt), ...argv.slice(onlyAt + 2)] : argv;

/** bench/*.mjs minus this runner and every file some bench file imports (`./name.mjs`). */
async function benchmarks() {
  const files = (await readdir(BENCH_DIR)).filter((f) => f.endsWith('.mjs') && f !== SELF).sort();
  const imported = new Set();
  for (const f of files) {
    const text = await readFile(path.join(BENCH_DIR, f), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]\.\/([^'"]+\.mjs)['"]/g)) imported.add(m[1]);
  }
  return files.filter((f) => !imported.has(f) && (!only || only.has(f.replace(/\.mjs$/, ''))));
}

/** Run one script; its progress goes to our stderr; resolve with its rows or an error. */
function runScript(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(BENCH_DIR, file), '--json', ...passOn], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => process.stderr.write(c));
    child.on('close', (code) => {
      const seconds = (Date.now() - started) / 1000;
      const line = stdout.trimEnd().split('\n').reverse().find((l) => l.startsWith('BENCH '));
      if (code !== 0 || !line) {
        resolve({ file, seconds, error: code !== 0 ? `exited ${code}` : 'printed no BENCH line', rows: [] });
        return;
      }
      try {
        resolve({ file, seconds, rows: JSON.parse(line.slice('BENCH '.length)).rows });
      } catch (err) {
        resolve({ file, seconds, error: `unreadable BENCH line (${err.message})`, rows: [] });
      }
    });
  });
}

function machine(loadBefore, loadAfter) {
  const cpus = os.cpus();
  const load = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node.js: ${process.version}`,
    `- load average (1 / 5 / 15 min): before ${load(loadBefore)}, after ${load(loadAfter)}`,
    `- date: ${new Date().toISOString()}`,
    `- options: ${passOn.length > 0 ? `\`${passOn.join(' ')}\`` : 'none (full sizes)'}`,
    // A partial run says so, so that its table is not taken for the whole suite.
    ...(only ? [`- scripts: only ${[...only].join(', ')} (\`--only\`); the other benchmarks did not run`] : []),
  ];
}

const sec = (s) => (s === null || s === undefined ? '—' : s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`);

function targetText(r) {
  const parts = [];
  if (r.target !== null && r.target !== undefined) parts.push(`≤ ${r.target}×`);
  if (r.target_s !== null && r.target_s !== undefined) parts.push(`< ${r.target_s} s`);
  return parts.length > 0 ? parts.join(', ') : '—';
}

/** Whether the row meets its targets; undefined when it has none. */
function met(r) {
  const checks = [];
  if (r.target !== null && r.target !== undefined && r.ratio !== null) checks.push(r.ratio <= r.target);
  if (r.target_s !== null && r.target_s !== undefined) checks.push(r.ocikit_s < r.target_s);
  return checks.length === 0 ? undefined : checks.every(Boolean);
}

function table(results) {
  const lines = ['| benchmark | ocikit | peer | ratio | target | met? | peak RSS (≤ 150 MiB) |', '| --- | ---: | --- | ---: | --- | :---: | ---: |'];
  for (const res of results) {
    for (const r of res.rows) {
      const ok = met(r);
      const rss = r.ocikit_rss_mib === null || r.ocikit_rss_mib === undefined ? '—' : `${r.ocikit_rss_mib.toFixed(0)} MiB ${r.ocikit_rss_mib <= RSS_LIMIT_MIB ? '✓' : '✗'}`;
      const peer = r.peer ? `${r.peer}: ${sec(r.peer_s)}` : '—';
      const name = `${r.name} (\`${res.file}\`)${r.note ? `; ${r.note}` : ''}`;
      lines.push(`| ${name} | ${sec(r.ocikit_s)} | ${peer} | ${r.ratio === null || r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`} | ${targetText(r)} | ${ok === undefined ? '—' : ok ? 'yes' : 'no'} | ${rss} |`);
    }
  }
  return lines;
}

const scripts = await benchmarks();
const loadBefore = os.loadavg();
const results = [];
for (const file of scripts) {
  process.stderr.write(`\n== ${file} ==\n`);
  const res = await runScript(file);
  process.stderr.write(`== ${file}: ${res.error ? `FAILED (${res.error})` : `${res.rows.length} row(s)`} in ${res.seconds.toFixed(0)} s ==\n`);
  results.push(res);
}
const loadAfter = os.loadavg();

const failed = results.filter((r) => r.error);
const md = [
  '# ocikit benchmarks',
  '',
  'Written by `npm run bench` (bench/run-all.mjs); every ratio compares ocikit with its peer measured in the same run on the same machine.',
  '',
  ...table(results),
  '',
  ...(failed.length > 0 ? ['Scripts that failed (no rows):', '', ...failed.map((f) => `- \`${f.file}\`: ${f.error}`), ''] : []),
  'Machine:',
  '',
  ...machine(loadBefore, loadAfter),
  '',
];
await writeFile(RESULTS, md.join('\n'));
process.stdout.write(`${md.join('\n')}\n`);
process.stderr.write(`written to ${path.relative(process.cwd(), RESULTS)}\n`);
if (failed.length > 0) process.exitCode = 1;
