/** Credential lookup (docker config, DOCKER_AUTH_CONFIG, helpers) and the secrets filter. */
import { afterAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lookupCredential, normalizeConfigKey } from '../../src/registry/credentials.js';
import { Secrets } from '../../src/registry/redact.js';
import { repositoryScope } from '../../src/registry/auth.js';
import { describeErrorBody } from '../../src/registry/client.js';
import { isLoopbackHost, retryAfterMs } from '../../src/registry/http.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function dir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'ocikit-cred-'));
  dirs.push(d);
  return d;
}
async function config(doc: unknown): Promise<string> {
  const file = path.join(await dir(), 'config.json');
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}
const b64 = (s: string) => Buffer.from(s).toString('base64');
const noEnv = {};

describe('lookupCredential', () => {
  it('explicit user and password win; one without the other is a usage error', async () => {
    const secrets = new Secrets();
    expect(await lookupCredential('r.example', { username: 'u', password: 'secret-pw', env: noEnv }, secrets)).toEqual({ username: 'u', password: 'secret-pw' });
    expect(secrets.redact('x secret-pw y')).toBe('x *** y');
    await expect(lookupCredential('r.example', { username: 'u', env: noEnv }, secrets)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('reads auths entries under any spelling of the host, auth as base64 or username/password', async () => {
    const file = await config({
      auths: {
        'https://r.example:5000/v1/': { auth: b64('alice:pa:ss') },
        'other.example': { username: 'bob', password: 'pw2-long' },
        'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
      },
    });
    const s = new Secrets();
    expect(await lookupCredential('r.example:5000', { configFile: file, env: noEnv }, s)).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(await lookupCredential('OTHER.example', { configFile: file, env: noEnv }, s)).toEqual({ username: 'bob', password: 'pw2-long' });
    expect(await lookupCredential('docker.io', { configFile: file, env: noEnv }, s)).toEqual({ username: 'hub', password: 'hubpw' });
    expect(await lookupCredential('nowhere.example', { configFile: file, env: noEnv }, s)).toBeUndefined();
    // The base64 form is a secret too.
    expect(s.redact(b64('alice:pa:ss'))).toBe('***');
  });

  it('identity tokens are returned as such', async () => {
    const file = await config({ auths: { 'r.example': { identitytoken: 'refresh-token-xyz' } } });
    expect(await lookupCredential('r.example', { configFile: file, env: noEnv }, new Secrets())).toEqual({ identityToken: 'refresh-token-xyz' });
  });

  it('DOCKER_AUTH_CONFIG comes before the config file; $DOCKER_CONFIG names the default file', async () => {
    const d = await dir();
    await writeFile(path.join(d, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: b64('file:filepw') } } }));
    const env = { DOCKER_CONFIG: d };
    expect(await lookupCredential('r.example', { env }, new Secrets())).toEqual({ username: 'file', password: 'filepw' });
    const inline = { ...env, DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { 'r.example': { auth: b64('env:envpw') } } }) };
    expect(await lookupCredential('r.example', { env: inline }, new Secrets())).toEqual({ username: 'env', password: 'envpw' });
  });

  it('a missing default config means anonymous; a missing or broken named one is an error that does not echo it', async () => {
    expect(await lookupCredential('r.example', { env: { DOCKER_CONFIG: path.join(await dir(), 'none') } }, new Secrets())).toBeUndefined();
    await expect(lookupCredential('r.example', { configFile: path.join(await dir(), 'none.json'), env: noEnv }, new Secrets())).rejects.toMatchObject({ code: 'IO_ERROR' });
    const broken = await config('{"auths": {"r.example": {"auth": "c2VjcmV0LXZhbHVl"}');
    const err = await lookupCredential('r.example', { configFile: broken, env: noEnv }, new Secrets()).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'IO_ERROR' });
    expect((err as Error).message).not.toContain('c2VjcmV0LXZhbHVl');
  });

  it('runs credHelpers and credsStore helpers, "not found" meaning anonymous', async () => {
    const d = await dir();
    const helper = path.join(d, 'docker-credential-unittest');
    await writeFile(helper, '#!/bin/sh\nread host\ncase "$host" in\n  r.example) echo \'{"Username":"h","Secret":"helper-secret"}\';;\n  tok.example) echo \'{"Username":"<token>","Secret":"id-token-1"}\';;\n  *) echo "credentials not found in native keychain"; exit 1;;\nesac\n');
    await chmod(helper, 0o755);
    const oldPath = process.env['PATH'];
    process.env['PATH'] = `${d}${path.delimiter}${oldPath ?? ''}`;
    try {
      const helpers = await config({ credHelpers: { 'r.example': 'unittest', 'x.example': 'unittest' } });
      expect(await lookupCredential('r.example', { configFile: helpers, env: noEnv }, new Secrets())).toEqual({ username: 'h', password: 'helper-secret' });
      expect(await lookupCredential('x.example', { configFile: helpers, env: noEnv }, new Secrets())).toBeUndefined();
      const store = await config({ credsStore: 'unittest' });
      expect(await lookupCredential('tok.example', { configFile: store, env: noEnv }, new Secrets())).toEqual({ identityToken: 'id-token-1' });
      const missing = await config({ credsStore: 'no-such-helper-ocikit' });
      await expect(lookupCredential('r.example', { configFile: missing, env: noEnv }, new Secrets())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      const evil = await config({ credsStore: '../../bin/sh' });
      await expect(lookupCredential('r.example', { configFile: evil, env: noEnv }, new Secrets())).rejects.toMatchObject({ code: 'IO_ERROR' });
    } finally {
      process.env['PATH'] = oldPath;
    }
  });
});

describe('small registry helpers', () => {
  it('normalizes config keys', () => {
    expect(normalizeConfigKey('https://R.example:5000/v2/')).toBe('r.example:5000');
    expect(normalizeConfigKey('registry-1.docker.io')).toBe('docker.io');
  });

  it('knows loopback hosts', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example.com']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    const at = retryAfterMs(new Date(Date.now() + 5000).toUTCString())!;
    expect(at).toBeGreaterThan(2000);
    expect(at).toBeLessThanOrEqual(5000);
  });

  it('turns registry error bodies into one line', () => {
    expect(describeErrorBody('{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"bad layer"}]}')).toBe('MANIFEST_INVALID: manifest invalid (bad layer)');
    expect(describeErrorBody('{"errors":[{"code":"DENIED"},{"code":"UNAUTHORIZED","message":"x"}]}')).toBe('DENIED; UNAUTHORIZED: x');
    expect(describeErrorBody('404 page not found\n')).toBe('404 page not found');
  });

  it('scopes', () => {
    expect(repositoryScope('library/debian', false)).toBe('repository:library/debian:pull');
    expect(repositoryScope('library/debian', true)).toBe('repository:library/debian:pull,push');
  });
});
