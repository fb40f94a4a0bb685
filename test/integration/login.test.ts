/**
 * `login` and `logout` (issue 14) against distribution 2.8 with htpasswd
 * (Basic) and with the token flow: the credentials are checked before they
 * are stored, go into docker's config.json (0600, every other key kept) or
 * into the credential helper the config names (a fake one on PATH here), and
 * come out again on logout. Every run uses --debug, and the last test scans
 * everything ocikit printed for the password and its Basic form.
 */
import { describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterFile, FIXTURES, ocikit, type RunOptions, type RunResult } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { secretsFound } from '../helpers/secrets.js';

const USER = 'alice';
const PASSWORD = 'l0gin-pa55-sekrit-4321';
const WRONG = 'wr0ng-pa55-guess-8765';
const ON_COMMAND_LINE = 'cmdline-pa55-sekrit-1357';
const b64 = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');

const { cleanups, tmp } = afterFile();

/** Everything ocikit printed in this file, for the secrets scan. */
const transcript: RunResult[] = [];
async function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await ocikit(['--debug', ...args], { ...opts, env: { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config', ...(opts.env ?? {}) } });
  transcript.push(res);
  return res;
}
async function ok(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(args, opts);
  if (res.code !== 0) throw new Error(`ocikit ${args.join(' ')} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return res;
}
/** A run that must fail with `exit` and the error code `code` (read from the --format json error document). */
async function fails(args: string[], exit: 1 | 2, code: string, opts: RunOptions = {}): Promise<void> {
  const res = await run([...args, '--format', 'json'], opts);
  expect(res.code, res.stderr).toBe(exit);
  expect((JSON.parse(res.stdout) as { error: { code: string } }).error.code, res.stderr).toBe(code);
}
const login = (host: string, config: string, password = PASSWORD, opts: RunOptions = {}) =>
  run(['login', host, '-u', USER, '--password-stdin', '--registry-config', config], { ...opts, input: `${password}\n` });
const lines = (r: RunResult) => r.stdout.split('\n').filter((l) => l !== '');

/** A Basic-auth registry holding basic/img:v1. */
const basic = once(async () => {
  const r = await startRegistry({ htpasswd: { [USER]: PASSWORD } });
  cleanups.push(r.stop);
  await ok(['copy', '--username', USER, '--password-stdin', `${path.join(FIXTURES, 'single-image')}:v1`, `${r.host}/basic/img:v1`], { input: PASSWORD });
  return r;
});

/** A config.json of someone who uses docker: other registries, other settings, a stale entry for the registry under another spelling. */
function livedInConfig(host: string): Record<string, unknown> {
  return {
    auths: { 'other.example.com': { auth: b64('bob', 'bobs-own-secret') }, [`https://${host}`]: { auth: b64(USER, 'stale-password') } },
    credHelpers: { 'gcr.example.com': 'gcloud' },
    psFormat: 'table {{.ID}}\\t{{.Names}}',
    proxies: { default: { httpProxy: 'http://proxy.example:3128', noProxy: '127.0.0.1' } },
    experimental: 'enabled',
    '2024': { numeric: 1.5 },
  };
}

/** `doc` without its `auths`, to compare what login and logout must not touch. */
function withoutAuths(doc: Record<string, unknown>): Record<string, unknown> {
  const { auths: _a, ...rest } = doc;
  return rest;
}

describe('login and logout with docker config.json', () => {
  it('login checks, then writes a new config.json 0600 in a new 0700 directory; repo ls and repo tags then need only --registry-config', async () => {
    const reg = await basic();
    const dir = path.join(await tmp(), 'new', 'docker');
    const config = path.join(dir, 'config.json');
    const res = await login(reg.host, config);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe('Login Succeeded');
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const doc = JSON.parse(await readFile(config, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(doc).toEqual({ auths: { [reg.host]: { auth: b64(USER, PASSWORD) } } });
    expect(lines(await ok(['repo', 'ls', reg.host, '--registry-config', config]))).toEqual(['basic/img']);
    expect(lines(await ok(['repo', 'tags', `${reg.host}/basic/img`, '--registry-config', config]))).toEqual(['v1']);
  });

  it('without --registry-config, the config goes to $DOCKER_CONFIG/config.json', async () => {
    const reg = await basic();
    const dockerConfig = path.join(await tmp(), 'dc');
    await ok(['login', reg.host, '-u', USER, '--password-stdin'], { input: PASSWORD, env: { DOCKER_CONFIG: dockerConfig } });
    expect(JSON.parse(await readFile(path.join(dockerConfig, 'config.json'), 'utf8'))).toEqual({ auths: { [reg.host]: { auth: b64(USER, PASSWORD) } } });
    expect(lines(await ok(['repo', 'tags', `${reg.host}/basic/img`], { env: { DOCKER_CONFIG: dockerConfig } }))).toEqual(['v1']);
  });

  it('a wrong password: exit 1, UNAUTHORIZED, the config byte-for-byte as it was (and none created)', async () => {
    const reg = await basic();
    const config = path.join(await tmp(), 'config.json');
    const before = `${JSON.stringify(livedInConfig(reg.host), null, 2)}\n`;
    await writeFile(config, before, { mode: 0o600 });
    await fails(['login', reg.host, '-u', USER, '--password-stdin', '--registry-config', config], 1, 'UNAUTHORIZED', { input: WRONG });
    expect(await readFile(config, 'utf8')).toBe(before);
    const none = path.join(await tmp(), 'absent', 'config.json');
    await fails(['login', reg.host, '-u', USER, '--password-stdin', '--registry-config', none], 1, 'UNAUTHORIZED', { input: WRONG });
    expect(existsSync(path.dirname(none))).toBe(false);
  });

  it('login keeps every other key; logout removes the registry\'s entries only; a second logout is NOT_FOUND', async () => {
    const reg = await basic();
    const config = path.join(await tmp(), 'config.json');
    const original = livedInConfig(reg.host);
    await writeFile(config, JSON.stringify(original), { mode: 0o644 });
    expect((await login(reg.host, config)).code).toBe(0);
    const after = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown> & { auths: Record<string, unknown> };
    expect(withoutAuths(after)).toEqual(withoutAuths(original));
    // The stale entry under another spelling of the same registry is replaced by the one entry.
    expect(after.auths).toEqual({ 'other.example.com': { auth: b64('bob', 'bobs-own-secret') }, [reg.host]: { auth: b64(USER, PASSWORD) } });
    expect((await stat(config)).mode & 0o777).toBe(0o600);

    const out = await ok(['logout', reg.host, '--registry-config', config]);
    expect(out.stdout).toContain(reg.host);
    const loggedOut = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    expect(loggedOut).toEqual({ ...original, auths: { 'other.example.com': { auth: b64('bob', 'bobs-own-secret') } } });
    await fails(['logout', reg.host, '--registry-config', config], 1, 'NOT_FOUND');
    await fails(['logout', reg.host, '--registry-config', path.join(await tmp(), 'missing.json')], 1, 'NOT_FOUND');
  });

  it('a symlinked config.json (dotfiles) is written where it points; the link stays', async () => {
    const reg = await basic();
    const dir = await tmp();
    const real = path.join(dir, 'dotfiles-docker.json');
    await writeFile(real, JSON.stringify({ psFormat: 'table' }));
    const link = path.join(dir, 'config.json');
    await symlink(real, link);
    expect((await login(reg.host, link)).code).toBe(0);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(real, 'utf8'))).toEqual({ psFormat: 'table', auths: { [reg.host]: { auth: b64(USER, PASSWORD) } } });
  });

  it('a config that is not JSON is refused and left alone', async () => {
    const reg = await basic();
    const config = path.join(await tmp(), 'config.json');
    await writeFile(config, '{"auths": {');
    await fails(['login', reg.host, '-u', USER, '--password-stdin', '--registry-config', config], 1, 'IO_ERROR', { input: PASSWORD });
    expect(await readFile(config, 'utf8')).toBe('{"auths": {');
  });
});

describe('the password never on the command line', () => {
  it('-p and --password are usage errors that point at --password-stdin; so is a login without it', async () => {
    const reg = await basic();
    const config = path.join(await tmp(), 'config.json');
    await fails(['login', reg.host, '-u', USER, '-p', ON_COMMAND_LINE, '--registry-config', config], 2, 'USAGE');
    await fails(['login', reg.host, '-u', USER, `--password=${ON_COMMAND_LINE}`, '--registry-config', config], 2, 'USAGE');
    await fails(['login', reg.host, '-u', USER, '--registry-config', config], 2, 'USAGE');
    await fails(['login', reg.host, '--password-stdin', '--registry-config', config], 2, 'USAGE', { input: PASSWORD });
    await fails(['login', `${reg.host}/basic/img`, '-u', USER, '--password-stdin', '--registry-config', config], 2, 'USAGE', { input: PASSWORD });
    expect(existsSync(config)).toBe(false);
    // The way that is offered works.
    expect((await login(reg.host, config)).code).toBe(0);
  });
});

describe('a credential helper (a fake docker-credential-fake on PATH)', () => {
  /** The helper keeps one credential in `store.json` and logs each call's action and server URL (never the secret). */
  async function fakeHelper(): Promise<{ env: Record<string, string>; store: string; calls: () => Promise<string[]> }> {
    const dir = await tmp();
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const store = path.join(dir, 'store.json');
    const log = path.join(dir, 'calls.log');
    await writeFile(
      path.join(bin, 'docker-credential-fake'),
      [
        '#!/bin/sh',
        `STORE='${store}'`,
        'input=$(cat)',
        'case "$1" in',
        `  store) printf '%s' "$input" > "$STORE"; echo store >> '${log}';;`,
        `  get) echo "get $input" >> '${log}'; if [ -f "$STORE" ] && grep -q "\\"ServerURL\\":\\"$input\\"" "$STORE"; then cat "$STORE"; else echo "credentials not found in native keychain"; exit 1; fi;;`,
        `  erase) echo "erase $input" >> '${log}'; if [ -f "$STORE" ] && grep -q "\\"ServerURL\\":\\"$input\\"" "$STORE"; then rm "$STORE"; else echo "credentials not found in native keychain"; exit 1; fi;;`,
        '  *) exit 2;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(path.join(bin, 'docker-credential-fake'), 0o755);
    const calls = async () => (existsSync(log) ? (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '') : []);
    return { env: { PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}` }, store, calls };
  }

  it('credsStore: login stores through the helper (config untouched), reads work, logout erases; a second logout is NOT_FOUND', async () => {
    const reg = await basic();
    const helper = await fakeHelper();
    const config = path.join(await tmp(), 'config.json');
    const before = JSON.stringify({ credsStore: 'fake', psFormat: 'table' });
    await writeFile(config, before);

    // A wrong password never reaches the helper.
    await fails(['login', reg.host, '-u', USER, '--password-stdin', '--registry-config', config], 1, 'UNAUTHORIZED', { input: WRONG, env: helper.env });
    expect(await helper.calls()).toEqual([]);

    expect((await login(reg.host, config, PASSWORD, { env: helper.env })).code).toBe(0);
    expect(JSON.parse(await readFile(helper.store, 'utf8'))).toEqual({ ServerURL: reg.host, Username: USER, Secret: PASSWORD });
    expect(await readFile(config, 'utf8')).toBe(before);
    expect(lines(await ok(['repo', 'tags', `${reg.host}/basic/img`, '--registry-config', config], { env: helper.env }))).toEqual(['v1']);

    await ok(['logout', reg.host, '--registry-config', config], { env: helper.env });
    expect(existsSync(helper.store)).toBe(false);
    expect(await helper.calls()).toEqual(['store', `get ${reg.host}`, `erase ${reg.host}`]);
    expect(await readFile(config, 'utf8')).toBe(before);
    await fails(['logout', reg.host, '--registry-config', config], 1, 'NOT_FOUND', { env: helper.env });
  });

  it('credHelpers[host]: login stores through it and drops a plain-text entry for the registry that would win over it', async () => {
    const reg = await basic();
    const helper = await fakeHelper();
    const config = path.join(await tmp(), 'config.json');
    await writeFile(config, JSON.stringify({ credHelpers: { [reg.host]: 'fake' }, auths: { [reg.host]: { auth: b64(USER, 'stale-password') }, 'other.example.com': { auth: 'eDp5' } } }));
    expect((await login(reg.host, config, PASSWORD, { env: helper.env })).code).toBe(0);
    expect(JSON.parse(await readFile(helper.store, 'utf8'))).toEqual({ ServerURL: reg.host, Username: USER, Secret: PASSWORD });
    expect(JSON.parse(await readFile(config, 'utf8'))).toEqual({ credHelpers: { [reg.host]: 'fake' }, auths: { 'other.example.com': { auth: 'eDp5' } } });
  });
});

describe('the token flow', () => {
  it('login is judged by the token server; the stored credentials then list the catalog (registry:catalog:* scope)', async () => {
    const reg = await startRegistry({ token: { users: { [USER]: PASSWORD } } });
    cleanups.push(reg.stop);
    await ok(['copy', '--username', USER, '--password-stdin', `${path.join(FIXTURES, 'single-image')}:v1`, `${reg.host}/tok/img:v1`], { input: PASSWORD });
    const config = path.join(await tmp(), 'config.json');
    await fails(['login', reg.host, '-u', USER, '--password-stdin', '--registry-config', config], 1, 'UNAUTHORIZED', { input: WRONG });
    expect(existsSync(config)).toBe(false);
    expect((await login(reg.host, config)).code).toBe(0);
    expect(lines(await ok(['repo', 'ls', reg.host, '--registry-config', config]))).toEqual(['tok/img']);
    // Tokens are secrets too.
    tokens.push(...reg.tokensIssued!());
  });
});

const tokens: string[] = [];

describe('secrets never printed', () => {
  it('no password, Basic credential or token in any stdout or stderr of this file (all runs used --debug)', () => {
    expect(transcript.some((r) => r.stderr.includes('ocikit: debug:'))).toBe(true);
    // Logins happened (the scan covers runs that held the password).
    expect(transcript.filter((r) => r.code === 0 && r.stdout.includes('Login Succeeded')).length).toBeGreaterThanOrEqual(5);
    const haystacks = transcript.flatMap((r, i) => [
      { where: `stdout of run ${i}`, bytes: Buffer.from(r.stdout) },
      { where: `stderr of run ${i}`, bytes: Buffer.from(r.stderr) },
    ]);
    const secrets: Record<string, string> = { password: PASSWORD, wrong: WRONG, onCommandLine: ON_COMMAND_LINE, basic: b64(USER, PASSWORD), basicWrong: b64(USER, WRONG) };
    tokens.forEach((t, i) => (secrets[`token ${i}`] = t));
    expect(secretsFound(haystacks, secrets)).toEqual([]);
  });
});
