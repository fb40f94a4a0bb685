/**
 * gc on a layout shared by several hosts: a write lease of another host
 * (whose pid means nothing here) keeps its blobs until it has been left
 * unchanged for FOREIGN_LEASE_TTL_MS; this host's dead leases go at once.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseDirs, tempDir } from '../helpers/cli.js';
import { blobPath } from '../helpers/peers.js';
import { HOST_TAG } from '../../src/fs/host-process.js';
import { FOREIGN_LEASE_TTL_MS } from '../../src/fs/lease.js';
import { expectJson } from './_support.js';

interface GcResult {
  removedBlobs: Array<{ digest: string; size: number }>;
}

const OTHER_HOST = HOST_TAG === '00000000' ? '11111111' : '00000000';
const NO_SUCH_PID = 2147483646;

let tmp: { dir: string; cleanup: () => Promise<void> };
const { fixture: fresh } = caseDirs(() => tmp.dir);
beforeAll(async () => {
  tmp = await tempDir('ocikit-gc-lease-hosts-');
});
afterAll(async () => {
  await tmp.cleanup();
});

async function strayBlob(layout: string, content: string): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  await writeFile(blobPath(layout, digest), content);
  return digest;
}

describe('gc and leases of other hosts', () => {
  it("keeps blobs leased on another host until that lease is older than the limit; removes this host's dead lease's blobs at once", { timeout: 60_000 }, async () => {
    const layout = await fresh('single-image');
    const foreignBlob = await strayBlob(layout, 'leased by a writer on another host\n');
    const localBlob = await strayBlob(layout, 'leased by a writer of this host that is gone\n');
    const leases = path.join(layout, '.ocikit-leases');
    const foreign = `${NO_SUCH_PID}-${OTHER_HOST}-0123456789ab.lease`;
    const local = `${NO_SUCH_PID}-${HOST_TAG}-0123456789ab.lease`;
    await mkdir(leases);
    await writeFile(path.join(leases, foreign), `${foreignBlob}\n`);
    await writeFile(path.join(leases, local), `${localBlob}\n`);

    const first = await expectJson<GcResult>(['gc', layout]);
    expect(first.removedBlobs.map((b) => b.digest)).toEqual([localBlob]);
    expect(await readdir(leases)).toEqual([foreign]);

    const old = (Date.now() - FOREIGN_LEASE_TTL_MS - 60_000) / 1000;
    await utimes(path.join(leases, foreign), old, old);
    const second = await expectJson<GcResult>(['gc', layout]);
    expect(second.removedBlobs.map((b) => b.digest)).toEqual([foreignBlob]);
    expect(await readdir(leases)).toEqual([]);
  });
});
