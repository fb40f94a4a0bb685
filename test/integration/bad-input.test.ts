/**
 * Bad input through the built CLI: broken layouts, corrupt and truncated
 * blobs, unsafe blob paths, unreadable files, bad references and usage
 * errors. Every case must fail with a non-zero exit status, print one
 * `ocikit: ...` line (and at most a `hint:` line), carry the right error code
 * in the --format json error document, and leave the layout exactly as it
 * was: every file, directory and mode (snapshotTree before and after).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, mkdir, open, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyFixture, isRoot, jsonDocument, NOBODY, ocikit, snapshotTree, tempDir } from '../helpers/cli.js';
import { blobFile, expectFailure, expectOneErrorLine, expectSuccess, loadExpected, readIndexJson, REF_NAME, type Expected } from './_support.js';

let E: Expected;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  E = await loadExpected();
  tmp = await tempDir('ocikit-bad-input-');
  // The permission tests run a child as an unprivileged user, which must be able to reach the copies.
  await chmod(tmp.dir, 0o755);
});
afterAll(async () => tmp.cleanup());

let n = 0;
async function copy(name = 'single-image'): Promise<string> {
  const dir = path.join(tmp.dir, `case-${++n}`);
  await mkdir(dir);
  return copyFixture(name, dir);
}

let m = 0;
/** A fresh path in the temp directory, outside every layout (tests run concurrently: never reuse one). */
function outside(name: string): string {
  return path.join(tmp.dir, `outside-${++m}-${name}`);
}

/** Overwrite one byte of a file in place (same size, wrong content). */
async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

/** Mess with index.json (parsed) of a fresh copy. */
async function withIndex(edit: (index: Awaited<ReturnType<typeof readIndexJson>>) => void): Promise<string> {
  const si = await copy();
  const index = await readIndexJson(si);
  edit(index);
  await writeFile(path.join(si, 'index.json'), JSON.stringify(index));
  return si;
}

describe.concurrent('not a layout, or a broken one', () => {
  it('a directory without oci-layout, a file, a missing path', async () => {
    const empty = path.join(tmp.dir, 'empty');
    await mkdir(empty);
    await expectFailure(['ls', empty], { exit: 1, code: 'INVALID_LAYOUT', unchanged: empty });
    const si = await copy();
    await rm(path.join(si, 'oci-layout'));
    await expectFailure(['resolve', `${si}:v1`], { exit: 1, code: 'INVALID_LAYOUT', unchanged: si });
    await expectFailure(['ls', `oci:${path.join(si, 'index.json')}`], { exit: 1, code: 'INVALID_LAYOUT', unchanged: si });
    await expectFailure(['ls', path.join(tmp.dir, 'no-such-layout')], { exit: 1, code: 'NOT_FOUND' });
  });

  it.each([
    ['is not JSON', '{"imageLayoutVersion": '],
    ['has version 2.0.0', '{"imageLayoutVersion":"2.0.0"}'],
    ['has no version', '{}'],
    ['is a JSON array', '[]'],
  ])('oci-layout %s', async (_what, content) => {
    const si = await copy();
    await writeFile(path.join(si, 'oci-layout'), content);
    await expectFailure(['manifest', 'fetch', `${si}:v1`], { exit: 1, code: 'INVALID_LAYOUT', unchanged: si });
  });

  it('oci-layout or index.json that is a directory, a symlink or a FIFO (no hang)', async () => {
    const a = await copy();
    await rm(path.join(a, 'oci-layout'));
    await mkdir(path.join(a, 'oci-layout'));
    const b = await copy();
    await rm(path.join(b, 'oci-layout'));
    execFileSync('mkfifo', [path.join(b, 'oci-layout')]);
    const c = await copy();
    const realIndex = outside('index.json');
    await rename(path.join(c, 'index.json'), realIndex);
    await symlink(realIndex, path.join(c, 'index.json'));
    const d = await copy();
    await rm(path.join(d, 'index.json'));
    execFileSync('mkfifo', [path.join(d, 'index.json')]);
    for (const layout of [a, b, c, d]) await expectFailure(['ls', layout], { exit: 1, code: 'INVALID_LAYOUT', unchanged: layout, timeoutMs: 15_000 });
  });

  it.each([
    ['is not JSON', (si: string) => writeFile(path.join(si, 'index.json'), '{"manifests": [')],
    ['is missing', (si: string) => rm(path.join(si, 'index.json'))],
    ['has no manifests array', (si: string) => writeFile(path.join(si, 'index.json'), '{"schemaVersion":2,"manifests":{}}')],
    ['has an entry without digest', (si: string) => writeFile(path.join(si, 'index.json'), '{"schemaVersion":2,"manifests":[{"mediaType":"a/b","size":1}]}')],
    ['has an entry with digest "x"', (si: string) => writeFile(path.join(si, 'index.json'), '{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"x","size":1}]}')],
    // Read as text it would name another tag (U+FFFD) than the bytes say.
    ['is not UTF-8', async (si: string) => {
      const text = await readFile(path.join(si, 'index.json'));
      await writeFile(path.join(si, 'index.json'), Buffer.from(text.toString('latin1').replace('"v1"', '"v\u00ff"'), 'latin1'));
    }],
    ['has an entry of size -1', (si: string) => writeFile(path.join(si, 'index.json'), `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"${E.single.image}","size":-1}]}`)],
  ])('index.json %s', async (_what, breakIt) => {
    const si = await copy();
    await breakIt(si);
    await expectFailure(['tag', si, 'x'], { exit: 1, code: 'INVALID_LAYOUT', unchanged: si });
  });
});

describe.concurrent('names that are not there', () => {
  it('an unknown tag', async () => {
    const si = await copy();
    for (const args of [['resolve', `${si}:nope`], ['manifest', 'fetch', `${si}:nope`], ['untag', `${si}:nope`]]) {
      const err = await expectFailure(args, { exit: 1, code: 'NOT_FOUND', unchanged: si });
      expect(err.message).toContain('nope');
    }
  });

  it('an unsupported digest algorithm (exit 1) and a malformed digest (exit 2)', async () => {
    const si = await copy();
    await expectFailure(['resolve', `${si}@md5:d41d8cd98f00b204e9800998ecf8427e`], { exit: 1, code: 'UNSUPPORTED_DIGEST', unchanged: si });
    await expectFailure(['resolve', `${si}@sha256:abc`], { exit: 2, code: 'INVALID_DIGEST', unchanged: si });
    await expectFailure(['resolve', `${si}@sha512:${'a'.repeat(128)}`], { exit: 1, code: 'NOT_FOUND', unchanged: si });
  });
});

describe.concurrent('corrupt content', () => {
  it('digest mismatch: a flipped byte in the manifest, the config and a layer', async () => {
    const m = await copy();
    await flipByte(blobFile(m, E.single.image), 100);
    await expectFailure(['manifest', 'fetch', `${m}:v1`], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: m });

    const c = await copy();
    await flipByte(blobFile(c, E.single.config), 10);
    await expectFailure(['manifest', 'fetch-config', `${c}:v1`], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: c });

    const l = await copy();
    await flipByte(blobFile(l, E.single.layers[0]!), 2000);
    const out = outside('layer.out');
    await expectFailure(['blob', 'fetch', `${l}@${E.single.layers[0]}`, '-o', out], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: l });
    await expect(readFile(out)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing unverified is left under the name asked for
    // To stdout the bytes stream out before the digest is known; the exit status still says so.
    const r = await ocikit(['blob', 'fetch', `${l}@${E.single.layers[0]}`]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr);
  });

  it('ls lists what it can read, marks the corrupt entry, and exits 1', async () => {
    const m = await copy();
    await flipByte(blobFile(m, E.single.image), 100);
    const before = await snapshotTree(m);
    const r = await ocikit(['ls', m, '--format', 'json']);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr);
    const rows = jsonDocument<Array<{ tag: string; problemCode?: string }>>(r);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tag: 'v1', problemCode: 'DIGEST_MISMATCH' });
    expect(await snapshotTree(m)).toEqual(before);
  });

  it('size mismatch: a truncated manifest, a truncated config, a manifest with a byte appended', async () => {
    const m = await copy();
    await truncate(blobFile(m, E.single.image), 100);
    await expectFailure(['manifest', 'fetch', `${m}:v1`], { exit: 1, code: 'SIZE_MISMATCH', unchanged: m });
    const c = await copy();
    await truncate(blobFile(c, E.single.config), 0);
    await expectFailure(['manifest', 'fetch-config', c], { exit: 1, code: 'SIZE_MISMATCH', unchanged: c });
    const a = await copy();
    await appendFile(blobFile(a, E.single.image), ' ');
    await expectFailure(['manifest', 'fetch', a], { exit: 1, code: 'SIZE_MISMATCH', unchanged: a });
    // blob fetch REF@DIGEST knows no size: a truncated layer is caught by its digest.
    const l = await copy();
    await truncate(blobFile(l, E.single.layers[1]!), 1000);
    await expectFailure(['blob', 'fetch', `${l}@${E.single.layers[1]}`, '-o', outside('trunc')], { exit: 1, code: 'DIGEST_MISMATCH', unchanged: l });
  });

  it('a manifest over 4 MiB is refused before it is read', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const digest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
    const si = await withIndex((index) =>
      index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: big.length, annotations: { [REF_NAME]: 'huge' } }),
    );
    await writeFile(blobFile(si, digest), big);
    await expectFailure(['manifest', 'fetch', `${si}:huge`], { exit: 1, code: 'MANIFEST_TOO_LARGE', unchanged: si });
  });
});

describe.concurrent('unsafe blob paths', () => {
  it('a blob path that is a directory', async () => {
    const si = await copy();
    await rm(blobFile(si, E.single.image));
    await mkdir(blobFile(si, E.single.image));
    await rm(blobFile(si, E.single.layers[0]!));
    await mkdir(blobFile(si, E.single.layers[0]!));
    await expectFailure(['manifest', 'fetch', `${si}:v1`], { exit: 1, code: 'UNSAFE_BLOB_PATH', unchanged: si });
    await expectFailure(['blob', 'fetch', `${si}@${E.single.layers[0]}`, '-o', outside('dir')], { exit: 1, code: 'UNSAFE_BLOB_PATH', unchanged: si });
  });

  it('a blob path that is a symlink to a correct file elsewhere is still refused', async () => {
    const si = await copy();
    const elsewhere = outside('manifest.json');
    await rename(blobFile(si, E.single.image), elsewhere);
    await symlink(elsewhere, blobFile(si, E.single.image));
    const layerElsewhere = outside('layer.tgz');
    await rename(blobFile(si, E.single.layers[1]!), layerElsewhere);
    await symlink(layerElsewhere, blobFile(si, E.single.layers[1]!));
    await expectFailure(['manifest', 'fetch', `${si}:v1`], { exit: 1, code: 'UNSAFE_BLOB_PATH', unchanged: si });
    await expectFailure(['blob', 'fetch', `${si}@${E.single.layers[1]}`, '-o', outside('link')], { exit: 1, code: 'UNSAFE_BLOB_PATH', unchanged: si });
    // ls prints its rows (the one JSON document) before failing, so the code is in the row.
    const r = await ocikit(['ls', si, '--format', 'json']);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr);
    expect(jsonDocument<Array<{ problemCode?: string }>>(r)[0]!.problemCode).toBe('UNSAFE_BLOB_PATH');
  });

  it('a blob path that is a FIFO is refused without waiting for a writer', async () => {
    const si = await copy();
    await rm(blobFile(si, E.single.image));
    execFileSync('mkfifo', [blobFile(si, E.single.image)]);
    await expectFailure(['manifest', 'fetch', `${si}:v1`], { exit: 1, code: 'UNSAFE_BLOB_PATH', unchanged: si, timeoutMs: 15_000 });
  });
});

describe.concurrent('unreadable files', () => {
  // chmod 000 stops nobody who runs as root. As root, the test checks that root indeed reads
  // such files (the honest behaviour), then runs the same command as an unprivileged user,
  // which must get a clean permission error. As any other user, it runs as that user.
  const unprivileged = isRoot() ? { user: NOBODY } : {};

  it('a blob that cannot be read', async () => {
    const si = await copy();
    await chmod(blobFile(si, E.single.config), 0o000);
    if (isRoot()) {
      const r = await expectSuccess(['manifest', 'fetch-config', `${si}:v1`]);
      expect(r.stdoutBytes.equals(await readFile(blobFile(si, E.single.config)))).toBe(true);
    }
    const err = await expectFailure(['manifest', 'fetch-config', `${si}:v1`], { exit: 1, code: 'IO_ERROR', unchanged: si, ...unprivileged });
    expect(err.path).toContain(E.single.config.slice(7));
  });

  it('an input file that cannot be read (blob push, manifest push)', async () => {
    const si = await copy();
    const file = outside('secret.json');
    await writeFile(file, await readFile(blobFile(si, E.single.image)));
    await chmod(file, 0o000);
    await expectFailure(['blob', 'push', si, file], { exit: 1, code: 'IO_ERROR', unchanged: si, ...unprivileged });
    await expectFailure(['manifest', 'push', `${si}:v2`, file], { exit: 1, code: 'IO_ERROR', unchanged: si, ...unprivileged });
    if (isRoot()) {
      expect((await expectSuccess(['blob', 'push', si, file])).stdout).toBe(`${E.single.image} ${E.single.imageSize}\n`);
    }
  });
});

describe.concurrent('layouts that cannot be written', () => {
  // As root every directory is writable: the commands run as an unprivileged user then.
  const unprivileged = isRoot() ? { user: NOBODY } : {};

  it('blob push, manifest push and attach fail with one IO_ERROR line naming what could not be written, and change nothing', async () => {
    const si = await copy();
    const file = outside('manifest.json');
    await writeFile(file, await readFile(blobFile(si, E.single.image)));
    const dirs = [si, path.join(si, 'blobs'), path.join(si, 'blobs', 'sha256')];
    for (const d of dirs) await chmod(d, 0o555);
    try {
      for (const args of [['blob', 'push', si, file], ['manifest', 'push', `${si}:v9`, file], ['attach', `${si}:v1`, '--artifact-type', 'application/json', file]]) {
        const err = await expectFailure(args, { exit: 1, code: 'IO_ERROR', unchanged: si, ...unprivileged });
        expect(err.path?.startsWith(si), err.message).toBe(true);
      }
    } finally {
      for (const d of dirs) await chmod(d, 0o755);
    }
  });
});

describe.concurrent('usage errors exit 2', () => {
  it.each([
    ['an unknown command', ['frobnicate']],
    ['a missing argument', ['resolve']],
    ['an unknown flag', ['tags', '--frobnicate', 'x']],
    ['an empty oci: path', ['resolve', 'oci:']],
    ['a bad tag in a reference', ['resolve', 'oci:/tmp/x:bad!tag']],
    ['a bare name that is neither a path nor a registry', ['resolve', 'no-such-thing-here']],
    ['a bad --platform', ['resolve', 'oci:/tmp/x', '--platform', 'linux']],
  ])('%s', async (_what, args) => {
    const err = await expectFailure(args as string[], { exit: 2 });
    expect(['USAGE', 'INVALID_REFERENCE', 'INVALID_DIGEST']).toContain(err.code);
  });

  it('the error line is the same without --format json, and nothing goes to stdout', async () => {
    for (const args of [['frobnicate'], ['tags', 'oci:/tmp/x', '--format', 'yaml']]) {
      const r = await ocikit(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expectOneErrorLine(r.stderr);
    }
  });
});
