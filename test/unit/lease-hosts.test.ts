/**
 * Leases name their host, as the lock and temp files do, so that a gc on one
 * host of a shared filesystem never takes a live writer on another host for
 * dead (its pid means nothing here). This host's leases are judged by pid;
 * another host's are honoured until FOREIGN_LEASE_TTL_MS after their last
 * change; the older `<pid>-<hex>.lease` form is still read as this host's.
 */
import { describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FOREIGN_LEASE_TTL_MS, LEASE_DIR, WriteLease, readLiveLeases } from '../../src/fs/lease.js';
import { HOST_TAG } from '../../src/fs/host-process.js';
import { tempDir } from '../helpers/cli.js';

const OTHER_HOST = HOST_TAG === '00000000' ? '11111111' : '00000000';
/** A pid no process of this host has (above Linux's pid_max). */
const NO_SUCH_PID = 2147483646;
const digest = (c: string) => `sha256:${c.repeat(64)}`;

async function withLeases(files: Record<string, string>, run: (layout: string, leases: string) => Promise<void>): Promise<void> {
  const tmp = await tempDir('ocikit-lease-hosts-');
  try {
    const leases = path.join(tmp.dir, LEASE_DIR);
    await mkdir(leases);
    for (const [name, digests] of Object.entries(files)) await writeFile(path.join(leases, name), digests);
    await run(tmp.dir, leases);
  } finally {
    await tmp.cleanup();
  }
}

describe('leases and hosts', () => {
  it('a lease is named <pid>-<host tag>-<random>.lease and read back while its process runs', async () => {
    const tmp = await tempDir('ocikit-lease-hosts-');
    try {
      const lease = new WriteLease(tmp.dir);
      await lease.add(digest('a'));
      const names = await readdir(path.join(tmp.dir, LEASE_DIR));
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(new RegExp(`^${process.pid}-${HOST_TAG}-[0-9a-f]{12}\\.lease$`));
      expect([...(await readLiveLeases(tmp.dir))]).toEqual([digest('a')]);
      await lease.release();
    } finally {
      await tmp.cleanup();
    }
  });

  it("another host's lease counts as live and is kept, whatever its pid means here", async () => {
    const name = `${NO_SUCH_PID}-${OTHER_HOST}-0123456789ab.lease`;
    await withLeases({ [name]: `${digest('b')}\n${digest('c')}\n` }, async (layout, leases) => {
      for (const dryRun of [true, false]) expect([...(await readLiveLeases(layout, dryRun))].sort()).toEqual([digest('b'), digest('c')]);
      expect(await readdir(leases)).toEqual([name]);
    });
  });

  it("another host's lease unchanged for longer than FOREIGN_LEASE_TTL_MS is dead: not counted, removed (kept on a dry run)", async () => {
    const name = `4242-${OTHER_HOST}-0123456789ab.lease`;
    await withLeases({ [name]: `${digest('d')}\n` }, async (layout, leases) => {
      const old = (Date.now() - FOREIGN_LEASE_TTL_MS - 60_000) / 1000;
      await utimes(path.join(leases, name), old, old);
      expect([...(await readLiveLeases(layout, true))]).toEqual([]);
      expect(await readdir(leases)).toEqual([name]);
      expect([...(await readLiveLeases(layout))]).toEqual([]);
      expect(await readdir(leases)).toEqual([]);
    });
  });

  it("this host's leases are judged by pid, in the new and the older name form; other names are left alone", async () => {
    const files = {
      [`${process.pid}-${HOST_TAG}-0123456789ab.lease`]: `${digest('1')}\n`,
      [`${NO_SUCH_PID}-${HOST_TAG}-0123456789ab.lease`]: `${digest('2')}\n`,
      [`${process.pid}-0123456789ab.lease`]: `${digest('3')}\n`,
      [`${NO_SUCH_PID}-0123456789ab.lease`]: `${digest('4')}\n`,
      // Not ocikit's: kept and not read.
      [`${NO_SUCH_PID}-${HOST_TAG}-0123456789ab.lease.bak`]: `${digest('5')}\n`,
      [`${NO_SUCH_PID}-nothex-0123456789ab.lease`]: `${digest('6')}\n`,
      notes: `${digest('7')}\n`,
    };
    await withLeases(files, async (layout, leases) => {
      expect([...(await readLiveLeases(layout))].sort()).toEqual([digest('1'), digest('3')]);
      const dead = [`${NO_SUCH_PID}-${HOST_TAG}-0123456789ab.lease`, `${NO_SUCH_PID}-0123456789ab.lease`];
      expect((await readdir(leases)).sort()).toEqual(Object.keys(files).filter((n) => !dead.includes(n)).sort());
      expect(await readFile(path.join(leases, 'notes'), 'utf8')).toBe(files.notes);
    });
  });
});
