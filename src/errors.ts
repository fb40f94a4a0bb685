/**
 * Typed errors. Every failure ocikit reports carries a stable `code` so that
 * callers (and tests) can act on it without parsing messages. Only the CLI
 * maps codes to exit statuses.
 */

export type ErrorCode =
  | 'USAGE'
  | 'INVALID_REFERENCE'
  | 'INVALID_DIGEST'
  | 'UNSUPPORTED_DIGEST'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'NOT_FOUND'
  | 'INVALID_LAYOUT'
  | 'INVALID_MANIFEST'
  | 'MANIFEST_TOO_LARGE'
  | 'UNSAFE_BLOB_PATH'
  | 'UNSAFE_ARCHIVE_ENTRY'
  | 'AMBIGUOUS'
  | 'UNSUPPORTED'
  | 'LOCKED'
  | 'IO_ERROR'
  | 'REGISTRY_ERROR'
  | 'UNAUTHORIZED'
  | 'VERIFY_FAILED'
  /** A documented limit was reached: listing size, nesting depth, spool or upload size. */
  | 'LIMIT_EXCEEDED'
  /** A peer stopped answering (connect, idle read or write) within the allowed time. */
  | 'TIMEOUT'
  /** Content still needed by something listed (a blob a listed manifest reaches): refused unless forced. */
  | 'IN_USE'
  /** A layout whose own directories (blobs, temp, lease) are symlinks or leave the layout. */
  | 'UNSAFE_LAYOUT'
  /** A path taken from content (a layer's title) that is absolute, climbs out with `..`, or would pass through a symlink. */
  | 'UNSAFE_PATH'
  /** A file is in the way and the command does not replace files unless told to (`artifact pull --overwrite`). */
  | 'ALREADY_EXISTS';

export interface ErrorFacts {
  cause?: unknown;
  path?: string;
  digest?: string;
  expected?: string | number;
  actual?: string | number;
  status?: number;
  hint?: string;
}

export class OcikitError extends Error {
  readonly code: ErrorCode;
  readonly path?: string;
  readonly digest?: string;
  readonly expected?: string | number;
  readonly actual?: string | number;
  readonly status?: number;
  /** A short suggestion of what to do next, printed after the message by the CLI. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, facts: ErrorFacts = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.name = 'OcikitError';
    this.code = code;
    this.path = facts.path;
    this.digest = facts.digest;
    this.expected = facts.expected;
    this.actual = facts.actual;
    this.status = facts.status;
    this.hint = facts.hint;
  }
}

/** The caller wrote the command or reference wrongly: fix the invocation (exit 2). */
export class UsageError extends OcikitError {
  constructor(message: string, facts: ErrorFacts = {}) {
    super('USAGE', message, facts);
    this.name = 'UsageError';
  }
}

/** Content did not match its descriptor: the source is corrupt or tampered with. */
export class IntegrityError extends OcikitError {
  constructor(code: 'DIGEST_MISMATCH' | 'SIZE_MISMATCH', message: string, facts: ErrorFacts = {}) {
    super(code, message, facts);
    this.name = 'IntegrityError';
  }
}

export class NotFoundError extends OcikitError {
  constructor(message: string, facts: ErrorFacts = {}) {
    super('NOT_FOUND', message, facts);
    this.name = 'NotFoundError';
  }
}

export function isOcikitError(err: unknown, code?: ErrorCode): err is OcikitError {
  return err instanceof OcikitError && (code === undefined || err.code === code);
}

/** Turn a Node.js filesystem error into a typed one that names the path (`doing`: what was refused, for a permission error). */
export function fromFsError(err: unknown, path: string, what: string, doing: 'reading' | 'writing to' = 'reading'): OcikitError {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof OcikitError) return err;
  switch (e?.code) {
    case 'ENOENT':
      return new NotFoundError(`${what} not found: ${path}`, { path, cause: err });
    case 'EACCES':
    case 'EPERM':
      return new OcikitError('IO_ERROR', `permission denied ${doing} ${what}: ${path}`, { path, cause: err });
    case 'EISDIR':
      return new OcikitError('UNSAFE_BLOB_PATH', `${what} is a directory, expected a file: ${path}`, { path, cause: err });
    default:
      return new OcikitError('IO_ERROR', `cannot access ${what} ${path}: ${e?.message ?? String(err)}`, { path, cause: err });
  }
}
