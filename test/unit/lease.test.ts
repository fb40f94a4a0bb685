/**
 * Write leases under churn: many holders adding and releasing at once on one
 * layout, so that one holder's release removes the empty lease directory
 * while another is creating it or writing into it. Every add must still
 * succeed (a copy once failed with "ENOENT ... mkdir .ocikit-leases" here).
 */
import { describe, expect, it } from 'vitest';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WriteLease, readLiveLeases } from '../../src/fs/lease.js';
import { tempDir } from '../helpers/cli.js';

describe('WriteLease', () => {
  it('survives other holders removing the empty lease directory at any moment', async () => {
    const tmp = await tempDir('ocikit-lease-');
    try {
      const worker = async (w: number) => {
        for (let i = 0; i < 150; i++) {
          const lease = new WriteLease(tmp.dir);
          await lease.add(`sha256:${String(w).padStart(2, '0')}${'0'.repeat(62)}`);
          await lease.release();
        }
      };
      await Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
      const held = new WriteLease(tmp.dir);
      await held.add(`sha256:${'a'.repeat(64)}`);
      expect([...(await readLiveLeases(tmp.dir))]).toEqual([`sha256:${'a'.repeat(64)}`]);
      await held.release();
      expect(await readdir(tmp.dir)).toEqual([]);
    } finally {
      await tmp.cleanup();
    }
  });

  it('reads and removes nothing through a lease directory that is a symlink (UNSAFE_LAYOUT), even on a dry run', async () => {
    const tmp = await tempDir('ocikit-lease-');
    try {
      const layout = path.join(tmp.dir, 'layout');
      const victim = path.join(tmp.dir, 'victim');
      await mkdir(layout);
      await mkdir(victim);
      const names = ['passwd', '2147483646-0123456789ab.lease'];
      for (const n of names) await writeFile(path.join(victim, n), 'x\n');
      await symlink(victim, path.join(layout, '.ocikit-leases'));
      for (const dryRun of [false, true]) await expect(readLiveLeases(layout, dryRun)).rejects.toMatchObject({ code: 'UNSAFE_LAYOUT' });
      expect((await readdir(victim)).sort()).toEqual(names.sort());
    } finally {
      await tmp.cleanup();
    }
  });
});
