/**
 * Sigstore bundles, and cosign signatures carrying a Fulcio certificate,
 * verified offline with Sigstore's own libraries against a trusted root.
 * (Contract only: the implementation lands with issue 17's sigstore part.)
 */
import type { SignatureOutcome, SignaturePolicy } from './types.js';

/**
 * A Sigstore bundle's JSON (media type application/vnd.dev.sigstore.bundle.v0.1/0.2/0.3+json),
 * checked against `policy.trustedRoot` and the identity policy. A message
 * signature must sign `subject` (the digest of the image it is attached to);
 * a DSSE envelope must hold an in-toto statement one of whose subjects has
 * that digest (sha256), and its predicate type is reported.
 */
export async function checkSigstoreBundle(bundle: unknown, subject: string, policy: SignaturePolicy): Promise<SignatureOutcome> {
  void bundle;
  void subject;
  void policy;
  return { kind: 'sigstore-bundle', verdict: 'unverified', reason: 'Sigstore bundles are not checked yet' };
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
 */
export async function checkCertificateSignature(sig: CertificateSignature, policy: SignaturePolicy): Promise<SignatureOutcome> {
  void sig;
  void policy;
  return { kind: 'cosign-signature', verdict: 'unverified', reason: 'certificate signatures are not checked yet' };
}
