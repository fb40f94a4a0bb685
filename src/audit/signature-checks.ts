/**
 * The signatures of what a catalog holds, checked for a report (inspect and
 * its HTML page): verify's own signature audit, given the roots and the
 * referrers the catalog already read, so nothing is looked up twice.
 */
import type { ReadTarget } from '../graph/target.js';
import type { Descriptor } from '../spec/types.js';
import { isSignatureArtifactType, isSignatureManifest } from '../signatures/formats.js';
import type { SignatureCheck, SignaturePolicy, SignatureVerdict } from '../signatures/types.js';
import type { Catalog } from './catalog.js';
import { auditSignatures, signatureWhat, signerWords } from './signature-audit.js';

/**
 * The checks of each subject (an image, an index, a platform manifest) with
 * at least one signature or attestation. A catalog of selected roots (inspect
 * REF:TAG) does not list the cosign tags beside them: each root's are then
 * looked up in the target.
 */
export async function checkCatalogSignatures(target: ReadTarget, catalog: Catalog, policy: SignaturePolicy, selected = false): Promise<Map<string, SignatureCheck[]>> {
  const artifacts = new Set<string>();
  for (const m of catalog.manifests.values()) if (m.kind === 'artifact') artifacts.add(m.digest);
  const audit = async (scope: Parameters<typeof auditSignatures>[2]) => (await auditSignatures(target, { policy }, scope)).signatures;
  const signatures = selected
    ? (await Promise.all(catalog.roots.map((r) => audit({ root: r.descriptor })))).flat()
    : await audit({ roots: catalog.roots, referrers: signatureReferrers(catalog), artifacts });
  return new Map(signatures.map((s) => [s.subject, s.checks]));
}

/**
 * Each manifest's referrers that are signatures or attestations, by what the
 * catalog read of them (artifactType, layers' media types): an SBOM referrer
 * is not read again to find out it is not a signature.
 */
function signatureReferrers(catalog: Catalog): Map<string, Descriptor[]> {
  const out = new Map<string, Descriptor[]>();
  for (const [subject, list] of catalog.referrerMap()) {
    const signatures = list.filter((d) => {
      const info = catalog.get(d.digest);
      return info ? isSignatureManifest(info.artifactType ?? d.artifactType, info.layers) : isSignatureArtifactType(d.artifactType);
    });
    if (signatures.length > 0) out.set(subject, signatures);
  }
  return out;
}

/** How many signatures of a report got each verdict. */
export type SignatureCounts = Record<SignatureVerdict, number>;

export function countSignatures(checks: Iterable<SignatureCheck[]>): SignatureCounts {
  const counts: SignatureCounts = { valid: 0, invalid: 0, 'wrong-subject': 0, unverified: 0 };
  for (const list of checks) for (const c of list) counts[c.verdict]++;
  return counts;
}

/**
 * One check in words, for the text report. It says "signature valid" and
 * never "verified": a verified digest says the bytes are the ones named, a
 * valid signature says who vouched for them.
 */
export function describeSignatureCheck(c: SignatureCheck): string {
  const what = signatureWhat(c);
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

/** The summary line's part about signatures, e.g. "signatures: 2 valid, 1 INVALID". */
export function signatureCountsLine(c: SignatureCounts): string {
  const parts = [`${c.valid} valid`];
  if (c.invalid > 0) parts.push(`${c.invalid} INVALID`);
  if (c['wrong-subject'] > 0) parts.push(`${c['wrong-subject']} of another image`);
  if (c.unverified > 0) parts.push(`${c.unverified} not checked`);
  return `signatures: ${parts.join(', ')}`;
}
