/**
 * Authentication and TLS against real registries: htpasswd (Basic), the
 * token flow (Bearer, with a token server written for the test and the
 * registry configured with `auth: token:`), and TLS with a test CA. Every
 * run here uses --debug, and a last test checks that no password, Basic
 * credential or token ever appeared in anything ocikit printed.
 */
import { describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, expectedDigests, FIXTURES, isCleanError, ocikit, type RunOptions, type RunResult, tempDir } from '../helpers/cli.js';
import { indexTags, once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';

const USER = 'alice';
const PASSWORD = 'pa55-w0rd-sekrit-1234';
const { cleanups } = afterFile();

/** Everything ocikit printed in this file, for the secrets scan. */
const transcript: string[] = [];
async function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await ocikit(['--debug', ...args], { ...opts, env: { DOCKER_CONFIG: emptyDockerConfig, ...(opts.env ?? {}) } });
  transcript.push(res.stdout, res.stderr);
  return res;
}
async function ok(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(args, opts);
  if (res.code !== 0) throw new Error(`ocikit ${args.join(' ')} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return res;
}

/** Keep the developer's own ~/.docker out of the tests. */
let emptyDockerConfig = '/nonexistent-ocikit-docker-config';

async function tmp(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A registry with Basic auth, holding basic/img:v1 (pushed with --username/--password-stdin). */
const basicRegistry = once(async () => {
  const r = await startRegistry({ htpasswd: { [USER]: PASSWORD } });
  cleanups.push(r.stop);
  await ok(['push', '--username', USER, '--password-stdin', src, `${r.host}/basic/img`], { input: `${PASSWORD}\n` });
  return r;
});

const tokenRegistry = once(async () => {
  const r = await startRegistry({ token: { users: { [USER]: PASSWORD } } });
  cleanups.push(r.stop);
  return r;
});

const tlsRegistry = once(async () => {
  const r = await startRegistry({ tls: true });
  cleanups.push(r.stop);
  return r;
});

const image = async () => (await expectedDigests())['single-image']!['image'] as string;
const src = path.join(FIXTURES, 'with-referrers');

describe('Basic auth (htpasswd)', () => {
  it('--username with --password-stdin pushes and pulls', async () => {
    const reg = await basicRegistry();
    const dir = path.join(await tmp(), 'out');
    await ok(['pull', '--username', USER, '--password-stdin', `${reg.host}/basic/img:v1`, dir], { input: PASSWORD });
    expect(indexTags(dir).get('v1')).toBe(await image());
  });

  it('without credentials: UNAUTHORIZED, a clean one-line error, exit 1', async () => {
    const reg = await basicRegistry();
    const res = await run(['resolve', `${reg.host}/basic/img:v1`]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/requires authentication/);
  });

  it('a wrong password is refused with exit 1', async () => {
    const reg = await basicRegistry();
    const res = await run(['pull', '--username', USER, '--password-stdin', `${reg.host}/basic/img:v1`, path.join(await tmp(), 'x')], { input: 'wrong-password-9876' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/rejected the credentials/);
  });

  it('reads a docker config.json: "auth" as base64, and username/password', async () => {
    const reg = await basicRegistry();
    const dir = await tmp();
    const b64 = path.join(dir, 'b64.json');
    await writeFile(b64, JSON.stringify({ auths: { [`https://${reg.host}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    expect((await ok(['--registry-config', b64, 'resolve', `${reg.host}/basic/img:v1`])).stdout.trim()).toBe(await image());
    const plain = path.join(dir, 'plain.json');
    await writeFile(plain, JSON.stringify({ auths: { [reg.host]: { username: USER, password: PASSWORD } } }));
    expect((await ok(['--registry-config', plain, 'tags', `${reg.host}/basic/img`])).stdout).toContain('v1');
    // The default place: $DOCKER_CONFIG/config.json.
    const dockerDir = path.join(dir, 'docker');
    await mkdir(dockerDir);
    await writeFile(path.join(dockerDir, 'config.json'), await import('node:fs/promises').then((f) => f.readFile(b64)));
    expect((await ok(['resolve', `${reg.host}/basic/img:v1`], { env: { DOCKER_CONFIG: dockerDir } })).stdout.trim()).toBe(await image());
  });

  it('reads DOCKER_AUTH_CONFIG and credential helpers', async () => {
    const reg = await basicRegistry();
    const env = { DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }) };
    expect((await ok(['resolve', `${reg.host}/basic/img:v1`], { env })).stdout.trim()).toBe(await image());

    const dir = await tmp();
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const helper = path.join(bin, 'docker-credential-ocikittest');
    await writeFile(
      helper,
      `#!/bin/sh\nread host\nif [ "$1" = get ] && [ "$host" = "${reg.host}" ]; then printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$host"; else echo "credentials not found in native keychain"; exit 1; fi\n`,
    );
    await chmod(helper, 0o755);
    const config = path.join(dir, 'helpers.json');
    await writeFile(config, JSON.stringify({ credHelpers: { [reg.host]: 'ocikittest' } }));
    const pathEnv = { PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}` };
    expect((await ok(['--registry-config', config, 'resolve', `${reg.host}/basic/img:v1`], { env: pathEnv })).stdout.trim()).toBe(await image());
    const store = path.join(dir, 'store.json');
    await writeFile(store, JSON.stringify({ credsStore: 'ocikittest' }));
    expect((await ok(['--registry-config', store, 'resolve', `${reg.host}/basic/img:v1`], { env: pathEnv })).stdout.trim()).toBe(await image());
    // A helper that is not installed is a clear error.
    const missing = path.join(dir, 'missing.json');
    await writeFile(missing, JSON.stringify({ credsStore: 'not-installed-ocikit' }));
    // (Without --debug, which adds a stack trace to errors.)
    const res = await ocikit(['--registry-config', missing, 'resolve', `${reg.host}/basic/img:v1`], { env: { DOCKER_CONFIG: emptyDockerConfig } });
    transcript.push(res.stdout, res.stderr);
    expect(res.code).toBe(1);
    expect(isCleanError(res.stderr), res.stderr).toBe(true);
    expect(res.stderr).toMatch(/docker-credential-not-installed-ocikit/);
  });
});

describe('Bearer tokens (registry with auth: token)', () => {
  it('pushes and pulls with tokens from the realm, reusing them', async () => {
    const reg = await tokenRegistry();
    await ok(['push', '--username', USER, '--password-stdin', src, `${reg.host}/tok/img`], { input: PASSWORD });
    const afterPush = reg.tokensIssued!().length;
    // A whole push with referrers needs one token for pull,push on the repository (plus at most a couple of races).
    expect(afterPush).toBeGreaterThanOrEqual(1);
    expect(afterPush).toBeLessThanOrEqual(3);
    const dir = path.join(await tmp(), 'out');
    await ok(['pull', '--username', USER, '--password-stdin', `${reg.host}/tok/img:v1`, dir], { input: PASSWORD });
    expect(indexTags(dir).get('v1')).toBe(await image());
    const referrers = JSON.parse((await ok(['referrers', '--username', USER, '--password-stdin', `${reg.host}/tok/img:v1`], { input: PASSWORD })).stdout) as { manifests: unknown[] };
    expect(referrers.manifests).toHaveLength(2);
  });

  it('a token server that refuses the credentials gives UNAUTHORIZED, exit 1', async () => {
    const reg = await tokenRegistry();
    const res = await run(['resolve', '--username', USER, '--password-stdin', `${reg.host}/tok/img:v1`], { input: 'not-the-password' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/rejected the credentials/);
  });
});

describe('TLS with a test CA', () => {
  it('--ca-file makes the registry trusted; without it verification fails; --insecure skips it', async () => {
    const reg = await tlsRegistry();
    await ok(['--ca-file', reg.caFile!, 'push', path.join(FIXTURES, 'single-image'), `${reg.host}/tls/img`]);
    expect((await ok(['--ca-file', reg.caFile!, 'resolve', `${reg.host}/tls/img:v1`])).stdout.trim()).toBe(await image());
    const untrusted = await run(['resolve', `${reg.host}/tls/img:v1`]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/TLS verification/);
    expect((await ok(['--insecure', 'resolve', `${reg.host}/tls/img:v1`])).stdout.trim()).toBe(await image());
    // Plain HTTP to a TLS registry fails cleanly too.
    const plain = await run(['--plain-http', 'resolve', `${reg.host}/tls/img:v1`]);
    expect(plain.code).toBe(1);
  });
});

describe('secrets never printed', () => {
  it('no password, Basic credential or token appears in any output of this file (all runs used --debug)', async () => {
    // Make sure the token registry has issued tokens to compare against.
    await tokenRegistry();
    const reg = await tokenRegistry();
    const secrets = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), ...reg.tokensIssued!()];
    const text = transcript.join('\n');
    expect(text).toContain('ocikit: debug:'); // the debug log was on
    for (const s of secrets) expect(text.includes(s), `a secret (${s.slice(0, 6)}...) was printed`).toBe(false);
    // JWT fragments too: the signature part alone must not leak.
    for (const t of reg.tokensIssued!()) expect(text.includes(t.split('.')[2]!)).toBe(false);
  });
});
