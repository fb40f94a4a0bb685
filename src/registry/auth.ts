/**
 * Registry authentication for one host: anonymous first, then whatever the
 * registry's 401 challenge asks for.
 *
 * - Basic: the credential, base64'd, on every later request.
 * - Bearer (the distribution token flow): ask the challenge's realm for a
 *   token covering the scopes the operation needs (`repository:NAME:pull` or
 *   `pull,push`, plus any scope the challenge names), with Basic credentials
 *   or an identity token when we have them, anonymously otherwise. Tokens are
 *   cached per scope set until shortly before they expire; once the realm is
 *   known, later requests get a token up front instead of a 401 round trip.
 *   A 401 with a token in hand drops it and fetches a fresh one.
 *
 * Only the registry's own challenges reach this class (client.ts sends no
 * credentials to, and takes no challenge from, any other origin). The realm
 * it names may live elsewhere, but gets credentials only over TLS when the
 * registry itself is reached over TLS: an https registry naming an http://
 * realm would put the password on the wire in clear text.
 */
import { OcikitError } from '../errors.js';
import { drain, readBody, type Transport } from './http.js';
import { lookupCredential, type Credential, type CredentialOptions } from './credentials.js';
import { challengeScopes, parseWwwAuthenticate, type Challenge } from './www-authenticate.js';

/** Refresh this long before a token's stated expiry: a long upload must not start with a dying token. */
const EXPIRY_MARGIN_MS = 15_000;
/** Docker's token spec: a token without expires_in lives 60 seconds. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_TOKEN_RESPONSE = 1024 * 1024;

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class Authenticator {
  private readonly host: string;
  private readonly transport: Transport;
  private readonly credOpts: CredentialOptions;
  private credential?: Promise<Credential | undefined>;
  private scheme?: 'basic' | 'bearer';
  private bearer?: { realm: string; service?: string };
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  constructor(host: string, transport: Transport, credOpts: CredentialOptions = {}) {
    this.host = host;
    this.transport = transport;
    this.credOpts = credOpts;
  }

  private getCredential(): Promise<Credential | undefined> {
    return (this.credential ??= lookupCredential(this.host, this.credOpts, this.transport.secrets));
  }

  /** The Authorization header to send up front, when the host's scheme is known. */
  async header(scopes: string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme === 'bearer') {
      const key = scopeKey(scopes);
      const cached = this.tokens.get(key);
      if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return `Bearer ${cached.token}`;
      return `Bearer ${(await this.fetchToken(scopes)).token}`;
    }
    return undefined;
  }

  /**
   * A request came back 401: read the challenge and return the header to
   * retry with. Throws UNAUTHORIZED when there is nothing better to send.
   */
  async challenge(wwwAuthenticate: string | string[] | undefined, scopes: string[], sent: string | undefined, what: string): Promise<string> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) return this.onBearer(bearer, scopes, sent, what);
    if (basic) {
      const cred = await this.getCredential();
      if (!cred || cred.username === undefined || cred.password === undefined) throw this.needCredentials(what);
      if (sent?.startsWith('Basic ')) throw this.rejected(what);
      this.scheme = 'basic';
      return this.basicHeader();
    }
    throw new OcikitError('UNAUTHORIZED', `${what}: ${this.host} answered 401 without a challenge ocikit understands`, { status: 401 });
  }

  private async onBearer(c: Challenge, scopes: string[], sent: string | undefined, what: string): Promise<string> {
    const realm = c.params['realm'];
    if (!realm) throw new OcikitError('UNAUTHORIZED', `${what}: ${this.host} asked for a bearer token without naming a realm`, { status: 401 });
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new OcikitError('UNAUTHORIZED', `${what}: ${this.host} named a token realm that is not a URL`, { status: 401 });
    }
    if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') {
      throw new OcikitError('UNAUTHORIZED', `${what}: ${this.host} named a token realm that is not http(s): ${realmUrl.protocol}`, { status: 401 });
    }
    if (realmUrl.protocol === 'http:' && !this.registryIsPlain() && (await this.getCredential()) !== undefined) {
      throw new OcikitError('UNAUTHORIZED', `${what}: ${this.host} is reached over TLS but named a token realm over plain HTTP (${realmUrl.host}); ocikit will not send credentials there in clear text`, {
        status: 401,
        hint: 'ask the registry operator to serve the token realm over https, or give --plain-http if plain HTTP is really meant',
      });
    }
    this.scheme = 'bearer';
    this.bearer = { realm, service: c.params['service'] };
    const wanted = [...new Set([...scopes, ...challengeScopes(c)])];
    if (sent?.startsWith('Bearer ')) {
      // The token we sent was refused: forget it, and fail if a fresh one is refused too (the caller retries once).
      for (const [key, t] of this.tokens) if (`Bearer ${t.token}` === sent) this.tokens.delete(key);
    }
    const token = await this.fetchToken(wanted);
    // Cache it under the operation's own scopes too, so the next request sends it directly.
    this.tokens.set(scopeKey(scopes), token);
    return `Bearer ${token.token}`;
  }

  /** The registry itself is talked to in plain HTTP (--plain-http, or a loopback registry without TLS). */
  private registryIsPlain(): boolean {
    return this.transport.origin(this.host).startsWith('http:');
  }

  private async basicHeader(): Promise<string> {
    const cred = await this.getCredential();
    if (!cred || cred.username === undefined || cred.password === undefined) throw this.needCredentials(`accessing ${this.host}`);
    const encoded = Buffer.from(`${cred.username}:${cred.password}`).toString('base64');
    this.transport.secrets.add(encoded);
    return `Basic ${encoded}`;
  }

  private fetchToken(scopes: string[]): Promise<CachedToken> {
    const key = scopeKey(scopes);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.requestToken(scopes).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async requestToken(scopes: string[]): Promise<CachedToken> {
    const { realm, service } = this.bearer!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new OcikitError('UNAUTHORIZED', `${this.host} named a token realm that is not a URL`);
    }
    const cred = await this.getCredential();
    const headers: Record<string, string> = { Accept: 'application/json' };
    let method = 'GET';
    let body: Buffer | undefined;
    if (cred?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'ocikit' });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (cred?.username !== undefined && cred.password !== undefined) headers['Authorization'] = await this.basicHeader();
    }
    // A TLS registry's realm stays on TLS: no loopback fallback to plain HTTP with credentials on board.
    const res = await this.transport.send({ method, url, headers, body, tlsOnly: !this.registryIsPlain() });
    if (res.status === 401 || res.status === 403) {
      drain(res.body);
      throw cred ? this.rejected(`getting a token for ${scopes.join(' ') || this.host}`, res.status) : this.needCredentials(`getting a token for ${scopes.join(' ') || this.host}`, res.status);
    }
    if (res.status !== 200) {
      drain(res.body);
      throw new OcikitError('REGISTRY_ERROR', `token server ${url.host} answered ${res.status} for ${scopes.join(' ') || this.host}`, { status: res.status });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readBody(res.body, MAX_TOKEN_RESPONSE)).toString('utf8'));
    } catch {
      throw new OcikitError('REGISTRY_ERROR', `token server ${url.host} answered with something that is not JSON`);
    }
    // `null`, a number or an array is JSON too, and has no token to read (the fuzz test found `null`).
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new OcikitError('REGISTRY_ERROR', `token server ${url.host} answered with JSON that is not an object`);
    }
    const doc = parsed as { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    const token = typeof doc.token === 'string' && doc.token !== '' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (token === '') throw new OcikitError('REGISTRY_ERROR', `token server ${url.host} answered without a token`);
    this.transport.secrets.add(token);
    const lifetime = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issued = typeof doc.issued_at === 'string' ? Date.parse(doc.issued_at) : Number.NaN;
    // Trust issued_at only when it is sane: a skewed server clock must not make every token look expired.
    const start = Number.isNaN(issued) || Math.abs(issued - Date.now()) > 5 * 60_000 ? Date.now() : issued;
    const cached = { token, expiresAt: start + lifetime * 1000 };
    this.tokens.set(scopeKey(scopes), cached);
    return cached;
  }

  private needCredentials(what: string, status = 401): OcikitError {
    return new OcikitError('UNAUTHORIZED', `${what}: ${this.host} requires authentication`, {
      status,
      hint: 'log in with --username U --password-stdin, or put credentials in the docker config (--registry-config)',
    });
  }

  private rejected(what: string, status = 401): OcikitError {
    return new OcikitError('UNAUTHORIZED', `${what}: ${this.host} rejected the credentials`, { status, hint: 'check the user name and password' });
  }
}

function scopeKey(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

export function repositoryScope(repository: string, push: boolean): string {
  return `repository:${repository}:${push ? 'pull,push' : 'pull'}`;
}
