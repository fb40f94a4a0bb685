/**
 * `ocikit serve` at the HTTP level: status codes, headers and OCI error
 * bodies for good and bad requests, against the built CLI running as a
 * child process on a free loopback port. The oracles are the fixtures'
 * bytes and digests (expected.json), index.json read directly, and
 * `ocikit referrers`, whose answer the referrers API must repeat.
 */
import { request } from 'node:http';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectedDigests, FIXTURES, ocikit, tempDir } from '../helpers/cli.js';
import { copyLayout, ocikitOk, once, readBlob } from '../helpers/peers.js';
import { LayoutDir, startServer } from '../../src/index.js';
import { http, snapshot, startServe, stopAllServers, type ServeProcess } from './serve-helpers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Servers {
  dir: string;
  cleanup: () => Promise<void>;
  /** with-referrers, read-only, default repository name "with-referrers". */
  ro: ServeProcess;
  roDir: string;
  /** multi-platform, read-only, served as --repo library/debian. */
  multi: ServeProcess;
  fallback: ServeProcess;
  fallbackDir: string;
  /** A layout holding several repositories through io.containerd.image.name. */
  repos: ServeProcess;
  /** A fresh layout served --writable (repository "scratch"). */
  rw: ServeProcess;
  rwDir: string;
  secret: string;
}

const servers = once(async (): Promise<Servers> => {
  const { dir, cleanup } = await tempDir('ocikit-serve-http-');
  const e = await expectedDigests();
  const roDir = await copyLayout(path.join(FIXTURES, 'with-referrers'), path.join(dir, 'with-referrers'));
  // A blob that is a symlink to a file outside the layout, named after that file's true digest:
  // a server that followed it would even pass verification.
  const secret = 'top secret: not part of any layout\n';
  const secretFile = path.join(dir, 'secret.txt');
  await writeFile(secretFile, secret);
  await symlink(secretFile, path.join(roDir, 'blobs', 'sha256', sha256(secret).slice('sha256:'.length)));

  // A blob whose bytes no longer match its digest (same size): served, it must never arrive whole.
  const config = e['single-image']!['config'] as string;
  const configFile = path.join(roDir, 'blobs', 'sha256', config.slice('sha256:'.length));
  const damaged = await readFile(configFile);
  damaged[damaged.length - 2] ^= 0x01;
  await writeFile(configFile, damaged);

  const multiDir = await copyLayout(path.join(FIXTURES, 'multi-platform'), path.join(dir, 'multi-platform'));
  const fallbackDir = await copyLayout(path.join(FIXTURES, 'referrers-fallback'), path.join(dir, 'referrers-fallback'));

  // Several repositories in one layout: containerd names (with host and tag), an old-style full name in ref.name, and the default repository.
  const reposDir = await copyLayout(path.join(FIXTURES, 'with-referrers'), path.join(dir, 'Many Repos'));
  const image = e['with-referrers']!['image'] as string;
  const sbom = e['with-referrers']!['sbom'] as string;
  const index = JSON.parse(await readFile(path.join(reposDir, 'index.json'), 'utf8')) as { manifests: Array<Record<string, unknown>> };
  const entry = (digest: string, size: number, annotations: Record<string, string>) => ({ mediaType: OCI_MANIFEST, digest, size, annotations });
  index.manifests.push(
    entry(image, 631, { 'org.opencontainers.image.ref.name': 'v1', 'io.containerd.image.name': 'docker.io/library/debian:v1' }),
    entry(image, 631, { 'org.opencontainers.image.ref.name': 'latest', 'io.containerd.image.name': 'docker.io/library/debian:latest' }),
    entry(sbom, 712, { 'org.opencontainers.image.ref.name': 'v1', 'io.containerd.image.name': 'localhost:5000/team/tools:v1' }),
    entry(image, 631, { 'org.opencontainers.image.ref.name': 'registry.example.com/old/style:2.0' }),
  );
  await writeFile(path.join(reposDir, 'index.json'), JSON.stringify(index));

  const rwDir = path.join(dir, 'scratch');
  await ocikitOk(['init', rwDir]);

  const [ro, multi, fallback, repos, rw] = await Promise.all([
    startServe([roDir]),
    startServe([multiDir, '--repo', 'library/debian']),
    startServe([fallbackDir]),
    startServe([reposDir]),
    startServe([rwDir, '--writable']),
  ]);
  return { dir, cleanup, ro, roDir, multi, fallback, fallbackDir, repos, rw, rwDir, secret };
});

afterAll(async () => {
  await stopAllServers();
  await (await servers().catch(() => undefined))?.cleanup();
});

const digests = async () => expectedDigests();

describe('pull API on a layout directory', { timeout: 120_000 }, () => {
  it('GET /v2/ answers 200 with the registry API version header', async () => {
    const { ro } = await servers();
    for (const p of ['/v2/', '/v2']) {
      const res = await http(ro, 'GET', p);
      expect(res.status).toBe(200);
      expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
      expect(res.json()).toEqual({});
    }
  });

  it('GET and HEAD of a manifest by tag and by digest: exact bytes, Content-Type, Docker-Content-Digest, Content-Length', async () => {
    const { ro } = await servers();
    const image = (await digests())['with-referrers']!['image'] as string;
    const bytes = await readBlob(path.join(FIXTURES, 'with-referrers'), image);
    for (const ref of ['v1', image]) {
      const get = await http(ro, 'GET', `/v2/with-referrers/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(get.status).toBe(200);
      expect(get.body.equals(bytes)).toBe(true);
      expect(get.headers['content-type']).toBe(OCI_MANIFEST);
      expect(get.headers['docker-content-digest']).toBe(image);
      expect(get.headers['content-length']).toBe(String(bytes.length));
      const head = await http(ro, 'HEAD', `/v2/with-referrers/manifests/${ref}`);
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(head.headers['content-length']).toBe(String(bytes.length));
      expect(head.headers['docker-content-digest']).toBe(image);
    }
  });

  it('an index is served with the index media type, and its children by digest', async () => {
    const { multi } = await servers();
    const mp = (await digests())['multi-platform']!;
    const res = await http(multi, 'GET', '/v2/library/debian/manifests/10');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(OCI_INDEX);
    expect(res.headers['docker-content-digest']).toBe(mp['index']);
    const child = (mp['manifests'] as Record<string, { image: string }>)['linux/arm/v7']!.image;
    const c = await http(multi, 'GET', `/v2/library/debian/manifests/${child}`);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe(OCI_MANIFEST);
    expect(sha256(c.body)).toBe(child);
  });

  it('honours Accept: a client that lists only other manifest types gets 404 MANIFEST_UNKNOWN; wildcards and no header get the manifest', async () => {
    const { ro } = await servers();
    const docker = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';
    const refused = await http(ro, 'GET', '/v2/with-referrers/manifests/v1', { headers: { Accept: docker } });
    expect(refused.status).toBe(404);
    expect(refused.errorCode()).toBe('MANIFEST_UNKNOWN');
    for (const accept of ['*/*', `${docker}, ${OCI_MANIFEST}`, 'application/json', `${OCI_MANIFEST};q=0.5`]) {
      expect((await http(ro, 'GET', '/v2/with-referrers/manifests/v1', { headers: { Accept: accept } })).status).toBe(200);
    }
  });

  it('unknown manifests: a missing tag, a missing digest, and a layer asked for as a manifest are 404 MANIFEST_UNKNOWN', async () => {
    const { ro } = await servers();
    const layer = ((await digests())['with-referrers'] as Record<string, unknown>)['sbomBlob'] as string;
    for (const ref of ['nope', `sha256:${'0'.repeat(64)}`, layer]) {
      const res = await http(ro, 'GET', `/v2/with-referrers/manifests/${ref}`);
      expect(res.status).toBe(404);
      expect(res.errorCode()).toBe('MANIFEST_UNKNOWN');
      const head = await http(ro, 'HEAD', `/v2/with-referrers/manifests/${ref}`);
      expect(head.status).toBe(404);
      expect(head.body.length).toBe(0);
    }
  });

  it('blobs: GET streams the exact bytes, HEAD gives the size and digest, a missing blob is 404 BLOB_UNKNOWN', async () => {
    const { ro } = await servers();
    const layer = ((await digests())['single-image']!['layers'] as string[])[0]!;
    const bytes = await readBlob(path.join(FIXTURES, 'single-image'), layer);
    const get = await http(ro, 'GET', `/v2/with-referrers/blobs/${layer}`);
    expect(get.status).toBe(200);
    expect(get.body.equals(bytes)).toBe(true);
    expect(get.headers['docker-content-digest']).toBe(layer);
    expect(get.headers['accept-ranges']).toBe('bytes');
    const head = await http(ro, 'HEAD', `/v2/with-referrers/blobs/${layer}`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(bytes.length));
    expect(head.body.length).toBe(0);
    const missing = await http(ro, 'GET', `/v2/with-referrers/blobs/sha256:${'1'.repeat(64)}`);
    expect(missing.status).toBe(404);
    expect(missing.errorCode()).toBe('BLOB_UNKNOWN');
  });

  it('Range: 206 with Content-Range for first, open-ended and suffix ranges; 416 with bytes */size for ranges outside the blob or malformed', async () => {
    const { ro } = await servers();
    const layer = ((await digests())['single-image']!['layers'] as string[])[1]!;
    const bytes = await readBlob(path.join(FIXTURES, 'single-image'), layer);
    const size = bytes.length;
    const cases: Array<[string, number, number]> = [
      ['bytes=0-9', 0, 9],
      ['bytes=100-', 100, size - 1],
      ['bytes=-16', size - 16, size - 1],
      [`bytes=${size - 5}-${size + 100}`, size - 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await http(ro, 'GET', `/v2/with-referrers/blobs/${layer}`, { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    for (const range of [`bytes=${size}-`, 'bytes=10-5', 'bytes=abc', 'bytes=0-1,5-6', 'lines=1-2', 'bytes=-0']) {
      const res = await http(ro, 'GET', `/v2/with-referrers/blobs/${layer}`, { headers: { Range: range } });
      expect(res.status, range).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${size}`);
      expect(res.errorCode()).toBe('SIZE_INVALID');
    }
    // An If-Range for some other representation voids the range: the whole blob.
    const whole = await http(ro, 'GET', `/v2/with-referrers/blobs/${layer}`, { headers: { Range: 'bytes=0-9', 'If-Range': '"sha256:other"' } });
    expect(whole.status).toBe(200);
    expect(whole.body.length).toBe(size);
  });

  it('tags list: sorted, n/last pagination with a Link header that leads to the rest, n=0 empty without Link', async () => {
    const { fallback } = await servers();
    const f = (await digests())['referrers-fallback']!;
    const all = Object.keys(f['tags'] as Record<string, string>).sort();
    const full = await http(fallback, 'GET', '/v2/referrers-fallback/tags/list');
    expect(full.status).toBe(200);
    expect(full.json()).toEqual({ name: 'referrers-fallback', tags: all });
    expect(full.headers['link']).toBeUndefined();

    const first = await http(fallback, 'GET', '/v2/referrers-fallback/tags/list?n=1');
    expect(first.json<{ tags: string[] }>().tags).toEqual([all[0]]);
    const link = first.headers['link'] as string;
    expect(link).toMatch(/^<\/v2\/referrers-fallback\/tags\/list\?[^>]+>; rel="next"$/);
    const next = await http(fallback, 'GET', /^<([^>]+)>/.exec(link)![1]!);
    expect(next.json<{ tags: string[] }>().tags).toEqual([all[1]]);
    expect(next.headers['link']).toBeUndefined();

    const after = await http(fallback, 'GET', `/v2/referrers-fallback/tags/list?last=${all[0]}`);
    expect(after.json<{ tags: string[] }>().tags).toEqual(all.slice(1));
    const none = await http(fallback, 'GET', '/v2/referrers-fallback/tags/list?n=0');
    expect(none.json<{ tags: string[] }>().tags).toEqual([]);
    expect(none.headers['link']).toBeUndefined();
    const bad = await http(fallback, 'GET', '/v2/referrers-fallback/tags/list?n=-1');
    expect(bad.status).toBe(400);
    expect(bad.errorCode()).toBe('UNSUPPORTED');
  });
});

describe('referrers API', { timeout: 120_000 }, () => {
  it('answers exactly what `ocikit referrers` computes, as an image index', async () => {
    const { ro, roDir } = await servers();
    const image = (await digests())['with-referrers']!['image'] as string;
    const res = await http(ro, 'GET', `/v2/with-referrers/referrers/${image}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(OCI_INDEX);
    expect(res.headers['oci-filters-applied']).toBeUndefined();
    const cli = JSON.parse((await ocikitOk(['referrers', `oci:${roDir}:v1`])).stdout) as unknown;
    expect(res.json()).toEqual(cli);
    expect(res.json<{ manifests: unknown[] }>().manifests.length).toBe(2);
  });

  it('filters by artifactType with OCI-Filters-Applied, still matching `ocikit referrers --artifact-type`', async () => {
    const { ro, roDir } = await servers();
    const image = (await digests())['with-referrers']!['image'] as string;
    const type = 'application/spdx+json';
    const res = await http(ro, 'GET', `/v2/with-referrers/referrers/${image}?artifactType=${encodeURIComponent(type)}`);
    expect(res.status).toBe(200);
    expect(res.headers['oci-filters-applied']).toBe('artifactType');
    const cli = JSON.parse((await ocikitOk(['referrers', `oci:${roDir}:v1`, '--artifact-type', type])).stdout) as unknown;
    expect(res.json()).toEqual(cli);
    expect(res.json<{ manifests: Array<{ artifactType: string }> }>().manifests.map((m) => m.artifactType)).toEqual([type]);
  });

  it('lists referrers recorded under a fallback tag, as `ocikit referrers` does', async () => {
    const { fallback, fallbackDir } = await servers();
    const f = (await digests())['referrers-fallback']!;
    const res = await http(fallback, 'GET', `/v2/referrers-fallback/referrers/${f['image']}`);
    expect(res.json()).toEqual(JSON.parse((await ocikitOk(['referrers', `oci:${fallbackDir}:v1`])).stdout));
    expect(res.json<{ manifests: Array<{ digest: string }> }>().manifests.map((m) => m.digest)).toEqual([f['sbom']]);
  });

  it('an unknown subject has an empty list (never 404); a malformed digest is 400 DIGEST_INVALID', async () => {
    const { ro } = await servers();
    const empty = await http(ro, 'GET', `/v2/with-referrers/referrers/sha256:${'2'.repeat(64)}`);
    expect(empty.status).toBe(200);
    expect(empty.json()).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    for (const d of ['sha256:abc', 'nothex', `sha256:${'G'.repeat(64)}`]) {
      const bad = await http(ro, 'GET', `/v2/with-referrers/referrers/${d}`);
      expect(bad.status, d).toBe(400);
      expect(bad.errorCode()).toBe('DIGEST_INVALID');
    }
  });
});

describe('repositories', { timeout: 120_000 }, () => {
  it('a layout with io.containerd.image.name annotations holds several repositories; tags are scoped to each', async () => {
    const { repos } = await servers();
    const w = (await digests())['with-referrers']!;
    const catalog = await http(repos, 'GET', '/v2/_catalog');
    expect(catalog.json()).toEqual({ repositories: ['library/debian', 'many-repos', 'old/style', 'team/tools'] });
    expect((await http(repos, 'GET', '/v2/library/debian/tags/list')).json()).toEqual({ name: 'library/debian', tags: ['latest', 'v1'] });
    expect((await http(repos, 'GET', '/v2/team/tools/tags/list')).json()).toEqual({ name: 'team/tools', tags: ['v1'] });
    expect((await http(repos, 'GET', '/v2/old/style/tags/list')).json()).toEqual({ name: 'old/style', tags: ['2.0'] });
    // The same tag in two repositories names two different manifests.
    expect((await http(repos, 'HEAD', '/v2/library/debian/manifests/v1')).headers['docker-content-digest']).toBe(w['image']);
    expect((await http(repos, 'HEAD', '/v2/team/tools/manifests/v1')).headers['docker-content-digest']).toBe(w['sbom']);
    // Entries without the annotation stay in the default repository (the directory name, fitted to the grammar).
    expect((await http(repos, 'GET', '/v2/many-repos/tags/list')).json()).toEqual({ name: 'many-repos', tags: ['v1'] });
  });

  it('an unknown repository is 404 NAME_UNKNOWN; a name outside the grammar is 400 NAME_INVALID', async () => {
    const { ro } = await servers();
    const image = (await digests())['with-referrers']!['image'] as string;
    for (const p of ['/v2/nope/tags/list', '/v2/nope/manifests/v1', `/v2/nope/blobs/${image}`, `/v2/nope/referrers/${image}`]) {
      const res = await http(ro, 'GET', p);
      expect(res.status, p).toBe(404);
      expect(res.errorCode(), p).toBe('NAME_UNKNOWN');
    }
    for (const p of ['/v2/With-Referrers/tags/list', '/v2/a..b/tags/list', '/v2/a//b/manifests/v1', '/v2/-a/tags/list']) {
      const res = await http(ro, 'GET', p);
      expect(res.status, p).toBe(400);
      expect(res.errorCode(), p).toBe('NAME_INVALID');
    }
  });
});

describe('hostile requests', { timeout: 120_000 }, () => {
  const expectOciError = (res: { status: number; errorCode(): string | undefined; text: string }, statuses: number[], secret?: string) => {
    expect(statuses).toContain(res.status);
    expect(res.errorCode()).toMatch(/^[A-Z_]+$/);
    if (secret) expect(res.text).not.toContain(secret.trim());
    expect(res.text).not.toMatch(/root:|\n\s+at /);
  };

  it('path traversal and malformed digests get 400/404 with OCI error bodies, never a file outside the layout', async () => {
    const { ro } = await servers();
    const attempts = [
      '/v2/../../etc/passwd',
      '/v2/a/blobs/sha256:../x',
      '/v2/with-referrers/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd',
      '/v2/with-referrers/blobs/..%2F..%2Findex.json',
      '/v2/with-referrers/manifests/..%2F..%2Findex.json',
      '/v2/with-referrers/manifests/%2e%2e',
      '/v2/with-referrers/blobs/%2e%2e/%2e%2e/index.json',
      '/v2/%2e%2e/%2e%2e/etc/passwd/blobs/sha256:abc',
      '/v2/with-referrers/blobs/sha256:%',
      `/v2/with-referrers/blobs/md5:${'a'.repeat(32)}`,
      `/v2/with-referrers/blobs/sha256:${'A'.repeat(64)}`,
      `/v2/with-referrers/blobs/sha512:${'a'.repeat(64)}`,
      '/etc/passwd',
      '/',
    ];
    for (const p of attempts) expectOciError(await http(ro, 'GET', p), [400, 404]);
    const digest = await http(ro, 'GET', `/v2/with-referrers/blobs/sha256:${'A'.repeat(64)}`);
    expect(digest.errorCode()).toBe('DIGEST_INVALID');
  });

  it('a blob that is a symlink out of the layout is refused (404), even though its content would match its name', async () => {
    const { ro, secret } = await servers();
    const res = await http(ro, 'GET', `/v2/with-referrers/blobs/${sha256(secret)}`);
    expectOciError(res, [404], secret);
    expect(res.errorCode()).toBe('BLOB_UNKNOWN');
    const asManifest = await http(ro, 'GET', `/v2/with-referrers/manifests/${sha256(secret)}`);
    expectOciError(asManifest, [404], secret);
  });

  it('a blob whose content no longer matches its digest never arrives whole: the connection is cut before the last bytes', async () => {
    const { ro } = await servers();
    const config = (await digests())['single-image']!['config'] as string;
    const size = ((await digests())['single-image']!['blobs'] as Record<string, number>)[config]!;
    const got = await http(ro, 'GET', `/v2/with-referrers/blobs/${config}`).then(
      (res) => res.body.length,
      () => -1,
    );
    expect(got).toBeLessThan(size);
    // The server is still up and serving.
    expect((await http(ro, 'GET', '/v2/')).status).toBe(200);
    // ...and says what went wrong on stderr.
    await vi.waitFor(() => expect(ro.stderr()).toContain(`digest mismatch for ${config}`), { timeout: 5000 });
  });

  it('read-only by default: every write method is 405 UNSUPPORTED with an OCI error body', async () => {
    const { ro } = await servers();
    const image = (await digests())['with-referrers']!['image'] as string;
    const writes: Array<[string, string]> = [
      ['PUT', '/v2/with-referrers/manifests/v2'],
      ['DELETE', '/v2/with-referrers/manifests/v1'],
      ['POST', '/v2/with-referrers/blobs/uploads/'],
      ['POST', `/v2/with-referrers/blobs/uploads/?digest=${EMPTY_DIGEST}`],
      ['PATCH', '/v2/with-referrers/blobs/uploads/00000000-0000-4000-8000-000000000000'],
      ['PUT', `/v2/with-referrers/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${EMPTY_DIGEST}`],
      ['DELETE', `/v2/with-referrers/blobs/${image}`],
    ];
    for (const [method, p] of writes) {
      const res = await http(ro, method, p, { body: '{}', headers: { 'Content-Type': OCI_MANIFEST } });
      expect(res.status, `${method} ${p}`).toBe(405);
      expect(res.errorCode()).toBe('UNSUPPORTED');
    }
  });
});

/** Push a blob monolithically (POST ?digest=). */
async function pushBlob(server: ServeProcess, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const res = await http(server, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(res.status).toBe(201);
  return digest;
}

async function pushFixtureImageBlobs(server: ServeProcess, repo: string): Promise<{ manifest: Buffer; digest: string }> {
  const single = (await digests())['single-image']!;
  const src = path.join(FIXTURES, 'single-image');
  for (const d of [single['config'] as string, ...(single['layers'] as string[])]) await pushBlob(server, repo, await readBlob(src, d));
  return { manifest: await readBlob(src, single['image'] as string), digest: single['image'] as string };
}

describe('serve --writable', { timeout: 120_000 }, () => {
  it('monolithic POST ?digest= stores the blob (201, Location) and the blob can be fetched back', async () => {
    const { rw } = await servers();
    const bytes = Buffer.from('monolithic upload\n');
    const digest = sha256(bytes);
    const res = await http(rw, 'POST', `/v2/scratch/blobs/uploads/?digest=${digest}`, { body: bytes });
    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe(`/v2/scratch/blobs/${digest}`);
    expect(res.headers['docker-content-digest']).toBe(digest);
    expect((await http(rw, 'GET', res.headers['location'] as string)).body.equals(bytes)).toBe(true);
  });

  it('chunked upload: POST, PATCH chunks with Content-Range, 416 on an out-of-order chunk, GET status, PUT ?digest=', async () => {
    const { rw } = await servers();
    const bytes = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));
    const digest = sha256(bytes);
    const start = await http(rw, 'POST', '/v2/scratch/blobs/uploads/', { headers: { 'Content-Length': '0' } });
    expect(start.status).toBe(202);
    const location = start.headers['location'] as string;
    expect(location).toMatch(/^\/v2\/scratch\/blobs\/uploads\/[0-9a-f-]{36}$/);
    expect(start.headers['range']).toBe('0-0');

    const first = await http(rw, 'PATCH', location, { body: bytes.subarray(0, 1000), headers: { 'Content-Range': '0-999', 'Content-Type': 'application/octet-stream' } });
    expect(first.status).toBe(202);
    expect(first.headers['range']).toBe('0-999');

    const gap = await http(rw, 'PATCH', location, { body: bytes.subarray(2000, 2100), headers: { 'Content-Range': '2000-2099' } });
    expect(gap.status).toBe(416);
    expect(gap.headers['range']).toBe('0-999');
    expect(gap.errorCode()).toBe('BLOB_UPLOAD_INVALID');
    const malformed = await http(rw, 'PATCH', location, { body: bytes.subarray(1000, 1100), headers: { 'Content-Range': 'bytes=oops' } });
    expect(malformed.status).toBe(416);

    const status = await http(rw, 'GET', location);
    expect(status.status).toBe(204);
    expect(status.headers['range']).toBe('0-999');

    const second = await http(rw, 'PATCH', location, { body: bytes.subarray(1000, 3000), headers: { 'Content-Range': '1000-2999' } });
    expect(second.status).toBe(202);
    const done = await http(rw, 'PUT', `${location}?digest=${digest}`, { body: bytes.subarray(3000), headers: { 'Content-Range': `3000-${bytes.length - 1}` } });
    expect(done.status).toBe(201);
    expect(done.headers['docker-content-digest']).toBe(digest);
    expect((await http(rw, 'GET', `/v2/scratch/blobs/${digest}`)).body.equals(bytes)).toBe(true);
    // The session is gone once closed.
    expect((await http(rw, 'GET', location)).errorCode()).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('a wrong digest is refused with 400 DIGEST_INVALID and leaves the layout byte-identical', async () => {
    const { rw, rwDir } = await servers();
    const before = await snapshot(rwDir);
    const bytes = Buffer.from('content that does not match the digest it is sent with\n');
    const wrong = sha256('something else');
    const mono = await http(rw, 'POST', `/v2/scratch/blobs/uploads/?digest=${wrong}`, { body: bytes });
    expect(mono.status).toBe(400);
    expect(mono.errorCode()).toBe('DIGEST_INVALID');
    const start = await http(rw, 'POST', '/v2/scratch/blobs/uploads/');
    const location = start.headers['location'] as string;
    expect((await http(rw, 'PATCH', location, { body: bytes })).status).toBe(202);
    const put = await http(rw, 'PUT', `${location}?digest=${wrong}`);
    expect(put.status).toBe(400);
    expect(put.errorCode()).toBe('DIGEST_INVALID');
    const noDigest = await http(rw, 'POST', `/v2/scratch/blobs/uploads/?digest=sha256:nothex`, { body: bytes });
    expect(noDigest.errorCode()).toBe('DIGEST_INVALID');
    expect(await snapshot(rwDir)).toEqual(before);
    expect((await http(rw, 'HEAD', `/v2/scratch/blobs/${sha256(bytes)}`)).status).toBe(404);
  });

  it('upload session ids are checked: garbage, unknown, and another repository\'s session are 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const { rw } = await servers();
    const start = await http(rw, 'POST', '/v2/scratch/blobs/uploads/');
    const id = (start.headers['location'] as string).split('/').pop()!;
    for (const p of ['/v2/scratch/blobs/uploads/not-a-session', '/v2/scratch/blobs/uploads/..%2F..%2Findex.json', '/v2/scratch/blobs/uploads/00000000-0000-4000-8000-000000000000', `/v2/other/blobs/uploads/${id}`]) {
      const res = await http(rw, 'PATCH', p, { body: 'x' });
      expect([400, 404], p).toContain(res.status);
      if (res.status === 404) expect(res.errorCode(), p).toBe('BLOB_UPLOAD_UNKNOWN');
    }
    expect((await http(rw, 'DELETE', `/v2/scratch/blobs/uploads/${id}`)).status).toBe(204);
    expect((await http(rw, 'GET', `/v2/scratch/blobs/uploads/${id}`)).status).toBe(404);
  });

  it('cross-repository mount: 201 when the blob exists, an upload session (202) when it does not', async () => {
    const { rw } = await servers();
    const digest = await pushBlob(rw, 'scratch', Buffer.from('mount me\n'));
    const mounted = await http(rw, 'POST', `/v2/elsewhere/blobs/uploads/?mount=${digest}&from=scratch`);
    expect(mounted.status).toBe(201);
    expect(mounted.headers['location']).toBe(`/v2/elsewhere/blobs/${digest}`);
    const fallback = await http(rw, 'POST', `/v2/elsewhere/blobs/uploads/?mount=sha256:${'3'.repeat(64)}&from=scratch`);
    expect(fallback.status).toBe(202);
    expect(fallback.headers['location']).toMatch(/^\/v2\/elsewhere\/blobs\/uploads\//);
  });

  it('manifest PUT by tag: 201 with Location and digest, listed in index.json under the tag, served back byte for byte', async () => {
    const { rw, rwDir } = await servers();
    const { manifest, digest } = await pushFixtureImageBlobs(rw, 'scratch');
    const res = await http(rw, 'PUT', '/v2/scratch/manifests/v1', { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(digest);
    expect(res.headers['location']).toBe(`/v2/scratch/manifests/${digest}`);
    expect(res.headers['oci-subject']).toBeUndefined();
    const index = JSON.parse(await readFile(path.join(rwDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1');
    expect(entry?.digest).toBe(digest);
    // The default repository needs no containerd name.
    expect(entry?.annotations?.['io.containerd.image.name']).toBeUndefined();
    expect((await http(rw, 'GET', '/v2/scratch/manifests/v1')).body.equals(manifest)).toBe(true);
    expect((await http(rw, 'GET', '/v2/scratch/tags/list')).json()).toEqual({ name: 'scratch', tags: ['v1'] });
  });

  it('manifest PUT to another repository is scoped to it (io.containerd.image.name), leaving the same tag elsewhere alone', async () => {
    const { rw, rwDir } = await servers();
    const { manifest, digest } = await pushFixtureImageBlobs(rw, 'team/app');
    expect((await http(rw, 'PUT', '/v2/team/app/manifests/v1', { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } })).status).toBe(201);
    const other = Buffer.from(JSON.stringify({ ...JSON.parse(manifest.toString('utf8')), annotations: { 'org.example': 'another manifest' } }));
    expect((await http(rw, 'PUT', '/v2/team/app/manifests/v2', { body: other, headers: { 'Content-Type': OCI_MANIFEST } })).status).toBe(201);
    expect((await http(rw, 'GET', '/v2/team/app/tags/list')).json()).toEqual({ name: 'team/app', tags: ['v1', 'v2'] });
    const index = JSON.parse(await readFile(path.join(rwDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const names = index.manifests.map((m) => m.annotations?.['io.containerd.image.name']).filter(Boolean);
    // The repository without the server's own (temporary) address: the layout outlives the port.
    expect(names).toEqual(expect.arrayContaining(['team/app:v1', 'team/app:v2']));
    expect(names.some((n) => n!.includes(rw.host))).toBe(false);
    expect((await http(rw, 'HEAD', '/v2/scratch/manifests/v1')).headers['docker-content-digest']).toBe(digest);
    expect((await http(rw, 'GET', '/v2/_catalog')).json<{ repositories: string[] }>().repositories).toEqual(expect.arrayContaining(['scratch', 'team/app']));
  });

  it('an artifact with a subject: 201 with OCI-Subject, listed untagged in index.json, and the referrers API lists it', async () => {
    const { rw, rwDir } = await servers();
    const { manifest, digest } = await pushFixtureImageBlobs(rw, 'scratch');
    await http(rw, 'PUT', '/v2/scratch/manifests/v1', { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    await pushBlob(rw, 'scratch', Buffer.from('{}'));
    const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    const sbomDigest = await pushBlob(rw, 'scratch', sbom);
    const artifact = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/spdx+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 },
        layers: [{ mediaType: 'application/spdx+json', digest: sbomDigest, size: sbom.length }],
        subject: { mediaType: OCI_MANIFEST, digest, size: manifest.length },
        annotations: { 'org.example.kind': 'sbom' },
      }),
    );
    const artifactDigest = sha256(artifact);
    const res = await http(rw, 'PUT', `/v2/scratch/manifests/${artifactDigest}`, { body: artifact, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(res.status).toBe(201);
    expect(res.headers['oci-subject']).toBe(digest);
    const index = JSON.parse(await readFile(path.join(rwDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string>; artifactType?: string }> };
    const listed = index.manifests.filter((m) => m.digest === artifactDigest);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
    expect(listed[0]!.artifactType).toBe('application/spdx+json');
    const api = await http(rw, 'GET', `/v2/scratch/referrers/${digest}`);
    expect(api.json<{ manifests: Array<{ digest: string; artifactType: string; annotations: Record<string, string> }> }>().manifests).toEqual([
      { mediaType: OCI_MANIFEST, digest: artifactDigest, size: artifact.length, artifactType: 'application/spdx+json', annotations: { 'org.example.kind': 'sbom' } },
    ]);
    expect(api.json()).toEqual(JSON.parse((await ocikitOk(['referrers', `oci:${rwDir}@${digest}`])).stdout));
  });

  it('refuses bad manifests without touching the layout: missing blobs (400 MANIFEST_BLOB_UNKNOWN per blob), digest mismatch, invalid JSON, over 4 MiB (413)', async () => {
    const { rw, rwDir } = await servers();
    const before = await snapshot(rwDir);
    const missingA = `sha256:${'4'.repeat(64)}`;
    const missingB = `sha256:${'5'.repeat(64)}`;
    const dangling = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: missingA, size: 10 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: missingB, size: 20 }],
      }),
    );
    const res = await http(rw, 'PUT', '/v2/scratch/manifests/dangling', { body: dangling, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(res.status).toBe(400);
    const errors = res.json<{ errors: Array<{ code: string; detail: { digest: string } }> }>().errors;
    expect(errors.map((e) => e.code)).toEqual(['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
    expect(errors.map((e) => e.detail.digest)).toEqual([missingA, missingB]);

    const mismatch = await http(rw, 'PUT', `/v2/scratch/manifests/sha256:${'6'.repeat(64)}`, { body: dangling, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.errorCode()).toBe('DIGEST_INVALID');

    for (const body of ['not json', '{"schemaVersion":2}', '[]']) {
      const invalid = await http(rw, 'PUT', '/v2/scratch/manifests/bad', { body, headers: { 'Content-Type': OCI_MANIFEST } });
      expect(invalid.status, body).toBe(400);
      expect(invalid.errorCode()).toBe('MANIFEST_INVALID');
    }
    const invalidTag = await http(rw, 'PUT', '/v2/scratch/manifests/-bad-tag', { body: dangling, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(invalidTag.status).toBe(400);

    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const tooBig = await http(rw, 'PUT', '/v2/scratch/manifests/huge', { body: huge, headers: { 'Content-Type': OCI_MANIFEST } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.errorCode()).toBe('MANIFEST_INVALID');
    expect(await snapshot(rwDir)).toEqual(before);
  });
});

describe('shutdown', { timeout: 120_000 }, () => {
  it('SIGTERM stops accepting, finishes an in-flight upload, removes unfinished sessions and exits 0', async () => {
    const { dir } = await servers();
    const layout = path.join(dir, 'shutdown');
    await ocikitOk(['init', layout]);
    const server = await startServe([layout, '--writable']);
    const start = await http(server, 'POST', '/v2/shutdown/blobs/uploads/');
    const location = start.headers['location'] as string;
    // A PATCH whose body arrives in two parts, with SIGTERM in between.
    const response = new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, method: 'PATCH', path: location, agent: false, headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('first part;');
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end('second part'), 300);
      }, 200);
    });
    expect(await response).toBe(202);
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('SIGTERM');
    // The unfinished session's temp file is gone; the layout is as `init` left it.
    expect([...(await snapshot(layout)).keys()].sort()).toEqual(['blobs/', 'blobs/sha256/', 'index.json', 'oci-layout']);
    await expect(http(server, 'GET', '/v2/')).rejects.toThrow();
  });
});

it('a missing layout, a bad --addr or --repo, a TAG on the target are usage errors (exit 2)', { timeout: 120_000 }, async () => {
  const { dir, roDir } = await servers();
  await mkdir(path.join(dir, 'empty'), { recursive: true });
  const cases: Array<[string[], number]> = [
    [['serve', roDir, '--addr', 'nonsense'], 2],
    [['serve', roDir, '--addr', '127.0.0.1:99999'], 2],
    [['serve', roDir, '--repo', 'Not Valid'], 2],
    [['serve', `${roDir}:v1`], 2],
    [['serve', path.join(dir, 'empty')], 1],
  ];
  for (const [args, code] of cases) {
    const res = await ocikit(args);
    expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(code);
    expect(res.stderr).toMatch(/^ocikit: /);
  }
});

describe('library API', { timeout: 120_000 }, () => {
  it('startServer(target, opts) serves a target on a free port and close() stops it', async () => {
    const layout = await LayoutDir.open(path.join(FIXTURES, 'single-image'));
    const server = await startServer(layout, { port: 0, repository: 'lib/test' });
    try {
      expect(server.address).toBe(`127.0.0.1:${server.port}`);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(server.repository).toBe('lib/test');
      const res = await http(server, 'GET', '/v2/lib/test/tags/list');
      expect(res.json()).toEqual({ name: 'lib/test', tags: ['v1'] });
    } finally {
      await server.close();
    }
    await expect(http(server, 'GET', '/v2/')).rejects.toThrow();
    await expect(startServer(layout, { port: 0, writable: false, repository: 'Bad Name' })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('a client that hangs up mid-blob is logged as a closed connection, not as a server failure', async () => {
    const dir = await tempDir('ocikit-serve-hangup-');
    try {
      // A layer big enough that the response cannot be written in one go before the client leaves.
      const big = Buffer.alloc(32 * 1024 * 1024, 7);
      await ocikitOk(['init', path.join(dir.dir, 'l')]);
      const pushed = await ocikit(['blob', 'push', path.join(dir.dir, 'l'), '-'], { input: big });
      expect(pushed.code, pushed.stderr).toBe(0);
      const events: import('../../src/index.js').RequestEvent[] = [];
      const server = await startServer(await LayoutDir.open(path.join(dir.dir, 'l')), { port: 0, repository: 'l', onRequest: (e) => events.push(e) });
      try {
        const { connect } = await import('node:net');
        const socket = connect(server.port, '127.0.0.1');
        socket.write(`GET /v2/l/blobs/${sha256(big)} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.destroy();
        await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 10_000 });
        expect(events[0]).toMatchObject({ method: 'GET', status: 200, clientClosed: true });
        expect(events[0]!.error).toBeUndefined();
      } finally {
        await server.close();
      }
    } finally {
      await dir.cleanup();
    }
  });

  it('clients that hang up as soon as they have a blob (or before it) are logged as closed connections, never as server failures', async () => {
    const dir = await tempDir('ocikit-serve-early-hangup-');
    try {
      const blob = Buffer.alloc(300 * 1024, 3);
      await ocikitOk(['init', path.join(dir.dir, 'l')]);
      const pushed = await ocikit(['blob', 'push', path.join(dir.dir, 'l'), '-'], { input: blob });
      expect(pushed.code, pushed.stderr).toBe(0);
      const events: import('../../src/index.js').RequestEvent[] = [];
      const server = await startServer(await LayoutDir.open(path.join(dir.dir, 'l')), { port: 0, repository: 'l', onRequest: (e) => events.push(e) });
      const { connect } = await import('node:net');
      const request = `GET /v2/l/blobs/${sha256(blob)} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const rounds = 20;
      try {
        for (let i = 0; i < rounds; i++) {
          const socket = connect(server.port, '127.0.0.1');
          if (i % 2 === 0) {
            // Gone before the answer: the request is written and the connection closed at once.
            socket.end(request, () => socket.destroy());
          } else {
            // Gone the moment the last byte arrived, as a client that counts Content-Length does.
            socket.write(request);
            let got = 0;
            await new Promise<void>((resolve) => {
              socket.on('data', (d: Buffer) => {
                got += d.length;
                if (got >= blob.length) {
                  socket.destroy();
                  resolve();
                }
              });
              socket.on('close', () => resolve());
            });
          }
        }
        await vi.waitFor(() => expect(events).toHaveLength(rounds), { timeout: 10_000 });
        expect(events.filter((e) => e.error !== undefined || e.status >= 500)).toEqual([]);
      } finally {
        await server.close();
      }
    } finally {
      await dir.cleanup();
    }
  });

  it('concurrent downloads of one blob all arrive whole; after the file is damaged in place, the next download is cut short', async () => {
    const dir = await tempDir('ocikit-serve-shared-verify-');
    try {
      const big = Buffer.alloc(5 * 1024 * 1024 + 17, 5);
      await ocikitOk(['init', path.join(dir.dir, 'l')]);
      const pushed = await ocikit(['blob', 'push', path.join(dir.dir, 'l'), '-'], { input: big });
      expect(pushed.code, pushed.stderr).toBe(0);
      const digest = sha256(big);
      const server = await startServer(await LayoutDir.open(path.join(dir.dir, 'l')), { port: 0, repository: 'l' });
      try {
        const bodies = await Promise.all(Array.from({ length: 6 }, () => http(server, 'GET', `/v2/l/blobs/${digest}`)));
        for (const res of bodies) expect(sha256(res.body)).toBe(digest);
        // Same size, one byte changed: the verdict of the first downloads no longer applies.
        const file = path.join(dir.dir, 'l', 'blobs', 'sha256', digest.slice('sha256:'.length));
        const damaged = Buffer.from(big);
        damaged[damaged.length - 3] = 6;
        await writeFile(file, damaged);
        const got = await http(server, 'GET', `/v2/l/blobs/${digest}`).then(
          (res) => res.body.length,
          () => -1,
        );
        expect(got).toBeLessThan(big.length);
      } finally {
        await server.close();
      }
    } finally {
      await dir.cleanup();
    }
  });
});

/** Peak resident memory of a process (Linux /proc), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('memory', { timeout: 300_000 }, () => {
  /**
   * A server that buffered a blob would need at least the blob's size; one
   * that streams stays near its idle footprint plus a few MiB of buffers and
   * garbage the collector has not reclaimed yet (measured: 40-90 MiB, the
   * same for 64 and 256 MiB blobs). Half the blob's size separates the two.
   */
  it("a 256 MiB blob goes up in one streamed PATCH and down twice at once, while the server's peak memory grows by less than half of it", async () => {
    const { dir } = await servers();
    const layout = path.join(dir, 'big');
    await ocikitOk(['init', layout]);
    const server = await startServe([layout, '--writable']);
    const pid = server.child.pid!;
    await http(server, 'GET', '/v2/');
    const before = await peakRss(pid);

    const MiB = 1024 * 1024;
    const SIZE_MIB = 256;
    const chunk = (i: number) => Buffer.from(createHash('sha512').update(String(i)).digest('hex').repeat(MiB / 128));
    const hash = createHash('sha256');
    const location = (await http(server, 'POST', '/v2/big/blobs/uploads/')).headers['location'] as string;
    // The body is generated as it is sent (chunked transfer encoding), 1 MiB at a time.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, method: 'PATCH', path: location, agent: false, headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      let i = 0;
      const pump = (): void => {
        while (i < SIZE_MIB) {
          const c = chunk(i++);
          hash.update(c);
          if (!req.write(c)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(202);
    const digest = `sha256:${hash.digest('hex')}`;
    expect((await http(server, 'PUT', `${location}?digest=${digest}`)).status).toBe(201);

    const download = () =>
      new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        request({ host: '127.0.0.1', port: server.port, path: `/v2/big/blobs/${digest}`, agent: false }, (res) => {
          res.on('data', (c: Buffer) => h.update(c));
          res.on('end', () => resolve(`sha256:${h.digest('hex')}`));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    expect(await Promise.all([download(), download()])).toEqual([digest, digest]);
    expect((await peakRss(pid)) - before).toBeLessThan((SIZE_MIB / 2) * MiB);
    expect(await server.stop()).toBe(0);
  });
});
