/**
 * For the registry benchmark: Debian's `docker-registry` (distribution 2.8)
 * on a free loopback port, plain HTTP, no auth, with its config and storage
 * in a temp directory of its own, so every measured run can start from an
 * empty registry. The same configuration as test/helpers/registry.ts uses
 * for its plain variant; that helper also does auth, TLS and fault
 * injection, which a benchmark must not pay for, so this is its small
 * plain-JavaScript sibling rather than an import of it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function probe(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
  });
}

/** Start a registry under `parent`; resolves with `{ host, pid, stop() }` once `/v2/` answers. stop() also deletes its storage. */
export async function startRegistry(parent) {
  const dir = await mkdtemp(path.join(parent, 'registry-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', (err) => (stderr += `\n${err.message} (install it: apt-get install -y docker-registry)`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited: ${stderr}`);
    }
    if ((await probe(port)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on port ${port} within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: `127.0.0.1:${port}`, pid: child.pid, stop };
}
