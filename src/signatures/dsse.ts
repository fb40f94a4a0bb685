/**
 * Attestations as `cosign attest` stores them: a layer holding a DSSE
 * envelope whose payload is an in-toto statement. The envelope's signatures
 * are over DSSE's pre-authentication encoding (PAE) of the payload type and
 * the payload bytes, never over the payload alone, so a signature cannot be
 * moved to a payload of another type. Signed by key: checked here; a
 * certificate-signed envelope is only checked as a Sigstore bundle.
 */
import { decodeBase64 } from './cosign.js';
import { CosignAnnotation } from './formats.js';
import { readInTotoStatement, statementNames } from './in-toto.js';
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
    const reason = keys.length > 0 ? `the envelope's signatures over PAE(payloadType, payload) do not check out with ${keys.length === 1 ? 'the given key' : `any of the ${keys.length} given keys`}` : 'signed with a key, not a certificate: --trusted-root cannot check it; give the public key with --key';
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
  const statement = readInTotoStatement(envelope.payloadType, envelope.payload);
  if (typeof statement === 'string') return { verdict: 'invalid', ...reported, reason: statement };
  // What was signed wins over what the layer's annotation claims.
  const predicateType = statement.predicateType !== undefined ? { predicateType: statement.predicateType } : reported;
  if (!statementNames(statement, subject)) {
    const other = statement.subjectSha256[0];
    return { verdict: 'wrong-subject', ...predicateType, reason: other ? `the attestation is validly signed but is about sha256:${other}, not this image` : 'the attestation is validly signed but names no sha256 subject digest' };
  }
  return { verdict: 'valid', ...predicateType };
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
