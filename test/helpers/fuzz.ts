/**
 * Shared pieces of the property-based tests in test/fuzz (fast-check).
 *
 * Run counts and the seed come from the environment so that a failure seen
 * in CI can be replayed exactly and a quiet machine can run longer:
 *
 *   OCIKIT_FUZZ_RUNS=N    runs of every property (default: each property's own)
 *   OCIKIT_FUZZ_SEED=S    the seed fast-check prints on failure
 *   OCIKIT_FUZZ_PATH=P    with the seed: replay only that counterexample (the printed `path`)
 *
 * fast-check's failure message carries `{ seed: S, path: "P" }`, the
 * shrunk counterexample and the error it raised; vitest prints it as the
 * test's error, so nothing else is needed to reproduce a failure.
 */
import fc from 'fast-check';
import { OcikitError, type ErrorCode } from '../../src/errors.js';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${JSON.stringify(v)} is not an integer`);
  return n;
}

/** fast-check parameters for one property: `defaultRuns` unless OCIKIT_FUZZ_RUNS says otherwise. */
export function fuzzParams<T>(defaultRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const params: fc.Parameters<T> = { ...extra, numRuns: envInt('OCIKIT_FUZZ_RUNS') ?? defaultRuns };
  const seed = envInt('OCIKIT_FUZZ_SEED');
  if (seed !== undefined) params.seed = seed;
  const path = process.env['OCIKIT_FUZZ_PATH'];
  if (path) params.path = path;
  return params;
}

/**
 * Time limit for one fuzz test: vitest's default minute, or an hour when
 * OCIKIT_FUZZ_RUNS asks for a long run (`describe(name, { timeout: fuzzTimeout() }, ...)`).
 */
export function fuzzTimeout(): number {
  return envInt('OCIKIT_FUZZ_RUNS') === undefined ? 60_000 : 3_600_000;
}

/**
 * Every code of ErrorCode, at run time. `satisfies Record<ErrorCode, true>`
 * makes the type checker insist on the whole list, so a new code cannot be
 * forgotten here.
 */
const CODES = {
  USAGE: true,
  INVALID_REFERENCE: true,
  INVALID_DIGEST: true,
  UNSUPPORTED_DIGEST: true,
  DIGEST_MISMATCH: true,
  SIZE_MISMATCH: true,
  NOT_FOUND: true,
  INVALID_LAYOUT: true,
  INVALID_MANIFEST: true,
  MANIFEST_TOO_LARGE: true,
  UNSAFE_BLOB_PATH: true,
  UNSAFE_ARCHIVE_ENTRY: true,
  AMBIGUOUS: true,
  UNSUPPORTED: true,
  LOCKED: true,
  IO_ERROR: true,
  REGISTRY_ERROR: true,
  UNAUTHORIZED: true,
  VERIFY_FAILED: true,
  LIMIT_EXCEEDED: true,
  TIMEOUT: true,
  IN_USE: true,
  UNSAFE_LAYOUT: true,
} satisfies Record<ErrorCode, true>;

export const ERROR_CODES = Object.keys(CODES) as ErrorCode[];

/**
 * The property every hostile-input test shares: `err` is an OcikitError
 * whose code is a known one and, when `allowed` is given, one of those.
 * Anything else (TypeError, RangeError, a plain Error) is rethrown as is,
 * so fast-check reports the real exception with its stack.
 */
export function expectOcikitError(err: unknown, allowed?: readonly ErrorCode[]): OcikitError {
  if (!(err instanceof OcikitError)) throw err;
  if (!ERROR_CODES.includes(err.code)) throw new Error(`OcikitError with unknown code ${JSON.stringify(err.code)}: ${err.message}`);
  if (allowed && !allowed.includes(err.code)) {
    throw new Error(`expected one of ${allowed.join(', ')}, got ${err.code}: ${err.message}`);
  }
  return err;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: OcikitError };

/** Run `fn`: its value, or the OcikitError it threw (checked as above). */
export function outcome<T>(fn: () => T, allowed?: readonly ErrorCode[]): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, error: expectOcikitError(err, allowed) };
  }
}

/** The async form of `outcome`. */
export async function outcomeAsync<T>(fn: () => Promise<T>, allowed?: readonly ErrorCode[]): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: expectOcikitError(err, allowed) };
  }
}

// ------------------------------------------------------------- arbitraries

const HEX = '0123456789abcdef'.split('');

export function hexString(length: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...HEX), minLength: length, maxLength: length });
}

/** A digest ocikit supports: sha256 or sha512 with the right number of lowercase hex digits. */
export const validDigest: fc.Arbitrary<string> = fc.oneof(
  hexString(64).map((h) => `sha256:${h}`),
  hexString(128).map((h) => `sha512:${h}`),
);

/**
 * Strings that stress parsers: arbitrary unicode and bytes-as-latin1, plus
 * the separators and look-alikes a grammar hinges on, glued together.
 */
export function hostileString(pieces: readonly string[] = [], maxLength = 60): fc.Arbitrary<string> {
  const specials = [':', '/', '@', '.', '..', '-', '_', '__', '=', ',', '"', '\\', ' ', '\t', '\0', '\n', '%', '%2F', '%2e', '[', ']', '?', '#', 'sha256:', 'sha512:', '\u00e9', '\ud800', '\u2028'];
  const piece = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...specials, ...pieces) },
    { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
    { weight: 1, arbitrary: hexString(64) },
  );
  return fc.array(piece, { maxLength }).map((parts) => parts.join(''));
}
