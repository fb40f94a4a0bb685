/**
 * Helpers for the `ocikit serve` tests: start the built CLI as a child on a
 * free loopback port (read from its first stdout line), and talk raw HTTP to
 * it with node:http, which sends paths exactly as written (fetch would
 * normalise `/v2/../..` before it left the process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, REPO_ROOT } from '../helpers/cli.js';

export interface ServeProcess {
  port: number;
  /** `127.0.0.1:PORT`, as registry references write it. */
  host: string;
  child: ChildProcess;
  stderr(): string;
  /** Send `signal` (unless the process already exited) and wait for the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** The exit status, once the process ends by itself. */
  exited: Promise<number>;
}

const running = new Set<ServeProcess>();

/** `ocikit serve ARGS --addr 127.0.0.1:0`; resolves once it prints `listening on http://...`. */
export function startServe(args: string[], timeoutMs = 20_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--addr', '127.0.0.1:0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  // Drain both pipes for the child's whole life: a full pipe would block it.
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ocikit serve ${args.join(' ')} printed no address within ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      const before = out;
      out += c.toString('utf8');
      if (before.includes('\n') || !out.includes('\n')) return;
      clearTimeout(timer);
      const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (!m) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line from ocikit serve: ${JSON.stringify(out)}`));
        return;
      }
      const port = Number(m[1]);
      const proc: ServeProcess = {
        port,
        host: `127.0.0.1:${port}`,
        child,
        stderr: () => err,
        exited,
        stop: async (signal = 'SIGTERM') => {
          running.delete(proc);
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      };
      running.add(proc);
      resolve(proc);
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ocikit serve ${args.join(' ')} exited ${code} before listening; stderr:\n${err}`));
    });
  });
}

/** Stop every server still running (afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGTERM')));
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
  /** `errors[0].code` of an OCI error body. */
  errorCode(): string | undefined;
}

export interface HttpOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request to the server, path sent byte for byte. */
export function http(server: { port: number }, method: string, pathAndQuery: string, opts: HttpOptions = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = String(body.length);
    const req = request({ host: '127.0.0.1', port: server.port, method, path: pathAndQuery, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buf,
          text,
          json: <T>() => JSON.parse(text) as T,
          errorCode: () => {
            try {
              return (JSON.parse(text) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
            } catch {
              return undefined;
            }
          },
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file under `dir` (relative path → bytes), symlinks as their target: "byte-identical" means equal snapshots. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) {
        out.set(`${p}/`, 'dir');
        await walk(p);
      } else if (e.isFile()) out.set(p, (await readFile(path.join(dir, p))).toString('base64'));
      else out.set(p, 'other');
    }
  };
  await walk('');
  return out;
}
