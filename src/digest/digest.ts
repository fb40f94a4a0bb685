/**
 * Digests as the image-spec defines them:
 *   digest    ::= algorithm ":" encoded
 *   algorithm ::= component (separator component)*   component ::= [a-z0-9]+   separator ::= [+._-]
 *   encoded   ::= [a-zA-Z0-9=_-]+
 * sha256 and sha512 are registered and fully supported; any other algorithm
 * that fits the grammar is recognised but reported as unsupported.
 */
import { createHash, type Hash } from 'node:crypto';
import { OcikitError } from '../errors.js';

const SHA256_FORM = /^sha256:[a-f0-9]{64}$/;
const GRAMMAR = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export const SUPPORTED_ALGORITHMS = {
  sha256: { hexLength: 64 },
  sha512: { hexLength: 128 },
} as const;

export type SupportedAlgorithm = keyof typeof SUPPORTED_ALGORITHMS;

export interface ParsedDigest {
  algorithm: SupportedAlgorithm;
  encoded: string;
  /** The canonical string form, `algorithm:encoded`. */
  digest: string;
}

export function isSupportedAlgorithm(alg: string): alg is SupportedAlgorithm {
  return Object.prototype.hasOwnProperty.call(SUPPORTED_ALGORITHMS, alg);
}

/** True when `s` fits the generic digest grammar (whatever its algorithm). */
export function isDigestGrammar(s: string): boolean {
  return GRAMMAR.test(s);
}

/**
 * Parse and validate a digest. Throws INVALID_DIGEST when the string does not
 * fit the grammar or the encoded part is wrong for its algorithm, and
 * UNSUPPORTED_DIGEST for a grammatical digest whose algorithm we cannot verify.
 */
/** `sha256:` and 64 lowercase hex digits, the form nearly every digest has (checked without parsing). */
export function isSha256Digest(s: string): boolean {
  return SHA256_FORM.test(s);
}

export function parseDigest(s: string): ParsedDigest {
  // The common case, checked with one small regex: a walk parses every descriptor's digest.
  if (typeof s === 'string' && SHA256_FORM.test(s)) return { algorithm: 'sha256', encoded: s.slice(7), digest: s };
  if (typeof s !== 'string') throw new OcikitError('INVALID_DIGEST', `invalid digest: expected a string, got ${typeof s}`);
  const m = GRAMMAR.exec(s);
  if (!m) {
    throw new OcikitError('INVALID_DIGEST', `invalid digest ${JSON.stringify(truncate(s))}: expected ALGORITHM:HEX, e.g. sha256:<64 hex digits>`, { digest: s });
  }
  const algorithm = m[1]!;
  const encoded = m[2]!;
  if (!isSupportedAlgorithm(algorithm)) {
    throw new OcikitError('UNSUPPORTED_DIGEST', `unsupported digest algorithm "${algorithm}" in ${truncate(s)}: only sha256 and sha512 are supported`, { digest: s });
  }
  const { hexLength } = SUPPORTED_ALGORITHMS[algorithm];
  if (encoded.length !== hexLength || !/^[a-f0-9]+$/.test(encoded)) {
    throw new OcikitError('INVALID_DIGEST', `invalid ${algorithm} digest ${JSON.stringify(truncate(s))}: expected ${hexLength} lowercase hex digits`, { digest: s });
  }
  return { algorithm, encoded, digest: s };
}

export function isValidDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function createDigestHash(algorithm: SupportedAlgorithm): Hash {
  return createHash(algorithm);
}

/** Digest of bytes already in memory (manifests, configs, small files). */
export function digestBytes(bytes: Uint8Array | string, algorithm: SupportedAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function truncate(s: string): string {
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
