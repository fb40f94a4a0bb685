/**
 * `serve`: a layout directory or archive as an OCI distribution-spec v1.1
 * registry, on node:http with no framework.
 *
 * Read-only by default (write methods get 405 UNSUPPORTED). With `writable`
 * (layout directories only) it accepts blob uploads and manifest pushes.
 * Binds to loopback unless told otherwise. Blobs stream from the target
 * (memory does not grow with blob size), and at most `maxBlobStreams`
 * blob bodies over SMALL_BLOB_SIZE are open at once (it does not grow with
 * the number of downloads either); smaller blobs and manifests never wait
 * for them. Slow clients cannot hold the server: every body transfer, down
 * or up, that falls below the `stall` limit is cut and what it held is
 * released (stall-guard.ts); uploads are capped in size, number and idle
 * time (uploads.ts). close() stops accepting, lets in-flight requests
 * finish for up to `shutdownGraceMs`, then cuts what is left and removes
 * unfinished uploads.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { OcikitError, UsageError } from '../errors.js';
import { isValidRepositoryName } from '../reference.js';
import { isLayoutTarget, receivesUploads, type ReadTarget } from '../graph/target.js';
import { limiter } from '../util/limit.js';
import { RegistryHttpError, sendError, toHttpError } from './errors.js';
import { VerifiedBlobs } from './verified-blobs.js';
import { handleBase, handleBlobGet, handleCatalog, handleManifestGet, handleReferrers, handleTagsList, type HandlerContext } from './pull.js';
import { handleBlobDelete, handleManifestDelete, handleManifestPut, handleUploadCancel, handleUploadChunk, handleUploadFinish, handleUploadStart, handleUploadStatus, type WriteContext } from './push.js';
import { defaultRepositoryName } from './repositories.js';
import { parseRequestTarget, type Route } from './router.js';
import { DEFAULT_STALL_LIMIT, type StallLimit } from './stall-guard.js';
import { UploadSessions } from './uploads.js';

export interface ServeOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 5000; 0 picks a free one). */
  port?: number;
  /** Accept pushes (layout directories only). */
  writable?: boolean;
  /** Repository for index.json entries without an `io.containerd.image.name` annotation (default: the layout's directory or archive name). */
  repository?: string;
  /** How long close() lets in-flight requests run before cutting them (default 10 s). */
  shutdownGraceMs?: number;
  /** Blob bodies over SMALL_BLOB_SIZE streamed at once; more wait their turn (default 32). */
  maxBlobStreams?: number;
  /** A body transfer (download or upload) that moves fewer than `minBytes` in a window of `windowMs` is cut (default DEFAULT_STALL_LIMIT: 16 KiB per 30 s). */
  stall?: Partial<StallLimit>;
  /** Largest blob an upload may grow to, in bytes; more gets 413 (default DEFAULT_MAX_BLOB_SIZE, 16 GiB). */
  maxBlobSize?: number;
  /** Upload sessions open at once; more get 429 (default 256). */
  maxUploads?: number;
  /** An upload session with no request for this long is dropped with its temp file (default DEFAULT_UPLOAD_IDLE_MS, 10 minutes). */
  uploadIdleMs?: number;
  /** Called once per finished request (for logs). */
  onRequest?: (event: RequestEvent) => void;
}

export interface RequestEvent {
  method: string;
  path: string;
  status: number;
  ms: number;
  /** Set on 5xx responses and on streams that broke off: what went wrong. */
  error?: Error;
  /**
   * The connection went away before the response was complete (the client
   * hung up, or Node itself refused the request and closed it): `status` is
   * what was being sent, not what the client got, and `error` is not set.
   */
  clientClosed?: boolean;
}

export interface RunningServer {
  /** `HOST:PORT` (IPv6 in brackets) as bound. */
  address: string;
  port: number;
  /** `http://HOST:PORT` */
  url: string;
  repository: string;
  close(): Promise<void>;
}

/** `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (loopback). Port 0 picks a free one. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const bad = (why: string) => new UsageError(`invalid --addr ${JSON.stringify(addr)}: ${why}`, { hint: 'write HOST:PORT, e.g. 127.0.0.1:5000, [::1]:5000, or 0 for a free loopback port' });
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(addr);
  if (v6) {
    host = v6[1]!;
    port = v6[2]!;
    if (!isIPv6(host)) throw bad(`${host} is not an IPv6 address`);
  } else if (/^\d+$/.test(addr)) {
    host = '127.0.0.1';
    port = addr;
  } else {
    const i = addr.lastIndexOf(':');
    if (i <= 0) throw bad('no port');
    host = addr.slice(0, i);
    port = addr.slice(i + 1);
    if (host.includes(':')) throw bad('put IPv6 addresses in brackets');
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || !Number.isInteger(n) || n > 65535) throw bad('the port must be a number from 0 to 65535');
  return { host, port: n };
}

/** Whether an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Errors that mean the other end went away (as opposed to content or storage failing mid-stream). */
function isDisconnect(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

export async function startServer(target: ReadTarget, opts: ServeOptions = {}): Promise<RunningServer> {
  if (!isLayoutTarget(target)) throw new OcikitError('UNSUPPORTED', `serve works on layout directories and archives, not ${target.description}`);
  const writable = opts.writable === true;
  if (writable && !receivesUploads(target)) {
    throw new UsageError(`${target.description} cannot be served writable: pushes go into a layout directory`, { hint: 'unpack the archive first (ocikit unpack ARCHIVE DIR), or serve it read-only' });
  }
  const repository = opts.repository ?? defaultRepositoryName(layoutPathOf(target));
  if (!isValidRepositoryName(repository)) {
    throw new UsageError(`invalid repository name ${JSON.stringify(repository)}: lowercase components of [a-z0-9] joined by ".", "_", "__" or "-", separated by "/"`);
  }
  const stall: StallLimit = { ...DEFAULT_STALL_LIMIT, ...opts.stall };
  checkLimits(opts, stall);
  const base: HandlerContext = { target, defaultRepository: repository, writable, blobSlot: limiter(opts.maxBlobStreams ?? 32), stall, pushedRepositories: new Set(), verifiedBlobs: new VerifiedBlobs() };
  const write: WriteContext | undefined =
    writable && receivesUploads(target)
    ? {
        ...base,
        layout: target,
        uploads: new UploadSessions(target, { maxSessions: opts.maxUploads, idleMs: opts.uploadIdleMs, maxBlobSize: opts.maxBlobSize, stall }),
      }
    : undefined;

  let stopping = false;
  const server = createServer((req, res) => {
    const started = Date.now();
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    // While shutting down, every answer ends its connection so close() is not held up by keep-alive.
    if (stopping) res.setHeader('Connection', 'close');
    let failure: Error | undefined;
    let clientGone = false;
    dispatch(req, res, base, write)
      .catch((err: unknown) => {
        // The client cut its own request (an upload's body aborted): nobody is there to answer,
        // and it is not a server failure (it was answered 500 and reported as one).
        if (err instanceof Error && isDisconnect(err) && (req.destroyed || req.socket.destroyed)) {
          clientGone = true;
          res.destroy();
          return;
        }
        const httpErr = toHttpError(err, 'other');
        if (httpErr.status >= 500 || res.headersSent) failure = err instanceof Error ? err : new Error(String(err));
        sendError(res, req.method, httpErr);
      })
      .finally(() => {
        const report = () => {
          // A stream cut because the socket closed is the client's doing, not a server failure to report as one.
          const clientClosed = clientGone || (!res.writableFinished && (res.destroyed || req.socket.destroyed) && (failure === undefined || isDisconnect(failure)));
          opts.onRequest?.({ method: req.method ?? '?', path: req.url ?? '', status: res.statusCode, ms: Date.now() - started, ...(clientClosed ? { clientClosed } : failure ? { error: failure } : {}) });
        };
        if (res.writableFinished || res.destroyed) report();
        else res.once('close', report);
      });
  });
  // Request headers must arrive promptly (a client trickling them is dropped after this, at the
  // latest 30 s later, when Node next checks). Bodies have no total deadline: a 16 GiB upload over a
  // slow link takes as long as it takes, and the stall limit, not a clock, cuts one that trickles.
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  // An idle keep-alive connection is closed after this (Node's default, stated so it is not forgotten).
  server.keepAliveTimeout = 5_000;
  // Last resort for a socket on which nothing at all happens (say, a small response the client never
  // reads): dropped after this. Not shorter: a request waiting for a blob slot is quiet too.
  server.setTimeout(10 * 60_000);

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${opts.host ?? '127.0.0.1'}:${opts.port ?? 5000}`;
      reject(
        new OcikitError('IO_ERROR', `cannot listen on ${where}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`, {
          cause: err,
          hint: err.code === 'EADDRINUSE' ? 'choose another port with --addr HOST:PORT (port 0 picks a free one)' : undefined,
        }),
      );
    });
    server.listen(opts.port ?? 5000, opts.host ?? '127.0.0.1', () => resolve());
  });
  const info = server.address() as AddressInfo;
  const hostPart = info.family === 'IPv6' || isIPv6(info.address) ? `[${info.address}]` : info.address;
  const address = `${hostPart}:${info.port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections are closed at once and again as in-flight ones go idle.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs ?? 10_000);
      try {
        await closed;
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
        await write?.uploads.closeAll();
      }
    })());

  return { address, port: info.port, url: `http://${address}`, repository, close };
}

function checkLimits(opts: ServeOptions, stall: StallLimit): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UsageError(`${name} must be a positive number, got ${v}`);
  };
  positive('the stall window', stall.windowMs);
  positive('the stall minimum', stall.minBytes);
  positive('the largest blob size', opts.maxBlobSize);
  positive('the upload idle time', opts.uploadIdleMs);
  if (opts.maxUploads !== undefined && !(Number.isInteger(opts.maxUploads) && opts.maxUploads > 0)) throw new UsageError(`the number of uploads must be a positive whole number, got ${opts.maxUploads}`);
}

function layoutPathOf(target: ReadTarget): string {
  return target.location ?? 'layout';
}

async function dispatch(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext, write: WriteContext | undefined): Promise<void> {
  const { route, query } = parseRequestTarget(req.url);
  const method = req.method ?? 'GET';
  const allowed = methodsFor(route, write !== undefined);
  if (!allowed.includes(method)) {
    const isWrite = !READ_METHODS.has(method);
    const message =
      isWrite && write === undefined && methodsFor(route, true).includes(method)
        ? 'this registry is read-only (start ocikit serve with --writable to accept pushes)'
        : `${method} is not supported on this endpoint`;
    throw new RegistryHttpError(405, 'UNSUPPORTED', message, { headers: { Allow: allowed.join(', ') } });
  }
  switch (route.kind) {
    case 'base':
      return handleBase(req, res);
    case 'catalog':
      return handleCatalog(req, res, ctx, query);
    case 'tags':
      return handleTagsList(req, res, ctx, route.name, query);
    case 'referrers':
      return handleReferrers(req, res, ctx, route.name, route.digest, query);
    case 'manifest':
      if (method === 'DELETE') return handleManifestDelete(res, write!, route.name, route);
      return method === 'PUT' ? handleManifestPut(req, res, write!, route.name, route) : handleManifestGet(req, res, ctx, route.name, route);
    case 'blob':
      if (method === 'DELETE') return handleBlobDelete(res, write!, route.name, route.digest);
      return handleBlobGet(req, res, ctx, route.name, route.digest);
    case 'uploads':
      return handleUploadStart(req, res, write!, route.name, query);
    case 'upload':
      switch (method) {
        case 'PATCH':
          return handleUploadChunk(req, res, write!, route.name, route.session);
        case 'PUT':
          return handleUploadFinish(req, res, write!, route.name, route.session, query);
        case 'DELETE':
          return handleUploadCancel(res, write!, route.name, route.session);
        default:
          return handleUploadStatus(res, write!, route.name, route.session);
      }
  }
}

/** Methods each endpoint answers; deletes only with --writable (handleManifestDelete, handleBlobDelete). */
function methodsFor(route: Route, writable: boolean): string[] {
  switch (route.kind) {
    case 'manifest':
      return writable ? ['GET', 'HEAD', 'PUT', 'DELETE'] : ['GET', 'HEAD'];
    case 'blob':
      return writable ? ['GET', 'HEAD', 'DELETE'] : ['GET', 'HEAD'];
    case 'uploads':
      return writable ? ['POST'] : [];
    case 'upload':
      return writable ? ['GET', 'PATCH', 'PUT', 'DELETE'] : [];
    default:
      return ['GET', 'HEAD'];
  }
}
