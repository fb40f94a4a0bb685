/**
 * Faults between ocikit and a registry: a proxy in front of the real
 * docker-registry injects 5xx, 429, connection resets, truncated and
 * corrupted bodies and lying headers; a small in-process registry stands in
 * for what distribution 2.8 lacks (the referrers API, paginated listings, a
 * token server whose tokens expire). These tests call the library directly,
 * so they can assert on error codes.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { Readable } from 'node:stream';
import path from 'node:path';
import { afterFile, copyFixture, expectedDigests, FIXTURES, isCleanError, ocikit } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { closeServer, listen, sha256, startFaultProxy, startRegistry, type FaultProxy } from '../helpers/registry.js';
import type { Descriptor } from '../../src/spec/types.js';
import { LayoutDir } from '../../src/targets/layout-dir.js';
import { RegistryTarget } from '../../src/targets/registry.js';
import { RegistryClient, type RegistryOptions } from '../../src/registry/client.js';
import { pullImages } from '../../src/ops/pull-images.js';
import { pushLayout } from '../../src/ops/push-layout.js';
import { parseReference } from '../../src/reference.js';
import { readAll } from '../../src/graph/content.js';

const { cleanups, tmp } = afterFile();

/** Fast retries for tests; a fresh options object means fresh connections and caches. */
const fast = (extra: RegistryOptions = {}): RegistryOptions => ({ backoffMs: 5, retries: 3, ...extra });

/** A registry holding fixtures/single-image as faults/img:v1, and a proxy in front of it. */
const setup = once(async () => {
  const reg = await startRegistry();
  cleanups.push(reg.stop);
  const proxy = await startFaultProxy(reg.host);
  cleanups.push(proxy.stop);
  await pushLayout(await LayoutDir.open(path.join(FIXTURES, 'with-referrers')), reg.host, 'faults/img', { registry: fast() });
  const e = (await expectedDigests())['single-image']!;
  return { reg, proxy, image: e['image'] as string, layers: e['layers'] as string[], config: e['config'] as string };
});

async function pullThrough(proxy: FaultProxy, opts: RegistryOptions = fast()): Promise<{ dir: string; result: Awaited<ReturnType<typeof pullImages>> }> {
  const dir = path.join(await tmp(), 'out');
  const layout = await LayoutDir.init(dir);
  try {
    const result = await pullImages([parseReference(`${proxy.host}/faults/img:v1`)], layout, { registry: opts });
    return { dir, result };
  } finally {
    await layout.close();
  }
}

const isBlobGet = (digest: string) => (r: { method: string; path: string }) => r.method === 'GET' && r.path === `/v2/faults/img/blobs/${digest}`;

describe('retries', () => {
  it('retries a 5xx, then succeeds', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[1]!)(r) && r.seen < 2 ? { kind: 'respond', status: 503, body: '{"errors":[{"code":"UNAVAILABLE"}]}' } : { kind: 'pass' }));
    const { dir } = await pullThrough(proxy);
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)))).toBe(true);
    expect(proxy.log.filter((l) => l.path.endsWith(layers[1]!) && l.method === 'GET').map((l) => l.status)).toEqual([503, 503, 200]);
  });

  it('honours 429 with Retry-After', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[0]!)(r) && r.seen === 0 ? { kind: 'respond', status: 429, headers: { 'Retry-After': '1' } } : { kind: 'pass' }));
    const started = Date.now();
    await pullThrough(proxy);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(proxy.log.filter((l) => isBlobGet(layers[0]!)(l)).map((l) => l.status)).toEqual([429, 200]);
  });

  it('gives up after the retries with REGISTRY_ERROR, and never retries a 4xx', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[0]!)(r) ? { kind: 'respond', status: 500 } : { kind: 'pass' }));
    await expect(pullThrough(proxy)).rejects.toMatchObject({ code: 'REGISTRY_ERROR', status: 500 });
    expect(proxy.log.filter((l) => isBlobGet(layers[0]!)(l))).toHaveLength(4);
    proxy.setRule((r) => (isBlobGet(layers[0]!)(r) ? { kind: 'respond', status: 403, body: '{"errors":[{"code":"DENIED","message":"no"}]}' } : { kind: 'pass' }));
    await expect(pullThrough(proxy)).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 403 });
    expect(proxy.log.filter((l) => isBlobGet(layers[0]!)(l))).toHaveLength(1);
  });
});

describe('broken downloads', () => {
  it('a connection reset mid-blob resumes with Range', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[1]!)(r) && r.seen === 0 ? { kind: 'truncate', after: 1000 } : { kind: 'pass' }));
    const { dir } = await pullThrough(proxy);
    const got = await readFile(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)));
    expect(got).toEqual(await readFile(path.join(FIXTURES, 'single-image', 'blobs', 'sha256', layers[1]!.slice(7))));
    // (Requests of an earlier test's failed pull may still arrive; only ranged ones are ours for sure.)
    const ranged = proxy.log.filter((l) => isBlobGet(layers[1]!)(l) && l.headers['range'] !== undefined);
    expect(ranged.map((g) => g.headers['range'])).toEqual(['bytes=1000-']);
  });

  it('wrong bytes: DIGEST_MISMATCH, and nothing is written to the layout', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[1]!)(r) ? { kind: 'corrupt' } : { kind: 'pass' }));
    const dir = path.join(await tmp(), 'out');
    const layout = await LayoutDir.init(dir);
    await expect(pullImages([parseReference(`${proxy.host}/faults/img:v1`)], layout, { registry: fast() })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await layout.close();
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)))).toBe(false);
    expect(JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')).manifests).toEqual([]);
  });

  it('a wrong Docker-Content-Digest on a manifest: DIGEST_MISMATCH', async () => {
    const { proxy, image } = await setup();
    const liar = `sha256:${'1'.repeat(64)}`;
    proxy.setRule((r) => (r.method === 'GET' && r.path === `/v2/faults/img/manifests/${image}` ? { kind: 'header', name: 'Docker-Content-Digest', value: liar } : { kind: 'pass' }));
    const target = new RegistryTarget(new RegistryClient(proxy.host, fast()), 'faults/img', false);
    await expect(target.fetch({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image, size: 631 })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('the CLI reports a lying registry as one clean line with exit 1, leaving the layout untouched', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[0]!)(r) ? { kind: 'corrupt' } : { kind: 'pass' }));
    const dir = path.join(await tmp(), 'cli');
    const res = await ocikit(['pull', `${proxy.host}/faults/img:v1`, dir]);
    expect(res.code).toBe(1);
    expect(isCleanError(res.stderr), res.stderr).toBe(true);
    expect(res.stderr).toMatch(/digest mismatch/);
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[0]!.slice(7)))).toBe(false);
  });
});

describe('broken uploads', () => {
  it('chunked PATCH uploads with Content-Range (small chunk size), then a mount into a sibling repository', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule(() => ({ kind: 'pass' }));
    const opts = fast({ chunkSize: 1024 });
    const src = await LayoutDir.open(path.join(FIXTURES, 'single-image'));
    await pushLayout(src, proxy.host, 'chunked/a', { registry: opts });
    const patches = proxy.log.filter((l) => l.method === 'PATCH');
    // Each layer (3.6 and 4.6 KB) needs at least one PATCH; the config (719 B) fits in the closing PUT.
    expect(patches.length).toBeGreaterThanOrEqual(2);
    expect(patches.every((p) => /^\d+-\d+$/.test(String(p.headers['content-range'])))).toBe(true);
    // Same registry, same options: blobs pushed to chunked/a are mounted into chunked/b.
    await pushLayout(src, proxy.host, 'chunked/b', { registry: opts });
    const mounts = proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount='));
    expect(mounts.length).toBeGreaterThanOrEqual(layers.length);
    expect(mounts.every((m) => m.status === 201)).toBe(true);
    // And what was uploaded in chunks reads back verified.
    const dir = path.join(await tmp(), 'back');
    const layout = await LayoutDir.init(dir);
    await pullImages([parseReference(`${proxy.host}/chunked/b:v1`)], layout, { registry: fast() });
    await layout.close();
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)))).toBe(true);
  });

  it('a registry that dies mid-upload: REGISTRY_ERROR after retries', async () => {
    const { proxy } = await setup();
    proxy.setRule((r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/') ? { kind: 'reset' } : { kind: 'pass' }));
    const src = await LayoutDir.open(path.join(FIXTURES, 'single-image'));
    await expect(pushLayout(src, proxy.host, 'dying/img', { registry: fast() })).rejects.toMatchObject({ code: 'REGISTRY_ERROR' });
  });

  it('a rejected manifest (MANIFEST_INVALID) names the step and the registry error', async () => {
    const { proxy } = await setup();
    proxy.setRule((r) =>
      r.method === 'PUT' && r.path.includes('/manifests/')
        ? { kind: 'respond', status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}' }
        : { kind: 'pass' },
    );
    const src = await LayoutDir.open(path.join(FIXTURES, 'single-image'));
    const err = await pushLayout(src, proxy.host, 'rejected/img', { registry: fast() }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_ERROR', status: 400 });
    expect((err as Error).message).toContain('MANIFEST_INVALID');
    proxy.setRule((r) => (r.method === 'PUT' && r.path.includes('/manifests/') ? { kind: 'respond', status: 413 } : { kind: 'pass' }));
    await expect(pushLayout(src, proxy.host, 'rejected/img', { registry: fast() })).rejects.toMatchObject({ code: 'REGISTRY_ERROR', status: 413 });
  });
});

// ------------------------------------------------------------------ a registry with the referrers API

interface Fake {
  host: string;
  requests: Array<{ method: string; path: string; auth?: string }>;
  tokens: string[];
}

/**
 * A tiny registry: a Bearer challenge and token endpoint whose tokens are
 * refused after `tokenUses` requests (as if expired), tags and referrers
 * listed two per page with Link headers, and an `artifactType` filter that
 * is applied (and announced) only when `applyFilter` is set.
 */
async function startFake(opts: { tokenUses: number; applyFilter: boolean }): Promise<Fake> {
  const tags = ['a', 'b', 'c', 'd', 'e'];
  const referrers = [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 10, artifactType: 'application/sbom' },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 11, artifactType: 'application/sig' },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 12, artifactType: 'application/sbom' },
  ];
  const uses = new Map<string, number>();
  const fake: Fake = { host: '', requests: [], tokens: [] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.requests.push({ method: req.method!, path: url.pathname + url.search, auth: req.headers.authorization });
    if (url.pathname === '/token') {
      const t = `tok-${fake.tokens.length + 1}-${Math.random().toString(36).slice(2)}`;
      fake.tokens.push(t);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: t, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const n = (uses.get(token) ?? 0) + 1;
    uses.set(token, n);
    if (!fake.tokens.includes(token) || n > opts.tokenUses) {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${fake.host}/token",service="fake",scope="repository:r/x:pull"`, 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}');
      return;
    }
    if (url.pathname === '/v2/r/x/tags/list') {
      const last = url.searchParams.get('last');
      const start = last ? tags.indexOf(last) + 1 : 0;
      const page = tags.slice(start, start + 2);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (start + 2 < tags.length) headers['Link'] = `</v2/r/x/tags/list?n=2&last=${page[page.length - 1]}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: 'r/x', tags: page }));
      return;
    }
    if (url.pathname.startsWith('/v2/r/x/referrers/')) {
      const filter = url.searchParams.get('artifactType');
      const pageNo = Number(url.searchParams.get('page') ?? '0');
      const list = opts.applyFilter && filter ? referrers.filter((r) => r.artifactType === filter) : referrers;
      const page = list.slice(pageNo * 2, pageNo * 2 + 2);
      const headers: Record<string, string> = { 'Content-Type': 'application/vnd.oci.image.index.v1+json' };
      if (opts.applyFilter && filter) headers['OCI-Filters-Applied'] = 'artifactType';
      if ((pageNo + 1) * 2 < list.length) headers['Link'] = `<${url.pathname}?page=${pageNo + 1}${filter ? `&artifactType=${encodeURIComponent(filter)}` : ''}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page }));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  const port = await listen(server);
  fake.host = `127.0.0.1:${port}`;
  cleanups.push(() => closeServer(server));
  return fake;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'f'.repeat(64)}`, size: 1 };

describe('a registry with the referrers API, paginated listings and expiring tokens', () => {
  it('follows Link pagination of tags, refreshing the token when it stops working', async () => {
    const fake = await startFake({ tokenUses: 2, applyFilter: true });
    const target = new RegistryTarget(new RegistryClient(fake.host, fast()), 'r/x', false);
    expect(await collect(target.tags())).toEqual(['a', 'b', 'c', 'd', 'e']);
    // 3 pages, each token good for 2 requests: at least one refresh after a 401.
    expect(fake.tokens.length).toBeGreaterThanOrEqual(2);
    expect(fake.requests.filter((r) => r.path.startsWith('/v2/r/x/tags/list') && r.auth?.startsWith('Bearer ')).length).toBeGreaterThanOrEqual(3);
  });

  it('reuses a token while it works', async () => {
    const fake = await startFake({ tokenUses: 1000, applyFilter: true });
    const target = new RegistryTarget(new RegistryClient(fake.host, fast()), 'r/x', false);
    await collect(target.tags());
    await collect(target.referrers(subject));
    expect(fake.tokens).toHaveLength(1);
  });

  it('lists referrers across Link pages, with the registry applying the artifactType filter', async () => {
    const fake = await startFake({ tokenUses: 1000, applyFilter: true });
    const target = new RegistryTarget(new RegistryClient(fake.host, fast()), 'r/x', false);
    expect((await collect(target.referrers(subject))).map((d) => d.digest[7])).toEqual(['a', 'b', 'c']);
    expect((await collect(target.referrers(subject, { artifactType: 'application/sbom' }))).map((d) => d.digest[7])).toEqual(['a', 'c']);
    // The API was used, not the fallback tag.
    expect(fake.requests.some((r) => r.path.includes('/manifests/sha256-'))).toBe(false);
  });

  it('filters itself when the registry does not say OCI-Filters-Applied', async () => {
    const fake = await startFake({ tokenUses: 1000, applyFilter: false });
    const target = new RegistryTarget(new RegistryClient(fake.host, fast()), 'r/x', false);
    expect((await collect(target.referrers(subject, { artifactType: 'application/sig' }))).map((d) => d.digest[7])).toEqual(['b']);
  });
});

describe('verified reads through the target', () => {
  it('fetch verifies blobs it streams', async () => {
    const { reg, layers } = await setup();
    const target = new RegistryTarget(new RegistryClient(reg.host, fast()), 'faults/img', false);
    const desc = await target.statBlob(layers[0]!);
    const bytes = await readAll(await target.fetch(desc));
    expect(bytes.length).toBe(desc.size);
    // A descriptor that lies about the size is caught.
    await expect(readAll(await target.fetch({ ...desc, size: desc.size - 1 }))).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });
});

/** Temp files a failed blob write might have left in a layout's root. */
async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('.ocikit-tmp-'));
}

describe('each byte verified once, and still every byte', () => {
  it('a registry blob is hashed once, on its way to the temp file: a corrupt one leaves neither blob nor temp file', async () => {
    const { proxy, layers } = await setup();
    proxy.setRule((r) => (isBlobGet(layers[0]!)(r) ? { kind: 'corrupt' } : { kind: 'pass' }));
    const dir = path.join(await tmp(), 'out');
    const layout = await LayoutDir.init(dir);
    await expect(pullImages([parseReference(`${proxy.host}/faults/img:v1`)], layout, { registry: fast() })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await layout.close();
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[0]!.slice(7)))).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('a registry that sends more bytes than the descriptor says: SIZE_MISMATCH, nothing left behind', async () => {
    const { proxy, layers } = await setup();
    const size = (await readFile(path.join(FIXTURES, 'single-image', 'blobs', 'sha256', layers[1]!.slice(7)))).length;
    proxy.setRule((r) => (isBlobGet(layers[1]!)(r) ? { kind: 'respond', status: 200, headers: { 'Content-Type': 'application/octet-stream' }, body: 'x'.repeat(size + 1) } : { kind: 'pass' }));
    const dir = path.join(await tmp(), 'out');
    const layout = await LayoutDir.init(dir);
    await expect(pullImages([parseReference(`${proxy.host}/faults/img:v1`)], layout, { registry: fast() })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await layout.close();
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)))).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("a layout checks content against the descriptor it stores, even when the content is another descriptor's verifying stream", async () => {
    const { reg, layers } = await setup();
    const target = new RegistryTarget(new RegistryClient(reg.host, fast()), 'faults/img', false);
    const [a, b] = [await target.statBlob(layers[0]!), await target.statBlob(layers[1]!)];
    const dir = path.join(await tmp(), 'out');
    const layout = await LayoutDir.init(dir);
    // layers[0]'s bytes (verified against layers[0]) offered as layers[1]: refused, not trusted.
    await expect(layout.push(b, await target.fetch(a))).rejects.toMatchObject({ code: expect.stringMatching(/^(DIGEST|SIZE)_MISMATCH$/) });
    await layout.close();
    expect(existsSync(path.join(dir, 'blobs', 'sha256', layers[1]!.slice(7)))).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe('streamed uploads (blobs over the monolithic limit)', () => {
  it('one PATCH per large blob with the whole blob (Content-Range 0-(size-1)), small ones in one PUT; reads back verified', async () => {
    const { proxy, layers, config } = await setup();
    proxy.setRule(() => ({ kind: 'pass' }));
    await pushLayout(await LayoutDir.open(path.join(FIXTURES, 'single-image')), proxy.host, 'streamed/a', { registry: fast({ monolithicLimit: 1024 }) });
    const patches = proxy.log.filter((l) => l.method === 'PATCH');
    const sizes = await Promise.all(layers.map(async (d) => (await readFile(path.join(FIXTURES, 'single-image', 'blobs', 'sha256', d.slice(7)))).length));
    // The two layers (3.6 and 4.6 KB) stream in one PATCH each; the config (719 B) goes in one PUT.
    expect(patches.map((p) => p.headers['content-range']).sort()).toEqual(sizes.map((n) => `0-${n - 1}`).sort());
    const closing = proxy.log.filter((l) => l.method === 'PUT' && l.path.includes('/blobs/uploads/'));
    expect(closing.map((p) => Number(p.headers['content-length'])).sort((x, y) => x - y)).toEqual([0, 0, 719]);
    expect(closing.some((p) => p.path.includes(encodeURIComponent(config)))).toBe(true);
    const dir = path.join(await tmp(), 'back');
    const layout = await LayoutDir.init(dir);
    await pullImages([parseReference(`${proxy.host}/streamed/a:v1`)], layout, { registry: fast() });
    await layout.close();
    for (const d of layers) expect(existsSync(path.join(dir, 'blobs', 'sha256', d.slice(7)))).toBe(true);
  });

  // Small: usually found wrong before the PATCH. Large: found wrong at its very end, while or after the registry takes every byte.
  for (const size of [4096, 4 * 1024 * 1024]) {
    it(`a ${size}-byte source blob that does not match its digest: DIGEST_MISMATCH, the upload cancelled and never closed`, async () => {
      const { reg, proxy } = await setup();
      proxy.setRule(() => ({ kind: 'pass' }));
      const dir = path.join(await tmp(), 'src');
      const { layer, file } = await layoutWithLayer(dir, randomBytes(size));
      const bytes = await readFile(file);
      bytes[bytes.length - 1] ^= 0xff;
      await writeFile(file, bytes);
      const repo = `streamed/bad-${size}`;
      await expect(pushLayout(await LayoutDir.open(dir), proxy.host, repo, { registry: fast({ monolithicLimit: 1024 }) })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      // An upload that was opened is cancelled (when the verdict comes relative to the PATCH is a race).
      if (proxy.log.some((l) => l.method === 'PATCH')) expect(proxy.log.some((l) => l.method === 'DELETE' && l.path.includes('/blobs/uploads/'))).toBe(true);
      expect(proxy.log.some((l) => l.method === 'PUT' && l.path.includes(encodeURIComponent(layer.digest)))).toBe(false);
      const target = new RegistryTarget(new RegistryClient(reg.host, fast()), repo, false);
      expect(await target.exists(layer)).toBe(false);
      await expect(target.resolve('v1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  }

  it('a connection reset during the streamed PATCH: REGISTRY_ERROR, promptly, without retrying a spent stream', async () => {
    const { proxy } = await setup();
    proxy.setRule((r) => (r.method === 'PATCH' ? { kind: 'reset' } : { kind: 'pass' }));
    const started = Date.now();
    await expect(pushLayout(await LayoutDir.open(path.join(FIXTURES, 'single-image')), proxy.host, 'streamed/reset', { registry: fast({ monolithicLimit: 1024 }) })).rejects.toMatchObject({
      code: 'REGISTRY_ERROR',
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(proxy.log.filter((l) => l.method === 'PATCH').length).toBeLessThanOrEqual(2);
  });
});

/** A layout at `dir` with one image (tag v1) whose only layer is `content`; returns the layer and its file. */
async function layoutWithLayer(dir: string, content: Buffer): Promise<{ layer: Descriptor; file: string }> {
  const layout = await LayoutDir.init(dir);
  const layer: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(content), size: content.length };
  await layout.push(layer, content);
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const config: Descriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length };
  await layout.push(config, configBytes);
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));
  const manifest: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifestBytes), size: manifestBytes.length };
  await layout.push(manifest, manifestBytes);
  await layout.tag(manifest, 'v1');
  await layout.close();
  return { layer, file: layout.blobPath(layer.digest) };
}

describe('shared blobs', () => {
  it('a blob pushed once is not uploaded again when a later push of it was decided on an older answer', async () => {
    const { proxy } = await setup();
    proxy.setRule(() => ({ kind: 'pass' }));
    const target = new RegistryTarget(new RegistryClient(proxy.host, fast()), 'shared/once', true);
    const content = randomBytes(2048);
    const desc: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(content), size: content.length };
    // Two images over the same layer both asked before either uploaded it...
    expect(await target.exists(desc)).toBe(false);
    expect(await target.exists(desc)).toBe(false);
    // ...and push it one after the other: one upload.
    await target.push(desc, content);
    await target.push(desc, Readable.from([content]));
    expect(proxy.log.filter((l) => l.method === 'POST' && l.path.includes('/blobs/uploads/')).length).toBe(1);
  });
});
