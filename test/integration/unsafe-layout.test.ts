/**
 * Layouts whose own directories lead outside them (issue 16, points 1, 2
 * and 11). A `.ocikit-leases`, `blobs` or `blobs/sha256` that is a symlink
 * would make gc delete, and every writer write, wherever it points: another
 * layout, a directory of somebody's files. Every writer refuses such a layout
 * with UNSAFE_LAYOUT (exit 1), leaving the layout and the symlink's target
 * as they were; verify reports it as an error; readers and a layout root
 * reached through a symlink keep working. And `unpack ARCHIVE nosuch/..`
 * checks the directory it would write into, not a path that does not exist.
 */
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseDirs, expectedDigests, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { copyLayout, ocikitOk } from '../helpers/peers.js';
import { expectFailure, expectJson, fixture } from './_support.js';
import { startServe, stopAllServers, type ServeProcess } from './serve-helpers.js';

interface Finding {
  severity: string;
  code: string;
  object: string;
}

/** Not a pid any process can have (above Linux's pid_max): a lease or temp file of a process that is gone. */
const DEAD_PID = 2147483646;

let tmp: { dir: string; cleanup: () => Promise<void> };
let archive: string;
let registry: ServeProcess;
let single: { image: string; layers: string[]; tags: Record<string, string> };
const { dir: caseDir } = caseDirs(() => tmp.dir);

beforeAll(async () => {
  tmp = await tempDir('ocikit-unsafe-layout-');
  archive = path.join(tmp.dir, 'multi.tar');
  await ocikitOk(['pack', fixture('multi-platform'), archive]);
  registry = await startServe([fixture('multi-platform'), '--repo', 'src']);
  single = (await expectedDigests())['single-image'] as unknown as typeof single;
}, 60_000);

afterAll(async () => {
  await stopAllServers();
  await tmp?.cleanup();
});

/**
 * `layout`: the single-image fixture whose `link` (blobs or blobs/sha256) is
 * a symlink to the same directory of `other`, a copy of with-referrers that
 * also holds the single image's blobs (so `layout` reads fine, and gc of it
 * would find the other layout's blobs unreferenced).
 */
async function layoutLinkedInto(link: 'blobs' | 'blobs/sha256'): Promise<{ layout: string; other: string }> {
  const dir = await caseDir();
  const other = await copyLayout(fixture('with-referrers'), path.join(dir, 'other'));
  const layout = await copyLayout(fixture('single-image'), path.join(dir, 'layout'));
  for (const name of await readdir(path.join(layout, 'blobs', 'sha256'))) {
    await rename(path.join(layout, 'blobs', 'sha256', name), path.join(other, 'blobs', 'sha256', name));
  }
  await rm(path.join(layout, link), { recursive: true });
  await symlink(path.join(other, link), path.join(layout, link));
  return { layout, other };
}

/** Every command that writes to or deletes in a layout directory, as run against `layout`. */
async function writers(layout: string): Promise<Array<{ name: string; args: string[] }>> {
  const file = path.join(tmp.dir, 'payload.txt');
  await writeFile(file, 'an attachment\n');
  const manifest = path.join(fixture('single-image'), 'blobs', 'sha256', single.image.slice('sha256:'.length));
  return [
    { name: 'gc', args: ['gc', layout] },
    { name: 'gc --dry-run', args: ['gc', layout, '--dry-run'] },
    { name: 'unpack', args: ['unpack', archive, layout] },
    { name: 'copy', args: ['copy', fixture('multi-platform'), `oci:${layout}:copied`] },
    { name: 'pull', args: ['pull', `${registry.host}/src:buster`, layout] },
    { name: 'attach', args: ['attach', `oci:${layout}:v1`, '--artifact-type', 'example/txt', `${file}:text/plain`] },
    { name: 'tag', args: ['tag', `oci:${layout}:v1`, 'v2'] },
    { name: 'untag', args: ['untag', `oci:${layout}:v1`] },
    { name: 'blob push', args: ['blob', 'push', layout, file] },
    { name: 'manifest push', args: ['manifest', 'push', `oci:${layout}:again`, manifest] },
    { name: 'index create', args: ['index', 'create', `oci:${layout}:idx`, `oci:${layout}:v1`] },
    { name: 'serve --writable', args: ['serve', layout, '--writable', '--addr', '127.0.0.1:0'] },
  ];
}

/** Run every writer against `layout`: each refused with `code`, and neither the layout nor `outside` changed. */
async function expectAllWritersRefused(layout: string, outside: string, code = 'UNSAFE_LAYOUT'): Promise<void> {
  const before = { layout: await snapshotTree(layout), outside: await snapshotTree(outside) };
  for (const w of await writers(layout)) {
    const error = await expectFailure(w.args, { exit: 1 });
    expect(error.code, `${w.name}: ${error.message}`).toBe(code);
    expect(await snapshotTree(outside), `${w.name} changed what the symlink points at`).toEqual(before.outside);
    expect(await snapshotTree(layout), `${w.name} changed the layout`).toEqual(before.layout);
  }
}

/** verify's findings; it must fail (exit 1). */
async function verifyFindings(layout: string): Promise<Finding[]> {
  const r = await ocikit(['verify', layout, '--format', 'json']);
  expect(r.code, r.stderr).toBe(1);
  return (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
}

describe('a symlinked .ocikit-leases', () => {
  it('gc deletes nothing it points at (lease-named files included); every writer refuses the layout; verify reports an error', async () => {
    const dir = await caseDir();
    const layout = await copyLayout(fixture('single-image'), path.join(dir, 'layout'));
    const victim = path.join(dir, 'victim');
    await mkdir(victim);
    // Names gc took for dead leases (their prefix is no live pid), one of the exact lease form among them.
    for (const name of ['passwd', 'notes-1.txt', '123-abc', `${DEAD_PID}-0123456789ab.lease`]) await writeFile(path.join(victim, name), `${name}\n`);
    await symlink(victim, path.join(layout, '.ocikit-leases'));

    await expectAllWritersRefused(layout, victim);
    const findings = await verifyFindings(layout);
    expect(findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'UNSAFE_LAYOUT', object: '.ocikit-leases' }));
  });

  it('in a real lease directory, gc removes dead leases of the lease name form and nothing else', async () => {
    const dir = await caseDir();
    const layout = await copyLayout(fixture('single-image'), path.join(dir, 'layout'));
    const leases = path.join(layout, '.ocikit-leases');
    const victim = path.join(dir, 'victim.txt');
    await writeFile(victim, 'not a lease\n');
    await mkdir(leases);
    const deadLease = `${DEAD_PID}-0123456789ab.lease`;
    await writeFile(path.join(leases, deadLease), '');
    await writeFile(path.join(leases, 'README'), 'somebody else put this here\n');
    await writeFile(path.join(leases, `${DEAD_PID}-notes.txt`), 'not of the lease form\n');
    await symlink(victim, path.join(leases, `${DEAD_PID}-0b.lease`));
    await expectJson(['gc', layout]);
    const others = [`${DEAD_PID}-0b.lease`, `${DEAD_PID}-notes.txt`, 'README'];
    expect((await readdir(leases)).sort()).toEqual(others.sort());
    // A directory named like a lease is not one either: left alone, and no reason for gc to fail.
    await mkdir(path.join(leases, `${DEAD_PID}-0a.lease`));
    await expectJson(['gc', layout]);
    expect((await readdir(leases)).sort()).toEqual([...others, `${DEAD_PID}-0a.lease`].sort());
    expect((await snapshotTree(dir))['victim.txt']).toMatch(/^file /);
  });
});

describe('blobs/sha256 a symlink into another layout', () => {
  it('gc leaves the other layout\'s blobs; unpack, copy, pull, attach, tag and the other writers refuse; both layouts unchanged', async () => {
    const { layout, other } = await layoutLinkedInto('blobs/sha256');
    await expectAllWritersRefused(layout, other);
  });

  it('verify reports it as an error; readers still read through it', async () => {
    const { layout } = await layoutLinkedInto('blobs/sha256');
    const findings = await verifyFindings(layout);
    expect(findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'UNSAFE_LAYOUT', object: 'blobs/sha256' }));
    const ls = await expectJson<Array<{ digest: string }>>(['ls', layout]);
    expect(JSON.stringify(ls)).toContain(single.image);
  });
});

describe('blobs a symlink into another layout', () => {
  it('every writer refuses; both layouts unchanged; verify reports an error', async () => {
    const { layout, other } = await layoutLinkedInto('blobs');
    await expectAllWritersRefused(layout, other);
    const findings = await verifyFindings(layout);
    expect(findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'UNSAFE_LAYOUT', object: 'blobs' }));
  });
});

describe('what stays allowed', () => {
  it('a layout root reached through a symlink the user gives is written as usual', async () => {
    const dir = await caseDir();
    const layout = await copyLayout(fixture('single-image'), path.join(dir, 'layout'));
    const link = path.join(dir, 'link-to-layout');
    await symlink(layout, link);
    await ocikitOk(['tag', `oci:${link}:v1`, 'v2']);
    await ocikitOk(['copy', fixture('multi-platform'), `oci:${link}:multi`]);
    await ocikitOk(['gc', link]);
    await ocikitOk(['verify', link]);
  });

  it('gc leaves a .ocikit-tmp- entry that is not a regular file (ocikit makes only files)', async () => {
    const dir = await caseDir();
    const layout = await copyLayout(fixture('single-image'), path.join(dir, 'layout'));
    const tmpDir = `.ocikit-tmp-${DEAD_PID}-0123456789ab`;
    await mkdir(path.join(layout, tmpDir));
    await writeFile(path.join(layout, tmpDir, 'kept'), 'x');
    const r = await expectJson<{ removedTempFiles: string[] }>(['gc', layout]);
    expect(r.removedTempFiles).toEqual([]);
    expect(await readdir(path.join(layout, tmpDir))).toEqual(['kept']);
  });
});

describe('unpack and init into DIR/.. forms', () => {
  it('unpack ARCHIVE nosuch/.. in a non-empty directory that is not a layout is refused and writes nothing', async () => {
    const dir = await caseDir();
    await writeFile(path.join(dir, 'keep.txt'), 'mine\n');
    const before = await snapshotTree(dir);
    await expectFailure(['unpack', archive, 'nosuch/..'], { exit: 1, code: 'INVALID_LAYOUT', cwd: dir });
    await expectFailure(['init', 'nosuch/..'], { exit: 1, code: 'INVALID_LAYOUT', cwd: dir });
    await expectFailure(['copy', fixture('single-image'), 'oci:nosuch/..:v1'], { exit: 1, code: 'INVALID_LAYOUT', cwd: dir });
    expect(await snapshotTree(dir)).toEqual(before);
  });

  it('a failed unpack into nosuch/.. of an empty directory leaves it empty (the rollback knows which directory it wrote)', async () => {
    const dir = await caseDir();
    const bad = await copyLayout(fixture('single-image'), path.join(dir, 'bad'));
    const layer = path.join(bad, 'blobs', 'sha256', single.layers[1]!.slice('sha256:'.length));
    const bytes = await readFile(layer);
    bytes[100] = bytes[100]! ^ 0xff; // same size, other content: the copy fails with DIGEST_MISMATCH
    await writeFile(layer, bytes);
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    await expectFailure(['unpack', bad, 'nosuch/..'], { exit: 1, code: 'DIGEST_MISMATCH', cwd: empty });
    expect(await readdir(empty)).toEqual([]);
  });
});
