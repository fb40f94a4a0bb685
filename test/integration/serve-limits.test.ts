/**
 * `ocikit serve` against slow and greedy clients: downloads that are never
 * read must not lock other clients out, a stalled transfer (either way) is
 * cut and releases what it held, and `--writable` uploads are capped in
 * size (413), number (429) and idle time (the session and its temp file
 * go). Limits are set small so that every case takes well under a second
 * of waiting; the oracles are status codes, OCI error codes, the bytes a
 * client receives and snapshots of the layout.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectedDigests, FIXTURES, ocikit, tempDir } from '../helpers/cli.js';
import { copyLayout, ocikitOk, once } from '../helpers/peers.js';
import { LayoutDir, startServer, type RequestEvent } from '../../src/index.js';
import { http, snapshot, startServe, stopAllServers } from './serve-helpers.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A blob well beyond what a loopback socket's buffers take from a client
 * that does not read (about 3 MiB here), so its send really stalls.
 */
const BIG = Buffer.alloc(16 * MiB, 0x5a);

const setup = once(async () => {
  const { dir, cleanup } = await tempDir('ocikit-serve-limits-');
  const layout = await copyLayout(path.join(FIXTURES, 'single-image'), path.join(dir, 'lim'));
  const pushed = await ocikit(['blob', 'push', layout, '-'], { input: BIG });
  expect(pushed.code, pushed.stderr).toBe(0);
  const e = (await expectedDigests())['single-image']!;
  return { dir, cleanup, layout, config: e['config'] as string, image: e['image'] as string };
});

afterAll(async () => {
  await stopAllServers();
  await (await setup().catch(() => undefined))?.cleanup();
});

/**
 * A client that asks for `urlPath` and stops reading after the first bytes
 * of the answer. `started` resolves once those arrived (the send has begun).
 */
function stalledGet(port: number, urlPath: string): { socket: Socket; started: Promise<void>; received: () => number; gone: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let received = 0;
  const gone = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const started = new Promise<void>((resolve) =>
    socket.once('data', () => {
      socket.pause();
      resolve();
    }),
  );
  socket.on('data', (c: Buffer) => (received += c.length));
  return { socket, started, received: () => received, gone };
}

/** Resolves once `n` of `promises` have. */
function atLeast(n: number, promises: Array<Promise<unknown>>): Promise<void> {
  let done = 0;
  return new Promise((resolve) => promises.forEach((p) => void p.then(() => ++done === n && resolve())));
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The layout's upload temp files. */
async function tempFiles(layout: string): Promise<string[]> {
  return (await readdir(layout)).filter((n) => n.startsWith('.ocikit-tmp-'));
}

describe('slow downloads', { timeout: 60_000 }, () => {
  it('40 clients that never read their blob downloads do not delay a 41st: a small blob and a manifest arrive at once', async () => {
    const { layout, config, image } = await setup();
    // The default limits (32 blob slots, 30 s stall windows): nothing here relies on a stalled send being cut.
    const server = await startServe([layout]);
    const stalled = Array.from({ length: 40 }, () => stalledGet(server.port, `/v2/lim/blobs/${sha256(BIG)}`));
    try {
      // Every blob slot is taken by a client that does not read (the other 8 wait for one).
      await within(20_000, '32 downloads to start', atLeast(32, stalled.map((s) => s.started)));
      const blob = await within(10_000, 'the small blob', http(server, 'GET', `/v2/lim/blobs/${config}`));
      expect(blob.status).toBe(200);
      expect(sha256(blob.body)).toBe(config);
      const manifest = await within(10_000, 'the manifest', http(server, 'GET', `/v2/lim/manifests/v1`));
      expect(manifest.status).toBe(200);
      expect(sha256(manifest.body)).toBe(image);
    } finally {
      for (const s of stalled) s.socket.destroy();
      expect(await server.stop()).toBe(0);
    }
  });

  it('a stalled download is cut after the stall window and frees its slot for the next client', async () => {
    const { layout } = await setup();
    const events: RequestEvent[] = [];
    // One slot, so the second download can only start once the stalled one has let go of it.
    const server = await startServer(await LayoutDir.open(layout), { port: 0, repository: 'lim', maxBlobStreams: 1, stall: { windowMs: 300 }, onRequest: (e) => events.push(e) });
    try {
      const staller = stalledGet(server.port, `/v2/lim/blobs/${sha256(BIG)}`);
      await staller.started;
      const second = await within(10_000, 'the second download', http(server, 'GET', `/v2/lim/blobs/${sha256(BIG)}`));
      expect(second.status).toBe(200);
      expect(sha256(second.body)).toBe(sha256(BIG));
      // The stalled client, reading again, finds its answer cut short.
      staller.socket.resume();
      await within(5_000, 'the stalled connection to close', staller.gone);
      expect(staller.received()).toBeLessThan(BIG.length);
      const cut = events.find((e) => e.error !== undefined);
      expect(cut?.error).toMatchObject({ code: 'TIMEOUT' });
    } finally {
      await server.close();
    }
  });
});

describe('serve --writable limits', { timeout: 60_000 }, () => {
  const freshLayout = async (name: string) => {
    const { dir } = await setup();
    const layout = path.join(dir, name);
    await ocikitOk(['init', layout]);
    return layout;
  };

  it('--max-blob-size: bodies that take a blob past it get 413 SIZE_INVALID (Content-Length, streamed, across chunks, POST and PUT); the session and its temp file go', async () => {
    const layout = await freshLayout('capped');
    const server = await startServe([layout, '--writable', '--max-blob-size', '1MiB']);
    const before = await snapshot(layout);
    const open = async () => (await http(server, 'POST', '/v2/capped/blobs/uploads/')).headers['location'] as string;
    const over = Buffer.alloc(MiB + 1, 1);

    // Declared too large by Content-Length.
    let location = await open();
    let res = await http(server, 'PATCH', location, { body: over });
    expect([res.status, res.errorCode()]).toEqual([413, 'SIZE_INVALID']);
    expect((await http(server, 'GET', location)).errorCode()).toBe('BLOB_UPLOAD_UNKNOWN');

    // Streamed without a length: counted as it arrives.
    location = await open();
    const streamed = await new Promise<{ status: number; code?: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, method: 'PATCH', path: location, agent: false, headers: { 'Transfer-Encoding': 'chunked' } }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString('utf8')));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, code: (JSON.parse(text) as { errors: Array<{ code: string }> }).errors[0]!.code }));
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(256 * 1024, 2));
      req.end();
    });
    expect(streamed).toEqual({ status: 413, code: 'SIZE_INVALID' });
    expect((await http(server, 'GET', location)).errorCode()).toBe('BLOB_UPLOAD_UNKNOWN');

    // The cap is on the blob, not on each chunk.
    location = await open();
    res = await http(server, 'PATCH', location, { body: Buffer.alloc(768 * 1024, 3), headers: { 'Content-Range': `0-${768 * 1024 - 1}` } });
    expect(res.status).toBe(202);
    res = await http(server, 'PATCH', location, { body: Buffer.alloc(512 * 1024, 3), headers: { 'Content-Range': `${768 * 1024}-${1280 * 1024 - 1}` } });
    expect([res.status, res.errorCode()]).toEqual([413, 'SIZE_INVALID']);

    // Monolithic POST, and a closing PUT that carries the last bytes.
    res = await http(server, 'POST', `/v2/capped/blobs/uploads/?digest=${sha256(over)}`, { body: over });
    expect([res.status, res.errorCode()]).toEqual([413, 'SIZE_INVALID']);
    location = await open();
    expect((await http(server, 'PATCH', location, { body: Buffer.alloc(MiB, 1) })).status).toBe(202);
    res = await http(server, 'PUT', `${location}?digest=${sha256(over)}`, { body: Buffer.alloc(1, 1) });
    expect([res.status, res.errorCode()]).toEqual([413, 'SIZE_INVALID']);

    expect(await snapshot(layout)).toEqual(before);
    // Exactly the cap is accepted.
    const full = Buffer.alloc(MiB, 4);
    res = await http(server, 'POST', `/v2/capped/blobs/uploads/?digest=${sha256(full)}`, { body: full });
    expect(res.status).toBe(201);
    expect(await tempFiles(layout)).toEqual([]);
    expect(await server.stop()).toBe(0);
  });

  it('--upload-idle-timeout: an idle session is dropped with its temp file; later requests on it are 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const layout = await freshLayout('idle');
    const server = await startServe([layout, '--writable', '--upload-idle-timeout', '0.3']);
    const location = (await http(server, 'POST', '/v2/idle/blobs/uploads/')).headers['location'] as string;
    expect((await http(server, 'PATCH', location, { body: 'some bytes' })).status).toBe(202);
    expect(await tempFiles(layout)).toHaveLength(1);
    await vi.waitFor(async () => expect(await tempFiles(layout)).toEqual([]), { timeout: 5_000, interval: 50 });
    const res = await http(server, 'PATCH', location, { body: 'more' });
    expect([res.status, res.errorCode()]).toEqual([404, 'BLOB_UPLOAD_UNKNOWN']);
    expect(await server.stop()).toBe(0);
  });

  it('--max-uploads: one session too many is 429 TOOMANYREQUESTS with Retry-After; finishing one makes room', async () => {
    const layout = await freshLayout('many');
    const server = await startServe([layout, '--writable', '--max-uploads', '2']);
    const first = await http(server, 'POST', '/v2/many/blobs/uploads/');
    expect((await http(server, 'POST', '/v2/many/blobs/uploads/')).status).toBe(202);
    const refused = await http(server, 'POST', '/v2/many/blobs/uploads/');
    expect([refused.status, refused.errorCode()]).toEqual([429, 'TOOMANYREQUESTS']);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await http(server, 'DELETE', first.headers['location'] as string)).status).toBe(204);
    expect((await http(server, 'POST', '/v2/many/blobs/uploads/')).status).toBe(202);
    expect(await server.stop()).toBe(0);
  });

  it('--stall-timeout: an upload or manifest PUT whose body stops arriving is cut; the upload session and its temp file go', async () => {
    const layout = await freshLayout('trickle');
    const server = await startServe([layout, '--writable', '--stall-timeout', '0.3']);
    const before = await snapshot(layout);
    /** Send the head of a request announcing `length` bytes of body, 1 KiB of it, and then nothing more; resolves when the server hangs up. */
    const stallBody = async (head: string, length: number) => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(`${head} HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: ${length}\r\n\r\n`);
      socket.write(Buffer.alloc(1024, 0x20));
      await within(5_000, `the server to cut the stalled ${head}`, closed);
    };
    const location = (await http(server, 'POST', '/v2/trickle/blobs/uploads/')).headers['location'] as string;
    await stallBody(`PATCH ${location}`, MiB);
    await vi.waitFor(async () => expect(await tempFiles(layout)).toEqual([]), { timeout: 5_000, interval: 50 });
    expect((await http(server, 'GET', location)).errorCode()).toBe('BLOB_UPLOAD_UNKNOWN');
    await stallBody('PUT /v2/trickle/manifests/v1', 100_000);
    expect(await snapshot(layout)).toEqual(before);
    expect(await server.stop()).toBe(0);
  });

  it('limits that are not positive numbers or sizes are usage errors (exit 2)', async () => {
    const layout = await freshLayout('usage');
    for (const args of [
      ['--max-blob-size', 'lots'],
      ['--max-blob-size', '0'],
      ['--stall-timeout', '0'],
      ['--max-uploads', '1.5'],
      ['--upload-idle-timeout', '0'],
    ]) {
      const res = await ocikit(['serve', layout, '--writable', '--addr', '127.0.0.1:0', ...args]);
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).toBe(2);
      expect(res.stderr).toMatch(/^ocikit: /);
    }
  });
});
