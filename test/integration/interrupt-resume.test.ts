/**
 * Ctrl-C in the middle of a pull, and the pull after it. A real registry
 * (distribution 2.8) holds an image with a 24 MiB layer; a small proxy in
 * this process sends the first STALL_AT bytes of that layer and then
 * nothing, so the test knows exactly how much arrived when it sends SIGINT
 * (it waits until the download's temp file holds those bytes):
 *
 * - the command ends with 130, its temp files and its write lease are gone,
 *   and the bytes it had are kept as `.ocikit-partial-sha256-<hex>`;
 * - the next pull asks for the rest with `Range: bytes=STALL_AT-`, gets a
 *   206, reports `resumedBytes` and the layout verifies;
 * - the same for copy stopped by SIGTERM, and for a pull that ends in
 *   TIMEOUT because the registry went quiet;
 * - a registry that ignores Range (answers 200) and a partial file holding
 *   the wrong bytes both end in a complete, verified blob (the download
 *   starts over);
 * - gc removes partial downloads.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterFile, jsonDocument, ocikit } from '../helpers/cli.js';
import { spawnOcikit } from '../helpers/crash.js';
import { closeServer, listen, startRegistry } from '../helpers/registry.js';
import { makeImageLayout, type MadeImage } from '../helpers/image-layouts.js';
import { blobFile } from './_support.js';

const { cleanups, tmp } = afterFile();
const env = { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config' };
const LAYER_BYTES = 24 * 1024 * 1024;
const STALL_AT = 5 * 1024 * 1024 + 12345;

type Mode = 'pass' | 'stall' | 'ignore-range';

interface Proxy {
  host: string;
  mode: Mode;
  /** Layer GETs: their Range header and the status sent back. */
  layerGets: Array<{ range?: string; status?: number }>;
}

let image: MadeImage;
let layer: { digest: string; size: number };
let proxy: Proxy;

/** A proxy in front of the registry that, in `stall` mode, sends STALL_AT bytes of the layer and then nothing. */
async function startProxy(upstream: string): Promise<Proxy> {
  const state: Proxy = { host: '', mode: 'pass', layerGets: [] };
  const agent = new http.Agent({ keepAlive: false });
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const isLayer = req.method === 'GET' && req.url === `/v2/r/big/blobs/${layer.digest}`;
    const headers = { ...req.headers, host: upstream };
    const record: { range?: string; status?: number } = { range: req.headers.range };
    if (isLayer) state.layerGets.push(record);
    if (isLayer && state.mode === 'ignore-range') delete headers.range;
    const [h, p] = upstream.split(':') as [string, string];
    const up = http.request({ host: h, port: Number(p), method: req.method, path: req.url, headers, agent }, (upRes) => {
      record.status = upRes.statusCode;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (!(isLayer && state.mode === 'stall')) {
        upRes.pipe(res);
        return;
      }
      let sent = 0;
      upRes.on('data', (c: Buffer) => {
        if (sent >= STALL_AT) return;
        const part = c.subarray(0, STALL_AT - sent);
        sent += part.length;
        res.write(part);
        if (sent >= STALL_AT) upRes.destroy(); // and never another byte: the client waits
      });
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    agent.destroy();
    await closeServer(server);
  });
  state.host = `127.0.0.1:${port}`;
  return state;
}

beforeAll(async () => {
  const registry = await startRegistry();
  cleanups.push(() => registry.stop());
  const src = path.join(await tmp(), 'src');
  await mkdir(src);
  image = await makeImageLayout(src, { tag: 'v1', seed: 'interrupt-resume', layerBytes: LAYER_BYTES });
  layer = image.blobs.find((b) => b.size === LAYER_BYTES)!;
  const pushed = await ocikit(['push', src, `${registry.host}/r/big`], { env });
  expect(pushed.code, pushed.stderr).toBe(0);
  proxy = await startProxy(registry.host);
}, 120_000);

const partialName = () => `.ocikit-partial-sha256-${layer.digest.slice('sha256:'.length)}`;

/** Pull through the proxy into `out`, with --json; the parsed result. */
async function pull(out: string): Promise<{ resumedBytes: number }> {
  const r = await ocikit(['pull', '--json', `${proxy.host}/r/big:v1`, out], { env, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return jsonDocument<{ resumedBytes: number }>(r);
}

async function verifies(out: string): Promise<void> {
  const r = await ocikit(['verify', out], { env, timeoutMs: 120_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect((await stat(blobFile(out, layer.digest))).size).toBe(LAYER_BYTES);
}

/** Wait until `dir` holds a temp file of exactly `bytes` bytes (all that the stalled download will ever get). */
async function waitForTempFileOf(dir: string, bytes: number, ended: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith('.ocikit-tmp-')) continue;
      const st = await stat(path.join(dir, name)).catch(() => undefined);
      if (st?.size === bytes) return;
    }
    if (ended() || Date.now() > deadline) throw new Error(`no temp file of ${bytes} bytes appeared in ${dir}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('an interrupted pull resumes', () => {
  it('SIGINT mid-blob: exit 130, temp files and lease gone, the bytes kept; the next pull resumes them with Range and verifies', { timeout: 180_000 }, async () => {
    const out = path.join(await tmp(), 'out');
    proxy.mode = 'stall';
    proxy.layerGets.length = 0;
    const proc = spawnOcikit(['pull', '--json', `${proxy.host}/r/big:v1`, out], env);
    let ended = false;
    void proc.exited.then(() => (ended = true));
    await waitForTempFileOf(out, STALL_AT, () => ended);
    proc.child.kill('SIGINT');
    const exit = await proc.exited;
    expect(exit.code, proc.output().stderr).toBe(130);

    const names = await readdir(out);
    expect(names.filter((n) => n.startsWith('.ocikit-tmp-'))).toEqual([]);
    const leases = existsSync(path.join(out, '.ocikit-leases')) ? await readdir(path.join(out, '.ocikit-leases')) : [];
    expect(leases).toEqual([]);
    expect(names).toContain(partialName());
    expect((await stat(path.join(out, partialName()))).size).toBe(STALL_AT);

    proxy.mode = 'pass';
    proxy.layerGets.length = 0;
    const result = await pull(out);
    expect(result.resumedBytes).toBe(STALL_AT);
    expect(proxy.layerGets).toEqual([{ range: `bytes=${STALL_AT}-`, status: 206 }]);
    expect(await readdir(out)).not.toContain(partialName());
    await verifies(out);
  });

  it('copy, stopped by SIGTERM mid-blob: exit 143, the bytes kept; the next copy resumes them', { timeout: 180_000 }, async () => {
    const out = path.join(await tmp(), 'out');
    proxy.mode = 'stall';
    proxy.layerGets.length = 0;
    const proc = spawnOcikit(['copy', '--json', `${proxy.host}/r/big:v1`, `oci:${out}`], env);
    let ended = false;
    void proc.exited.then(() => (ended = true));
    await waitForTempFileOf(out, STALL_AT, () => ended);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code, proc.output().stderr).toBe(143);
    expect((await readdir(out)).filter((n) => n.startsWith('.ocikit-tmp-'))).toEqual([]);
    expect((await stat(path.join(out, partialName()))).size).toBe(STALL_AT);

    proxy.mode = 'pass';
    proxy.layerGets.length = 0;
    const r = await ocikit(['copy', '--json', `${proxy.host}/r/big:v1`, `oci:${out}`], { env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonDocument<{ resumedBytes: number }>(r).resumedBytes).toBe(STALL_AT);
    expect(proxy.layerGets).toEqual([{ range: `bytes=${STALL_AT}-`, status: 206 }]);
    await verifies(out);
  });

  it('a registry that goes quiet mid-blob: TIMEOUT, the bytes kept in the existing layout; the next pull resumes them', { timeout: 120_000 }, async () => {
    const out = path.join(await tmp(), 'out');
    expect((await ocikit(['init', out])).code).toBe(0);
    proxy.mode = 'stall';
    proxy.layerGets.length = 0;
    // The stalled download is resumed once (from STALL_AT), stalls again after as many bytes, and gives up.
    const r = await ocikit(['--timeout', '1', 'pull', '--json', `${proxy.host}/r/big:v1`, out], { env, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(jsonDocument<{ error: { code: string } }>(r).error.code).toBe('TIMEOUT');
    expect((await stat(path.join(out, partialName()))).size).toBe(2 * STALL_AT);

    proxy.mode = 'pass';
    proxy.layerGets.length = 0;
    expect((await pull(out)).resumedBytes).toBe(2 * STALL_AT);
    expect(proxy.layerGets).toEqual([{ range: `bytes=${2 * STALL_AT}-`, status: 206 }]);
    await verifies(out);
  });

  it('a registry that ignores Range: the download starts over and verifies (resumedBytes 0)', { timeout: 120_000 }, async () => {
    const out = path.join(await tmp(), 'out');
    expect((await ocikit(['init', out])).code).toBe(0);
    const whole = await readFile(blobFile(image.dir, layer.digest));
    await writeFile(path.join(out, partialName()), whole.subarray(0, STALL_AT));
    proxy.mode = 'ignore-range';
    proxy.layerGets.length = 0;
    const result = await pull(out);
    proxy.mode = 'pass';
    expect(result.resumedBytes).toBe(0);
    expect(proxy.layerGets.map((g) => g.status)).toEqual([200]);
    await verifies(out);
  });

  it('a partial file holding the wrong bytes: the blob is downloaded again from its start and verifies', { timeout: 120_000 }, async () => {
    const out = path.join(await tmp(), 'out');
    expect((await ocikit(['init', out])).code).toBe(0);
    await writeFile(path.join(out, partialName()), Buffer.alloc(STALL_AT, 0x41));
    proxy.mode = 'pass';
    proxy.layerGets.length = 0;
    const result = await pull(out);
    expect(result.resumedBytes).toBe(0);
    expect(proxy.layerGets).toEqual([
      { range: `bytes=${STALL_AT}-`, status: 206 },
      { range: undefined, status: 200 },
    ]);
    expect(await readdir(out)).not.toContain(partialName());
    await verifies(out);
  });

  it('gc removes partial downloads', async () => {
    const out = path.join(await tmp(), 'out');
    expect((await ocikit(['init', out])).code).toBe(0);
    await writeFile(path.join(out, partialName()), Buffer.alloc(1000, 1));
    const dry = await ocikit(['gc', '--dry-run', '--json', out]);
    expect(jsonDocument<{ removedPartials: Array<{ name: string }> }>(dry).removedPartials.map((p) => p.name)).toEqual([partialName()]);
    expect(existsSync(path.join(out, partialName()))).toBe(true);
    const r = await ocikit(['gc', '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonDocument<{ removedPartials: Array<{ name: string; size: number }> }>(r).removedPartials).toEqual([{ name: partialName(), size: 1000 }]);
    expect(existsSync(path.join(out, partialName()))).toBe(false);
  });
});
