/**
 * `serve` answers for the repositories a layout has, and only those: a blob
 * or manifest asked for in a name the layout does not have is 404
 * NAME_UNKNOWN, read-only or writable (distribution does the same; a 200
 * there told a pushing client its blob was in a repository that did not
 * exist). A writable server still takes pushes into a new name: the first
 * blob stored (or mounted) there makes the repository, and from then on the
 * layout's blobs are shared with it as with every other repository.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedDigests, FIXTURES, tempDir } from '../helpers/cli.js';
import { copyLayout, ocikitOk, once, readBlob } from '../helpers/peers.js';
import { http, startServe, stopAllServers, type ServeProcess } from './serve-helpers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const servers = once(async () => {
  const { dir, cleanup } = await tempDir('ocikit-serve-unknown-');
  const roDir = await copyLayout(path.join(FIXTURES, 'single-image'), path.join(dir, 'single-image'));
  const rwDir = path.join(dir, 'scratch');
  await ocikitOk(['init', rwDir]);
  const [ro, rw] = await Promise.all([startServe([roDir]), startServe([rwDir, '--writable'])]);
  return { cleanup, ro, rw };
});

afterAll(async () => {
  await stopAllServers();
  await (await servers().catch(() => undefined))?.cleanup();
});

async function single() {
  const e = (await expectedDigests())['single-image']!;
  const src = path.join(FIXTURES, 'single-image');
  const blobs = [e['config'] as string, ...(e['layers'] as string[])];
  return { src, blobs, image: e['image'] as string, manifest: await readBlob(src, e['image'] as string) };
}

async function pushBlob(server: ServeProcess, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const res = await http(server, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(res.status).toBe(201);
  return digest;
}

function expectNameUnknown(res: { status: number; errorCode(): string | undefined }, method: string, what: string): void {
  expect(res.status, `${method} ${what}`).toBe(404);
  // A HEAD answer has no body to carry the error code.
  if (method === 'GET') expect(res.errorCode(), `${method} ${what}`).toBe('NAME_UNKNOWN');
}

describe('serve: blobs and manifests of a repository the layout does not have', { timeout: 120_000 }, () => {
  it('read-only: 404 NAME_UNKNOWN for a stored blob and manifest asked for under another name; 200 under the layout\'s own', async () => {
    const { ro } = await servers();
    const { blobs, image } = await single();
    for (const method of ['HEAD', 'GET']) {
      expect((await http(ro, method, `/v2/single-image/blobs/${blobs[0]}`)).status).toBe(200);
      expectNameUnknown(await http(ro, method, `/v2/nowhere/blobs/${blobs[0]}`), method, 'blob');
      expectNameUnknown(await http(ro, method, `/v2/nowhere/manifests/${image}`), method, 'manifest');
    }
  });

  it('writable: 404 NAME_UNKNOWN for a stored blob, a manifest by digest, tags and referrers under a name nothing was pushed to', async () => {
    const { rw } = await servers();
    const digest = await pushBlob(rw, 'scratch', Buffer.from('stored in scratch\n'));
    expect((await http(rw, 'HEAD', `/v2/scratch/blobs/${digest}`)).status).toBe(200);
    for (const method of ['HEAD', 'GET']) {
      expectNameUnknown(await http(rw, method, `/v2/never/pushed/blobs/${digest}`), method, 'blob');
    }
    const { src, blobs, manifest } = await single();
    for (const b of blobs) await pushBlob(rw, 'scratch', await readBlob(src, b));
    const put = await http(rw, 'PUT', '/v2/scratch/manifests/v1', { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(put.status).toBe(201);
    const manifestDigest = put.headers['docker-content-digest'] as string;
    expectNameUnknown(await http(rw, 'GET', `/v2/never/pushed/manifests/${manifestDigest}`), 'GET', 'manifest');
    expectNameUnknown(await http(rw, 'GET', '/v2/never/pushed/tags/list'), 'GET', 'tags');
    expectNameUnknown(await http(rw, 'GET', `/v2/never/pushed/referrers/${manifestDigest}`), 'GET', 'referrers');
  });

  it('writable: a mount from a repository the layout does not have falls back to an upload (202); from one it has, it mounts (201)', async () => {
    const { rw } = await servers();
    const digest = await pushBlob(rw, 'scratch', Buffer.from('mount source\n'));
    const fromUnknown = await http(rw, 'POST', `/v2/mounted/a/blobs/uploads/?mount=${digest}&from=no/such/repo`);
    expect(fromUnknown.status).toBe(202);
    expect(fromUnknown.headers['location']).toMatch(/^\/v2\/mounted\/a\/blobs\/uploads\//);
    expect((await http(rw, 'DELETE', fromUnknown.headers['location'] as string)).status).toBe(204);
    // The failed mount made no repository.
    expectNameUnknown(await http(rw, 'GET', `/v2/mounted/a/blobs/${digest}`), 'GET', 'blob');

    const fromKnown = await http(rw, 'POST', `/v2/mounted/b/blobs/uploads/?mount=${digest}&from=scratch`);
    expect(fromKnown.status).toBe(201);
    expect((await http(rw, 'HEAD', `/v2/mounted/b/blobs/${digest}`)).status).toBe(200);
  });

  it('writable: a push into a new name works as with a registry: 404 first, the blob uploaded, then found; tagged by the manifest PUT', async () => {
    const { rw } = await servers();
    const { src, blobs, manifest, image } = await single();
    for (const b of blobs) await pushBlob(rw, 'scratch', await readBlob(src, b));
    // What docker, podman and skopeo do: HEAD first, upload on 404. The layout has these blobs
    // (in scratch), but fresh/app does not exist yet.
    expect((await http(rw, 'HEAD', `/v2/fresh/app/blobs/${blobs[0]}`)).status).toBe(404);
    await pushBlob(rw, 'fresh/app', await readBlob(src, blobs[0]!));
    // From its first blob on, the repository exists and shares the layout's blobs.
    for (const b of blobs) expect((await http(rw, 'HEAD', `/v2/fresh/app/blobs/${b}`)).status).toBe(200);
    // No tags yet.
    expect((await http(rw, 'GET', '/v2/fresh/app/tags/list')).json()).toEqual({ name: 'fresh/app', tags: [] });
    const put = await http(rw, 'PUT', '/v2/fresh/app/manifests/1.0', { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(put.status).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(image);
    expect((await http(rw, 'GET', '/v2/fresh/app/manifests/1.0')).body.equals(manifest)).toBe(true);
    expect((await http(rw, 'GET', '/v2/fresh/app/tags/list')).json()).toEqual({ name: 'fresh/app', tags: ['1.0'] });
  });
});
