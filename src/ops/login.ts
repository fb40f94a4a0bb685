/**
 * `login` and `logout`. A login first proves the credentials: `GET /v2/`
 * with them, through whatever the registry's challenge asks (Basic, or the
 * token flow, where the token server judges them); only an answer of 200
 * stores them, so a typo never replaces working credentials. A registry that
 * answers `/v2/` without asking for any is taken at its word, as docker does.
 */
import { UsageError } from '../errors.js';
import { RegistryClient, type RegistryOptions } from '../registry/client.js';
import { normalizeConfigKey, type CredentialOptions } from '../registry/credentials.js';
import { eraseCredential, storeCredential, type CredentialPlace } from '../registry/credentials-store.js';
import { drain } from '../registry/http.js';

export type { CredentialPlace };

/** Check `opts.username`/`opts.password` against `host`, then store them (credentials-store.ts says where). */
export async function login(host: string, opts: RegistryOptions): Promise<CredentialPlace> {
  const { username, password } = opts;
  if (username === undefined || password === undefined) throw new UsageError('login needs a user name and a password (-u USER --password-stdin)');
  await checkCredentials(host, opts);
  return storeCredential(host, username, password, { configFile: opts.configFile, env: opts.env });
}

/** Remove the stored credentials of `host`; NOT_FOUND when none were stored. */
export function logout(host: string, opts: CredentialOptions = {}): Promise<CredentialPlace> {
  return eraseCredential(host, opts);
}

async function checkCredentials(host: string, opts: RegistryOptions): Promise<void> {
  // A client of its own: its Authenticator must hold these credentials, never ones found in a config.
  const client = new RegistryClient(apiHost(host), opts);
  const what = `logging in to ${host}`;
  try {
    const res = await client.request({ method: 'GET', url: client.rootUrl(), scopes: [], what });
    if (res.status !== 200) await client.fail(res, what);
    drain(res.body);
  } finally {
    client.close();
  }
}

/** Docker Hub's API lives on registry-1.docker.io, whichever of its names was given. */
function apiHost(host: string): string {
  return normalizeConfigKey(host) === 'docker.io' ? 'registry-1.docker.io' : host;
}
