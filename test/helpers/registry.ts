/**
 * A real registry for the tests: Debian's `docker-registry` (the CNCF
 * distribution registry 2.8, which has no referrers API) started on a free
 * loopback port with a config and storage of its own in a temp directory.
 * Variants: no auth, htpasswd (Basic), token auth against a small token
 * server in this process, and TLS with a test CA. Never a system service.
 *
 * Also here: a fault-injecting proxy to put between ocikit and the registry,
 * and the small certificate helpers the variants need (openssl).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './cli.js';
import { requireTool } from './peers.js';

export interface RegistryOptions {
  /** Basic auth with these users (htpasswd file, bcrypt). */
  htpasswd?: Record<string, string>;
  /** Token auth: users the token server accepts (Basic to the realm). */
  token?: { users: Record<string, string>; expiresIn?: number };
  /** Serve HTTPS with a certificate from a test CA (`caFile`). */
  tls?: boolean;
}

export interface RegistryHandle {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  dir: string;
  /** The CA certificate that signed the registry's TLS certificate (tls variant). */
  caFile?: string;
  /** Token server (token variant): every token it issued, in order. */
  tokensIssued?: () => string[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A bcrypt htpasswd line: `htpasswd -nbB` where installed, else Python's crypt (glibc bcrypt).
 * Cost 4, the minimum: the registry checks the hash on every request, and the default cost
 * makes a push of a few dozen requests take tens of seconds.
 */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  try {
    const htpasswd = requireTool('htpasswd');
    const res = await run(htpasswd, ['-nbB', '-C', '4', user, password]);
    if (res.code === 0) return res.stdout.trim();
  } catch {
    // not installed: try Python
  }
  const py = await run('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password]);
  if (py.code !== 0 || !py.stdout.startsWith('$2')) {
    throw new Error('cannot make a bcrypt htpasswd line: install apache2-utils (apt-get install -y apache2-utils)');
  }
  return `${user}:${py.stdout.trim()}`;
}

/** A CA and a server certificate for 127.0.0.1/localhost, written into `dir`. */
export async function makeTestCa(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const openssl = requireTool('openssl');
  const f = (n: string) => path.join(dir, n);
  const ok = async (args: string[]) => {
    const res = await run(openssl, args);
    if (res.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${res.stderr}`);
  };
  await ok(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=ocikit test CA']);
  await ok(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await ok(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('san.ext')]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

/** Start docker-registry; resolves once `/v2/` answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryHandle> {
  const bin = requireTool('docker-registry');
  const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-registry-'));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
    ];
    let caFile: string | undefined;
    if (opts.tls) {
      const ca = await makeTestCa(dir);
      caFile = ca.caFile;
      lines.push('  tls:', `    certificate: ${ca.certFile}`, `    key: ${ca.keyFile}`);
    }
    let tokensIssued: (() => string[]) | undefined;
    if (opts.htpasswd) {
      const entries = await Promise.all(Object.entries(opts.htpasswd).map(([u, p]) => htpasswdLine(u, p)));
      await writeFile(path.join(dir, 'htpasswd'), `${entries.join('\n')}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: ocikit-test', `    path: ${path.join(dir, 'htpasswd')}`);
    } else if (opts.token) {
      const server = await startTokenServer(dir, opts.token.users, opts.token.expiresIn ?? 300);
      cleanups.push(server.stop);
      tokensIssued = server.issued;
      lines.push(
        'auth:',
        '  token:',
        `    realm: http://127.0.0.1:${server.port}/token`,
        '    service: ocikit-test-registry',
        '    issuer: ocikit-test-issuer',
        `    rootcertbundle: ${server.certFile}`,
      );
    }
    const config = path.join(dir, 'config.yml');
    await writeFile(config, `${lines.join('\n')}\n`);
    const child = spawn(bin, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    const stop = async () => {
      await stopChild(child);
      for (const c of cleanups) await c();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitForRegistry(port, opts.tls === true, caFile, child, () => stderr);
    } catch (err) {
      await stop();
      throw err;
    }
    return { host: `127.0.0.1:${port}`, port, dir, caFile, tokensIssued, stop };
  } catch (err) {
    for (const c of cleanups) await c();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitForRegistry(port: number, tls: boolean, caFile: string | undefined, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  const ca = caFile ? await readFile(caFile) : undefined;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    const status = await probe(port, tls, ca);
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on port ${port} within 20 s: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function probe(port: number, tls: boolean, ca?: Buffer): Promise<number | undefined> {
  const mod = tls ? await import('node:https') : http;
  return new Promise((resolve) => {
    const req = mod.request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

// ------------------------------------------------------------ token server

interface TokenServer {
  port: number;
  certFile: string;
  issued: () => string[];
  stop: () => Promise<void>;
}

/**
 * The distribution token flow's auth server: Basic credentials in, an RS256
 * JWT out, signed by a key whose self-signed certificate the registry trusts
 * (`rootcertbundle`, and `x5c` in the JWT header). Grants what is asked.
 */
async function startTokenServer(dir: string, users: Record<string, string>, expiresIn: number): Promise<TokenServer> {
  const openssl = requireTool('openssl');
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  const res = await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ocikit test token signer']);
  if (res.code !== 0) throw new Error(`openssl failed: ${res.stderr}`);
  const key = await readFile(keyFile, 'utf8');
  const certDer = pemToDer(await readFile(certFile, 'utf8'));
  const issued: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let subject = '';
    if (auth?.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(/:(.*)/s) as [string, string];
      if (users[u] !== p) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      subject = u;
    } else {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"credentials required"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      // `registry:catalog:*` is the catalog's scope (repo ls); everything else is a repository's.
      const m = /^(repository|registry):([^:]+):(.+)$/.exec(s);
      return m ? [{ type: m[1]!, name: m[2]!, actions: m[3]!.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: 'ocikit-test-issuer', sub: subject, aud: url.searchParams.get('service'), exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key);
    const token = `${signingInput}.${b64url(signature)}`;
    issued.push(token);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  const port = await listen(server);
  return { port, certFile, issued: () => [...issued], stop: () => closeServer(server) };
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

// ------------------------------------------------------------ fault proxy

/**
 * What the proxy does with one request: pass it on, answer it itself, cut
 * the connection, pass it on but damage the answer, or pass it on after a
 * change to the request.
 */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'reset' }
  /** Forward, then cut the connection after `after` bytes of the response body. */
  | { kind: 'truncate'; after: number }
  /** Forward, then replace the response body by bytes of the same length. */
  | { kind: 'corrupt' }
  /** Forward, then replace a response header. */
  | { kind: 'header'; name: string; value: string };

export interface ProxyRequestInfo {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** How many requests with this method and path came before (0 for the first). */
  seen: number;
}

export interface FaultProxy {
  host: string;
  port: number;
  /** Every request that reached the proxy, in order. */
  log: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders; status?: number }>;
  setRule(rule: (req: ProxyRequestInfo) => Fault): void;
  stop(): Promise<void>;
}

/** A plain-HTTP proxy in front of `upstream` (`127.0.0.1:PORT`, plain HTTP) that injects faults. */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const [upHost, upPort] = upstream.split(':') as [string, string];
  const counts = new Map<string, number>();
  let rule: (req: ProxyRequestInfo) => Fault = () => ({ kind: 'pass' });
  const log: FaultProxy['log'] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const key = `${req.method} ${req.url}`;
    const seen = counts.get(key) ?? 0;
    counts.set(key, seen + 1);
    const entry: FaultProxy['log'][number] = { method: req.method!, path: req.url!, headers: req.headers };
    log.push(entry);
    const fault = rule({ method: req.method!, path: req.url!, headers: req.headers, seen });
    if (fault.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'respond') {
      req.resume();
      entry.status = fault.status;
      res.writeHead(fault.status, { 'Content-Type': 'application/json', ...(fault.headers ?? {}) }).end(fault.body ?? '');
      return;
    }
    const up = http.request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: { ...req.headers, host: upstream }, agent }, (upRes) => {
      entry.status = upRes.statusCode;
      const headers = { ...upRes.headers };
      // Keep Location pointing at the proxy, so every request of an upload passes through it.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${upstream}`, '');
      if (fault.kind === 'header') headers[fault.name.toLowerCase()] = fault.value;
      if (fault.kind === 'corrupt') {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          const bad = Buffer.alloc(body.length, 0x41);
          res.writeHead(upRes.statusCode ?? 502, headers).end(bad);
        });
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, headers);
      if (fault.kind === 'truncate') {
        let sent = 0;
        upRes.on('data', (c: Buffer) => {
          if (sent >= fault.after) return;
          const part = c.subarray(0, fault.after - sent);
          sent += part.length;
          res.write(part);
          if (sent >= fault.after) setTimeout(() => res.socket?.destroy(), 20);
        });
        return;
      }
      upRes.pipe(res);
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    port,
    log,
    /** A new rule starts a new log and new counts. */
    setRule: (r) => {
      rule = r;
      counts.clear();
      log.length = 0;
    },
    stop: async () => {
      agent.destroy();
      await closeServer(server);
    },
  };
}

/** sha256 of bytes, as `sha256:<hex>`. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
