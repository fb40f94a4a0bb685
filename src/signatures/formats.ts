/**
 * What cosign and Sigstore write into a registry or layout, as facts to
 * recognize: media types, annotations and cosign's tag names. Pure data, no I/O.
 */

export const SignatureMediaType = {
  /** A cosign signature manifest's artifactType (OCI 1.1 referrers mode). */
  CosignSignatureArtifact: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  /** A layer holding a simple-signing payload; the signature is in its annotations. */
  SimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  /** A layer holding a DSSE envelope (`cosign attest`), in-toto inside. */
  DsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
} as const;

/** Sigstore bundle media types, v0.1 to v0.3 (as artifactType or layer media type). */
export const SIGSTORE_BUNDLE_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle.v0.1+json',
  'application/vnd.dev.sigstore.bundle.v0.2+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
]);

export const CosignAnnotation = {
  /** base64 signature over the layer's bytes (simple signing). */
  Signature: 'dev.cosignproject.cosign/signature',
  /** PEM certificate of a keyless (Fulcio) signature, and its chain. */
  Certificate: 'dev.sigstore.cosign/certificate',
  Chain: 'dev.sigstore.cosign/chain',
  /** JSON: the Rekor entry's signed promise (bundle of cosign's old format). */
  Bundle: 'dev.sigstore.cosign/bundle',
  /** On attestation layers: the in-toto predicate type. */
  PredicateType: 'predicateType',
} as const;

/** The `critical.type` of a cosign simple-signing payload. */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** What a layer of a signature manifest carries, by its media type; undefined for anything else. */
export function layerKind(mediaType: string): 'cosign-signature' | 'cosign-attestation' | 'sigstore-bundle' | undefined {
  if (mediaType === SignatureMediaType.SimpleSigning) return 'cosign-signature';
  if (mediaType === SignatureMediaType.DsseEnvelope) return 'cosign-attestation';
  if (SIGSTORE_BUNDLE_TYPES.has(mediaType)) return 'sigstore-bundle';
  return undefined;
}

/** An artifactType that says "signature or attestation" on its own. */
export function isSignatureArtifactType(t: string | undefined): boolean {
  return t !== undefined && (t === SignatureMediaType.CosignSignatureArtifact || t === SignatureMediaType.DsseEnvelope || SIGSTORE_BUNDLE_TYPES.has(t));
}

/** cosign's tag suffixes: signatures, attestations, and SBOMs (`cosign attach sbom`, not checked). */
export type CosignTagSuffix = 'sig' | 'att' | 'sbom';

const COSIGN_TAG = /^([a-z0-9]+)-([a-f0-9]{32,})\.(sig|att|sbom)$/;

/** `sha256-<hex>.sig` for `sha256:<hex>`: where cosign puts a subject's signatures (and `.att`, attestations). */
export function cosignTag(subject: string, suffix: CosignTagSuffix): string {
  return `${subject.replace(':', '-')}.${suffix}`;
}

/** The subject digest and suffix of a cosign tag, or undefined for any other tag. */
export function parseCosignTag(tag: string): { subject: string; suffix: CosignTagSuffix } | undefined {
  const m = COSIGN_TAG.exec(tag);
  return m ? { subject: `${m[1]}:${m[2]}`, suffix: m[3] as CosignTagSuffix } : undefined;
}

/** A manifest that carries signatures or attestations: by its artifactType, or by any of its layers. */
export function isSignatureManifest(artifactType: string | undefined, layers: unknown): boolean {
  if (isSignatureArtifactType(artifactType)) return true;
  return Array.isArray(layers) && layers.some((l) => typeof (l as { mediaType?: unknown })?.mediaType === 'string' && layerKind((l as { mediaType: string }).mediaType) !== undefined);
}
