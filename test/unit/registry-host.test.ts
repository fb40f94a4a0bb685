/** How login, logout and repo ls read a registry named alone, and the keys docker files credentials under. */
import { describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseRegistryHost } from '../../src/spec/registry-host.js';
import { credentialKey, lookupCredential } from '../../src/registry/credentials.js';
import { Secrets } from '../../src/registry/redact.js';

describe('parseRegistryHost', () => {
  it('takes HOST[:PORT], docker://HOST and docker\'s server URLs', () => {
    expect(parseRegistryHost('localhost:5000')).toBe('localhost:5000');
    expect(parseRegistryHost('registry.example.com/')).toBe('registry.example.com');
    expect(parseRegistryHost('docker://127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(parseRegistryHost('https://index.docker.io/v1/')).toBe('index.docker.io');
    expect(parseRegistryHost('http://[::1]:5000')).toBe('[::1]:5000');
  });

  it('refuses a repository, an empty or bad host, and (hostLike) a bare word that may be a path', () => {
    expect(parseRegistryHost('localhost:5000/team/app')).toBeUndefined();
    expect(parseRegistryHost('')).toBeUndefined();
    expect(parseRegistryHost('bad host')).toBeUndefined();
    expect(parseRegistryHost('host:99999')).toBeUndefined();
    expect(parseRegistryHost('myregistry')).toBe('myregistry');
    expect(parseRegistryHost('myregistry', { hostLike: true })).toBeUndefined();
    expect(parseRegistryHost('docker://myregistry', { hostLike: true })).toBe('myregistry');
  });
});

describe('where credentials are filed', () => {
  it('Docker Hub under https://index.docker.io/v1/ (config key and helper server URL), any other registry under its host', () => {
    for (const hub of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(credentialKey(hub)).toBe('https://index.docker.io/v1/');
    }
    expect(credentialKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(credentialKey('ghcr.io')).toBe('ghcr.io');
  });
});

describe('reading Docker Hub credentials from a helper', () => {
  it('asks the helper for https://index.docker.io/v1/, where docker login (and ocikit login) stored them', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'ocikit-unit-'));
    const oldPath = process.env['PATH'];
    try {
      const helper = path.join(d, 'docker-credential-hubtest');
      await writeFile(helper, '#!/bin/sh\nread url\nif [ "$url" = "https://index.docker.io/v1/" ]; then echo \'{"Username":"hubuser","Secret":"hub-secret"}\'; else echo "credentials not found in native keychain"; exit 1; fi\n');
      await chmod(helper, 0o755);
      const config = path.join(d, 'config.json');
      await writeFile(config, JSON.stringify({ credsStore: 'hubtest' }));
      process.env['PATH'] = `${d}${path.delimiter}${oldPath ?? ''}`;
      expect(await lookupCredential('docker.io', { configFile: config, env: {} }, new Secrets())).toEqual({ username: 'hubuser', password: 'hub-secret' });
    } finally {
      process.env['PATH'] = oldPath;
      await rm(d, { recursive: true, force: true });
    }
  });
});
