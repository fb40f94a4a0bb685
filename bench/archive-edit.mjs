#!/usr/bin/env node
/**
 * Benchmark: what an edit of a layout archive costs. An archive is one file,
 * so every write verb on it writes a new archive and renames it over the old
 * one (src/targets/archive-editor.ts): `tag` on an archive is a copy of the
 * whole file, every blob verified on the way, made durable. Its peer is the
 * bare copy made as durable (`dd conv=fsync`); for a .tar.gz, decompressing and
 * compressing again (`gzip -dc | gzip -c` + `sync`). Also `blob push` of a
 * file of SIZE/4 MiB into the archive (hashed into a temporary file beside
 * it first: a tar header states the size). Prints wall time, peak RSS and
 * the ratios (with --json, the BENCH line of measure.mjs). Not a test.
 *
 *   npm run build && node bench/archive-edit.mjs [--size-mib 256] [--rounds 3] [--keep] [--json]
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBigLayout } from './big-layout.mjs';
import { BIN, emit, hasFlag, measure, numberOption, row, RSS_LIMIT_MIB, say } from './measure.mjs';

const sizeMiB = numberOption('--size-mib', 256);
const rounds = numberOption('--rounds', 3);
const keep = hasFlag('--keep');

const fmt = (r) => `${r.seconds.toFixed(2)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB`;

const work = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-'));
try {
  const layout = path.join(work, 'layout');
  say(`building a layout with a ${sizeMiB} MiB random layer in ${work} ...`);
  await makeBigLayout(layout, sizeMiB);
  const tar = path.join(work, 'image.tar');
  const gz = path.join(work, 'image.tar.gz');
  await measure(process.execPath, [BIN, 'pack', layout, tar]);
  await measure(process.execPath, [BIN, 'pack', layout, gz]);
  const payload = path.join(work, 'payload');
  await measure('sh', ['-c', `head -c ${Math.max(1, Math.floor(sizeMiB / 4))}M /dev/urandom > '${payload}'`]);
  const copy = path.join(work, 'copy');
  const sh = (script) => ['sh', ['-c', script]];
  // Each edit starts from the same archive (a fresh copy, its writeback done), so that it does not
  // grow round after round, and with no dirty pages left by the command before.
  const fresh = async (src, dst) => {
    await copyFile(src, dst);
    await measure('sync', []);
  };
  const edited = { tar: path.join(work, 'edit.tar'), gz: path.join(work, 'edit.tar.gz') };
  const commands = {
    // dd, not cp: cp may clone the file (copy_file_range, reflinks) without moving a byte.
    cp: { prepare: () => measure('sh', ['-c', `rm -f '${copy}' && sync`]), run: sh(`dd if='${tar}' of='${copy}' bs=1M conv=fsync status=none`) },
    tag: { prepare: () => fresh(tar, edited.tar), run: [process.execPath, [BIN, 'tag', `${edited.tar}:big`, 'edited']] },
    push: { prepare: () => fresh(tar, edited.tar), run: [process.execPath, [BIN, 'blob', 'push', edited.tar, payload]] },
    regzip: { prepare: () => measure('sh', ['-c', `rm -f '${copy}' && sync`]), run: sh(`gzip -dc '${gz}' | gzip -c > '${copy}' && sync '${copy}'`) },
    tagGz: { prepare: () => fresh(gz, edited.gz), run: [process.execPath, [BIN, 'tag', `${edited.gz}:big`, 'edited']] },
  };
  // The disk's speed drifts over a run on a shared machine: rounds alternate the commands and
  // the median of each is reported.
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, { prepare, run: [cmd, args] }] of Object.entries(commands)) {
      await prepare();
      runs[name].push(await measure(cmd, args));
    }
  }
  const mid = (name) => {
    const sorted = [...runs[name]].sort((a, b) => a.seconds - b.seconds);
    return { ...sorted[Math.floor(sorted.length / 2)], peakMiB: Math.max(...runs[name].map((r) => r.peakMiB)), all: runs[name].map((r) => r.seconds.toFixed(2)).join(', ') };
  };
  const [cpRun, tagRun, pushRun, regzipRun, tagGzRun] = ['cp', 'tag', 'push', 'regzip', 'tagGz'].map(mid);
  const fmtAll = (r) => `${fmt(r)} (runs: ${r.all})`;
  say(`median of ${rounds} rounds, archive of a ${sizeMiB} MiB layer:`);
  say(`dd conv=fsync                    ${fmtAll(cpRun)}`);
  say(`ocikit tag ARCHIVE               ${fmtAll(tagRun)}   ratio ${(tagRun.seconds / cpRun.seconds).toFixed(2)}x dd (verifies every blob)`);
  say(`ocikit blob push (${Math.floor(sizeMiB / 4)} MiB)       ${fmtAll(pushRun)}   ratio ${(pushRun.seconds / cpRun.seconds).toFixed(2)}x dd of the archive`);
  say(`gzip -dc | gzip -c + sync        ${fmtAll(regzipRun)}`);
  say(`ocikit tag ARCHIVE.tar.gz        ${fmtAll(tagGzRun)}   ratio ${(tagGzRun.seconds / regzipRun.seconds).toFixed(2)}x gzip -dc | gzip -c`);
  const rssOk = (r) => (r.peakMiB <= RSS_LIMIT_MIB ? 'ok' : 'EXCEEDED');
  say(`peak RSS limit ${RSS_LIMIT_MIB} MiB: tag ${rssOk(tagRun)}, blob push ${rssOk(pushRun)}, tag .tar.gz ${rssOk(tagGzRun)}`);
  const median = `median of ${rounds}`;
  emit([
    row({ name: `tag on an archive of a ${sizeMiB} MiB layer (rewritten)`, ocikit_s: tagRun.seconds, peer: 'dd conv=fsync', peer_s: cpRun.seconds, ocikit_rss_mib: tagRun.peakMiB, note: `${median}; verifies every blob` }),
    row({ name: `blob push of ${Math.floor(sizeMiB / 4)} MiB into that archive`, ocikit_s: pushRun.seconds, peer: 'dd conv=fsync of the archive', peer_s: cpRun.seconds, ocikit_rss_mib: pushRun.peakMiB, note: median }),
    row({ name: `tag on a .tar.gz of a ${sizeMiB} MiB layer`, ocikit_s: tagGzRun.seconds, peer: 'gzip -dc | gzip -c + sync', peer_s: regzipRun.seconds, ocikit_rss_mib: tagGzRun.peakMiB, note: `${median}; spool, verify, recompress` }),
  ]);
} finally {
  if (keep) say(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
