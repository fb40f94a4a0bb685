/**
 * Where registry credentials come from, in this order:
 *
 * 1. explicit `username` + `password` (the CLI's --username and --password-stdin);
 * 2. `DOCKER_AUTH_CONFIG`: a whole docker config.json in an environment variable (CI systems);
 * 3. the docker config file (`--registry-config`, else `$DOCKER_CONFIG/config.json`,
 *    else `~/.docker/config.json`).
 *
 * In a config: `credHelpers[host]`, then `auths[host]` (`auth` = base64 of
 * `user:password`, or `username`/`password`, or `identitytoken`), then
 * `credsStore`. Helpers run as `docker-credential-<name> get` with the host on
 * stdin, exactly as docker does. Every secret found is registered with the
 * Secrets filter before it is returned.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { OcikitError } from '../errors.js';
import type { Secrets } from './redact.js';

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token realm. */
  identityToken?: string;
}

export interface CredentialOptions {
  username?: string;
  password?: string;
  /** A docker config.json to read instead of the default one. */
  configFile?: string;
  /** Environment to read DOCKER_CONFIG / DOCKER_AUTH_CONFIG / HOME from (default process.env). */
  env?: Record<string, string | undefined>;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const HELPER_TIMEOUT_MS = 30_000;
const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/** The credential for `host` (`host[:port]`), or undefined for anonymous access. */
export async function lookupCredential(host: string, opts: CredentialOptions, secrets: Secrets): Promise<Credential | undefined> {
  const found = await find(host, opts);
  if (found) {
    secrets.add(found.password);
    secrets.add(found.identityToken);
    if (found.username !== undefined && found.password !== undefined) secrets.add(Buffer.from(`${found.username}:${found.password}`).toString('base64'));
  }
  return found;
}

async function find(host: string, opts: CredentialOptions): Promise<Credential | undefined> {
  if (opts.username !== undefined || opts.password !== undefined) {
    if (opts.username === undefined || opts.password === undefined) {
      throw new OcikitError('USAGE', '--username and --password-stdin go together: give both, or neither to use the docker config');
    }
    return { username: opts.username, password: opts.password };
  }
  const env = opts.env ?? process.env;
  const inline = env['DOCKER_AUTH_CONFIG'];
  if (inline !== undefined && inline.trim() !== '') {
    const cred = await fromConfig(parseConfig(inline, 'DOCKER_AUTH_CONFIG'), host, 'DOCKER_AUTH_CONFIG');
    if (cred) return cred;
  }
  const file = opts.configFile ?? defaultConfigPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No config at the default place just means anonymous; a config named explicitly must exist.
    if ((code === 'ENOENT' || code === 'ENOTDIR') && opts.configFile === undefined) return undefined;
    throw new OcikitError('IO_ERROR', `cannot read registry config ${file}: ${(err as Error).message}`, { path: file, cause: err });
  }
  return fromConfig(parseConfig(text, file), host, file);
}

export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  const dir = env['DOCKER_CONFIG'] || path.join(env['HOME'] || homedir(), '.docker');
  return path.join(dir, 'config.json');
}

export function parseConfig(text: string, where: string): DockerConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Never echo the text: it holds credentials.
    throw new OcikitError('IO_ERROR', `registry config ${where} is not valid JSON`, { path: where });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new OcikitError('IO_ERROR', `registry config ${where} is not a JSON object`, { path: where });
  return doc as DockerConfig;
}

/** `https://host/v1/`, `http://host`, `HOST` all name the registry `host`. */
export function normalizeConfigKey(key: string): string {
  let k = key.trim().toLowerCase();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return DOCKER_HUB_KEYS.includes(k) ? 'docker.io' : k;
}

/** The value of `map` under the key that names `host`, in any spelling (normalizeConfigKey). */
export function lookupKey<T>(map: Record<string, T> | undefined, host: string): T | undefined {
  if (!map || typeof map !== 'object' || Array.isArray(map)) return undefined;
  const want = normalizeConfigKey(host);
  for (const [key, value] of Object.entries(map)) if (normalizeConfigKey(key) === want) return value;
  return undefined;
}

async function fromConfig(config: DockerConfig, host: string, where: string): Promise<Credential | undefined> {
  const helper = lookupKey(config.credHelpers, host);
  if (typeof helper === 'string' && helper !== '') return runHelper(helper, host);
  const entry = lookupKey(config.auths, host);
  if (entry && typeof entry === 'object') {
    const cred = fromAuthEntry(entry, host, where);
    if (cred) return cred;
  }
  if (typeof config.credsStore === 'string' && config.credsStore !== '') return runHelper(config.credsStore, host);
  return undefined;
}

function fromAuthEntry(entry: AuthEntry, host: string, where: string): Credential | undefined {
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { identityToken: entry.identitytoken, ...(typeof entry.username === 'string' ? { username: entry.username } : {}) };
  }
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OcikitError('IO_ERROR', `registry config ${where}: the "auth" entry for ${host} is not base64 of USER:PASSWORD`, { path: where });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  return undefined;
}

/** Run `docker-credential-<name> get`; "not found" means anonymous. */
async function runHelper(name: string, host: string): Promise<Credential | undefined> {
  const program = helperProgram(name);
  const { code, stdout, stderr } = await callHelper(name, 'get', credentialKey(host), host);
  if (code !== 0) {
    if (saysNotFound({ code, stdout, stderr })) return undefined;
    throw new OcikitError('UNAUTHORIZED', `credential helper ${program} exited with status ${code} for ${host}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new OcikitError('UNAUTHORIZED', `credential helper ${program} printed something that is not JSON for ${host}`);
  }
  // `null` or an array is JSON too, with no credentials in it: as a token server's answer, refused, not read.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OcikitError('UNAUTHORIZED', `credential helper ${program} printed JSON that is not an object for ${host}`);
  }
  const doc = parsed as { Username?: unknown; Secret?: unknown };
  if (typeof doc.Secret !== 'string' || doc.Secret === '') return undefined;
  // Docker's convention: the user name "<token>" marks an identity (refresh) token.
  if (doc.Username === '<token>') return { identityToken: doc.Secret };
  return { username: typeof doc.Username === 'string' ? doc.Username : '', password: doc.Secret };
}

/** The program a helper name stands for, refused unless it is a plain name (it is looked up on PATH). */
export function helperProgram(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new OcikitError('IO_ERROR', `credential helper name ${JSON.stringify(name)} is not a plain program name`);
  return `docker-credential-${name}`;
}

/**
 * The server address docker files a registry's credentials under, as the
 * `auths` key of config.json and as the ServerURL a helper is given: Docker
 * Hub's historical `https://index.docker.io/v1/`, the host itself for any
 * other registry. Using docker's keys, ocikit and docker find each other's.
 */
export function credentialKey(host: string): string {
  return normalizeConfigKey(host) === 'docker.io' ? DOCKER_HUB_SERVER_URL : host;
}

const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

export interface HelperAnswer {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One call of the docker credential-helper protocol: `docker-credential-<name>
 * ACTION` with `input` on stdin (a server URL for get and erase, a JSON
 * document for store), killed after 30 s. `host` is for messages.
 */
export function callHelper(name: string, action: 'get' | 'store' | 'erase', input: string, host: string): Promise<HelperAnswer> {
  const program = helperProgram(name);
  return new Promise<HelperAnswer>((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new OcikitError('UNAUTHORIZED', `credential helper ${program} is not installed (named in the docker config for ${host})`, { hint: `install ${program} or remove it from the docker config` })
          : new OcikitError('UNAUTHORIZED', `credential helper ${program} failed to start: ${e.message}`, { cause: e }),
      );
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** What helpers print when they hold nothing for a server (docker's credentials.errCredentialsNotFound and kin). */
export function saysNotFound(answer: HelperAnswer): boolean {
  return /not found|no credentials/i.test(`${answer.stdout}\n${answer.stderr}`);
}
