#!/usr/bin/env node
/**
 * Benchmark: `ocikit serve` under load (issue 18). Eight concurrent
 * `skopeo copy docker://HOST/big:big oci:DIR:big` pulls of one image with a
 * SIZE MiB layer (default 512), from three servers of the same content:
 *
 *   distribution   Debian's docker-registry 2.8, filled by an untimed push
 *   serve layout   `ocikit serve LAYOUT`
 *   serve archive  `ocikit serve ARCHIVE.tar` (the layout packed, read in place)
 *
 * The time is the wall time until all eight pulls have finished; targets:
 * each ocikit server <= 1.0x distribution, and serve's peak RSS (VmHWM of
 * the server process, read before it is stopped) <= 150 MiB. Each round
 * runs the three in turn (rotating which goes first), with each pull
 * writing into a fresh directory and the previous round's output removed
 * and synced first; the times reported are medians over rounds, the
 * ratios medians of the per-round ratios. The layer is gzip of stored
 * blocks (big-layout.mjs), which skopeo passes through as it is.
 *
 *   npm run build && node bench/serve-load.mjs [--size-mib 512] [--rounds 3] [--clients 8] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, measure, median, numberOption, row, RSS_LIMIT_MIB, say } from './measure.mjs';
import { startRegistry } from './registry-server.mjs';

const sizeMiB = numberOption('--size-mib', 512);
const rounds = numberOption('--rounds', 3);
const clients = numberOption('--clients', 8);

/** CPU seconds (user + system) a process has used so far, from /proc: where a server's time goes under load. */
async function cpuSeconds(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name; in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `ocikit serve SOURCE` on a free port; resolves once it printed where it listens. */
function startServe(source) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', source, '--addr', '127.0.0.1:0', '--repo', 'big'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise((r) => child.once('exit', r));
    child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
    child.stdout.on('data', (c) => {
      stdout += c;
      // Its only stdout line: `listening on http://HOST:PORT`.
      const m = /listening on http:\/\/(\S+)\n/.exec(stdout);
      if (!m) return;
      resolve({
        host: m[1],
        /** Peak RSS in MiB so far (the kernel's high-water mark of the process). */
        cpu: () => cpuSeconds(child.pid),
        peakMiB: async () => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`ocikit serve ${source} exited ${code}: ${stderr}`)));
  });
}

/** All `clients` pulls at once from `host`; resolves with the wall time until the last one ended. */
async function pullAll(host, outDir) {
  await mkdir(outDir, { recursive: true });
  const pulls = [];
  for (let i = 0; i < clients; i++) {
    pulls.push(`skopeo copy --quiet --src-tls-verify=false docker://${host}/big:big oci:'${path.join(outDir, String(i))}':big &`);
  }
  // One shell starts them all and waits for each, failing when any failed.
  const script = `${pulls.join('\n')}\nfail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail`;
  return (await measure('bash', ['-c', script])).seconds;
}

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-serve-'));
const live = [];
try {
  const layout = path.join(work, 'layout');
  const archive = path.join(work, 'layout.tar');
  say(`building a layout with a ${sizeMiB} MiB gzip layer, its archive and a registry holding it in ${work} ...`);
  await makeBigLayout(layout, sizeMiB, { gzip: true });
  await measure(process.execPath, [BIN, 'pack', layout, archive]);
  const registry = await startRegistry(work);
  live.push(registry);
  await measure(process.execPath, [BIN, 'push', layout, `${registry.host}/big`, '--no-progress']);

  const outDir = path.join(work, 'out');
  const servers = {
    distribution: async () => ({ host: registry.host, cpu: () => cpuSeconds(registry.pid), peakMiB: async () => null, stop: async () => undefined }),
    'serve layout': () => startServe(layout),
    'serve archive': () => startServe(archive),
  };
  const names = Object.keys(servers);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const rss = Object.fromEntries(names.map((n) => [n, 0]));
  // Warm the page cache with one untimed pull from each.
  for (const name of names) {
    const server = await servers[name]();
    live.push(server);
    await pullAll(server.host, outDir);
    await server.stop();
    await measure('sh', ['-c', `rm -rf '${outDir}' && sync`]);
  }
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    say(`round ${round + 1}/${rounds} (load ${loadavg().map((l) => l.toFixed(2)).join(' ')}): ${order.join(', ')}`);
    for (const name of order) {
      const server = await servers[name]();
      live.push(server);
      const cpuBefore = await server.cpu();
      const seconds = await pullAll(server.host, outDir);
      const cpu = (await server.cpu()) - cpuBefore;
      const peak = await server.peakMiB();
      await server.stop();
      await measure('sh', ['-c', `rm -rf '${outDir}' && sync`]);
      times[name].push(seconds);
      if (peak !== null) rss[name] = Math.max(rss[name], peak);
      say(`  ${name.padEnd(14)} ${seconds.toFixed(2)} s, server CPU ${cpu.toFixed(2)} s${peak !== null ? `, peak RSS ${peak.toFixed(0)} MiB` : ''}`);
    }
  }
  const note = `${clients} concurrent skopeo pulls, median of ${rounds}`;
  const rows = ['serve layout', 'serve archive'].map((name) => {
    const r = row({
      name: `${name}: ${clients} pulls of a ${sizeMiB} MiB image`,
      ocikit_s: median(times[name]),
      peer: 'distribution 2.8',
      peer_s: median(times.distribution),
      target: 1.0,
      ocikit_rss_mib: rss[name],
      note,
    });
    // Per-round pairs: a load change on a shared machine hits both sides of a round alike.
    return { ...r, ratio: median(times[name].map((t, i) => t / times.distribution[i])) };
  });
  for (const r of rows) {
    say(`${r.name}: ${r.ocikit_s.toFixed(2)} s against ${r.peer_s.toFixed(2)} s, ${r.ratio.toFixed(2)}x (target <= 1.0x), peak RSS ${r.ocikit_rss_mib.toFixed(0)} MiB (limit ${RSS_LIMIT_MIB})`);
  }
  emit(rows);
} finally {
  for (const s of live) await s.stop();
  await rm(work, { recursive: true, force: true });
}
