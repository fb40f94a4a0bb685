/**
 * cosign's simple signing: a layer whose bytes are a JSON payload naming the
 * image, with a signature over exactly those bytes in the layer's
 * `dev.cosignproject.cosign/signature` annotation (base64). Signed by a key
 * (checked here against --key) or by a Fulcio certificate in the
 * `dev.sigstore.cosign/certificate` annotation (sigstore.ts checks it).
 * Either way, a good signature counts only when the payload names the
 * subject it is attached to: a valid signature of another image is the
 * classic replay, and a failure.
 */
import { checkCertificateSignature } from './sigstore.js';
import { CosignAnnotation, SIMPLE_SIGNING_TYPE } from './formats.js';
import { findSigningKey, keyVerifiers } from './keys.js';
import type { SignatureOutcome, SignaturePolicy } from './types.js';

const KIND = 'cosign-signature' as const;

export async function checkSimpleSigning(payload: Buffer, annotations: Record<string, string> | undefined, subject: string, policy: SignaturePolicy): Promise<SignatureOutcome> {
  const encoded = annotations?.[CosignAnnotation.Signature];
  const certificate = annotations?.[CosignAnnotation.Certificate];
  const keys = keyVerifiers(policy.keys);
  const rootGiven = policy.trustedRoot !== undefined;
  if (keys.length === 0 && !rootGiven) return { kind: KIND, verdict: 'unverified', reason: 'no --key or --trusted-root given to check it' };
  const signature = encoded === undefined ? undefined : decodeBase64(encoded);
  if (!signature) {
    return { kind: KIND, verdict: 'invalid', reason: encoded === undefined ? `the layer has no ${CosignAnnotation.Signature} annotation` : `${CosignAnnotation.Signature} is not base64` };
  }

  let signed: SignatureOutcome;
  const key = findSigningKey(keys, payload, signature);
  if (key) {
    signed = { kind: KIND, verdict: 'valid', signer: { keyFingerprint: key.fingerprint, ...(key.source !== undefined ? { keySource: key.source } : {}) } };
  } else if (certificate !== undefined && rootGiven) {
    signed = await checkCertificateSignature(
      {
        payload,
        signature: encoded!,
        certificate,
        ...(annotations?.[CosignAnnotation.Chain] !== undefined ? { chain: annotations[CosignAnnotation.Chain] } : {}),
        ...(annotations?.[CosignAnnotation.Bundle] !== undefined ? { rekorBundle: annotations[CosignAnnotation.Bundle] } : {}),
      },
      policy,
    );
  } else {
    return { kind: KIND, verdict: 'invalid', reason: noMatchReason(keys.length, certificate !== undefined, rootGiven) };
  }
  if (signed.verdict !== 'valid') return signed;
  return { ...signed, ...payloadSubject(payload, subject) };
}

function noMatchReason(keys: number, hasCertificate: boolean, rootGiven: boolean): string {
  const byKeys = keys > 0 ? `no given key (${keys}) verifies the signature over the payload` : '';
  if (hasCertificate) return `${byKeys}; it is signed with a certificate, which needs --trusted-root`;
  return rootGiven && keys === 0 ? 'signed with a key, not a certificate: --trusted-root cannot check it; give the public key with --key' : byKeys;
}

/**
 * The payload must be cosign's simple signing JSON for this subject:
 * `critical.type` cosign's, `critical.image.docker-manifest-digest` the subject.
 * Only the fields that say what is signed are checked; `optional` is the signer's business.
 */
function payloadSubject(payload: Buffer, subject: string): Pick<SignatureOutcome, 'verdict' | 'reason'> {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { verdict: 'invalid', reason: 'the signed payload is not JSON (cosign simple signing expected)' };
  }
  const critical = field(doc, 'critical');
  const type = field(critical, 'type');
  if (type !== SIMPLE_SIGNING_TYPE) return { verdict: 'invalid', reason: `the signed payload's critical.type is ${JSON.stringify(type)}, not "${SIMPLE_SIGNING_TYPE}"` };
  const signedDigest = field(field(critical, 'image'), 'docker-manifest-digest');
  if (typeof signedDigest !== 'string') return { verdict: 'invalid', reason: 'the signed payload has no critical.image.docker-manifest-digest' };
  if (signedDigest !== subject) return { verdict: 'wrong-subject', reason: `the signature is valid but signs ${signedDigest}, not this image` };
  return { verdict: 'valid' };
}

function field(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null && !Array.isArray(obj) ? (obj as Record<string, unknown>)[key] : undefined;
}

/** Strict base64 (standard alphabet, padding optional): anything else is not a signature. */
export function decodeBase64(text: string): Buffer | undefined {
  const t = text.trim();
  if (t.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return undefined;
  return Buffer.from(t, 'base64');
}
