/**
 * Shared by the benchmark scripts (not a benchmark itself: run-all.mjs skips
 * every bench file that another one imports): command-line options, timing
 * a command with its peak RSS, and the `--json` protocol.
 *
 * Protocol: with `--json`, a script prints, as its last stdout line,
 *   BENCH {"rows":[{name, ocikit_s, peer, peer_s, ratio, target, target_s, ocikit_rss_mib, note}]}
 * `target` is the ratio ocikit_s / peer_s must not exceed (null: none);
 * `target_s` an absolute limit on ocikit_s in seconds (null: none). A row may
 * have both, or neither (shown for information). run-all.mjs collects the
 * rows into one table.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'ocikit.js');
/** Peak RSS every ocikit command must stay under (issue 8). */
export const RSS_LIMIT_MIB = 150;

const argv = process.argv.slice(2);
export const hasFlag = (name) => argv.includes(name);
export function numberOption(name, fallback) {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
export function stringOption(name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}
export const JSON_MODE = hasFlag('--json');

/** Human-readable progress: stdout normally, stderr under --json (stdout then ends with the BENCH line). */
export function say(line) {
  (JSON_MODE ? process.stderr : process.stdout).write(`${line}\n`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * GNU time's `%M` is the kernel's own peak RSS of the child (ru_maxrss),
 * exact even for a process that lives 50 ms; sampling /proc/PID/status
 * misses those. Where GNU time is absent, sample VmHWM every 20 ms instead.
 */
const GNU_TIME = (() => {
  try {
    accessSync('/usr/bin/time', constants.X_OK);
    return '/usr/bin/time';
  } catch {
    return undefined;
  }
})();

/**
 * Run `cmd argv`; resolve with wall time (s, including the small fork of GNU
 * time, which both sides of a ratio pay), peak RSS (MiB) and stdout when
 * `stdout: 'pipe'`. Rejects when the command exits non-zero.
 */
export async function measure(cmd, args, opts = {}) {
  const dir = GNU_TIME ? await mkdtemp(path.join(tmpdir(), 'ocikit-bench-rss-')) : undefined;
  const rssFile = dir ? path.join(dir, 'rss') : undefined;
  const [file, fileArgs] = rssFile ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  try {
    const run = await new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      const child = spawn(file, fileArgs, { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : process.env });
      let peakKiB = 0;
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout?.on('data', (d) => (stdout += d));
      const timer = rssFile
        ? undefined
        : setInterval(() => {
            readFile(`/proc/${child.pid}/status`, 'utf8').then(
              (s) => (peakKiB = Math.max(peakKiB, Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0))),
              () => undefined, // exited between samples
            );
          }, 20);
      child.on('error', reject);
      child.on('close', (code) => {
        clearInterval(timer);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        if (code !== 0) reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        else resolve({ seconds, peakKiB, stdout });
      });
    });
    const kib = rssFile ? Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop()) : run.peakKiB;
    return { seconds: run.seconds, peakMiB: kib / 1024, stdout: run.stdout };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** One table row; the ratio is computed here so that every script computes it alike. */
export function row({ name, ocikit_s, peer = null, peer_s = null, target = null, target_s = null, ocikit_rss_mib = null, note = null }) {
  const ratio = peer_s ? ocikit_s / peer_s : null;
  return { name, ocikit_s, peer, peer_s, ratio, target, target_s, ocikit_rss_mib, note };
}

/** Under --json, the last stdout line: `BENCH {"rows":[...]}`. */
export function emit(rows) {
  if (JSON_MODE) process.stdout.write(`BENCH ${JSON.stringify({ rows })}\n`);
}
