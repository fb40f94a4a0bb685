/**
 * The pieces of `copy SRC docker-archive:FILE` below the CLI: the docker
 * archive writer (a layer whose size is known only at its end gets a correct
 * tar header; every layer is checked against its diff_id; a file that
 * appears at the destination while the archive is written is kept), and the
 * pure helpers it relies on (layer media types, familiar docker names, this
 * machine's platform).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isOcikitError } from '../../src/errors.js';
import { DockerArchiveWriter } from '../../src/targets/docker-archive-writer.js';
import { layerCompression } from '../../src/spec/media-types.js';
import { familiarDockerName } from '../../src/spec/image-name.js';
import { hostPlatform } from '../../src/spec/platform.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-docker-writer-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer's bytes in uneven pieces, as a decompressor hands them over. */
function pieces(bytes: Buffer): Readable {
  const out: Buffer[] = [];
  for (let i = 0, n = 1; i < bytes.length; i += n, n = (n * 7) % 5000 + 1) out.push(bytes.subarray(i, i + n));
  return Readable.from(out);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isOcikitError(err) ? err.code : err).toBe(code);
}

describe('DockerArchiveWriter', () => {
  it('writes headers with the real size of layers streamed without one, readable by GNU tar', async () => {
    const dir = await mkdtemp(path.join(work, 'ok-'));
    const dest = path.join(dir, 'image.tar');
    // Empty, and sizes on both sides of a 512-byte block: the padding after each must be right too.
    const layers = [Buffer.alloc(0), Buffer.alloc(511, 1), Buffer.alloc(512, 2), Buffer.alloc(70_001, 3)];
    const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) } }));
    const w = await DockerArchiveWriter.toFile(dest, { mtime: 0 });
    for (const l of layers) await w.writeLayer(sha256(l), pieces(l));
    await w.addImage({ config: { digest: sha256(config), bytes: config }, diffIds: layers.map((l) => sha256(l)), repoTags: ['example/app:1'] });
    await w.commit();
    for (const l of layers) {
      const member = `${sha256(l).slice(7)}/layer.tar`;
      expect(execFileSync('tar', ['-xOf', dest, member]).equals(l)).toBe(true);
    }
    expect(execFileSync('tar', ['-xOf', dest, 'manifest.json']).toString()).toContain('"RepoTags":["example/app:1"]');
    expect(await readdir(dir)).toEqual(['image.tar']);
  });

  it('refuses a layer that does not hash to its diff_id, and leaves nothing', async () => {
    const dir = await mkdtemp(path.join(work, 'bad-'));
    const w = await DockerArchiveWriter.toFile(path.join(dir, 'image.tar'));
    await expectCode(w.writeLayer(sha256('something else'), pieces(Buffer.alloc(4096, 9))), 'DIGEST_MISMATCH');
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps a file that appeared at the destination while the archive was written (ALREADY_EXISTS), unless told to overwrite', async () => {
    const dir = await mkdtemp(path.join(work, 'race-'));
    const dest = path.join(dir, 'image.tar');
    const layer = Buffer.alloc(1024, 5);
    const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
    const write = async (opts: { overwrite?: boolean }) => {
      const w = await DockerArchiveWriter.toFile(dest, opts);
      await w.writeLayer(sha256(layer), pieces(layer));
      await w.addImage({ config: { digest: sha256(config), bytes: config }, diffIds: [sha256(layer)], repoTags: [] });
      await writeFile(dest, 'written meanwhile');
      return w.commit();
    };
    await expectCode(write({}), 'ALREADY_EXISTS');
    expect(await readFile(dest, 'utf8')).toBe('written meanwhile');
    expect(await readdir(dir)).toEqual(['image.tar']);
    await write({ overwrite: true });
    expect(execFileSync('tar', ['-tf', dest]).toString()).toContain('manifest.json');
    expect(await readdir(dir)).toEqual(['image.tar']);
  });
});

describe('layerCompression', () => {
  it.each([
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
    ['application/spdx+json', undefined],
    ['application/vnd.oci.image.layer.v1.tar+gzip+encrypted', undefined],
  ])('%s -> %s', (mt, want) => {
    expect(layerCompression(mt)).toBe(want);
  });
});

describe('familiarDockerName', () => {
  it.each([
    ['docker.io/library/debian:12', 'debian:12'],
    ['docker.io/me/app:1', 'me/app:1'],
    ['index.docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/a/b:1', 'library/a/b:1'],
    ['localhost:5000/app:1', 'localhost:5000/app:1'],
    ['example/hello:v1', 'example/hello:v1'],
  ])('%s -> %s', (name, want) => {
    expect(familiarDockerName(name)).toBe(want);
  });
});

describe('hostPlatform', () => {
  it.each([
    ['x64', 'linux', undefined, { os: 'linux', architecture: 'amd64' }],
    ['arm64', 'darwin', undefined, { os: 'linux', architecture: 'arm64' }],
    ['arm', 'linux', '7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['ia32', 'win32', undefined, { os: 'windows', architecture: '386' }],
    ['ppc64', 'linux', undefined, { os: 'linux', architecture: 'ppc64le' }],
    ['s390x', 'linux', undefined, { os: 'linux', architecture: 's390x' }],
  ])('%s on %s', (arch, os, arm, want) => {
    expect(hostPlatform(arch, os, arm)).toEqual(want);
  });
});
