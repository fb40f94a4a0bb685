/**
 * Signatures and attestations checked offline: what is asked (a policy) and
 * what was found (one check per signature). Shared by the cosign checks
 * (cosign.ts), the Sigstore bundle checks (sigstore.ts), the walk that finds
 * them (verify-signatures.ts) and the reports (verify, inspect, HTML).
 *
 * Words matter here: a digest that matches says the bytes are the ones named;
 * a valid signature says who vouched for them. Reports never use one for the other.
 */

/** A public key given with `--key FILE` (cosign's form: PEM SubjectPublicKeyInfo). */
export interface TrustedKey {
  /** The PEM text. ECDSA P-256/P-384, RSA and Ed25519 are accepted. */
  pem: string;
  /** Where it came from (the file name), for reports. */
  source?: string;
}

/** What signatures are checked against. With neither keys nor a trusted root, nothing can be verified. */
export interface SignaturePolicy {
  keys?: TrustedKey[];
  /** A Sigstore `trusted_root.json`, as parsed JSON (ocikit never fetches one). */
  trustedRoot?: unknown;
  /** cosign's --certificate-identity / --certificate-identity-regexp: the certificate's SAN must match. */
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  /** cosign's --certificate-oidc-issuer / --certificate-oidc-issuer-regexp. */
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
}

/**
 * How a signature is carried:
 * - `cosign-signature`: a simple-signing payload layer with its signature in the
 *   `dev.cosignproject.cosign/signature` annotation (by key, or by a Fulcio
 *   certificate in `dev.sigstore.cosign/certificate`);
 * - `cosign-attestation`: a DSSE envelope layer (`cosign attest`), in-toto inside;
 * - `sigstore-bundle`: a Sigstore bundle (v0.1–v0.3) layer, message signature or DSSE.
 */
export type SignatureKind = 'cosign-signature' | 'cosign-attestation' | 'sigstore-bundle';

/**
 * - `valid`: the signature checks out against a given key or the trusted root
 *   (and identity), and it is about this subject;
 * - `invalid`: it does not check out (tampered payload or signature, a key or
 *   certificate it cannot be matched to when keys/roots were given, a bad bundle);
 * - `wrong-subject`: a good signature, but of another image;
 * - `unverified`: found, but nothing was given that could check it (no --key, no --trusted-root).
 */
export type SignatureVerdict = 'valid' | 'invalid' | 'wrong-subject' | 'unverified';

/** Who vouched for the subject, when the verdict is `valid`. */
export interface Signer {
  /** `SHA256:<base64>` of the key's DER SubjectPublicKeyInfo (as ssh-keygen prints fingerprints). */
  keyFingerprint?: string;
  /** The --key file that matched. */
  keySource?: string;
  /** The certificate's identity (SAN: email or URI) and OIDC issuer. */
  identity?: string;
  issuer?: string;
}

/** One signature or attestation found for a subject, and what checking it showed. */
export interface SignatureCheck {
  /** The manifest carrying it: a referrer of the subject, or the manifest of its `sha256-<hex>.sig`/`.att` tag. */
  manifest: string;
  /** Which of that manifest's layers. */
  layer: number;
  placement: 'referrer' | 'tag';
  kind: SignatureKind;
  verdict: SignatureVerdict;
  signer?: Signer;
  /** Attestations: the in-toto predicate type (e.g. https://slsa.dev/provenance/v1). */
  predicateType?: string;
  /** One line: why the verdict is not `valid`, or what was checked. */
  reason?: string;
}

/** Every signature and attestation found for one subject (an image or an index). */
export interface SubjectSignatures {
  subject: string;
  checks: SignatureCheck[];
}

/** The check of one signature, before it is placed (manifest, layer, placement) by the walk. */
export type SignatureOutcome = Pick<SignatureCheck, 'kind' | 'verdict' | 'signer' | 'predicateType' | 'reason'>;
