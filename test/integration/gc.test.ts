/**
 * `ocikit gc` through the built CLI, on private copies of the fixtures: what
 * is live (tagged roots, untagged roots, referrers of live manifests,
 * recursively), what goes (orphaned artifacts and every blob nothing live
 * needs), dry runs, damaged manifests, the layout lock, and write leases of
 * other running processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseDirs, expectedDigests, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { blobPath, ocikitOk } from '../helpers/peers.js';
import { expectFailure, expectJson, readIndexJson } from './_support.js';

interface GcResult {
  dryRun: boolean;
  removedEntries: Array<{ digest: string; artifactType?: string }>;
  removedBlobs: Array<{ digest: string; size: number }>;
  freedBytes: number;
  keptBlobs: number;
  removedTempFiles: string[];
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let tmp: { dir: string; cleanup: () => Promise<void> };
let wr: { image: string; sbom: string; signature: string; sbomSignature: string; blobs: Record<string, number> };
let single: { image: string; config: string; layers: string[]; blobs: Record<string, number> };
const { fixture: fresh, dir: mkdirUnique } = caseDirs(() => tmp.dir);

const gcJson = (layout: string, ...flags: string[]) => expectJson<GcResult>(['gc', layout, ...flags]);
const blobsIn = async (layout: string) => (await readdir(path.join(layout, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort();
const sorted = (xs: string[]) => [...xs].sort();

/** Store some bytes as a blob nothing references (gc's obvious candidate), written directly: setup, not the subject of a test. */
async function strayBlob(layout: string, content: string): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  await writeFile(blobPath(layout, digest), content);
  return digest;
}

/** A process that stays alive until killed, for leases and the like. */
function sleeper(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}
const stopped = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

beforeAll(async () => {
  tmp = await tempDir('ocikit-gc-');
  const all = await expectedDigests();
  wr = all['with-referrers'] as unknown as typeof wr;
  single = all['single-image'] as unknown as typeof single;
});
afterAll(async () => tmp?.cleanup());

describe.concurrent('gc: what is live', () => {
  it('keeps referrers of tagged images, and referrers of those referrers: nothing to do on with-referrers', async () => {
    const layout = await fresh('with-referrers');
    const before = await snapshotTree(layout);
    const r = await gcJson(layout);
    expect(r.removedEntries).toEqual([]);
    expect(r.removedBlobs).toEqual([]);
    expect(r.keptBlobs).toBe(Object.keys(wr.blobs).length);
    expect(await snapshotTree(layout)).toEqual(before);
  });

  it('removes nothing from any fixture (index children, Docker lists, fallback-tag listings and legacy artifact blobs are all reachable)', async () => {
    await Promise.all(
      ['single-image', 'multi-platform', 'docker-v2', 'referrers-fallback', 'legacy-artifact'].map(async (f) => {
        const layout = await fresh(f);
        const before = await snapshotTree(layout);
        const r = await gcJson(layout);
        expect(r.removedBlobs, f).toEqual([]);
        expect(r.removedEntries, f).toEqual([]);
        expect(await snapshotTree(layout), f).toEqual(before);
      }),
    );
  });

  it('untagged entries without a subject are roots; an unreferenced blob goes', async () => {
    const layout = await fresh('single-image');
    // A second image: same config, only the first layer, listed untagged.
    const m2 = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: single.config, size: single.blobs[single.config] }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: single.layers[0], size: single.blobs[single.layers[0]!] }], annotations: { 'com.example.variant': 'untagged' } }));
    const file = path.join(await mkdirUnique(), 'm2.json');
    await writeFile(file, m2);
    const untagged = (await ocikitOk(['manifest', 'push', `oci:${layout}`, file])).stdout.trim();
    expect((await readIndexJson(layout)).manifests.map((m) => m.digest)).toContain(untagged);
    const stray = await strayBlob(layout, 'nobody needs me\n');

    const r = await gcJson(layout);
    expect(r.removedBlobs.map((b) => b.digest)).toEqual([stray]);
    expect(r.removedEntries).toEqual([]);
    expect(await blobsIn(layout)).toEqual(sorted([...Object.keys(single.blobs), untagged]));
  });
});

describe('gc: when a subject goes', () => {
  it('after untag, gc drops the image, its orphaned artifacts (recursively: the SBOM signature too) and all their blobs, and says so', async () => {
    const layout = await fresh('with-referrers');
    await ocikitOk(['untag', `oci:${layout}:v1`]);
    // untag takes the image out of index.json; its artifacts stay listed until gc.
    expect(sorted((await readIndexJson(layout)).manifests.map((m) => m.digest))).toEqual(sorted([wr.sbom, wr.signature, wr.sbomSignature]));

    const text = await ocikitOk(['gc', layout]);
    for (const d of [wr.sbom, wr.signature, wr.sbomSignature]) expect(text.stdout).toContain(d);
    expect((await readIndexJson(layout)).manifests).toEqual([]);
    expect(await blobsIn(layout)).toEqual([]);
    // A second run has nothing left to do.
    const again = await gcJson(layout);
    expect(again.removedBlobs).toEqual([]);
    expect(again.removedEntries).toEqual([]);
  });

  it('--dry-run lists the same entries and blobs and frees nothing (the layout is byte-identical)', async () => {
    const layout = await fresh('with-referrers');
    await ocikitOk(['untag', `oci:${layout}:v1`]);
    const before = await snapshotTree(layout);
    const dry = await gcJson(layout, '--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(sorted(dry.removedEntries.map((e) => e.digest))).toEqual(sorted([wr.sbom, wr.signature, wr.sbomSignature]));
    expect(sorted(dry.removedBlobs.map((b) => b.digest))).toEqual(sorted(Object.keys(wr.blobs)));
    expect(dry.freedBytes).toBe(Object.values(wr.blobs).reduce((a, b) => a + b, 0));
    expect(await snapshotTree(layout)).toEqual(before);

    const real = await gcJson(layout);
    expect(real.dryRun).toBe(false);
    expect(sorted(real.removedEntries.map((e) => e.digest))).toEqual(sorted(dry.removedEntries.map((e) => e.digest)));
    expect(sorted(real.removedBlobs.map((b) => b.digest))).toEqual(sorted(dry.removedBlobs.map((b) => b.digest)));
  });

  it('never deletes a blob a reachable manifest needs: two images share a layer and config, one is untagged', async () => {
    const layout = await fresh('single-image');
    const m2 = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: single.config, size: single.blobs[single.config] }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: single.layers[0], size: single.blobs[single.layers[0]!] }] }));
    const file = path.join(await mkdirUnique(), 'v2.json');
    await writeFile(file, m2);
    const v2 = (await ocikitOk(['manifest', 'push', `oci:${layout}:v2`, file])).stdout.trim();
    // An artifact on each image: the one on v2 must go with v2, the one on v1 must stay.
    const note = path.join(path.dirname(file), 'note.txt');
    await writeFile(note, 'about v2\n');
    const onV2 = (await ocikitOk(['attach', `oci:${layout}:v2`, '--artifact-type', 'application/vnd.example.note', `${note}:text/plain`])).stdout.trim();
    const onV1 = (await ocikitOk(['attach', `oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.marker'])).stdout.trim();
    await ocikitOk(['untag', `oci:${layout}:v2`]);

    const r = await gcJson(layout);
    expect(r.removedEntries.map((e) => e.digest)).toEqual([onV2]);
    const removed = r.removedBlobs.map((b) => b.digest);
    expect(removed).toContain(v2);
    expect(removed).toContain(onV2);
    expect(removed).toHaveLength(3); // v2, the artifact on it, and its note layer
    // Everything v1 and its artifact need is still there and readable.
    const left = await blobsIn(layout);
    expect(left).not.toContain(v2);
    expect(left).not.toContain(onV2);
    for (const d of [...Object.keys(single.blobs), onV1, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a']) expect(left).toContain(d);
    for (const d of [single.config, ...single.layers]) await ocikitOk(['blob', 'fetch', `oci:${layout}@${d}`, '-o', path.join(path.dirname(file), d.slice(7))]);
    expect((await ocikitOk(['referrers', `oci:${layout}:v1`, '--format', 'json'])).stdout).toContain(onV1);
  });
});

describe.concurrent('gc: a damaged manifest stops it before anything is removed', () => {
  for (const [name, damage] of [
    ['truncated', (file: string) => truncate(file, 100)],
    ['same size, other bytes', async (file: string) => writeFile(file, (await readFile(file, 'utf8')).replace('spdx', 'spdy'))],
    ['not JSON', async (file: string) => writeFile(file, ' '.repeat(wr.blobs[wr.sbom]!))],
  ] as const) {
    it(`${name}: exit 1 with INVALID_MANIFEST, layout unchanged (a stray blob stays too)`, async () => {
      const layout = await fresh('with-referrers');
      await strayBlob(layout, `stray for ${name}\n`);
      await damage(blobPath(layout, wr.sbom));
      await expectFailure(['gc', layout, ...(name === 'truncated' ? ['--dry-run'] : [])], { exit: 1, code: 'INVALID_MANIFEST', unchanged: layout });
      if (name === 'truncated') await expectFailure(['gc', layout], { exit: 1, code: 'INVALID_MANIFEST', unchanged: layout });
    });
  }

  it('a directory that is not a layout: exit 1, INVALID_LAYOUT; a layout with :TAG: exit 2, USAGE', async () => {
    const dir = await mkdirUnique();
    await expectFailure(['gc', dir], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
    const layout = await fresh('single-image');
    await expectFailure(['gc', `oci:${layout}:v1`], { exit: 2, code: 'USAGE', unchanged: layout });
  });
});

/** Touch a lock directory every 500 ms, as its live holder would (proper-lockfile's refresh); clearInterval stops it. */
function keepFresh(lock: string): NodeJS.Timeout {
  return setInterval(() => {
    const now = new Date();
    utimes(lock, now, now).catch(() => undefined);
  }, 500);
}

describe('gc and other processes', () => {
  it('waits while another process holds the layout lock, removes nothing meanwhile, and proceeds once it is released', async () => {
    const layout = await fresh('single-image');
    const stray = await strayBlob(layout, 'stray while locked\n');
    // The lock as proper-lockfile makes it: a directory whose mtime its holder keeps fresh.
    const lock = path.join(layout, '.ocikit.lock');
    await mkdir(lock);
    const refresh = keepFresh(lock);
    try {
      const running = ocikit(['gc', layout, '--format', 'json'], { timeoutMs: 30_000 });
      let finished = false;
      void running.then(() => (finished = true));
      await new Promise((r) => setTimeout(r, 2_500));
      expect(finished).toBe(false);
      expect(await blobsIn(layout)).toContain(stray);
      clearInterval(refresh);
      await rm(lock, { recursive: true });
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as GcResult).removedBlobs.map((b) => b.digest)).toEqual([stray]);
      expect(await blobsIn(layout)).not.toContain(stray);
    } finally {
      clearInterval(refresh);
    }
  });

  it('takes over a lock left by a crashed process (mtime older than the 10 s stale limit)', async () => {
    const layout = await fresh('single-image');
    const stray = await strayBlob(layout, 'stray under a stale lock\n');
    const lock = path.join(layout, '.ocikit.lock');
    await mkdir(lock);
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const r = await gcJson(layout);
    expect(r.removedBlobs.map((b) => b.digest)).toEqual([stray]);
  });

  it('takes over a fresh lock at once when its owner, a process of this host, is gone (found by the crash harness: a killed gc made the re-run wait 10 s)', async () => {
    const layout = await fresh('single-image');
    const stray = await strayBlob(layout, 'stray under a dead owner\n');
    const holder = await sleeper();
    const lock = path.join(layout, '.ocikit.lock');
    await mkdir(lock);
    await writeFile(path.join(lock, 'owner'), `${holder.pid} ${hostname()}\n`);
    // Kept fresh throughout, so only the owner check can explain a takeover.
    const refresh = keepFresh(lock);
    try {
      const running = ocikit(['gc', layout, '--format', 'json'], { timeoutMs: 30_000 });
      let finished = false;
      void running.then(() => (finished = true));
      await new Promise((r) => setTimeout(r, 2_000));
      expect(finished, 'gc must wait while the owner runs').toBe(false);
      holder.kill('SIGKILL');
      await stopped(holder);
      const killedAt = Date.now();
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      expect(Date.now() - killedAt).toBeLessThan(5_000);
      expect((JSON.parse(r.stdout) as GcResult).removedBlobs.map((b) => b.digest)).toEqual([stray]);
    } finally {
      clearInterval(refresh);
      holder.kill('SIGKILL');
    }
    // gc's own lock (with its owner file) is gone after the run.
    expect(await readdir(layout)).not.toContain('.ocikit.lock');
  });

  it('keeps blobs leased by a live process, and removes them (and the lease) once that process is gone', async () => {
    const layout = await fresh('single-image');
    const stray = await strayBlob(layout, 'leased by a running writer\n');
    const child = await sleeper();
    const leases = path.join(layout, '.ocikit-leases');
    const lease = path.join(leases, `${child.pid}-0123456789ab.lease`); // the name form ocikit writes (and the only one gc reads)
    try {
      await mkdir(leases, { recursive: true });
      await writeFile(lease, `${stray}\n`);
      const kept = await gcJson(layout);
      expect(kept.removedBlobs).toEqual([]);
      expect(await blobsIn(layout)).toContain(stray);
      expect(await readFile(lease, 'utf8')).toBe(`${stray}\n`);
    } finally {
      child.kill('SIGKILL');
      await stopped(child);
    }
    const dry = await gcJson(layout, '--dry-run');
    expect(dry.removedBlobs.map((b) => b.digest)).toEqual([stray]);
    expect(await readFile(lease, 'utf8')).toBe(`${stray}\n`); // a dry run changes nothing, dead leases included
    const gone = await gcJson(layout);
    expect(gone.removedBlobs.map((b) => b.digest)).toEqual([stray]);
    expect(await blobsIn(layout)).not.toContain(stray);
    await expect(readFile(lease)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes temp files of processes that no longer run, keeps those of live ones (dry run: lists, keeps)', async () => {
    const layout = await fresh('single-image');
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await stopped(dead);
    const live = await sleeper();
    try {
      const deadTmp = `.ocikit-tmp-${dead.pid}-0123456789ab`;
      const liveTmp = `.ocikit-tmp-${live.pid}-0123456789ab`;
      await writeFile(path.join(layout, deadTmp), 'half a blob');
      await writeFile(path.join(layout, liveTmp), 'a blob being written');
      const dry = await gcJson(layout, '--dry-run');
      expect(dry.removedTempFiles).toEqual([deadTmp]);
      expect((await readdir(layout)).sort()).toContain(deadTmp);
      const r = await gcJson(layout);
      expect(r.removedTempFiles).toEqual([deadTmp]);
      const names = await readdir(layout);
      expect(names).not.toContain(deadTmp);
      expect(names).toContain(liveTmp);
    } finally {
      live.kill('SIGKILL');
      await stopped(live);
    }
  });
});
