/**
 * `--timeout` and `--retries` as a user meets them, against small fakes on
 * loopback that count what reaches them:
 *
 * - a server that accepts and never answers, and one that sends a
 *   manifest's headers and then stalls in its body, both end in one line
 *   with TIMEOUT within a few --timeout periods;
 * - retries repeat only idempotent requests: a GET answered 503 is tried
 *   1 + N times (`--retries 0` is one try), the POST that opens an upload
 *   exactly once;
 * - both flags are checked on every command, a registry in sight or not.
 */
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterFile, FIXTURES, jsonDocument, ocikit, type JsonError } from '../helpers/cli.js';

const { cleanups, tmp } = afterFile();
const env = { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config' };

/** Run with --json; must exit `exit`; the error document. */
async function fails(args: string[], exit: number): Promise<JsonError['error']> {
  const r = await ocikit([...args, '--json'], { env, timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stderr).toMatch(/^ocikit: [^\n]+\n(hint: [^\n]+\n)?$/);
  return jsonDocument<JsonError>(r).error;
}

/** A plain-HTTP fake registry on loopback that records each request as `METHOD path`. */
async function fake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`);
    handler(req, res);
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

describe('--timeout', () => {
  it('a server that accepts and never answers: TIMEOUT, one line, within a few seconds of --timeout 1', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const started = Date.now();
    const err = await fails(['--timeout', '1', 'resolve', `127.0.0.1:${(server.address() as net.AddressInfo).port}/r/x:v1`], 1);
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a manifest whose body stalls after the headers: TIMEOUT', async () => {
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '500', 'Docker-Content-Digest': `sha256:${'a'.repeat(64)}` });
      res.write('{"schemaVersion":2,'); // and nothing more
    });
    const started = Date.now();
    const err = await fails(['--timeout', '1', '--retries', '0', 'manifest', 'fetch', `${registry.host}/r/x:v1`], 1);
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('--retries', () => {
  const unavailable = (res: ServerResponse) => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');

  it('a GET answered 503 is tried 1 + N times; --retries 0 is one try', async () => {
    for (const [retries, tries] of [
      ['2', 3],
      ['0', 1],
    ] as const) {
      const registry = await fake((req, res) => (req.url === '/v2/' ? res.writeHead(200).end('{}') : unavailable(res)));
      const err = await fails(['--retries', retries, 'resolve', `${registry.host}/r/x:v1`], 1);
      expect(err.code).toBe('REGISTRY_ERROR');
      expect(registry.seen.filter((r) => r.startsWith('HEAD /v2/r/x/manifests/') || r.startsWith('GET /v2/r/x/manifests/'))).toHaveLength(tries);
    }
  });

  it('the POST that opens an upload is not repeated after a 503 (the server may have opened it)', async () => {
    const registry = await fake((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      unavailable(res);
    });
    const file = path.join(await tmp(), 'data.bin');
    await writeFile(file, 'some bytes for a blob');
    const err = await fails(['--retries', '3', 'blob', 'push', `${registry.host}/r/x`, file], 1);
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(registry.seen.filter((r) => r === 'POST /v2/r/x/blobs/uploads/')).toHaveLength(1);
  });
});

describe('the flags are checked on every command', () => {
  it('a bad --timeout or --retries is a usage error, also where no registry is involved', async () => {
    const layout = path.join(FIXTURES, 'single-image');
    for (const args of [['--timeout', 'abc'], ['--timeout', '0'], ['--timeout', ''], ['--retries', ''], ['--retries', '-1'], ['--retries', '1.5'], ['--retries', '0x2']]) {
      const err = await fails([...args, 'ls', layout], 2);
      expect(err.code).toBe('USAGE');
    }
  });
});
