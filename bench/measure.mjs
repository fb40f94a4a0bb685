/**
 * Shared by the benchmarks: run a command and measure its wall time and peak
 * RSS, and the small statistics the scripts report. Peak RSS is VmHWM from
 * /proc/<pid>/status, sampled every 20 ms until the process exits (Linux
 * only); it is the direct child's, so a `sh -c` loop reports the shell's.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Run a command; resolve with wall time (s) and peak RSS (MiB). Rejects with its stderr on a non-zero exit. */
export function measure(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, argv, { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], cwd: opts.cwd, env: opts.env });
    let peakKiB = 0;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    const sample = async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(status);
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ seconds, peakMiB: peakKiB / 1024 });
    });
  });
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `--name VALUE` as a number, or `fallback`. */
export function numberArg(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || fallback : fallback;
}
