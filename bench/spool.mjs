#!/usr/bin/env node
/**
 * Benchmark: compressed archives (issue 16, point 7). Not a test: run it by hand.
 *
 *   npm run build && node bench/spool.mjs [--size-mib 256] [--bomb-mib 1024] [--rounds 3] [--keep] [--json]
 *
 * - `verify` of a .tar.gz holding a layout with a `--size-mib` random layer,
 *   against `gzip -dc` of the same file into a file: the spool costs what
 *   decompressing to disk costs, and verify adds the hashing (information,
 *   no target).
 * - `verify` of a gzip bomb: a small layout followed by `--bomb-mib` MiB of
 *   zeros (1 GiB compresses to about 1 MB). ocikit stops at the tar's
 *   end-of-archive marker, so it must finish in well under the time a full
 *   decompression (`gzip -dc > /dev/null`) takes: target 0.5x, and under 1 s.
 * Rounds alternate the two sides; the best time of each is reported.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 256);
const bombMiB = numberOption('--bomb-mib', 1024);
const rounds = numberOption('--rounds', 3);
const keep = hasFlag('--keep');

/** gzip a tar followed by `zerosMiB` MiB of zeros into `out` (level 9 makes the smallest bomb; level 1 is quick on random bytes). */
async function gzipWithZeros(tar, zerosMiB, out, level = 9) {
  async function* bytes() {
    for await (const chunk of createReadStream(tar)) yield chunk;
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < zerosMiB; i++) yield zeros;
  }
  await pipeline(Readable.from(bytes()), createGzip({ level }), createWriteStream(out));
}

const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-spool-'));
try {
  const spoolDir = path.join(dir, 'tmp');
  await mkdir(spoolDir);
  // The default limit (100x the compressed size) would refuse neither file; set it high anyway so the
  // benchmark measures spooling, not the policy.
  const env = { TMPDIR: spoolDir, OCIKIT_SPOOL_LIMIT: '1T' };

  say(`building a layout with a ${sizeMiB} MiB random layer in ${dir} ...`);
  const layout = path.join(dir, 'layout');
  await makeBigLayout(layout, sizeMiB);
  const tar = path.join(dir, 'image.tar');
  execFileSync(process.execPath, [BIN, 'pack', layout, tar], { stdio: 'ignore' });
  const gz = path.join(dir, 'image.tar.gz');
  await gzipWithZeros(tar, 0, gz, 1);
  const small = path.join(dir, 'small');
  await makeBigLayout(small, 1);
  const smallTar = path.join(dir, 'small.tar');
  execFileSync(process.execPath, [BIN, 'pack', small, smallTar], { stdio: 'ignore' });
  const bomb = path.join(dir, 'bomb.tar.gz');
  say(`building a gzip bomb: a 1 MiB layout, then ${bombMiB} MiB of zeros ...`);
  await gzipWithZeros(smallTar, bombMiB, bomb);

  const gunzipTo = (file, dest) => measure('sh', ['-c', `gzip -dc '${file}' > '${dest}'`]);
  const spooled = path.join(spoolDir, 'gunzipped.tar');
  const sides = { verify: [], gunzip: [], bomb: [], bombGunzip: [] };
  let rss = 0;
  for (let i = 0; i < rounds; i++) {
    sides.gunzip.push((await gunzipTo(gz, spooled)).seconds);
    await rm(spooled, { force: true });
    const v = await measure(process.execPath, [BIN, 'verify', gz], { env });
    sides.verify.push(v.seconds);
    rss = Math.max(rss, v.peakMiB);
    sides.bombGunzip.push((await gunzipTo(bomb, '/dev/null')).seconds);
    const b = await measure(process.execPath, [BIN, 'verify', bomb], { env });
    sides.bomb.push(b.seconds);
  }
  const best = (xs) => Math.min(...xs);
  const fmt = (xs) => xs.map((s) => s.toFixed(2)).join(', ');
  say(`gzip -dc > file (${sizeMiB} MiB): best ${best(sides.gunzip).toFixed(2)} s; runs: ${fmt(sides.gunzip)}`);
  say(`ocikit verify .tar.gz:       best ${best(sides.verify).toFixed(2)} s; runs: ${fmt(sides.verify)}; peak RSS ${rss.toFixed(0)} MiB`);
  say(`gzip -dc bomb > /dev/null (${bombMiB} MiB of zeros): best ${best(sides.bombGunzip).toFixed(2)} s; runs: ${fmt(sides.bombGunzip)}`);
  say(`ocikit verify bomb:          best ${best(sides.bomb).toFixed(2)} s; runs: ${fmt(sides.bomb)}`);
  emit([
    row({ name: `verify .tar.gz, ${sizeMiB} MiB layer`, ocikit_s: best(sides.verify), peer: 'gzip -dc > file', peer_s: best(sides.gunzip), ocikit_rss_mib: rss, note: `best of ${rounds}; spool + hashing` }),
    row({ name: `verify gzip bomb, ${bombMiB} MiB of zeros after the tar`, ocikit_s: best(sides.bomb), peer: 'gzip -dc > /dev/null', peer_s: best(sides.bombGunzip), target: 0.5, target_s: 1, note: `best of ${rounds}; stops at the end-of-archive marker` }),
  ]);
} finally {
  if (keep) say(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
