/**
 * Errors as the distribution-spec states them: a status code and a JSON body
 * `{"errors":[{"code","message","detail"}]}` whose `code` is one of the
 * spec's list (4xx). Handlers throw RegistryHttpError; anything else that
 * escapes a handler is mapped here from its OcikitError code, so a typed
 * library failure never reaches a client as a stack trace or a hang.
 */
import type { ServerResponse } from 'node:http';
import { OcikitError } from '../errors.js';

/** The codes the distribution-spec allows in a 4xx body, plus UNKNOWN/UNAVAILABLE for 5xx (where any body is allowed). */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNKNOWN'
  | 'UNAVAILABLE';

export interface RegistryErrorEntry {
  code: RegistryErrorCode;
  message: string;
  detail?: unknown;
}

export class RegistryHttpError extends Error {
  readonly status: number;
  readonly errors: RegistryErrorEntry[];
  /** Extra response headers (Range and Location on a 416, Allow on a 405...). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: RegistryErrorCode, message: string, opts: { detail?: unknown; headers?: Record<string, string>; more?: RegistryErrorEntry[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RegistryHttpError';
    this.status = status;
    this.errors = [{ code, message, ...(opts.detail === undefined ? {} : { detail: opts.detail }) }, ...(opts.more ?? [])];
    this.headers = opts.headers ?? {};
  }

  get code(): RegistryErrorCode {
    return this.errors[0]!.code;
  }
}

/** What the failing request was about: decides, for instance, whether NOT_FOUND means a blob or a manifest. */
export type Subject = 'blob' | 'manifest' | 'upload' | 'name' | 'other';

const NOT_FOUND_CODE: Record<Subject, RegistryErrorCode> = {
  blob: 'BLOB_UNKNOWN',
  manifest: 'MANIFEST_UNKNOWN',
  upload: 'BLOB_UPLOAD_UNKNOWN',
  name: 'NAME_UNKNOWN',
  other: 'NAME_UNKNOWN',
};

/** Map any error to the HTTP error a client gets. */
export function toHttpError(err: unknown, subject: Subject): RegistryHttpError {
  if (err instanceof RegistryHttpError) return err;
  if (!(err instanceof OcikitError)) {
    return new RegistryHttpError(500, 'UNKNOWN', `internal error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const detail = err.digest ? { digest: err.digest } : undefined;
  switch (err.code) {
    case 'NOT_FOUND':
      return new RegistryHttpError(404, NOT_FOUND_CODE[subject], err.message, { detail, cause: err });
    // A blob path that is a symlink, a FIFO or a directory is not content this layout holds:
    // refuse it as unknown rather than follow it anywhere.
    case 'UNSAFE_BLOB_PATH':
      return new RegistryHttpError(404, subject === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', err.message, { detail, cause: err });
    case 'INVALID_DIGEST':
    case 'UNSUPPORTED_DIGEST':
      return new RegistryHttpError(400, 'DIGEST_INVALID', err.message, { detail, cause: err });
    case 'INVALID_MANIFEST':
      // Asked for by digest, a blob that is not a manifest is simply not a manifest this registry has.
      return subject === 'manifest'
        ? new RegistryHttpError(404, 'MANIFEST_UNKNOWN', err.message, { detail, cause: err })
        : new RegistryHttpError(400, 'MANIFEST_INVALID', err.message, { detail, cause: err });
    case 'MANIFEST_TOO_LARGE':
      return new RegistryHttpError(413, 'MANIFEST_INVALID', err.message, { detail, cause: err });
    // A request body that stalled and was cut: the connection is gone, this is what the log says.
    case 'TIMEOUT':
      return new RegistryHttpError(408, 'BLOB_UPLOAD_INVALID', err.message, { headers: { Connection: 'close' }, cause: err });
    case 'LOCKED':
      return new RegistryHttpError(503, 'UNAVAILABLE', err.message, { headers: { 'Retry-After': '1' }, cause: err });
    default:
      // DIGEST_MISMATCH / SIZE_MISMATCH here mean the layout's own content is damaged: a server fault.
      return new RegistryHttpError(500, 'UNKNOWN', err.message, { detail: { code: err.code, ...(detail ?? {}) }, cause: err });
  }
}

/** Send an error response (headers only for HEAD). When headers already went out, the connection is cut instead. */
export function sendError(res: ServerResponse, method: string | undefined, err: RegistryHttpError): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = Buffer.from(JSON.stringify({ errors: err.errors }));
  res.statusCode = err.status;
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(body.length));
  if (method === 'HEAD') res.end();
  else res.end(body);
}
