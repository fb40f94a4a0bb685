/**
 * The directories a layout owns (blobs, blobs/<alg>, .ocikit-leases): the
 * check writers run before their first write, and verify's classification of
 * the same entries, agree on what is refused and with which code.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertOwnDirsSafe, OWN_DIRS } from '../../src/fs/layout-own-dirs.js';
import { classifyLayoutPath } from '../../src/audit/layout-paths.js';
import { tempDir } from '../helpers/cli.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;

beforeAll(async () => {
  tmp = await tempDir('ocikit-own-dirs-');
});
afterAll(async () => tmp?.cleanup());

/** A layout root with blobs/sha256 and a lease directory, all real. */
async function realLayout(): Promise<string> {
  const root = path.join(tmp.dir, `layout-${++n}`);
  await mkdir(path.join(root, 'blobs', 'sha256'), { recursive: true });
  await mkdir(path.join(root, '.ocikit-leases'));
  return root;
}

describe('assertOwnDirsSafe', () => {
  it('accepts real directories, missing ones, and a root reached through a symlink', async () => {
    const root = await realLayout();
    await expect(assertOwnDirsSafe(root)).resolves.toBeUndefined();
    await expect(assertOwnDirsSafe(path.join(tmp.dir, `missing-${n}`))).resolves.toBeUndefined(); // nothing there yet
    const link = path.join(tmp.dir, `link-${n}`);
    await symlink(root, link);
    await expect(assertOwnDirsSafe(link)).resolves.toBeUndefined();
  });

  for (const rel of OWN_DIRS) {
    it(`refuses ${rel} as a symlink (UNSAFE_LAYOUT) and as a regular file`, async () => {
      const root = await realLayout();
      const elsewhere = path.join(tmp.dir, `elsewhere-${n}`);
      await mkdir(elsewhere);
      const abs = path.join(root, rel);
      await mkdir(path.dirname(abs), { recursive: true });
      await rm(abs, { recursive: true, force: true });
      await symlink(elsewhere, abs);
      await expect(assertOwnDirsSafe(root)).rejects.toMatchObject({ code: 'UNSAFE_LAYOUT', path: abs });
      await rm(abs);
      await writeFile(abs, 'not a directory');
      await expect(assertOwnDirsSafe(root)).rejects.toMatchObject({ code: rel === 'blobs' ? 'INVALID_LAYOUT' : 'UNSAFE_LAYOUT', path: abs });
    });
  }
});

describe("verify's classification of the same entries", () => {
  it('reports each own directory that is a symlink or no directory as an error, with the code writers refuse with', () => {
    for (const rel of OWN_DIRS) {
      expect(classifyLayoutPath({ path: rel, type: 'symlink', size: 0 })).toMatchObject({ kind: 'bad', code: 'UNSAFE_LAYOUT' });
      expect(classifyLayoutPath({ path: rel, type: 'file', size: 1 })).toMatchObject({ kind: 'bad', code: rel === 'blobs' ? 'INVALID_LAYOUT' : 'UNSAFE_LAYOUT' });
      expect(classifyLayoutPath({ path: rel, type: 'directory', size: 0 }).kind).not.toBe('bad');
    }
    // Not an own directory: ocikit never writes below blobs/<alg it cannot verify>.
    expect(classifyLayoutPath({ path: 'blobs/md5', type: 'symlink', size: 0 }).kind).toBe('stray');
  });
});
