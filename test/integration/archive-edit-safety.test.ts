/**
 * Archive edits that go wrong or meet other tools (issue 14): a missing
 * archive (NOT_FOUND, or created by a push), a file that is not a layout
 * archive (refused, left as it was), Ctrl-C halfway through a rewrite (the
 * old archive byte for byte, no temporary file; kill -9 is in
 * test/crash/archive-edit.test.ts), two
 * edits at once (each lands or is LOCKED; no success lost), and skopeo and
 * umoci reading what an edit wrote. The verbs themselves: archive-edit.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, caseDirs, isRoot, jsonDocument, NOBODY, run, type JsonError } from '../helpers/cli.js';
import { signalWhileWriting, spawnOcikit } from '../helpers/crash.js';
import { once, peer, requireTool } from '../helpers/peers.js';
import { blobFile, expectFailure, expectJson, expectSuccess, fixture, loadExpected, type Expected } from './_support.js';
import { blobsIn, EDIT_ENV, makeImageLayout, packedFixture, sha256Of, tagsOf } from './archive-helpers.js';

const { tmp } = afterFile();
let base = '';
let E: Expected;
const cases = caseDirs(() => base);
const env = EDIT_ENV;

beforeAll(async () => {
  base = await tmp();
  E = await loadExpected();
});

const packed = (ext: string) => packedFixture(cases.dir, ext);

describe('archives that are not there, or not archives', () => {
  it('tag and attach on a missing archive: NOT_FOUND, nothing created; blob push and manifest push create one', async () => {
    const dir = await cases.dir();
    const file = path.join(dir, 'new.tar');
    const blob = path.join(dir, 'blob.bin');
    await writeFile(blob, 'content');
    await expectFailure(['tag', `${file}:v1`, 'x'], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    await expectFailure(['attach', `oci-archive:${file}:v1`, '--artifact-type', 'text/plain', blob], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    // A push whose input is missing creates nothing either.
    await expectFailure(['blob', 'push', `oci-archive:${file}`, path.join(dir, 'missing.bin')], { exit: 1, code: 'NOT_FOUND', unchanged: dir });
    const d = await expectJson<{ digest: string }>(['blob', 'push', `oci-archive:${file}`, blob]);
    expect(await blobsIn(file)).toEqual([d.digest]);
    // manifest push: a manifest whose blobs the new archive does not hold is refused, and creates nothing.
    const gz = path.join(dir, 'm.tar.gz');
    const image = await readFile(blobFile(fixture('single-image'), E.single.image));
    await expectFailure(['manifest', 'push', `oci-archive:${gz}:one`, '-'], { exit: 1, code: 'NOT_FOUND', unchanged: dir, input: image });
    const cfg = path.join(dir, 'config.json');
    await writeFile(cfg, '{}');
    const c = await expectJson<{ digest: string; size: number }>(['blob', 'push', `oci-archive:${gz}`, cfg]);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'text/plain',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: c.digest, size: c.size },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: c.digest, size: c.size }],
    });
    await expectSuccess(['manifest', 'push', `oci-archive:${gz}:one`, '-'], { input: manifest });
    expect((await readFile(gz)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await tagsOf(gz)).toEqual(['one']);
  });

  it('a file that is not a layout archive is refused (INVALID_LAYOUT) and left as it was', async () => {
    const dir = await cases.dir();
    const file = path.join(dir, 'notes.tar');
    await writeFile(file, 'my notes\n'.repeat(100));
    await expectFailure(['blob', 'push', `oci-archive:${file}`, file], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
    await expectFailure(['tag', `oci-archive:${file}:v1`, 'x'], { exit: 1, code: 'INVALID_LAYOUT', unchanged: dir });
  });
});

describe('an archive in a directory that cannot be written', () => {
  // As root every directory is writable: the commands then run as an unprivileged user.
  const unprivileged = isRoot() ? { user: NOBODY } : {};

  it('blob push and tag fail with one clear IO_ERROR line, and the archive is left as it was', async () => {
    const { dir, file } = await packed('tar');
    const blob = path.join(dir, 'blob.txt');
    await writeFile(blob, 'content');
    await chmod(base, 0o755);
    await chmod(dir, 0o555);
    try {
      await expectFailure(['blob', 'push', file, blob], { exit: 1, code: 'IO_ERROR', unchanged: dir, ...unprivileged });
      await expectFailure(['tag', `${file}:v1`, 'x'], { exit: 1, code: 'IO_ERROR', unchanged: dir, ...unprivileged });
    } finally {
      await chmod(dir, 0o755);
    }
  });
});

describe('skopeo and umoci read what an edit wrote', () => {
  it('a tag added to an archive is an image skopeo inspects, and umoci stats once extracted', async () => {
    const { dir, file } = await packed('tar');
    const sbom = path.join(dir, 'sbom.json');
    await writeFile(sbom, '{}');
    await expectSuccess(['attach', `${file}:v1`, '--artifact-type', 'application/spdx+json', sbom], { env });
    await expectSuccess(['tag', `${file}:v1`, 'edited'], { env });
    const r = await peer(requireTool('skopeo'), ['inspect', `oci-archive:${file}:edited`]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { Digest: string }).Digest).toBe(E.single.image);
    const extracted = path.join(dir, 'extracted');
    await mkdir(extracted);
    expect((await run('tar', ['-xf', file, '-C', extracted])).code).toBe(0);
    const stat = await peer(requireTool('umoci'), ['stat', '--json', '--image', `${extracted}:edited`]);
    expect(stat.code, stat.stderr).toBe(0);
  });
});

describe('an archive rewrite interrupted or raced', () => {
  /** An archive of one image with a 16 MiB layer (a rewrite long enough to be interrupted), made once; each test copies it. */
  const bigArchive = once(async () => {
    const dir = await cases.dir();
    const layout = path.join(dir, 'layout');
    await makeImageLayout(layout, { layerBytes: 16 * 1024 * 1024, tag: 'v1' });
    const file = path.join(dir, 'big.tar');
    await expectSuccess(['pack', layout, file], { env });
    return file;
  });

  async function bigCopy(): Promise<{ dir: string; file: string }> {
    const dir = await cases.dir();
    const file = path.join(dir, 'big.tar');
    await copyFile(await bigArchive(), file);
    return { dir, file };
  }

  it('SIGINT while the new archive is being written: exit 130, the old archive byte for byte, no temporary file', async () => {
    const { dir, file } = await bigCopy();
    const before = await sha256Of(file);
    const proc = spawnOcikit(['tag', `${file}:v1`, 'interrupted'], env);
    await signalWhileWriting(proc, dir, '.ocikit-tmp-', 'SIGINT');
    expect(await proc.exited).toEqual({ code: 130, signal: null });
    expect(await sha256Of(file)).toBe(before);
    expect(await readdir(dir)).toEqual(['big.tar']);
  });

  it('two edits at once: each one either lands or fails with LOCKED; no success is lost', async () => {
    const { file } = await bigCopy();
    const procs = ['one', 'two'].map((t) => ({ tag: t, proc: spawnOcikit(['tag', `${file}:v1`, t, '--format', 'json'], env) }));
    const landed: string[] = [];
    for (const { tag, proc } of procs) {
      const { code } = await proc.exited;
      if (code === 0) landed.push(tag);
      else {
        expect(code).toBe(1);
        expect((jsonDocument<JsonError>({ code: 1, stdout: proc.output().stdout, stderr: '', stdoutBytes: Buffer.from(proc.output().stdout) })).error.code).toBe('LOCKED');
      }
    }
    expect(landed.length).toBeGreaterThan(0);
    const tags = await tagsOf(file);
    for (const t of landed) expect(tags).toContain(t);
  }, 60_000);
});
