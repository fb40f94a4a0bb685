/**
 * The signatures and attestations of a subject, found offline (referrers, and
 * cosign's `sha256-<hex>.sig`/`.att` tags) and each checked against a policy.
 * Every layer of a signature manifest is one check; every byte is read
 * through the target, so digests and sizes are verified before anything is
 * parsed or believed.
 */
import type { Descriptor } from '../spec/types.js';
import type { ReadTarget } from '../graph/target.js';
import { fetchDocumentOrEmbedded, fetchManifestOrEmbedded } from '../graph/content.js';
import { checkSimpleSigning } from './cosign.js';
import { checkDsseAttestation } from './dsse.js';
import { findSignatureManifests, type KnownSignatureManifests, type SignatureManifest } from './discover.js';
import { isSignatureArtifactType, isSignatureManifest, layerKind, SIGSTORE_BUNDLE_TYPES } from './formats.js';
import { canCheckSignatures } from './policy.js';
import { checkSigstoreBundle } from './sigstore.js';
import type { SignatureCheck, SignatureKind, SignatureOutcome, SignaturePolicy, SubjectSignatures } from './types.js';

export type { KnownSignatureManifests } from './discover.js';

/**
 * A signature layer is read whole to be checked. Simple-signing payloads are
 * a few hundred bytes, but an attestation's envelope carries its predicate
 * (an SBOM can be megabytes), so the cap is above the 4 MiB document cap.
 * Larger layers are not read and their checks are `invalid`, with that reason.
 */
export const MAX_SIGNATURE_LAYER = 16 * 1024 * 1024;

export async function verifySignatures(target: ReadTarget, subject: Descriptor, policy: SignaturePolicy, known?: KnownSignatureManifests): Promise<SubjectSignatures> {
  const checks: SignatureCheck[] = [];
  for (const m of await findSignatureManifests(target, subject, known)) checks.push(...(await checkManifest(target, subject, m, policy)));
  checks.sort((a, b) => (a.manifest < b.manifest ? -1 : a.manifest > b.manifest ? 1 : a.layer - b.layer));
  return { subject: subject.digest, checks };
}

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** One check per layer of a signature manifest; nothing for a referrer that is not a signature (an SBOM). */
async function checkManifest(target: ReadTarget, subjectDesc: Descriptor, m: SignatureManifest, policy: SignaturePolicy): Promise<SignatureCheck[]> {
  const subject = subjectDesc.digest;
  // A Sigstore bundle with a message signature signs the subject's manifest bytes themselves.
  const subjectBytes = () => fetchDocumentOrEmbedded(target, subjectDesc);
  const place = (layer: number, outcome: SignatureOutcome): SignatureCheck => ({ manifest: m.descriptor.digest, layer, placement: m.placement, ...outcome });
  const guessed = kindOf(m.descriptor.artifactType, m.suffix);
  let layers: Layer[];
  let artifactType: string | undefined;
  try {
    const { doc } = await fetchManifestOrEmbedded(target, m.descriptor);
    layers = Array.isArray((doc as { layers?: unknown }).layers) ? ((doc as { layers: Layer[] }).layers) : [];
    artifactType = (doc as { artifactType?: string }).artifactType ?? m.descriptor.artifactType;
  } catch (err) {
    // A referrer we cannot read might be an SBOM; but one that says it is a signature,
    // or sits under cosign's tag, is a signature that cannot be checked.
    if (m.placement === 'referrer' && !isSignatureArtifactType(m.descriptor.artifactType)) return [];
    return [place(0, { kind: guessed ?? 'cosign-signature', verdict: 'invalid', reason: `cannot read the signature manifest: ${messageOf(err)}` })];
  }
  if (m.placement !== 'tag' && !isSignatureManifest(artifactType, layers)) return [];
  const kinds = layers.map((l) => (typeof l?.mediaType === 'string' ? layerKind(l.mediaType) : undefined));
  if (layers.length === 0) return [place(0, { kind: kindOf(artifactType, m.suffix) ?? 'cosign-signature', verdict: 'invalid', reason: 'the signature manifest has no layers' })];

  const checks: SignatureCheck[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const kind = kinds[i];
    if (kind === undefined) {
      const what = typeof layer?.mediaType === 'string' ? layer.mediaType : 'no media type';
      checks.push(place(i, { kind: kindOf(artifactType, m.suffix) ?? 'cosign-signature', verdict: 'invalid', reason: `layer ${i} (${what}) is not a signature format ocikit checks` }));
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await fetchDocumentOrEmbedded(target, layer as Descriptor, MAX_SIGNATURE_LAYER);
    } catch (err) {
      checks.push(place(i, { kind, verdict: 'invalid', reason: `cannot read the signature layer ${layer.digest}: ${messageOf(err)}` }));
      continue;
    }
    try {
      checks.push(place(i, await checkLayer(kind, bytes, layer.annotations, subject, policy, subjectBytes)));
    } catch (err) {
      // A checker should answer with a verdict; if one throws, the signature is still not valid.
      checks.push(place(i, { kind, verdict: 'invalid', reason: `the signature could not be checked: ${messageOf(err)}` }));
    }
  }
  return checks;
}

async function checkLayer(
  kind: SignatureKind,
  bytes: Buffer,
  annotations: Record<string, string> | undefined,
  subject: string,
  policy: SignaturePolicy,
  subjectBytes: () => Promise<Buffer>,
): Promise<SignatureOutcome> {
  if (kind === 'cosign-signature') return checkSimpleSigning(bytes, annotations, subject, policy);
  if (kind === 'cosign-attestation') return checkDsseAttestation(bytes, annotations, subject, policy);
  if (!canCheckSignatures(policy)) return { kind, verdict: 'unverified', reason: 'no --key or --trusted-root given to check it' };
  let bundle: unknown;
  try {
    bundle = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind, verdict: 'invalid', reason: 'the Sigstore bundle is not JSON' };
  }
  return checkSigstoreBundle(bundle, subject, policy, isMessageSignatureBundle(bundle) ? await subjectBytes() : undefined);
}

/** What a manifest's artifactType (or cosign tag suffix) says its layers are. */
function kindOf(artifactType: string | undefined, suffix: 'sig' | 'att' | undefined): SignatureKind | undefined {
  if (artifactType !== undefined && SIGSTORE_BUNDLE_TYPES.has(artifactType)) return 'sigstore-bundle';
  const kind = artifactType !== undefined ? layerKind(artifactType) : undefined;
  if (kind) return kind;
  if (artifactType !== undefined && isSignatureArtifactType(artifactType)) return 'cosign-signature';
  return suffix === 'att' ? 'cosign-attestation' : suffix === 'sig' ? 'cosign-signature' : undefined;
}

/** A bundle whose content is a message signature (over bytes it does not carry), not a DSSE envelope. */
function isMessageSignatureBundle(bundle: unknown): boolean {
  return typeof bundle === 'object' && bundle !== null && 'messageSignature' in bundle;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
