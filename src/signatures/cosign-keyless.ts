/**
 * cosign's keyless signature annotations, read as the Sigstore v0.1 bundle
 * they are equivalent to, so that Sigstore's verifier checks them exactly as
 * it checks a bundle:
 *
 * - `dev.cosignproject.cosign/signature` → a message signature over the
 *   payload layer (its sha256 is the message digest);
 * - `dev.sigstore.cosign/certificate` (+ `.../chain`) → the certificate chain,
 *   leaf first;
 * - `dev.sigstore.cosign/bundle` → the Rekor entry: cosign's
 *   `{SignedEntryTimestamp, Payload: {body, integratedTime, logIndex, logID}}`,
 *   the signed entry timestamp being v0.1's inclusion promise.
 *
 * Pure: nothing is verified here, only reshaped. Anything that does not
 * have the expected shape is returned as a one-line reason.
 */
import { createHash } from 'node:crypto';
import { BUNDLE_V01_MEDIA_TYPE } from '@sigstore/bundle';
import type { CertificateSignature } from './sigstore.js';

/** The serialized (JSON) v0.1 bundle for a keyless cosign signature, or why it cannot be built. */
export function rekorBundleToBundle(sig: CertificateSignature): Record<string, unknown> | string {
  const leaf = pemCertificates(sig.certificate);
  if (leaf.length !== 1) return 'the dev.sigstore.cosign/certificate annotation does not hold exactly one PEM certificate';
  // The chain rides along as the bundle's would; Sigstore's verifier builds the path from the trusted root's CAs.
  const certificates = [...leaf, ...(sig.chain ? pemCertificates(sig.chain) : [])];
  if (!isBase64(sig.signature.trim())) return 'the dev.cosignproject.cosign/signature annotation is not base64';
  if (sig.rekorBundle === undefined) {
    return 'no Rekor bundle (dev.sigstore.cosign/bundle): offline, nothing shows the signature was made while its short-lived certificate was valid';
  }
  const entry = tlogEntry(sig.rekorBundle);
  if (typeof entry === 'string') return entry;
  return {
    mediaType: BUNDLE_V01_MEDIA_TYPE,
    verificationMaterial: {
      x509CertificateChain: { certificates: certificates.map((der) => ({ rawBytes: der.toString('base64') })) },
      tlogEntries: [entry],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(sig.payload).digest('base64') },
      signature: sig.signature.trim(),
    },
  };
}

/** cosign's Rekor bundle annotation as a bundle's transparency log entry. */
function tlogEntry(text: string): Record<string, unknown> | string {
  const bad = (why: string) => `the Rekor bundle (dev.sigstore.cosign/bundle) ${why}`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return bad('is not JSON');
  }
  if (!isRecord(doc) || !isRecord(doc.Payload)) return bad('has no Payload');
  const set = doc.SignedEntryTimestamp;
  const { body, integratedTime, logIndex, logID } = doc.Payload;
  if (typeof set !== 'string' || !isBase64(set)) return bad('has no SignedEntryTimestamp');
  if (typeof body !== 'string' || !isBase64(body)) return bad('has no body');
  if (!Number.isSafeInteger(integratedTime) || !Number.isSafeInteger(logIndex)) return bad('has no integratedTime or logIndex');
  if (typeof logID !== 'string' || !/^[0-9a-f]{64}$/i.test(logID)) return bad('has no logID');
  // The entry kind is only inside the body; the verifier checks the body against the signature by it.
  let kindVersion: { kind: unknown; version: unknown };
  try {
    const entry: unknown = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
    if (!isRecord(entry)) throw new Error('not an object');
    kindVersion = { kind: entry.kind, version: entry.apiVersion };
  } catch {
    return bad('body is not a Rekor entry');
  }
  if (typeof kindVersion.kind !== 'string' || typeof kindVersion.version !== 'string') return bad('body names no entry kind');
  return {
    logIndex: String(logIndex),
    logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
    kindVersion,
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: set },
    canonicalizedBody: body,
  };
}

/** The DER bytes of every CERTIFICATE block of a PEM text, in order. */
function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

function isBase64(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
