/**
 * What `ocikit artifact push` and `ocikit artifact pull` refuse, through the
 * built CLI: bad command lines and files (one clear line, the right exit
 * status, the layout untouched), hostile titles and paths through symbolic
 * links (exit 1, nothing written outside DIR: checked on the filesystem),
 * layers in a manifest that collide, and a layer whose bytes do not match
 * its digest (no file left under its title).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ocikit, snapshotTree } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { expectFailure } from './_support.js';
import { TYPE, artifactSuite, craft, filesUnder } from './artifact-helpers.js';

const { tmp, inWork, newLayout, push, pullInto } = artifactSuite();

/**
 * A layout where an artifact push has just succeeded: a refusal that follows
 * is then the command refusing its input, not a command that does not exist
 * (which also exits 2).
 */
const pushedOnce = once(async (): Promise<string> => {
  const layout = await newLayout();
  await push(`${layout}:v0`, ['c.txt', '--artifact-type', TYPE]);
  return layout;
});

describe('artifact push: bad input gets one clear line, the right exit status, and the layout is untouched', () => {
  it.each([
    ['missing --artifact-type', ['c.txt'], 2, 'USAGE'],
    ['a pattern that matches nothing', ['nothing-*.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['an absolute path (it would become the title)', [path.join('/', 'etc', 'hostname'), '--artifact-type', TYPE], 2, 'USAGE'],
    ['a path with ..', ['docs/../c.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['the same title twice', ['c.txt', './c.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['a bad media type', ['c.txt:not a type/x', '--artifact-type', TYPE], 2, 'USAGE'],
    ['a file that does not exist', ['c.txt', 'nosuch.txt', '--artifact-type', TYPE], 1, 'NOT_FOUND'],
    ['a subject that does not exist', ['c.txt', '--artifact-type', TYPE, '--subject', 'nosuch'], 1, 'NOT_FOUND'],
  ] as const)('%s', async (_what, args, exit, code) => {
    const layout = await pushedOnce();
    await expectFailure(['artifact', 'push', `${layout}:v1`, ...args], { ...inWork(), exit, code, unchanged: layout });
  });

  it('a file that does not exist fails as it does for attach (exit 1, NOT_FOUND)', async () => {
    const layout = await pushedOnce();
    await expectFailure(['attach', `${layout}:v0`, 'nosuch.txt', '--artifact-type', TYPE], { ...inWork(), exit: 1, code: 'NOT_FOUND', unchanged: layout });
  });

  it('a symbolic link inside a directory to push is refused (exit 2), not followed', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'tree'));
    await writeFile(path.join(dir, 'tree', 'ok.txt'), 'ok');
    await symlink('/etc/passwd', path.join(dir, 'tree', 'passwd'));
    const layout = await pushedOnce();
    await expectFailure(['artifact', 'push', layout, 'tree', '--artifact-type', TYPE], { cwd: dir, exit: 2, code: 'USAGE', unchanged: layout });
  });
});

describe('titles that artifact pull would refuse are not written by attach or artifact push either', () => {
  it('a file whose name holds a backslash: exit 2, the layout untouched', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'a\\b.txt'), 'windows would read this as a\\b.txt');
    const layout = await pushedOnce();
    for (const cmd of [['attach', `${layout}:v0`], ['artifact', 'push', layout]]) {
      await expectFailure([...cmd, 'a\\b.txt', '--artifact-type', TYPE], { cwd: dir, exit: 2, code: 'USAGE', unchanged: layout });
    }
  });
});

describe('artifact pull: hostile titles and paths through links are refused, nothing is written outside DIR', () => {
  it.each([['../escaped'], ['a/../../escaped'], ['ABS/escaped'], ['..\\escaped'], ['a/\0/x'], ['a/']])('title %j: exit 1, UNSAFE_PATH, DIR not even created', async (title) => {
    const root = await tmp();
    const layout = await newLayout();
    const t = title.replace('ABS', root);
    await craft(layout, 'v1', [{ text: 'harmless', title: 'ok.txt' }, { text: 'evil', title: t }]);
    const before = await snapshotTree(root);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', path.join(root, 'sub', 'out')], { exit: 1, code: 'UNSAFE_PATH' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('a title through a symbolic link in DIR (DIR/a -> elsewhere, title a/passwd) is refused; elsewhere stays empty', async () => {
    const root = await tmp();
    const elsewhere = path.join(root, 'elsewhere');
    const out = path.join(root, 'out');
    await mkdir(elsewhere);
    await mkdir(out);
    await symlink(elsewhere, path.join(out, 'a'));
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'root::0:0::/:/bin/sh\n', title: 'a/passwd' }]);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out, '--overwrite'], { exit: 1, code: 'UNSAFE_PATH', unchanged: root });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('a title that names an existing symbolic link is not written through, even with --overwrite', async () => {
    const root = await tmp();
    const victim = path.join(root, 'victim.txt');
    const out = path.join(root, 'out');
    await writeFile(victim, 'precious\n');
    await mkdir(out);
    await symlink(victim, path.join(out, 'notes.txt'));
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'overwritten', title: 'notes.txt' }]);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out, '--overwrite'], { exit: 1, code: 'UNSAFE_PATH', unchanged: root });
  });

  it('two layers with the same title, or a title that is the directory of another, are refused before anything is written', async () => {
    for (const titles of [['x.txt', './x.txt'], ['a', 'a/b']]) {
      const layout = await newLayout();
      await craft(layout, 'v1', titles.map((title, i) => ({ text: `layer ${i}`, title })));
      const out = path.join(await tmp(), 'out');
      await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out], { exit: 1, code: 'AMBIGUOUS' });
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('artifact pull: verification and untitled layers', () => {
  it('a layer whose bytes do not match its digest: exit 1, no file at DIR/<title> and no temp file left', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'the real content', title: 'data/file.bin', storedAs: 'THE REAL CONTENT' }]);
    const out = await tmp();
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out], { exit: 1, code: 'DIGEST_MISMATCH' });
    expect(await readdir(path.join(out, 'data'))).toEqual([]);
  });

  it('a layer without a title is skipped with a warning on stderr; the others are written', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'no title' }, { text: 'titled', title: 't.txt' }]);
    const out = path.join(await tmp(), 'out');
    const r = await ocikit(['artifact', 'pull', `${layout}:v1`, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    // One warning line for the one skipped layer (its wording is not the contract; the JSON below is).
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout.trim()).toBe(path.join(out, 't.txt'));
    expect(await filesUnder(out)).toEqual({ 't.txt': 'titled' });
    const again = await ocikit(['artifact', 'pull', `${layout}:v1`, '-o', out, '--overwrite', '--format', 'json']);
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout) as { untitled: Array<{ digest: string }>; files: unknown[] };
    expect(doc.untitled).toHaveLength(1);
    expect(doc.files).toHaveLength(1);
  });

  it('-o is required (exit 2)', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'x', title: 'x' }]);
    await pullInto(`${layout}:v1`);
    await expectFailure(['artifact', 'pull', `${layout}:v1`], { exit: 2, code: 'USAGE' });
  });
});

