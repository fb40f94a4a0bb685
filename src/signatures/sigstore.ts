/**
 * Sigstore bundles, and cosign signatures carrying a Fulcio certificate,
 * verified offline with Sigstore's own libraries against a trusted root.
 *
 * @sigstore/bundle reads and validates the bundle (v0.1, v0.2, v0.3);
 * @sigstore/verify checks the signature, the certificate chain to a Fulcio
 * CA of the root (at the signing time the log or a timestamp authority
 * vouches for), the embedded SCTs, and the transparency log entry (inclusion
 * proof or signed promise) against the root's log keys. None of it opens a
 * connection: the trust material is only what the caller gave.
 *
 * What is left to us: cosign's identity policy (sigstore-trust.ts), which
 * --key a key-signed bundle (`cosign sign --key`, new format) matches, and
 * whether the bundle is about this image at all.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify';
import { digestBytes } from '../digest/digest.js';
import { isOcikitError } from '../errors.js';
import { readInTotoStatement, statementNames } from './in-toto.js';
import { rekorBundleToBundle } from './cosign-keyless.js';
import { keyVerifier } from './keys.js';
import { identityMismatch, trustMaterialOf } from './sigstore-trust.js';
import type { SignatureKind, SignatureOutcome, SignaturePolicy, Signer } from './types.js';

export { checkSigstorePolicy } from './sigstore-trust.js';

/**
 * A Sigstore bundle's JSON (media type application/vnd.dev.sigstore.bundle.v0.1/0.2/0.3+json),
 * checked against `policy.trustedRoot` and the identity policy. A message
 * signature must sign `subject` (the digest of the image it is attached to);
 * a DSSE envelope must hold an in-toto statement one of whose subjects has
 * that digest (sha256), and its predicate type is reported.
 *
 * A message signature is a signature over the signed bytes themselves, so it
 * can only be checked with them: `subjectManifest` is the subject's manifest
 * as stored (its sha256 is `subject`). Without it a message-signature bundle
 * is `unverified`. DSSE bundles (what `cosign sign --new-bundle-format` and
 * `cosign attest` write) carry what they sign and need no more.
 */
export async function checkSigstoreBundle(
  bundle: unknown,
  subject: string,
  policy: SignaturePolicy,
  subjectManifest?: Uint8Array,
): Promise<SignatureOutcome> {
  const kind: SignatureKind = 'sigstore-bundle';
  let parsed: Bundle;
  try {
    parsed = bundleFromJSON(bundle);
  } catch (err) {
    return { kind, verdict: 'invalid', reason: `not a valid Sigstore bundle: ${libraryReason(err)}` };
  }

  // What the bundle claims to be about, read before any check so that even
  // an unverified or invalid attestation says which predicate it carries.
  let about: { predicateType?: string; names: boolean; what: string };
  let artifact: Buffer | undefined;
  if (parsed.content.$case === 'dsseEnvelope') {
    const env = parsed.content.dsseEnvelope;
    const statement = readInTotoStatement(env.payloadType, env.payload);
    if (typeof statement === 'string') return { kind, verdict: 'invalid', reason: statement };
    about = {
      predicateType: statement.predicateType,
      names: statementNames(statement, subject),
      what: `its in-toto statement names ${statement.subjectSha256.map((h) => `sha256:${h}`).join(', ') || 'no sha256 subject'}`,
    };
  } else {
    const { messageDigest } = parsed.content.messageSignature;
    const signedDigest = messageDigest ? `${hashName(messageDigest.algorithm)}:${Buffer.from(messageDigest.digest).toString('hex')}` : 'nothing';
    about = { names: signedDigest === subject, what: `it signs ${signedDigest}` };
    // Bytes that are not the subject's are not what it signs: they are ignored, and the bundle stays unverified.
    if (about.names && subjectManifest && digestBytes(subjectManifest) === subject) artifact = Buffer.from(subjectManifest);
  }
  const predicateType = about.predicateType;

  let material: TrustMaterial | undefined;
  try {
    material = trustMaterialOf(policy);
  } catch (err) {
    return { kind, verdict: 'invalid', predicateType, reason: isOcikitError(err) ? err.message : libraryReason(err) };
  }
  // `cosign sign --key` with the new bundle format: a public key hint instead of a certificate.
  const keySigned = parsed.verificationMaterial.content.$case === 'publicKey';
  if (keySigned && !policy.keys?.length) return { kind, verdict: 'unverified', predicateType, reason: 'the bundle is signed with a key, and no --key was given to check it' };
  if (!keySigned && !material) return { kind, verdict: 'unverified', predicateType, reason: 'no --trusted-root was given to check this Sigstore bundle against' };
  if (parsed.content.$case === 'messageSignature') {
    // The signature covers bytes we only hold when they are the subject's:
    // a bundle over anything else is about another artifact, whatever else holds.
    if (!about.names) return { kind, verdict: 'wrong-subject', predicateType, reason: `${about.what}, not ${subject}` };
    if (!artifact) return { kind, verdict: 'unverified', predicateType, reason: 'a message signature is checked over the signed manifest, whose bytes were not given' };
  }

  const outcome = keySigned ? verifyWithKeys(parsed, artifact, material, policy, kind) : verifyWithRoot(parsed, artifact, material!, policy, kind);
  if (outcome.verdict !== 'valid') return { ...outcome, predicateType };
  if (!about.names) return { kind, verdict: 'wrong-subject', signer: outcome.signer, predicateType, reason: `${about.what}, not ${subject}` };
  return { ...outcome, predicateType };
}

/** A cosign signature made with a Fulcio certificate (keyless), as its layer annotations carry it. */
export interface CertificateSignature {
  /** The simple-signing payload bytes (the layer's content). */
  payload: Buffer;
  /** `dev.cosignproject.cosign/signature`: base64. */
  signature: string;
  /** `dev.sigstore.cosign/certificate` (PEM) and `dev.sigstore.cosign/chain` (PEM, optional). */
  certificate: string;
  chain?: string;
  /** `dev.sigstore.cosign/bundle`: the Rekor entry's signed promise, JSON (optional). */
  rekorBundle?: string;
}

/**
 * The signature over the payload checked with the certificate's key, the
 * certificate chained to a Fulcio CA of the trusted root and matched against
 * the identity policy, and the Rekor bundle (when present) against the
 * root's transparency log keys. Whether the payload names the right image is
 * the caller's check (cosign.ts).
 *
 * The annotations are turned into the v0.1 bundle they are equivalent to
 * (cosign-keyless.ts), so exactly the same checks run as for a bundle. A
 * signature without a Rekor bundle is `invalid`: a Fulcio certificate lives
 * ten minutes, and offline only the log's signed promise says it was signed
 * within them (cosign, offline, refuses it too).
 */
export async function checkCertificateSignature(sig: CertificateSignature, policy: SignaturePolicy): Promise<SignatureOutcome> {
  const kind: SignatureKind = 'cosign-signature';
  let material: TrustMaterial | undefined;
  try {
    material = trustMaterialOf(policy);
  } catch (err) {
    return { kind, verdict: 'invalid', reason: isOcikitError(err) ? err.message : libraryReason(err) };
  }
  if (!material) return { kind, verdict: 'unverified', reason: 'a certificate signature needs --trusted-root to be checked' };
  const built = rekorBundleToBundle(sig);
  if (typeof built === 'string') return { kind, verdict: 'invalid', reason: built };
  let parsed: Bundle;
  try {
    parsed = bundleFromJSON(built);
  } catch (err) {
    return { kind, verdict: 'invalid', reason: `the certificate or Rekor bundle annotations are malformed: ${libraryReason(err)}` };
  }
  return verifyWithRoot(parsed, sig.payload, material, policy, kind);
}

/** Sigstore's Verifier over a parsed bundle, then cosign's identity policy. Never throws. */
function verifyWithRoot(
  bundle: Bundle,
  artifact: Buffer | undefined,
  material: TrustMaterial,
  policy: SignaturePolicy,
  kind: SignatureKind,
): Pick<SignatureOutcome, 'kind' | 'verdict' | 'signer' | 'reason'> {
  let signer: Signer;
  try {
    const entity = toSignedEntity(bundle, artifact);
    const verified = new Verifier(material).verify(entity);
    signer = { identity: verified.identity?.subjectAlternativeName, issuer: verified.identity?.extensions?.issuer };
  } catch (err) {
    return { kind, verdict: 'invalid', reason: libraryReason(err) };
  }
  const mismatch = identityMismatch(policy, signer);
  if (mismatch) return { kind, verdict: mismatch.verdict, reason: mismatch.reason };
  return { kind, verdict: 'valid', signer, reason: `certificate of ${signer.identity} (issuer ${signer.issuer}) chained to the trusted root, signature and transparency log entry checked` };
}

/**
 * A key-signed bundle against each --key in turn (its key hint is not
 * trusted to pick one). With a trusted root its log entries and timestamps
 * are checked as for a certificate; without one, only the signature is, as
 * for a cosign signature by key, and the reason says the log was not checked.
 */
function verifyWithKeys(
  bundle: Bundle,
  artifact: Buffer | undefined,
  material: TrustMaterial | undefined,
  policy: SignaturePolicy,
  kind: SignatureKind,
): Pick<SignatureOutcome, 'kind' | 'verdict' | 'signer' | 'reason'> {
  let firstError: unknown;
  for (const key of policy.keys ?? []) {
    let fingerprint: string;
    let publicKey: KeyObject;
    try {
      fingerprint = keyVerifier(key).fingerprint;
      publicKey = createPublicKey({ key: key.pem, format: 'pem' });
    } catch (err) {
      firstError ??= err;
      continue;
    }
    const trusted: TrustMaterial = { ...(material ?? NO_ROOT), publicKey: () => ({ publicKey, validFor: () => true }) };
    try {
      const entity = toSignedEntity(bundle, artifact);
      // Without a root there is nothing to check log entries or timestamps against: leave them out, require none.
      const checked = material ? entity : { ...entity, tlogEntries: [], timestamps: [] };
      new Verifier(trusted, material ? {} : { tlogThreshold: 0, timestampThreshold: 0 }).verify(checked);
    } catch (err) {
      // A signature that does not match is another key's; any other failure is the bundle's, whichever key.
      if ((err as { code?: unknown }).code !== 'SIGNATURE_ERROR') return { kind, verdict: 'invalid', reason: libraryReason(err) };
      firstError ??= err;
      continue;
    }
    const signer: Signer = { keyFingerprint: fingerprint, ...(key.source !== undefined ? { keySource: key.source } : {}) };
    const logged = material ? 'signature and transparency log entry checked' : 'signature checked; its transparency log entry was not (no --trusted-root)';
    return { kind, verdict: 'valid', signer, reason: `signed by key ${fingerprint}: ${logged}` };
  }
  return { kind, verdict: 'invalid', reason: `no --key verifies the signature${firstError ? ` (${libraryReason(firstError)})` : ''}` };
}

/** Trust material with nothing in it: a key-signed bundle checked by --key alone. */
const NO_ROOT: TrustMaterial = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => { throw new Error('no key'); } };

/** Which check failed, in words, from an error of Sigstore's libraries. */
const CHECK_NAMES: Record<string, string> = {
  CERTIFICATE_ERROR: 'the certificate does not chain to a trusted Fulcio CA at the signing time, or its SCT is not valid',
  PUBLIC_KEY_ERROR: 'the signing key is not trusted',
  SIGNATURE_ERROR: 'the signature does not match the signed content',
  TIMESTAMP_ERROR: 'the signing time is not vouched for by the trusted log or timestamp authorities',
  TLOG_ERROR: 'the transparency log entry is not acceptable',
  TLOG_BODY_ERROR: 'the transparency log entry is about another signature or content',
  TLOG_INCLUSION_PROOF_ERROR: 'the transparency log inclusion proof does not check out',
  TLOG_INCLUSION_PROMISE_ERROR: 'the transparency log promise (SET) is not signed by a trusted log',
  TLOG_MISSING_INCLUSION_ERROR: 'the transparency log entry has neither an inclusion proof nor a promise',
  NOT_IMPLEMENTED_ERROR: 'it uses a form Sigstore\'s verifier does not support',
};

function libraryReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const fields = (err as { fields?: unknown }).fields;
  const detail = Array.isArray(fields) && fields.length > 0 ? `${err.message} (${fields.join(', ')})` : err.message;
  const check = typeof code === 'string' ? CHECK_NAMES[code] : undefined;
  return oneLine(check ? `${check}: ${detail}` : detail);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** protobuf-specs' HashAlgorithm as the digest algorithm prefix OCI uses. */
function hashName(algorithm: number): string {
  // 0 (unspecified) is what Sigstore's own verifier takes as SHA-256; 1 is SHA2_256.
  switch (algorithm) {
    case 0:
    case 1:
      return 'sha256';
    case 2:
      return 'sha384';
    case 3:
      return 'sha512';
    default:
      return `hash-${algorithm}`;
  }
}
