/**
 * writeArchiveFile in process: the steps of a merge the CLI cannot time
 * deterministically, here another writer replacing (or creating) the archive
 * while a merge into it is being written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeArchiveFile } from '../../src/ops/archive-merge.js';

let work: string;
let n = 0;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-archive-merge-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function caseDir(): Promise<string> {
  const dir = path.join(work, `case-${++n}`);
  await mkdir(dir);
  return dir;
}

describe('writeArchiveFile', () => {
  it('merges into an empty archive it wrote before, and reports it', async () => {
    const dest = path.join(await caseDir(), 'a.tar');
    expect(await writeArchiveFile(dest, {}, async () => 'first')).toMatchObject({ result: 'first', merged: false });
    expect(await writeArchiveFile(dest, {}, async () => 'second')).toMatchObject({ result: 'second', merged: true, earlierEntries: 0, movedTags: [] });
  });

  it('refuses to rename over an archive another writer replaced meanwhile: LOCKED, the other writer\'s file kept, no temp file', async () => {
    const dir = await caseDir();
    const dest = path.join(dir, 'a.tar');
    await writeArchiveFile(dest, {}, async () => undefined);
    const theirs = Buffer.from('what the other writer left');
    await expect(writeArchiveFile(dest, {}, () => writeFile(dest, theirs))).rejects.toMatchObject({ code: 'LOCKED' });
    expect((await readFile(dest)).equals(theirs)).toBe(true);
    expect(await readdir(dir)).toEqual(['a.tar']);
  });

  it('refuses to rename over a file another writer created meanwhile', async () => {
    const dir = await caseDir();
    const dest = path.join(dir, 'new.tar');
    await expect(writeArchiveFile(dest, {}, () => writeFile(dest, 'theirs'))).rejects.toMatchObject({ code: 'LOCKED' });
    expect(await readFile(dest, 'utf8')).toBe('theirs');
    expect(await readdir(dir)).toEqual(['new.tar']);
  });
});
