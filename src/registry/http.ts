/**
 * The HTTP transport under the registry client: node:http(s) with keep-alive
 * agents, TLS options, redirects, and retries.
 *
 * - HTTPS with verification by default; `ca` adds a CA to the default trust
 *   (it does not replace it); `insecure` skips verification.
 * - Plain HTTP with `plainHttp`, or for a loopback host (127.0.0.0/8, ::1,
 *   localhost) whose server does not speak TLS: the first TLS handshake that
 *   meets a plain HTTP server switches that host to http:// for the process.
 *   A TLS server with a certificate we do not trust never falls back.
 * - Retries with exponential backoff and jitter for 5xx (not 501/505), 429
 *   (honouring `Retry-After`) and connection resets; never for other 4xx. A
 *   streamed request body cannot be replayed, so such a request is tried
 *   once; callers that want retries pass buffers. Only idempotent requests
 *   (GET, HEAD, PUT, DELETE) are retried after a 5xx or a reset: the server
 *   may have acted on a POST before it failed (opened an upload), and
 *   sending it again would act twice. A chunk PATCH with a Content-Range
 *   counts as idempotent (a registry that took it refuses the repeat with
 *   416 instead of appending twice). A 429 says the request was not taken
 *   at all, so any method is retried after it.
 *   `retries: 0` is one try.
 * - One idle timeout (`timeoutMs`, the CLI's --timeout) covers connecting,
 *   sending and receiving: a connection with no progress for that long ends
 *   with an `IdleTimeout`. It is not retried here: a peer that stayed silent
 *   for the whole allowed time gets no second wait (blob downloads resume a
 *   stall once, in blobs.ts). Until the response arrives, and for a body
 *   that is drained, the socket's inactivity decides; a body read through
 *   `bodyChunks` (readBody, blob downloads) is timed only while its reader
 *   waits for the next chunk, so time the reader spends not reading
 *   (backpressure) is never taken for a stalled peer.
 * - Redirects are followed for GET and HEAD (blob downloads are often sent to
 *   storage elsewhere); Authorization is dropped when the origin changes.
 * - With a `log` function, one line per request (method, URL, status, time),
 *   never a header value, passed through the secrets filter.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { Secrets } from './redact.js';

export interface TransportOptions {
  /** Talk plain HTTP to every registry. */
  plainHttp?: boolean;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** PEM of extra CA certificates to trust (the contents of --ca-file). */
  ca?: string | Buffer;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry (default 250). */
  backoffMs?: number;
  /** Longest wait a `Retry-After` may impose (default 30 s); longer asks fail instead. */
  maxRetryAfterMs?: number;
  /** Idle timeout in ms: no progress connecting, sending or receiving for this long fails the request (default 30 s). */
  timeoutMs?: number;
  /** Connections per host (default 16). */
  maxSockets?: number;
  /** Debug log sink: one line per request, secrets filtered. */
  log?: (line: string) => void;
}

export type RequestBody = Buffer | Buffer[] | Readable;

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Never fall back to plain HTTP for this https URL (a token realm of a TLS registry: credentials go there). */
  tlsOnly?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: URL;
  body: IncomingMessage;
}

const MAX_REDIRECTS = 5;
const NO_RETRY_5XX = new Set([501, 505]);
/** Network errors worth another try: the server or a middlebox dropped us. (An idle timeout is not one: see above.) */
const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);
/** Methods whose repetition has the effect of one request (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 4;

/**
 * No progress on a connection for the idle timeout: before the response
 * (connecting, sending, or waiting for the server to answer) or in the middle
 * of its body (a stalled download).
 */
export class IdleTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly url: URL,
    readonly ms: number,
    readonly phase: 'connect' | 'response' | 'body',
  ) {
    super(
      phase === 'body'
        ? `stalled: no data for ${seconds(ms)} in the middle of the response`
        : phase === 'connect'
          ? `took no connection within ${seconds(ms)}`
          : `did not answer within ${seconds(ms)}`,
    );
    this.name = 'IdleTimeout';
  }
}

/** The idle timeout of each response body the transport returned, for bodyChunks. */
const idleOf = new WeakMap<IncomingMessage, { url: URL; ms: number }>();

/**
 * The chunks of a response body, failing with an IdleTimeout when the peer
 * sends nothing for the idle timeout while we wait for it. Only our waiting
 * counts: while the caller is busy elsewhere (its own reader slow, a disk
 * write), no clock runs.
 */
export async function* bodyChunks(body: IncomingMessage): AsyncGenerator<Buffer> {
  const idle = idleOf.get(body);
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      const next = it.next();
      let timer: NodeJS.Timeout | undefined;
      let result: IteratorResult<Buffer>;
      if (idle === undefined) {
        result = await next;
      } else {
        // Destroying the body below rejects `next` too; nobody else awaits it.
        next.catch(() => undefined);
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new IdleTimeout(idle.url, idle.ms, 'body')), idle.ms);
        });
        try {
          result = await Promise.race([next, stalled]);
        } catch (err) {
          if (err instanceof IdleTimeout) body.destroy(err);
          throw err;
        } finally {
          clearTimeout(timer);
        }
      }
      if (result.done) return;
      yield result.value;
    }
  } finally {
    // Left early (an error, or the caller stopped): release the body. Its own error was already reported.
    await it.return?.().catch(() => undefined);
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The TLS handshake met something that is not TLS (a plain HTTP server). */
function isTlsNotOffered(err: NodeJS.ErrnoException): boolean {
  return (
    err.code === 'EPROTO' ||
    err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    err.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    /wrong version number|packet length too long|unknown protocol/i.test(err.message ?? '')
  );
}

export class Transport {
  readonly opts: TransportOptions;
  readonly secrets: Secrets;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /** Loopback hosts found to serve plain HTTP. */
  private readonly plainHosts = new Set<string>();

  constructor(opts: TransportOptions = {}, secrets = new Secrets()) {
    this.opts = opts;
    this.secrets = secrets;
    const maxSockets = opts.maxSockets ?? 16;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      rejectUnauthorized: opts.insecure !== true,
      ...(opts.ca ? { ca: [...rootCertificates, opts.ca.toString()] } : {}),
    });
  }

  /** `https://host` or `http://host` for a registry host (`host[:port]`). */
  origin(host: string): string {
    const plain = this.opts.plainHttp === true || this.plainHosts.has(new URL(`https://${host}`).host);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  /** The URL a request to `url` really goes to: https on a loopback host found to serve plain HTTP becomes http. */
  effectiveUrl(url: URL): URL {
    return url.protocol === 'https:' && this.plainHosts.has(url.host) ? new URL(url.href.replace(/^https:/, 'http:')) : url;
  }

  log(line: string): void {
    this.opts.log?.(this.secrets.redact(line));
  }

  /** Send with retries and redirects. Network failures become REGISTRY_ERROR (TIMEOUT when the peer went quiet), the cause kept. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const replayable = !(req.body instanceof Readable);
    const retries = replayable ? (this.opts.retries ?? DEFAULT_RETRIES) : 0;
    // A chunk PATCH names where its bytes go (Content-Range): a registry that already took it refuses
    // the repeat (416) instead of appending the bytes twice, so it may be repeated too.
    const idempotent = IDEMPOTENT.has(req.method) || (req.method === 'PATCH' && req.headers?.['Content-Range'] !== undefined);
    // A URL built before we learnt this loopback host has no TLS (or taken from a Location header).
    let url = req.tlsOnly ? req.url : this.effectiveUrl(req.url);
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.followRedirects({ ...req, url });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (url.protocol === 'https:' && isTlsNotOffered(e) && isLoopbackHost(url.hostname) && this.opts.plainHttp !== true && replayable && !req.tlsOnly) {
          // A loopback registry without TLS: use plain HTTP for it from now on.
          this.plainHosts.add(url.host);
          this.log(`${url.host} does not offer TLS; using plain HTTP (loopback)`);
          url = new URL(url.href.replace(/^https:/, 'http:'));
          attempt--;
          continue;
        }
        // A name that did not resolve sent nothing anywhere: safe to try again whatever the method.
        if (attempt < retries && (idempotent || e.code === 'EAI_AGAIN') && RETRYABLE_NETWORK.has(e.code ?? '')) {
          const delay = this.backoff(attempt);
          this.log(`${req.method} ${redactUrl(url)} failed (${e.code}); retry ${attempt + 1}/${retries} in ${delay} ms`);
          await sleep(delay);
          continue;
        }
        throw networkError(e, url, this.secrets);
      }
      const retryable = res.status === 429 || (idempotent && res.status >= 500 && !NO_RETRY_5XX.has(res.status));
      if (retryable && attempt < retries) {
        const after = retryAfterMs(res.headers['retry-after']);
        const max = this.opts.maxRetryAfterMs ?? 30_000;
        if (after === undefined || after <= max) {
          const delay = after ?? this.backoff(attempt);
          drain(res.body);
          this.log(`${req.method} ${redactUrl(url)} -> ${res.status}; retry ${attempt + 1}/${retries} in ${delay} ms`);
          await sleep(delay);
          continue;
        }
      }
      return res;
    }
  }

  private backoff(attempt: number): number {
    const base = (this.opts.backoffMs ?? 250) * 2 ** attempt;
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private async followRedirects(req: HttpRequest): Promise<HttpResponse> {
    let current = req;
    for (let hops = 0; ; hops++) {
      const res = await this.once(current);
      const location = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && location !== undefined;
      if (!redirect || (current.method !== 'GET' && current.method !== 'HEAD') || hops >= MAX_REDIRECTS) return res;
      drain(res.body);
      const next = new URL(location, current.url);
      const headers = { ...(current.headers ?? {}) };
      // Credentials are for the registry, not for whatever storage it redirects to.
      if (next.origin !== current.url.origin) delete headers['Authorization'];
      current = { ...current, url: next, headers };
    }
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    const started = Date.now();
    const idleMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<HttpResponse>((resolve, reject) => {
      const isHttps = req.url.protocol === 'https:';
      const headers: Record<string, string | number> = { 'User-Agent': 'ocikit', ...(req.headers ?? {}) };
      const body = req.body;
      if (Buffer.isBuffer(body)) headers['Content-Length'] = body.length;
      else if (Array.isArray(body)) headers['Content-Length'] = body.reduce((n, b) => n + b.length, 0);
      let response: IncomingMessage | undefined;
      const request = (isHttps ? https : http).request(
        req.url,
        { method: req.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent },
        (res) => {
          this.log(`${req.method} ${redactUrl(req.url)} -> ${res.statusCode} (${Date.now() - started} ms)`);
          response = res;
          idleOf.set(res, { url: req.url, ms: idleMs });
          resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
        },
      );
      // The idle watchdog lives on the socket (Node's request timeout fires only once per request,
      // and could not be re-armed while our own reader holds the body back). A new socket gets a
      // plain timer until it is connected (and, for https, through the TLS handshake, during which
      // the socket's own timer would wait twice as long), then the socket's timer.
      request.on('socket', (socket) => {
        let connected = !socket.connecting;
        const onIdle = () => {
          if (response && response.readableFlowing !== true) {
            // A body read on demand: bodyChunks times the waits of its reader (the socket also goes
            // quiet when the reader holds the body back). Keep watching for a drained body.
            socket.setTimeout(idleMs);
            return;
          }
          const err = new IdleTimeout(req.url, idleMs, response ? 'body' : connected ? 'response' : 'connect');
          this.log(`${req.method} ${redactUrl(req.url)}: ${err.message}`);
          response?.destroy(err);
          request.destroy(err);
        };
        const watch = () => {
          socket.setTimeout(idleMs);
          socket.on('timeout', onIdle);
        };
        let connecting: NodeJS.Timeout | undefined;
        if (socket.connecting) {
          connecting = setTimeout(onIdle, idleMs);
          // Connected is the TCP connection: a peer that then never answers the TLS handshake did not answer.
          socket.once('connect', () => (connected = true));
          socket.once(isHttps ? 'secureConnect' : 'connect', () => {
            clearTimeout(connecting);
            watch();
          });
        } else {
          watch();
        }
        // A keep-alive socket goes back to the agent for other requests: take our watchdog off it.
        request.once('close', () => {
          clearTimeout(connecting);
          socket.off('timeout', onIdle);
          socket.setTimeout(0);
        });
      });
      request.on('error', reject);
      if (body === undefined) request.end();
      else if (Buffer.isBuffer(body)) request.end(body);
      else if (Array.isArray(body)) {
        for (const b of body) request.write(b);
        request.end();
      } else if (body.destroyed) {
        // Failed (or closed) before it could be sent: a small blob can be read, and found not to
        // match, while its upload is being opened. Piping it would wait forever.
        request.destroy(body.errored ?? Object.assign(new Error('the request body was closed before it was sent'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      } else {
        body.on('error', (err) => request.destroy(err));
        body.pipe(request);
      }
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Read a (small) response body, up to `limit` bytes; more is an error. */
export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of bodyChunks(res)) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        res.destroy();
        throw new OcikitError('MANIFEST_TOO_LARGE', `response body exceeds ${limit} bytes`, { expected: limit, actual: total });
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // A body that stalled stays a TIMEOUT wherever it is read (manifests, listings, tokens).
    if (err instanceof IdleTimeout) throw timeoutError(err, err.url);
    throw err;
  }
  return Buffer.concat(chunks, total);
}

/** Discard a body we do not need, so the connection can be reused. */
export function drain(res: IncomingMessage): void {
  res.on('error', () => undefined);
  res.resume();
}

/** `Retry-After`: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A URL fit for logs and messages: no user info (query strings of registries carry no credentials we send). */
function redactUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** A failed connection as a one-line typed error that says what to do. */
export function networkError(err: NodeJS.ErrnoException, url: URL, secrets: Secrets): OcikitError {
  if (err instanceof OcikitError) return err;
  const host = url.host;
  const code = err.code ?? '';
  let message: string;
  let hint: string | undefined;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    message = `cannot resolve registry host ${url.hostname}`;
    hint = 'check the registry name in the reference';
  } else if (code === 'ECONNREFUSED') {
    message = `connection refused by ${host}`;
    hint = 'is the registry running, and is the port right?';
  } else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/i.test(code) || /certificate/i.test(err.message ?? '')) {
    message = `TLS verification of ${host} failed: ${err.message}`;
    hint = 'trust its CA with --ca-file FILE, or skip verification with --insecure';
  } else if (isTlsNotOffered(err)) {
    message = `${host} does not speak TLS`;
    hint = 'use --plain-http for a registry without TLS';
  } else if (code === 'ECONNRESET' || code === 'EPIPE') {
    message = `connection to ${host} was reset`;
  } else if (err instanceof IdleTimeout || code === 'ETIMEDOUT') {
    return timeoutError(err, url, secrets);
  } else {
    message = `request to ${host} failed: ${err.message}`;
  }
  return new OcikitError('REGISTRY_ERROR', secrets.redact(message), { cause: err, hint });
}

/** A peer that went quiet, as TIMEOUT: "stalled" when it stopped in the middle of a body. */
export function timeoutError(err: Error, url: URL, secrets?: Secrets, what?: string): OcikitError {
  const t = err instanceof IdleTimeout ? err : undefined;
  const host = (t?.url ?? url).host;
  const text = t ? `${host} ${t.message}` : `${host} did not answer in time (${err.message})`;
  const message = what ? `${what}: ${text}` : text;
  return new OcikitError('TIMEOUT', secrets ? secrets.redact(message) : message, {
    cause: err,
    hint: 'the registry or the network stopped responding; try again, or allow longer with --timeout SECONDS',
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
