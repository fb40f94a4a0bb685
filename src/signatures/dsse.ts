/**
 * Attestations as `cosign attest` stores them: a layer holding a DSSE
 * envelope whose payload is an in-toto statement. The envelope's signatures
 * are over DSSE's pre-authentication encoding (PAE) of the payload type and
 * the payload bytes, never over the payload alone, so a signature cannot be
 * moved to a payload of another type. Signed by key: checked here; a
 * certificate-signed envelope is only checked as a Sigstore bundle.
 */
import { decodeBase64 } from './cosign.js';
import { CosignAnnotation, IN_TOTO_PAYLOAD_TYPE } from './formats.js';
import { keyVerifiers, type KeyVerifier } from './keys.js';
import type { SignatureOutcome, SignaturePolicy } from './types.js';

const KIND = 'cosign-attestation' as const;

/** DSSE v1 PAE: `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths in ASCII decimal of bytes. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

interface Envelope {
  payloadType: string;
  payload: Buffer;
  signatures: Buffer[];
}

export async function checkDsseAttestation(envelopeBytes: Buffer, annotations: Record<string, string> | undefined, subject: string, policy: SignaturePolicy): Promise<SignatureOutcome> {
  const keys = keyVerifiers(policy.keys);
  const rootGiven = policy.trustedRoot !== undefined;
  const claimed = annotations?.[CosignAnnotation.PredicateType];
  const reported = claimed !== undefined ? { predicateType: claimed } : {};
  if (keys.length === 0 && !rootGiven) return { kind: KIND, verdict: 'unverified', ...reported, reason: 'no --key or --trusted-root given to check it' };
  const envelope = parseEnvelope(envelopeBytes);
  if (typeof envelope === 'string') return { kind: KIND, verdict: 'invalid', ...reported, reason: envelope };

  const key = signingKey(keys, envelope);
  if (!key) {
    if (keys.length === 0 && annotations?.[CosignAnnotation.Certificate] !== undefined) {
      // Keyless cosign attestations in this older form carry the certificate beside the
      // envelope; ocikit checks keyless attestations only as Sigstore bundles. Not checked
      // is not the same as invalid: say so, and do not count it as a valid signature.
      return { kind: KIND, verdict: 'unverified', ...reported, reason: 'a certificate-signed attestation outside a Sigstore bundle: ocikit does not check this form' };
    }
    const reason = keys.length > 0 ? `no given key (${keys.length}) verifies the envelope's signatures over PAE(payloadType, payload)` : 'signed with a key, not a certificate: --trusted-root cannot check it; give the public key with --key';
    return { kind: KIND, verdict: 'invalid', ...reported, reason };
  }
  const signer = { keyFingerprint: key.fingerprint, ...(key.source !== undefined ? { keySource: key.source } : {}) };
  return { kind: KIND, signer, ...statementSubject(envelope, subject, claimed) };
}

function signingKey(keys: KeyVerifier[], envelope: Envelope): KeyVerifier | undefined {
  const message = pae(envelope.payloadType, envelope.payload);
  for (const sig of envelope.signatures) {
    const key = keys.find((k) => k.verify(message, sig));
    if (key) return key;
  }
  return undefined;
}

/** The envelope, or why it is not one. */
function parseEnvelope(bytes: Buffer): Envelope | string {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'the layer is not a DSSE envelope (not JSON)';
  }
  const o = asObject(doc);
  if (!o || typeof o['payloadType'] !== 'string' || typeof o['payload'] !== 'string' || !Array.isArray(o['signatures'])) {
    return 'the layer is not a DSSE envelope (payloadType, payload and signatures expected)';
  }
  const payload = decodeBase64(o['payload']);
  if (!payload) return "the envelope's payload is not base64";
  const signatures: Buffer[] = [];
  for (const s of o['signatures']) {
    const sig = typeof asObject(s)?.['sig'] === 'string' ? decodeBase64(asObject(s)!['sig'] as string) : undefined;
    if (sig) signatures.push(sig);
  }
  if (signatures.length === 0) return 'the envelope has no signature';
  return { payloadType: o['payloadType'], payload, signatures };
}

/** The signed statement must be in-toto and list the subject's digest among its subjects. */
function statementSubject(envelope: Envelope, subject: string, claimed: string | undefined): Pick<SignatureOutcome, 'verdict' | 'reason' | 'predicateType'> {
  const reported = claimed !== undefined ? { predicateType: claimed } : {};
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return { verdict: 'invalid', ...reported, reason: `the envelope's payloadType is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}` };
  }
  let statement: Record<string, unknown> | undefined;
  try {
    statement = asObject(JSON.parse(envelope.payload.toString('utf8')));
  } catch {
    statement = undefined;
  }
  if (!statement || !Array.isArray(statement['subject'])) return { verdict: 'invalid', ...reported, reason: 'the signed payload is not an in-toto statement (no subject list)' };
  // What was signed wins over what the layer's annotation claims.
  const predicateType = typeof statement['predicateType'] === 'string' ? { predicateType: statement['predicateType'] } : reported;
  const [alg, hex] = subject.split(':', 2) as [string, string];
  const names = statement['subject'].map((s) => asObject(asObject(s)?.['digest'])?.[alg]);
  if (!names.some((d) => typeof d === 'string' && d.toLowerCase() === hex)) {
    const other = names.find((d): d is string => typeof d === 'string');
    return { verdict: 'wrong-subject', ...predicateType, reason: other ? `the attestation is validly signed but is about ${alg}:${other}, not this image` : `the attestation is validly signed but names no ${alg} subject digest` };
  }
  return { verdict: 'valid', ...predicateType };
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
