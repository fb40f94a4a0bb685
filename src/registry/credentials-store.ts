/**
 * Writing credentials where docker (and oras, and ocikit's own lookup in
 * credentials.ts) read them: `login` stores, `logout` erases.
 *
 * - A credential helper, when the config names one for the registry
 *   (`credHelpers[host]`, else `credsStore`): `docker-credential-<name> store`
 *   with `{"ServerURL","Username","Secret"}` on stdin, `erase` with the server
 *   URL. A plain-text `auths` entry for the registry is then removed from the
 *   file, as docker does: it would win over the helper on the next read.
 * - Otherwise the config file itself (`--registry-config`, else
 *   `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
 *   `auths[KEY].auth = base64(user:password)`, KEY being the host (Docker
 *   Hub's `https://index.docker.io/v1/`). The file is parsed, that one entry
 *   changed, and written back whole through fs/atomic (temp file, fsync,
 *   rename): every other key survives with its value, and a crash leaves the
 *   old file or the new one. A new file is created with mode 0600 (its
 *   directory 0700); an existing one is rewritten 0600 too, since it now holds
 *   a secret. A symlinked config.json is written where the link points.
 *
 * Keys that name the same registry in other spellings (`https://HOST`,
 * `HOST/v1/`) are replaced by the one key: two entries for one registry
 * would leave which one is read to the order of the file.
 */
import { mkdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { OcikitError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import {
  callHelper,
  credentialKey,
  defaultConfigPath,
  helperProgram,
  lookupKey,
  normalizeConfigKey,
  parseConfig,
  saysNotFound,
  type CredentialOptions,
} from './credentials.js';

/** Where a credential went, or came out of: the config file, or a helper (and the file, when it held one too). */
export interface CredentialPlace {
  /** The docker config file read (and written, when `written`). */
  configFile: string;
  written: boolean;
  /** The credential helper used, by name (`docker-credential-<name>`). */
  helper?: string;
}

interface ConfigDoc {
  /** The file as parsed: every key kept, only `auths` entries of the registry touched. */
  doc: Record<string, unknown>;
  file: string;
  exists: boolean;
}

/** Store `username`/`password` for `host` (already checked against the registry: see ops/login.ts). */
export async function storeCredential(host: string, username: string, password: string, opts: CredentialOptions = {}): Promise<CredentialPlace> {
  const config = await readConfig(opts);
  const helper = helperFor(config.doc, host);
  if (helper !== undefined) {
    const answer = await callHelper(helper, 'store', JSON.stringify({ ServerURL: credentialKey(host), Username: username, Secret: password }), host);
    if (answer.code !== 0) {
      throw new OcikitError('IO_ERROR', `credential helper ${helperProgram(helper)} could not store the credentials for ${host} (exit status ${answer.code})`, {
        hint: 'check that the helper works: run it by hand with "list"',
      });
    }
    const written = dropAuthEntries(config.doc, host);
    if (written) await writeConfig(config);
    return { configFile: config.file, written, helper };
  }
  dropAuthEntries(config.doc, host);
  const auths = authsOf(config);
  auths[credentialKey(host)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  await writeConfig(config);
  return { configFile: config.file, written: true };
}

/** Remove the credentials stored for `host` wherever they are; NOT_FOUND when there were none. */
export async function eraseCredential(host: string, opts: CredentialOptions = {}): Promise<CredentialPlace> {
  const config = await readConfig(opts);
  const helper = helperFor(config.doc, host);
  let erased = false;
  if (helper !== undefined) {
    const answer = await callHelper(helper, 'erase', credentialKey(host), host);
    if (answer.code === 0) erased = true;
    else if (!saysNotFound(answer)) {
      throw new OcikitError('IO_ERROR', `credential helper ${helperProgram(helper)} could not erase the credentials for ${host} (exit status ${answer.code})`, {
        hint: 'check that the helper works: run it by hand with "list"',
      });
    }
  }
  const written = dropAuthEntries(config.doc, host);
  if (written) await writeConfig(config);
  if (!erased && !written) {
    throw new OcikitError('NOT_FOUND', `no credentials for ${host} are stored in ${helper !== undefined ? `${helperProgram(helper)} or ` : ''}${config.file}`, {
      path: config.file,
      hint: 'nothing to log out of; ocikit login HOST stores credentials',
    });
  }
  return { configFile: config.file, written, ...(helper !== undefined ? { helper } : {}) };
}

async function readConfig(opts: CredentialOptions): Promise<ConfigDoc> {
  const named = opts.configFile ?? defaultConfigPath(opts.env ?? process.env);
  let file = named;
  let text: string;
  try {
    // Write where a symlinked config.json points (dotfiles), not over the link.
    file = await realpath(named);
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { doc: {}, file: named, exists: false };
    throw new OcikitError('IO_ERROR', `cannot read registry config ${named}: ${code ?? (err as Error).message}`, { path: named, cause: err });
  }
  // An empty file is an empty config, as docker reads it. parseConfig never echoes the text (it
  // holds credentials) and refuses anything but a JSON object.
  const doc = text.trim() === '' ? {} : (parseConfig(text, file) as unknown as Record<string, unknown>);
  return { doc, file, exists: true };
}

function authsOf(config: ConfigDoc): Record<string, unknown> {
  const auths = config.doc['auths'];
  if (auths === undefined) return (config.doc['auths'] = {}) as Record<string, unknown>;
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new OcikitError('IO_ERROR', `registry config ${config.file}: "auths" is not a JSON object; ocikit will not overwrite it`, { path: config.file });
  }
  return auths as Record<string, unknown>;
}

/** Remove every `auths` entry that names `host` in any spelling; whether one was there. */
function dropAuthEntries(doc: Record<string, unknown>, host: string): boolean {
  const auths = doc['auths'];
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) return false;
  const want = normalizeConfigKey(host);
  let dropped = false;
  for (const key of Object.keys(auths)) {
    if (normalizeConfigKey(key) !== want) continue;
    delete (auths as Record<string, unknown>)[key];
    dropped = true;
  }
  return dropped;
}

/** The helper the config names for `host`: `credHelpers[host]` in any spelling of the host, else `credsStore`. */
function helperFor(doc: Record<string, unknown>, host: string): string | undefined {
  const named = lookupKey(doc['credHelpers'] as Record<string, unknown> | undefined, host);
  if (typeof named === 'string' && named !== '') return named;
  const store = doc['credsStore'];
  return typeof store === 'string' && store !== '' ? store : undefined;
}

async function writeConfig(config: ConfigDoc): Promise<void> {
  if (!config.exists) await mkdir(path.dirname(config.file), { recursive: true, mode: 0o700 });
  // Docker writes its config tab-indented; keeping that makes a diff of the file show only what changed.
  await writeFileAtomic(config.file, `${JSON.stringify(config.doc, null, '\t')}\n`, 0o600);
}
