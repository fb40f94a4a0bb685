/**
 * Files a command leaves at a path the user names (`attach
 * --export-manifest`, `inspect --html`): the path is checked before the
 * command does its work (a bad one used to fail only after the artifact was
 * attached, and a re-run attached it twice), and the file is written through
 * the one atomic writer: a new file renamed over the old, never the old one
 * rewritten in place (where a reader could see half of it, or a symlink at
 * the destination would carry the write into another file).
 */
import { mkdir, readdir, readFile, lstat, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseDirs, tempDir } from '../helpers/cli.js';
import { readBlob } from '../helpers/peers.js';
import { expectFailure, expectJson } from './_support.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
const { fixture, dir: caseDir } = caseDirs(() => tmp.dir);
beforeAll(async () => {
  tmp = await tempDir('ocikit-output-files-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const ATTACH = ['--artifact-type', 'application/vnd.example.note'];

describe('attach --export-manifest', () => {
  it('a destination in a missing directory (IO_ERROR, exit 1) or that is a directory (USAGE, exit 2) fails before anything is attached', async () => {
    const layout = await fixture('single-image');
    const out = await caseDir();
    await expectFailure(['attach', `oci:${layout}:v1`, ...ATTACH, '--export-manifest', path.join(out, 'missing', 'm.json')], { exit: 1, code: 'IO_ERROR', unchanged: layout });
    await expectFailure(['attach', `oci:${layout}:v1`, ...ATTACH, '--export-manifest', out], { exit: 2, code: 'USAGE', unchanged: layout });
    await writeFile(path.join(out, 'file'), 'x');
    await expectFailure(['attach', `oci:${layout}:v1`, ...ATTACH, '--export-manifest', path.join(out, 'file', 'm.json')], { exit: 2, code: 'USAGE', unchanged: layout });
    expect(await readdir(out)).toEqual(['file']);
  });

  it('replaces an existing file with a new one (rename), leaves no temp file, and never writes through a symlink at the destination', async () => {
    const layout = await fixture('single-image');
    const out = await caseDir();
    const dest = path.join(out, 'm.json');
    await writeFile(dest, 'an older export\n');
    const inode = (await stat(dest)).ino;
    const desc = await expectJson<{ digest: string }>(['attach', `oci:${layout}:v1`, ...ATTACH, '--export-manifest', dest]);
    expect((await readFile(dest)).equals(await readBlob(layout, desc.digest))).toBe(true);
    expect((await stat(dest)).ino).not.toBe(inode);
    expect(await readdir(out)).toEqual(['m.json']);

    const victim = path.join(out, 'victim.txt');
    await writeFile(victim, 'not the export\n');
    const link = path.join(out, 'link.json');
    await symlink(victim, link);
    const second = await expectJson<{ digest: string }>(['attach', `oci:${layout}:v1`, '--artifact-type', 'application/vnd.example.other', '--export-manifest', link]);
    expect(await readFile(victim, 'utf8')).toBe('not the export\n');
    expect((await lstat(link)).isFile()).toBe(true);
    expect((await readFile(link)).equals(await readBlob(layout, second.digest))).toBe(true);
  });
});

describe('inspect --html', () => {
  it('a destination that is a directory is refused (USAGE, exit 2) before the verification; a missing directory is IO_ERROR', async () => {
    const layout = await fixture('single-image');
    const out = await caseDir();
    await expectFailure(['inspect', layout, '--html', out], { exit: 2, code: 'USAGE', unchanged: layout });
    await expectFailure(['inspect', layout, '--html', path.join(out, 'missing', 'r.html')], { exit: 1, code: 'IO_ERROR', unchanged: layout });
    expect(await readdir(out)).toEqual([]);
  });

  it('replaces an existing report with a new file (rename) and leaves no temp file', async () => {
    const layout = await fixture('single-image');
    const out = await caseDir();
    const dest = path.join(out, 'report.html');
    await writeFile(dest, 'an older report\n');
    const inode = (await stat(dest)).ino;
    await expectJson(['inspect', layout, '--html', dest]);
    expect(await readFile(dest, 'utf8')).toMatch(/^<!doctype html>/i);
    expect((await stat(dest)).ino).not.toBe(inode);
    expect(await readdir(out)).toEqual(['report.html']);
  });
});

describe('blob fetch -o', () => {
  it('a destination that is a directory is refused (USAGE, exit 2) and the directory is left as it was', async () => {
    const layout = await fixture('single-image');
    const out = await caseDir();
    await mkdir(path.join(out, 'sub'));
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    await expectFailure(['blob', 'fetch', `${layout}@${index.manifests[0]!.digest}`, '-o', path.join(out, 'sub')], { exit: 2, code: 'USAGE', unchanged: out });
  });
});
