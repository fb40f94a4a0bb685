/**
 * Public keys given with `--key`, and checking a signature with them exactly
 * as cosign does. cosign loads a PEM key with sigstore's LoadVerifier and
 * SHA-256 whatever the key (cosign verify's default digest algorithm):
 * - ECDSA (P-256, P-384, P-521): SHA-256 of the message, ASN.1 DER signature,
 *   also for P-384 and P-521 (not SHA-384/512 as the curve size might suggest);
 * - RSA: PKCS #1 v1.5 with SHA-256 (not PSS);
 * - Ed25519: pure Ed25519 over the message itself (no pre-hash).
 */
import { createHash, createPublicKey, constants, verify, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { TrustedKey } from './types.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'rsa' | 'ed25519';

/** A key ready to check signatures, with what reports name it by. */
export interface KeyVerifier {
  algorithm: KeyAlgorithm;
  /** `SHA256:` + unpadded base64 of SHA-256 over the DER SubjectPublicKeyInfo (ssh-keygen's style). */
  fingerprint: string;
  /** The file it came from. */
  source?: string;
  /** True when `signature` is a valid signature of `message` under this key. Never throws. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

const CURVES: Record<string, KeyAlgorithm> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384', secp521r1: 'ecdsa-p521' };
/** sigstore refuses smaller RSA keys; so does ocikit. */
const MIN_RSA_BITS = 2048;
/** PEM labels of a public key: SubjectPublicKeyInfo, and PKCS #1 for RSA (cosign accepts both). */
const PUBLIC_KEY_PEM = /-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY)-----/;

/** Parse a PEM public key; a usage error naming its source when it is not one ocikit (and cosign) can use. */
export function keyVerifier(key: TrustedKey): KeyVerifier {
  const name = key.source ?? 'the key';
  const fail = (why: string): never => {
    throw new UsageError(`${name} ${why}: --key takes a PEM public key (ECDSA P-256/P-384/P-521, RSA of ${MIN_RSA_BITS} bits or more, or Ed25519), as cosign writes to cosign.pub or openssl pkey -pubout prints`, {
      ...(key.source ? { path: key.source } : {}),
    });
  };
  const label = PUBLIC_KEY_PEM.exec(key.pem);
  // Node would also derive a public key from a private key or a certificate: refuse those
  // rather than accept a file that is not what the flag asks for.
  if (!label) fail(/PRIVATE KEY-----/.test(key.pem) ? 'is a private key, not a public key' : 'is not a PEM public key');
  let obj: KeyObject;
  try {
    obj = createPublicKey({ key: key.pem, format: 'pem' });
  } catch {
    return fail('cannot be read as a PEM public key');
  }
  const algorithm = algorithmOf(obj, fail);
  const der = obj.export({ type: 'spki', format: 'der' });
  const fingerprint = `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
  return {
    algorithm,
    fingerprint,
    ...(key.source !== undefined ? { source: key.source } : {}),
    verify: (message, signature) => {
      try {
        if (algorithm === 'ed25519') return verify(null, message, obj, signature);
        if (algorithm === 'rsa') return verify('sha256', message, { key: obj, padding: constants.RSA_PKCS1_PADDING }, signature);
        return verify('sha256', message, { key: obj, dsaEncoding: 'der' }, signature);
      } catch {
        // A malformed signature (wrong length, bad DER) is simply not a valid one.
        return false;
      }
    },
  };
}

function algorithmOf(obj: KeyObject, fail: (why: string) => never): KeyAlgorithm {
  const type = obj.asymmetricKeyType;
  if (type === 'ed25519') return 'ed25519';
  if (type === 'rsa') {
    const bits = obj.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) fail(`is a ${bits}-bit RSA key, under ${MIN_RSA_BITS} bits`);
    return 'rsa';
  }
  if (type === 'ec') {
    const curve = obj.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const alg = CURVES[curve];
    return alg ?? fail(`is an ECDSA key on curve ${curve}, which cosign does not use`);
  }
  return fail(`is a ${type ?? 'unknown'} key`);
}

const parsed = new WeakMap<readonly TrustedKey[], KeyVerifier[]>();

/** The policy's keys, parsed once per key list (a walk checks many signatures against the same keys). */
export function keyVerifiers(keys: readonly TrustedKey[] | undefined): KeyVerifier[] {
  if (!keys || keys.length === 0) return [];
  let list = parsed.get(keys);
  if (!list) {
    list = keys.map(keyVerifier);
    parsed.set(keys, list);
  }
  return list;
}

/** The first key that verifies `signature` over `message`, if any. */
export function findSigningKey(keys: readonly KeyVerifier[], message: Uint8Array, signature: Uint8Array): KeyVerifier | undefined {
  return keys.find((k) => k.verify(message, signature));
}
