/**
 * What a Sigstore signature is checked against: the trust material of a
 * `trusted_root.json` (Fulcio CAs, Rekor and CT log keys, timestamp
 * authorities) and cosign's identity policy. Nothing here fetches anything:
 * the root is what the caller gave, or there is none.
 */
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { UsageError } from '../errors.js';
import type { SignaturePolicy, Signer } from './types.js';

/**
 * Parsed once per root object: a verify run checks many signatures against
 * the same root, and building trust material parses every certificate in it.
 */
const materials = new WeakMap<object, TrustMaterial>();

/**
 * The trust material of `policy.trustedRoot`, or undefined when none was
 * given. Throws a UsageError when the root cannot be read: that is the
 * caller's file, not a property of any signature.
 */
export function trustMaterialOf(policy: SignaturePolicy): TrustMaterial | undefined {
  const root = policy.trustedRoot;
  if (root === undefined || root === null) return undefined;
  if (typeof root !== 'object') throw badRoot('it is not a JSON object');
  const cached = materials.get(root);
  if (cached) return cached;
  let material: TrustMaterial;
  try {
    const parsed = TrustedRoot.fromJSON(root);
    if (parsed.certificateAuthorities.length === 0 && parsed.tlogs.length === 0 && parsed.timestampAuthorities.length === 0) {
      throw new Error('it lists no certificate authority, transparency log or timestamp authority');
    }
    material = toTrustMaterial(parsed);
  } catch (err) {
    throw badRoot(err instanceof Error ? err.message : String(err), err);
  }
  materials.set(root, material);
  return material;
}

function badRoot(why: string, cause?: unknown): UsageError {
  return new UsageError(`the trusted root cannot be read as a Sigstore trusted_root.json: ${why}`, {
    cause,
    hint: "give the trusted_root.json of the Sigstore instance that signed: the public instance's is the trusted_root.json target of its TUF repository; `cosign trusted-root create` makes one for a private instance",
  });
}

/**
 * Checks what the CLI takes from its flags before any signature is read:
 * the trusted root parses and the identity patterns compile. Throws a
 * UsageError naming the flag otherwise.
 */
export function checkSigstorePolicy(policy: SignaturePolicy): void {
  trustMaterialOf(policy);
  compilePattern(policy.certificateIdentityRegexp, '--certificate-identity-regexp');
  compilePattern(policy.certificateOidcIssuerRegexp, '--certificate-oidc-issuer-regexp');
}

function compilePattern(pattern: string | undefined, flag: string): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    // Unanchored, as cosign matches these (Go's regexp.MatchString): anchor with ^...$ to match whole.
    return new RegExp(pattern);
  } catch (err) {
    throw new UsageError(`${flag} ${JSON.stringify(pattern)} is not a valid regular expression`, { cause: err });
  }
}

/**
 * The certificate's identity against cosign's identity flags. Returns a
 * reason when it does not match, or when no identity or issuer was asked
 * for at all: anyone can obtain a Fulcio certificate, so a certificate
 * chained to the root says who signed but not that this signer is trusted.
 * cosign refuses keyless verification without both; so do we (`unverified`).
 */
export function identityMismatch(policy: SignaturePolicy, signer: Signer): { verdict: 'invalid' | 'unverified'; reason: string } | undefined {
  const who = `signed by ${signer.identity ?? '(no identity)'} (issuer ${signer.issuer ?? 'unknown'})`;
  const identityAsked = policy.certificateIdentity !== undefined || policy.certificateIdentityRegexp !== undefined;
  const issuerAsked = policy.certificateOidcIssuer !== undefined || policy.certificateOidcIssuerRegexp !== undefined;
  if (!identityAsked || !issuerAsked) {
    const missing = [!identityAsked && '--certificate-identity[-regexp]', !issuerAsked && '--certificate-oidc-issuer[-regexp]'].filter(Boolean).join(' and ');
    return { verdict: 'unverified', reason: `${who}, but no ${missing} was given to say which signer to accept` };
  }
  const san = signer.identity;
  if (policy.certificateIdentity !== undefined && san !== policy.certificateIdentity) {
    return { verdict: 'invalid', reason: `${who}: the certificate identity is not ${policy.certificateIdentity}` };
  }
  const identityPattern = compilePattern(policy.certificateIdentityRegexp, '--certificate-identity-regexp');
  if (identityPattern && (san === undefined || !identityPattern.test(san))) {
    return { verdict: 'invalid', reason: `${who}: the certificate identity does not match /${policy.certificateIdentityRegexp}/` };
  }
  const issuer = signer.issuer;
  if (policy.certificateOidcIssuer !== undefined && issuer !== policy.certificateOidcIssuer) {
    return { verdict: 'invalid', reason: `${who}: the certificate's OIDC issuer is not ${policy.certificateOidcIssuer}` };
  }
  const issuerPattern = compilePattern(policy.certificateOidcIssuerRegexp, '--certificate-oidc-issuer-regexp');
  if (issuerPattern && (issuer === undefined || !issuerPattern.test(issuer))) {
    return { verdict: 'invalid', reason: `${who}: the certificate's OIDC issuer does not match /${policy.certificateOidcIssuerRegexp}/` };
  }
  return undefined;
}
