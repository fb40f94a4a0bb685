/**
 * The distribution-spec client core for one registry host: URLs, auth
 * around every request, and registry error bodies turned into typed
 * one-line errors. The endpoint families live beside it (blobs.ts,
 * upload.ts, manifests.ts, tags.ts, referrers.ts).
 *
 * Credentials and tokens are bound to the registry's origin (scheme, host
 * and port), and `request` is the one place that attaches them: a URL on any
 * other origin (a `Link` to the next page, an upload `Location`, where a
 * redirect led) is sent without Authorization, and a 401 from such a place is
 * an answer like any other, never a challenge that could draw the registry's
 * credentials to a realm of its choosing. Only the registry's own challenge
 * names the token realm (auth.ts checks its scheme).
 */
import { BlobHomes } from './blob-homes.js';
import { Readable } from 'node:stream';
import { OcikitError, type ErrorCode } from '../errors.js';
import { Authenticator } from './auth.js';
import type { CredentialOptions } from './credentials.js';
import { drain, readBody, Transport, type HttpResponse, type RequestBody, type TransportOptions } from './http.js';
import { Secrets } from './redact.js';
import type { ListingLimits } from './listing.js';

export interface RegistryOptions extends TransportOptions, CredentialOptions {
  /** Blobs up to this size are sent from memory in one PUT, which can be retried (default 8 MiB). */
  monolithicLimit?: number;
  /**
   * Larger blobs go in PATCH chunks of this size, each from memory and retried on its own, for
   * registries or proxies that cap the size of a request. Unset (the default), a larger blob
   * streams from its source in one PATCH: no round trip per chunk, no chunk held in memory.
   */
  chunkSize?: number;
  /** Page size asked for tag lists (default 1000). */
  pageSize?: number;
  /** Bounds of one paginated listing (tags, referrers); see listing.ts for the defaults. */
  listingLimits?: Partial<ListingLimits>;
}

export interface ClientRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Token scopes the request needs, e.g. `repository:library/debian:pull`. */
  scopes: string[];
  /** What we were doing, for messages: "pushing blob sha256:... to HOST/REPO". */
  what: string;
}

const DEFAULT_MONOLITHIC_LIMIT = 8 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

export class RegistryClient {
  readonly host: string;
  readonly transport: Transport;
  readonly auth: Authenticator;
  readonly opts: RegistryOptions;
  readonly monolithicLimit: number;
  readonly chunkSize: number | undefined;
  /**
   * digest -> repositories on this registry known to hold the blob: candidates for a cross-repository
   * mount. A small array per blob, not a Set: a push of 50,000 images remembers 100,000 blobs, nearly
   * all in one repository.
   */
  readonly blobHomes = new BlobHomes();

  constructor(host: string, opts: RegistryOptions = {}, transport?: Transport) {
    this.host = host;
    this.opts = opts;
    this.transport = transport ?? new Transport(opts, new Secrets());
    this.auth = new Authenticator(host, this.transport, opts);
    this.monolithicLimit = opts.monolithicLimit ?? DEFAULT_MONOLITHIC_LIMIT;
    this.chunkSize = opts.chunkSize;
  }

  /** `/v2/<repository>/<rest>` on this registry; `rest` is already escaped. */
  url(repository: string, rest: string): URL {
    return new URL(`${this.transport.origin(this.host)}/v2/${repository}/${rest}`);
  }

  rootUrl(): URL {
    return new URL(`${this.transport.origin(this.host)}/v2/`);
  }

  /** Is `url` on this registry's own origin, the only one its credentials are sent to? */
  isOwnOrigin(url: URL): boolean {
    return this.transport.effectiveUrl(url).origin === this.transport.effectiveUrl(this.rootUrl()).origin;
  }

  /** Send with authentication: the known header up front, one retry after a 401 challenge (on the registry's origin only). */
  async request(req: ClientRequest): Promise<HttpResponse> {
    const own = this.isOwnOrigin(req.url);
    let auth = own ? await this.auth.header(req.scopes) : undefined;
    let res = await this.send(req, auth);
    // A streamed body is spent: its caller reports the 401 (the upload it belongs to was authorized a moment ago).
    if (res.status !== 401 || req.body instanceof Readable) return res;
    // Another origin (asked directly, or reached by a redirect) answered 401: the caller reports it.
    if (!own || !this.isOwnOrigin(res.url)) return res;
    drain(res.body);
    auth = await this.auth.challenge(res.headers['www-authenticate'], req.scopes, auth, req.what);
    res = await this.send(req, auth);
    if (res.status === 401) {
      drain(res.body);
      throw new OcikitError('UNAUTHORIZED', this.transport.secrets.redact(`${req.what}: ${this.host} rejected the credentials`), {
        status: 401,
        hint: 'check the user name and password, and that the account may access this repository',
      });
    }
    return res;
  }

  /** One transport round; a network failure (refused, reset, timed out) says which step it broke. */
  private async send(req: ClientRequest, auth: string | undefined): Promise<HttpResponse> {
    try {
      return await this.transport.send({ method: req.method, url: req.url, headers: withAuth(req.headers, auth), body: req.body });
    } catch (err) {
      if (!(err instanceof OcikitError)) throw err;
      throw new OcikitError(err.code, this.transport.secrets.redact(`${req.what}: ${err.message}`), { cause: err.cause ?? err, status: err.status, hint: err.hint });
    }
  }

  /** Turn an unexpected response into a typed error whose message names the step and the registry's own words. */
  async fail(res: HttpResponse, what: string): Promise<never> {
    let detail = '';
    if (res.body.readable && !res.body.readableEnded) {
      try {
        detail = describeErrorBody((await readBody(res.body, MAX_ERROR_BODY)).toString('utf8'));
      } catch {
        drain(res.body);
      }
    }
    throw this.errorFor(res.status, what, detail, this.isOwnOrigin(res.url) ? undefined : res.url.host);
  }

  /** `elsewhere`: the host that answered, when it is not the registry (a redirect target, a Link or Location). */
  errorFor(status: number, what: string, detail = '', elsewhere?: string): OcikitError {
    const code: ErrorCode = status === 401 || status === 403 ? 'UNAUTHORIZED' : status === 404 ? 'NOT_FOUND' : 'REGISTRY_ERROR';
    const who = elsewhere ? `${elsewhere} (reached through ${this.host}, sent no credentials)` : this.host;
    const text = `${what}: ${who} answered ${status} ${statusText(status)}${detail ? ` (${detail})` : ''}`;
    const hint =
      status === 403
        ? 'the account may not do this on this repository'
        : status === 413
          ? 'the registry refuses content this large'
          : undefined;
    return new OcikitError(code, this.transport.secrets.redact(oneLine(text)), { status, hint });
  }

  close(): void {
    this.transport.close();
  }
}

function withAuth(headers: Record<string, string> | undefined, auth: string | undefined): Record<string, string> {
  return auth ? { ...(headers ?? {}), Authorization: auth } : { ...(headers ?? {}) };
}

/** `{"errors":[{"code":"MANIFEST_INVALID","message":"...","detail":...}]}` -> "MANIFEST_INVALID: manifest invalid". */
export function describeErrorBody(text: string): string {
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown; detail?: unknown }> };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return doc.errors
        .slice(0, 3)
        .map((e) => {
          const code = typeof e.code === 'string' ? e.code : 'UNKNOWN';
          const message = typeof e.message === 'string' && e.message !== '' ? `: ${e.message}` : '';
          const detail = typeof e.detail === 'string' && e.detail !== '' ? ` (${e.detail})` : '';
          return `${code}${message}${detail}`;
        })
        .join('; ');
    }
  } catch {
    // Not JSON: fall through to the text itself.
  }
  const plain = text.trim();
  return plain.length > 200 ? `${plain.slice(0, 197)}...` : plain;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    409: 'Conflict',
    412: 'Precondition Failed',
    413: 'Payload Too Large',
    416: 'Range Not Satisfiable',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return texts[status] ?? '';
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}

/** `Content-Type` without parameters. */
export function mediaTypeOf(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  return v.split(';')[0]!.trim() || undefined;
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * One client per (options, host): targets opened on the same registry with
 * the same options share connections, tokens and what is known about where
 * blobs live (which enables cross-repository mounts between them).
 */
const clients = new WeakMap<RegistryOptions, Map<string, RegistryClient>>();
const DEFAULT_OPTIONS: RegistryOptions = {};

export function registryClient(host: string, opts: RegistryOptions = DEFAULT_OPTIONS): RegistryClient {
  let byHost = clients.get(opts);
  if (!byHost) clients.set(opts, (byHost = new Map()));
  let client = byHost.get(host);
  if (!client) byHost.set(host, (client = new RegistryClient(host, opts)));
  return client;
}
