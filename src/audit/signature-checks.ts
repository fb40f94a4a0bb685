/**
 * The signatures of what a catalog holds, checked for a report (inspect and
 * its HTML page): each image or index that has referrers, or a cosign
 * `sha256-<hex>.sig`/`.att` tag beside it, is handed to verifySignatures; the
 * others cannot have a signature and cost nothing. Only subjects with at
 * least one signature are kept.
 */
import type { ReadTarget } from '../graph/target.js';
import { mapBounded } from '../util/limit.js';
import { verifySignatures } from '../signatures/verify-signatures.js';
import type { SignatureCheck, SignaturePolicy, SignatureVerdict } from '../signatures/types.js';
import type { Catalog } from './catalog.js';

/** cosign's tag for the signatures (`.sig`) or attestations (`.att`) of the manifest `sha256:<hex>`. */
const COSIGN_TAG = /^sha256-([0-9a-f]{64})\.(sig|att)$/;
/** Subjects checked at once: each reads a few small documents. */
const CONCURRENCY = 8;

export async function checkCatalogSignatures(target: ReadTarget, catalog: Catalog, policy: SignaturePolicy): Promise<Map<string, SignatureCheck[]>> {
  const tagged = new Set<string>();
  for (const r of catalog.roots) {
    const m = r.tag !== undefined ? COSIGN_TAG.exec(r.tag) : null;
    if (m) tagged.add(`sha256:${m[1]}`);
  }
  const subjects = [...catalog.manifests.values()].filter((m) => (m.kind === 'image' || m.kind === 'index') && (tagged.has(m.digest) || catalog.referrersOf(m.digest).length > 0));
  const out = new Map<string, SignatureCheck[]>();
  await mapBounded(subjects, CONCURRENCY, async (m) => {
    const { checks } = await verifySignatures(target, { mediaType: m.mediaType, digest: m.digest, size: m.size }, policy);
    if (checks.length > 0) out.set(m.digest, checks);
  });
  return out;
}

/** How many signatures of a report got each verdict. */
export type SignatureCounts = Record<SignatureVerdict, number>;

export function countSignatures(checks: Iterable<SignatureCheck[]>): SignatureCounts {
  const counts: SignatureCounts = { valid: 0, invalid: 0, 'wrong-subject': 0, unverified: 0 };
  for (const list of checks) for (const c of list) counts[c.verdict]++;
  return counts;
}

const KIND_WORDS: Record<SignatureCheck['kind'], string> = {
  'cosign-signature': 'cosign signature',
  'cosign-attestation': 'attestation',
  'sigstore-bundle': 'Sigstore bundle',
};

/**
 * One check in words, for the text report. It says "signature valid" and
 * never "verified": a verified digest says the bytes are the ones named, a
 * valid signature says who vouched for them.
 */
export function describeSignatureCheck(c: SignatureCheck): string {
  const what = `${KIND_WORDS[c.kind]}${c.predicateType ? ` ${c.predicateType}` : ''}`;
  const where = c.placement === 'tag' ? `in cosign tag manifest ${c.manifest}` : `in referrer ${c.manifest}`;
  switch (c.verdict) {
    case 'valid':
      return `signature valid: ${what} by ${signerWords(c)}`;
    case 'invalid':
      return `signature INVALID: ${what} ${where}${c.reason ? `: ${c.reason}` : ''}`;
    case 'wrong-subject':
      return `signature of ANOTHER image: ${what} ${where}${c.reason ? `: ${c.reason}` : ''}`;
    case 'unverified':
      return `signature not checked: ${what} ${where} (give --key or --trusted-root to check it)`;
  }
}

function signerWords(c: SignatureCheck): string {
  const s = c.signer;
  if (s?.identity) return `${s.identity}${s.issuer ? ` (issuer ${s.issuer})` : ''}`;
  if (s?.keyFingerprint) return `key ${s.keyFingerprint}${s.keySource ? ` (${s.keySource})` : ''}`;
  return 'a trusted signer';
}

/** The summary line's part about signatures, e.g. "signatures: 2 valid, 1 INVALID". */
export function signatureCountsLine(c: SignatureCounts): string {
  const parts = [`${c.valid} valid`];
  if (c.invalid > 0) parts.push(`${c.invalid} INVALID`);
  if (c['wrong-subject'] > 0) parts.push(`${c['wrong-subject']} of another image`);
  if (c.unverified > 0) parts.push(`${c.unverified} not checked`);
  return `signatures: ${parts.join(', ')}`;
}
