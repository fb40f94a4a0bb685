/**
 * Registries that misbehave on purpose, played by small in-process fakes on
 * loopback that record every request:
 *
 * - credentials stay with the registry's origin: a redirect target, a `Link`
 *   or an upload `Location` elsewhere never gets them, a 401 from elsewhere
 *   never draws them to a realm of its choosing, and a TLS registry naming a
 *   plain-HTTP realm is refused;
 * - listings are bounded: next-page loops, huge pages, too many entries;
 * - silence is bounded: a server that never answers and a blob that stalls
 *   end in TIMEOUT within the configured --timeout.
 *
 * A different port is a different origin, so every "foreign" host here is a
 * second server on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterFile, FIXTURES, jsonDocument, ocikit, type RunOptions } from '../helpers/cli.js';
import { closeServer, listen, makeTestCa } from '../helpers/registry.js';
import { expectFailure } from './_support.js';
import { RegistryClient } from '../../src/registry/client.js';
import { RegistryTarget } from '../../src/targets/registry.js';
import { readAll } from '../../src/graph/content.js';

const USER = 'hostile-test-user';
const PASSWORD = 'hostile-test-Pw-5c1e';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const { cleanups, tmp } = afterFile();

/** No credentials from the developer's own ~/.docker. */
const env = { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config' };
const withPassword: RunOptions = { env, input: `${PASSWORD}\n` };
const login = ['--username', USER, '--password-stdin'];

// ------------------------------------------------------------------ fakes

interface Recorded {
  method: string;
  path: string;
  auth?: string;
}

interface Fake {
  host: string;
  requests: Recorded[];
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function startFake(handler: Handler, tls?: { cert: Buffer; key: Buffer }): Promise<Fake> {
  const fake: Fake = { host: '', requests: [] };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.requests.push({ method: req.method!, path: url.pathname + url.search, auth: req.headers.authorization });
    req.resume();
    handler(req, res, url);
  };
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest) : http.createServer(onRequest);
  const port = await listen(server as http.Server);
  fake.host = `127.0.0.1:${port}`;
  cleanups.push(() => closeServer(server as http.Server));
  return fake;
}

const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A one-layer image, small enough to build per test. */
function tinyImage() {
  const layer = randomBytes(300);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
    }),
  );
  const blobs = new Map([
    [digestOf(config), config],
    [digestOf(layer), layer],
  ]);
  return { manifest, digest: digestOf(manifest), blobs, layerDigest: digestOf(layer) };
}
type Image = ReturnType<typeof tinyImage>;

/** `/v2/`, the manifest (by tag v1 or digest) and blobs of `img` in repository `r/x`; false when the path is none of these. */
function serveImage(img: Image, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  if (url.pathname === '/v2/') {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    return true;
  }
  if (url.pathname === '/v2/r/x/manifests/v1' || url.pathname === `/v2/r/x/manifests/${img.digest}`) {
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': img.manifest.length, 'Docker-Content-Digest': img.digest });
    res.end(req.method === 'HEAD' ? undefined : img.manifest);
    return true;
  }
  const blob = /^\/v2\/r\/x\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
  if (blob && img.blobs.has(blob[1]!)) {
    const bytes = img.blobs.get(blob[1]!)!;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return true;
  }
  return false;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
}

/** Basic auth in front of `handler`: without the right credentials, a 401 Basic challenge. */
function basicAuth(handler: Handler): Handler {
  return (req, res, url) => {
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"', 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    handler(req, res, url);
  };
}

/** A foreign host that answers everything but /token with a Bearer challenge naming its own realm, and issues tokens there. */
async function startRealmThief(): Promise<Fake> {
  const thief: Fake = await startFake((_req, res, url) => {
    if (url.pathname === '/token') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'token-from-elsewhere', expires_in: 300 }));
      return;
    }
    res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${thief.host}/token",service="elsewhere"`, 'Content-Type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
  return thief;
}

const withAuth = (f: Fake) => f.requests.filter((r) => r.auth !== undefined);

// ------------------------------------------------------------------ point 4: credentials and origins

describe('credentials go only to the registry origin', () => {
  it('a blob redirect to another origin that answers 401 with its own realm: UNAUTHORIZED, and the credentials never reach it', async () => {
    const img = tinyImage();
    const thief = await startRealmThief();
    const registry = await startFake(
      basicAuth((req, res, url) => {
        if (url.pathname.startsWith('/v2/r/x/blobs/')) {
          res.writeHead(307, { Location: `http://${thief.host}/storage${url.pathname}` }).end();
          return;
        }
        if (!serveImage(img, req, res, url)) notFound(res);
      }),
    );
    const out = path.join(await tmp(), 'out');
    const err = await expectFailure([...login, 'pull', '--no-referrers', `${registry.host}/r/x:v1`, out], { ...withPassword, exit: 1 });
    expect(err.code).toBe('UNAUTHORIZED');
    expect(thief.requests.length).toBeGreaterThan(0);
    expect(withAuth(thief)).toEqual([]);
    // The registry never saw a token from the other host either.
    expect(registry.requests.filter((r) => r.auth?.startsWith('Bearer '))).toEqual([]);
  });

  it('a blob redirect to storage elsewhere that needs no credentials still works, and gets none', async () => {
    const img = tinyImage();
    const storage = await startFake((req, res, url) => {
      const bytes = img.blobs.get(url.pathname.split('/').pop()!);
      if (!bytes) return notFound(res);
      res.writeHead(200, { 'Content-Length': bytes.length }).end(req.method === 'HEAD' ? undefined : bytes);
    });
    const registry = await startFake(
      basicAuth((req, res, url) => {
        if (url.pathname.startsWith('/v2/r/x/blobs/') && req.method === 'GET') {
          res.writeHead(307, { Location: `http://${storage.host}/s3/${url.pathname.split('/').pop()}` }).end();
          return;
        }
        if (!serveImage(img, req, res, url)) notFound(res);
      }),
    );
    const out = path.join(await tmp(), 'out');
    const r = await ocikit([...login, 'pull', '--no-referrers', `${registry.host}/r/x:v1`, out], withPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(storage.requests.length).toBe(2);
    expect(withAuth(storage)).toEqual([]);
    expect(await readFile(path.join(out, 'blobs', 'sha256', img.layerDigest.slice(7)))).toEqual(img.blobs.get(img.layerDigest));
  });

  it('a tag list whose next page is on another origin: that page is fetched without credentials', async () => {
    const elsewhere = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ name: 'r/x', tags: ['c'] }));
    });
    const registry = await startFake(
      basicAuth((_req, res, url) => {
        if (url.pathname !== '/v2/r/x/tags/list') return notFound(res);
        res.writeHead(200, { 'Content-Type': 'application/json', Link: `<http://${elsewhere.host}/v2/r/x/tags/list?last=b>; rel="next"` });
        res.end(JSON.stringify({ name: 'r/x', tags: ['a', 'b'] }));
      }),
    );
    const r = await ocikit([...login, '--format', 'json', 'tags', `${registry.host}/r/x`], withPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonDocument(r)).toEqual(['a', 'b', 'c']);
    expect(elsewhere.requests).toHaveLength(1);
    expect(withAuth(elsewhere)).toEqual([]);
  });

  it('an upload Location on another origin gets the blob without credentials', async () => {
    const elsewhere = await startFake((_req, res) => {
      res.writeHead(201, { 'Content-Length': '0' }).end();
    });
    let uploads = 0;
    const registry = await startFake(
      basicAuth((req, res, url) => {
        if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
        if (req.method === 'POST' && url.pathname === '/v2/r/x/blobs/uploads/') {
          res.writeHead(202, { Location: `http://${elsewhere.host}/upload/${++uploads}?state=abc`, 'Content-Length': '0' }).end();
          return;
        }
        if (req.method === 'PUT' && url.pathname.startsWith('/v2/r/x/manifests/')) return void res.writeHead(201, { 'Content-Length': '0' }).end();
        notFound(res);
      }),
    );
    const r = await ocikit([...login, 'push', path.join(FIXTURES, 'single-image'), `${registry.host}/r/x`], withPassword);
    expect(r.code, r.stderr).toBe(0);
    expect(elsewhere.requests.filter((q) => q.method === 'PUT').length).toBeGreaterThanOrEqual(2);
    expect(withAuth(elsewhere)).toEqual([]);
  });

  it('a TLS registry naming a plain-HTTP token realm: refused with UNAUTHORIZED, the password never sent there', async () => {
    const ca = await makeTestCa(await tmp());
    const realm = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'clear-text-token' }));
    });
    const registry = await startFake(
      (_req, res) => {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${realm.host}/token",service="fake"`, 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      },
      { cert: await readFile(ca.certFile), key: await readFile(ca.keyFile) },
    );
    const err = await expectFailure(['--ca-file', ca.caFile, ...login, 'resolve', `${registry.host}/r/x:v1`], { ...withPassword, exit: 1 });
    expect(err.code).toBe('UNAUTHORIZED');
    expect(withAuth(realm)).toEqual([]);
  });

  it("a TLS registry's https token realm on a loopback port without TLS: no fallback to plain HTTP with the password on board", async () => {
    const ca = await makeTestCa(await tmp());
    const realm = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'clear-text-token' }));
    });
    const registry = await startFake(
      (_req, res) => {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="https://${realm.host}/token",service="fake"`, 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      },
      { cert: await readFile(ca.certFile), key: await readFile(ca.keyFile) },
    );
    const err = await expectFailure(['--ca-file', ca.caFile, ...login, 'resolve', `${registry.host}/r/x:v1`], { ...withPassword, exit: 1 });
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(realm.requests).toEqual([]);
  });
});

// ------------------------------------------------------------------ point 6: bounded listings

/** `count` distinct referrer descriptors for page `page`. */
function referrersPage(page: number, count: number): Buffer {
  const manifests = Array.from({ length: count }, (_, i) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: digestOf(`${page}/${i}`),
    size: 100,
    artifactType: 'application/example',
  }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

/** A registry holding a tiny image whose referrers API answers with `page(n)` and links page n to `next(n)`. */
async function referrersRegistry(img: Image, page: (n: number) => Buffer, next: (n: number) => number | undefined): Promise<Fake> {
  return startFake((req, res, url) => {
    if (url.pathname === `/v2/r/x/referrers/${img.digest}`) {
      const n = Number(url.searchParams.get('page') ?? '0');
      const headers: Record<string, string> = { 'Content-Type': 'application/vnd.oci.image.index.v1+json' };
      const to = next(n);
      if (to !== undefined) headers['Link'] = `</v2/r/x/referrers/${img.digest}?page=${to}>; rel="next"`;
      res.writeHead(200, headers).end(page(n));
      return;
    }
    if (!serveImage(img, req, res, url)) notFound(res);
  });
}

const referrerRequests = (f: Fake) => f.requests.filter((r) => r.path.includes('/referrers/'));
const tagRequests = (f: Fake) => f.requests.filter((r) => r.path.startsWith('/v2/r/x/tags/list'));

describe('listings are bounded', () => {
  it('referrers whose next links alternate between two pages: REGISTRY_ERROR after 3 requests, for referrers and for pull', async () => {
    const img = tinyImage();
    // 0 -> 1 -> 2 -> 1 -> 2 ...
    const registry = await referrersRegistry(img, (n) => referrersPage(n, 1), (n) => (n === 2 ? 1 : n + 1));
    const err = await expectFailure(['referrers', `${registry.host}/r/x@${img.digest}`], { env, exit: 1 });
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(referrerRequests(registry)).toHaveLength(3);

    registry.requests.length = 0;
    const out = path.join(await tmp(), 'out');
    const pulled = await expectFailure(['pull', `${registry.host}/r/x:v1`, out], { env, exit: 1 });
    expect(pulled.code).toBe('REGISTRY_ERROR');
    expect(referrerRequests(registry)).toHaveLength(3);
  });

  it('a tag list whose next links alternate between two pages: REGISTRY_ERROR after 3 requests', async () => {
    const registry = await startFake((_req, res, url) => {
      if (url.pathname !== '/v2/r/x/tags/list') return notFound(res);
      const last = url.searchParams.get('last');
      const to = last === 'b' ? 'a' : 'b';
      res.writeHead(200, { 'Content-Type': 'application/json', Link: `</v2/r/x/tags/list?n=2&last=${to}>; rel="next"` });
      res.end(JSON.stringify({ name: 'r/x', tags: [last ?? 'start'] }));
    });
    const err = await expectFailure(['tags', `${registry.host}/r/x`], { env, exit: 1, timeoutMs: 30_000 });
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(tagRequests(registry)).toHaveLength(3);
  });

  it('referrer pages of 15,000 descriptors: LIMIT_EXCEEDED once past 100,000 entries, not a list cut short', async () => {
    const img = tinyImage();
    // Eight pages, 120,000 descriptors in all: more than a listing may hold.
    const registry = await referrersRegistry(img, (n) => referrersPage(n, 15_000), (n) => (n < 7 ? n + 1 : undefined));
    const err = await expectFailure(['referrers', `${registry.host}/r/x@${img.digest}`], { env, exit: 1 });
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(referrerRequests(registry)).toHaveLength(7);
  });

  it('a tag list of 150,000 tags over five pages: LIMIT_EXCEEDED', async () => {
    const registry = await startFake((_req, res, url) => {
      if (url.pathname !== '/v2/r/x/tags/list') return notFound(res);
      const n = Number(url.searchParams.get('page') ?? '0');
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (n < 4) headers['Link'] = `</v2/r/x/tags/list?page=${n + 1}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name: 'r/x', tags: Array.from({ length: 30_000 }, (_, i) => `t${n}-${i}`) }));
    });
    const err = await expectFailure(['tags', `${registry.host}/r/x`], { env, exit: 1 });
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(tagRequests(registry)).toHaveLength(4);
  });

  it('one tag page over 4 MiB: LIMIT_EXCEEDED', async () => {
    const long = 'x'.repeat(120);
    const body = JSON.stringify({ name: 'r/x', tags: Array.from({ length: 40_000 }, (_, i) => `${long}${i}`) });
    expect(body.length).toBeGreaterThan(4 * 1024 * 1024);
    const registry = await startFake((_req, res, url) => {
      if (url.pathname !== '/v2/r/x/tags/list') return notFound(res);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    });
    const err = await expectFailure(['tags', `${registry.host}/r/x`], { env, exit: 1 });
    expect(err.code).toBe('LIMIT_EXCEEDED');
  });
});

// ------------------------------------------------------------------ point 14: timeouts

/** A server that accepts connections and never says a word (not even a TLS handshake). */
async function silentServer(): Promise<{ host: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => connections };
}

describe('silence is bounded by --timeout', () => {
  it('a server that accepts and never answers: TIMEOUT after --timeout, without a second wait', async () => {
    const silent = await silentServer();
    const host = silent.host;
    const started = Date.now();
    const err = await expectFailure(['--timeout', '1', '--retries', '3', 'resolve', `${host}/r/x:v1`], { env, exit: 1, timeoutMs: 30_000 });
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(silent.connections()).toBe(1);
  });

  it('the library: a silent server times out once the timeout has passed, not twice that (the TLS handshake included)', async () => {
    const silent = await silentServer();
    const client = new RegistryClient(silent.host, { timeoutMs: 1500, retries: 4, backoffMs: 5 });
    cleanups.push(async () => client.close());
    const target = new RegistryTarget(client, 'r/x', false);
    const started = Date.now();
    await expect(target.resolve('v1')).rejects.toMatchObject({ code: 'TIMEOUT' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(2700);
    expect(silent.connections()).toBe(1);
  });

  /** A registry whose layer blob sends 10 bytes, then nothing, on every request. */
  async function stallingRegistry(img: Image): Promise<Fake> {
    return startFake((req, res, url) => {
      if (url.pathname === `/v2/r/x/blobs/${img.layerDigest}` && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': img.blobs.get(img.layerDigest)!.length });
        res.write(img.blobs.get(img.layerDigest)!.subarray(0, 10));
        return;
      }
      if (!serveImage(img, req, res, url)) notFound(res);
    });
  }
  const layerGets = (f: Fake, img: Image) => f.requests.filter((r) => r.method === 'GET' && r.path.endsWith(img.layerDigest));

  it('a blob that stalls mid-body: TIMEOUT after one resume, within a few --timeout periods', async () => {
    const img = tinyImage();
    const registry = await stallingRegistry(img);
    const out = path.join(await tmp(), 'out');
    const started = Date.now();
    const err = await expectFailure(['--timeout', '1', 'pull', '--no-referrers', `${registry.host}/r/x:v1`, out], { env, exit: 1, timeoutMs: 30_000 });
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(layerGets(registry, img)).toHaveLength(2);
  });

  it('the library: a stalled download is TIMEOUT after one resume, whatever the retry count', async () => {
    const img = tinyImage();
    const registry = await stallingRegistry(img);
    const client = new RegistryClient(registry.host, { timeoutMs: 400, retries: 4, backoffMs: 5 });
    cleanups.push(async () => client.close());
    const target = new RegistryTarget(client, 'r/x', false);
    const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: img.layerDigest, size: img.blobs.get(img.layerDigest)!.length };
    await expect(readAll(await target.fetch(desc))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(layerGets(registry, img)).toHaveLength(2);
  });

  it('a reader that holds a download back for longer than the timeout is not a stall', async () => {
    const big = randomBytes(4 * 1024 * 1024);
    const registry = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Length': big.length }).end(big);
    });
    const client = new RegistryClient(registry.host, { timeoutMs: 300, retries: 0 });
    cleanups.push(async () => client.close());
    const target = new RegistryTarget(client, 'r/x', false);
    // Where the download stands when the reader stops varies from run to run: several rounds.
    for (let round = 0; round < 6; round++) {
      const stream = await target.fetch({ mediaType: 'application/octet-stream', digest: digestOf(big), size: big.length });
      await new Promise((resolve) => setTimeout(resolve, 900));
      expect((await readAll(stream)).equals(big)).toBe(true);
    }
    expect(registry.requests).toHaveLength(6);
  });

  it('--timeout and --retries take sane numbers only', async () => {
    for (const args of [['--timeout', 'abc'], ['--timeout', '0'], ['--retries', '-1'], ['--retries', '1.5']]) {
      const err = await expectFailure([...args, 'resolve', '127.0.0.1:9/r/x:v1'], { env, exit: 2 });
      expect(err.code).toBe('USAGE');
    }
  });
});
