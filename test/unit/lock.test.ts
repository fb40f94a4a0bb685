/**
 * The layout lock (src/fs/lock.ts): a holder that lost its lock writes
 * nothing. (That the lock never exists without its owner: lock-owner.test.ts.)
 */
import fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OcikitError } from '../../src/errors.js';
import { LayoutDir } from '../../src/targets/layout-dir.js';
import type { ImageIndex } from '../../src/spec/types.js';
import { FIXTURES } from '../helpers/cli.js';

const LOCK = '.ocikit.lock';
const REF = 'org.opencontainers.image.ref.name';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocikit-lock-'));
  await fs.promises.cp(path.join(FIXTURES, 'single-image'), dir, { recursive: true });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const withTag = (index: ImageIndex, tag: string): ImageIndex => ({ ...index, manifests: [...index.manifests, { ...index.manifests[0]!, annotations: { [REF]: tag } }] });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof OcikitError ? err.code : String(err);
  }
}

describe('a holder that lost the lock', () => {
  it('writes nothing and fails with LOCKED when another process replaced its lock (index.json stays the other writer\'s, byte for byte)', async () => {
    const layout = await LayoutDir.open(dir);
    const theirs = JSON.stringify(withTag(await layout.readIndex(), 'theirs'));
    const code = await codeOf(
      layout.updateIndex(async (index) => {
        // Another process takes the lock over (as it does with a lock it judges abandoned) and writes.
        await rm(path.join(dir, LOCK), { recursive: true, force: true });
        await writeFile(path.join(dir, LOCK), `${process.pid + 1} other-host 0123456789abcdef\n`);
        await writeFile(path.join(dir, 'index.json'), theirs);
        return withTag(index, 'mine');
      }),
    );
    expect(code).toBe('LOCKED');
    expect(await readFile(path.join(dir, 'index.json'), 'utf8')).toBe(theirs);
    // Its temp file is gone, and the lock it lost is left to the one who holds it now.
    expect((await readdir(dir)).filter((n) => n.startsWith('.ocikit-tmp-'))).toEqual([]);
    expect(await readFile(path.join(dir, LOCK), 'utf8')).toContain('other-host');
  });

  it('writes nothing when its lock went stale and a second writer took it over, wrote and left', async () => {
    const first = await LayoutDir.open(dir);
    const second = await LayoutDir.open(dir);
    const code = await codeOf(
      first.updateIndex(async (index) => {
        // As if this holder had been stopped (or its event loop blocked) past the stale time.
        const old = new Date(Date.now() - 60_000);
        await utimes(path.join(dir, LOCK), old, old);
        await second.updateIndex((i) => withTag(i, 'second'));
        return withTag(index, 'first');
      }),
    );
    expect(code).toBe('LOCKED');
    const tags = (await first.readIndex()).manifests.map((e) => e.annotations?.[REF]);
    expect(tags).toEqual(['v1', 'second']);
    expect(await readdir(dir)).not.toContain(LOCK);
  });
});
