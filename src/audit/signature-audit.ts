/**
 * verify's signature checks: which images and indexes a target holds (its
 * roots), the signatures and attestations found for each and for the
 * platform manifests of each index (signatures/verify-signatures.ts), and
 * findings that say what checking them showed.
 *
 * Words: a finding never says "verified" about a signature. Digests are
 * verified; a signature is valid, or not.
 */
import { isIndexMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { isFallbackTag, isFallbackTagEntry } from '../spec/index-entries.js';
import { fetchManifestOrEmbedded } from '../graph/content.js';
import type { ReadTarget } from '../graph/target.js';
import { MAX_NESTING_DEPTH } from '../spec/nesting.js';
import type { SignatureManifest } from '../signatures/discover.js';
import { parseCosignTag } from '../signatures/formats.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../signatures/in-toto.js';
import { canCheckSignatures } from '../signatures/policy.js';
import type { SignatureCheck, SignaturePolicy, SubjectSignatures } from '../signatures/types.js';
import { verifySignatures } from '../signatures/verify-signatures.js';
import { FindingCode, type Finding } from './findings.js';
import { listRoots, type AuditRoot } from './roots.js';

export interface SignatureAuditOptions {
  policy: SignaturePolicy;
  /** An image or index without a valid signature is an error (UNSIGNED), not a note. */
  requireSignature?: boolean;
}

export interface SignatureAudit {
  findings: Finding[];
  /** Subjects with at least one signature or attestation found, in digest order. */
  signatures: SubjectSignatures[];
}

export interface SignatureScope {
  /** Only this manifest (verify REF with a tag or digest). */
  root?: Descriptor;
  /**
   * The referrers of every manifest, as the caller's own walk of the whole
   * target found them (verify reads every manifest anyway): saves a second
   * walk of 50,000 manifests. Without it, target.referrers is asked.
   */
  referrers?: ReadonlyMap<string, readonly Descriptor[]>;
}

/** Subjects checked at once: each is a few small reads. */
const SUBJECT_CONCURRENCY = 8;

export async function auditSignatures(target: ReadTarget, opts: SignatureAuditOptions, scope: SignatureScope = {}): Promise<SignatureAudit> {
  const findings: Finding[] = [];
  let roots: AuditRoot[];
  try {
    roots = scope.root ? [{ descriptor: scope.root }] : await listRoots(target);
  } catch {
    // verify has reported why the roots cannot be read; there is nothing to find signatures of.
    return { findings, signatures: [] };
  }
  const tagged = scope.root ? undefined : cosignTagged(roots);
  const signatureManifests = new Set<string>();
  for (const list of tagged?.values() ?? []) for (const m of list) signatureManifests.add(m.descriptor.digest);
  const subjects = scope.root ? [scope.root] : subjectsOf(roots, signatureManifests);

  const referrers = scope.referrers;
  // With everything known up front (a whole layout), a digest with no referrer and no
  // cosign tag has no signature: no index needs reading to look for its children's.
  const mayBeSigned = (digest: string): boolean => !referrers || !tagged || referrers.has(digest) || tagged.has(digest);
  const anySigned = !referrers || !tagged || referrers.size > 0 || tagged.size > 0;
  const check = (subject: Descriptor) =>
    verifySignatures(target, subject, opts.policy, {
      ...(referrers ? { referrers: [...(referrers.get(subject.digest) ?? [])] } : {}),
      ...(tagged ? { tagged: tagged.get(subject.digest) ?? [] } : {}),
    });

  const results: SubjectSignatures[] = [];
  const checking = canCheckSignatures(opts.policy);
  const one = async (subject: Descriptor): Promise<void> => {
    let own: SubjectSignatures;
    try {
      own = mayBeSigned(subject.digest) ? await check(subject) : { subject: subject.digest, checks: [] };
    } catch (err) {
      findings.push({ severity: 'error', code: FindingCode.ReadError, object: subject.digest, message: `cannot look for its signatures: ${messageOf(err)}` });
      return;
    }
    if (own.checks.length > 0) results.push(own);
    if (checking && !own.checks.some(signsSubject)) findings.push(unsigned(subject.digest, own.checks, opts.requireSignature === true));
    if (!anySigned || !isIndexMediaType(subject.mediaType)) return;
    for (const child of await platformManifests(target, subject)) {
      if (!mayBeSigned(child.digest)) continue;
      try {
        const sigs = await check(child);
        if (sigs.checks.length > 0) results.push(sigs);
      } catch (err) {
        findings.push({ severity: 'error', code: FindingCode.ReadError, object: child.digest, message: `cannot look for its signatures: ${messageOf(err)}` });
      }
    }
  };
  // A few workers over the list, not a promise per subject: 50,000 images would be 50,000 waiting calls.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < subjects.length) await one(subjects[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(SUBJECT_CONCURRENCY, subjects.length) }, worker));
  // A platform manifest listed in two indexes is one subject.
  const bySubject = new Map<string, SubjectSignatures>();
  for (const r of results) bySubject.set(r.subject, r);
  const signatures = [...bySubject.values()].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  for (const s of signatures) for (const c of s.checks) findings.push(checkFinding(s.subject, c));
  return { findings, signatures };
}

/** cosign's tags among the roots: subject digest -> the manifests of its `.sig` and `.att` tags. */
function cosignTagged(roots: AuditRoot[]): Map<string, SignatureManifest[]> {
  const map = new Map<string, SignatureManifest[]>();
  for (const r of roots) {
    const parsed = r.tag !== undefined ? parseCosignTag(bareTag(r.tag)) : undefined;
    if (!parsed || parsed.suffix === 'sbom') continue;
    const list = map.get(parsed.subject) ?? [];
    if (!list.some((m) => m.descriptor.digest === r.descriptor.digest)) list.push({ descriptor: r.descriptor, placement: 'tag', suffix: parsed.suffix });
    map.set(parsed.subject, list);
  }
  return map;
}

/**
 * The images and indexes among the roots, each once: not artifacts (an
 * untagged entry with an artifactType is a referrer listed for other tools),
 * not cosign's own `.sig`/`.att`/`.sbom` tags, not referrers fallback tags.
 */
function subjectsOf(roots: AuditRoot[], signatureManifests: ReadonlySet<string>): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const r of roots) {
    const d = r.descriptor;
    if (seen.has(d.digest) || signatureManifests.has(d.digest)) continue;
    if (d.mediaType !== MediaType.ImageManifest && d.mediaType !== MediaType.DockerManifest && !isIndexMediaType(d.mediaType)) continue;
    if (r.tag === undefined && d.artifactType !== undefined) continue;
    if (r.tag !== undefined && (parseCosignTag(bareTag(r.tag)) || isFallbackTag(bareTag(r.tag)) || isFallbackTagEntry(d))) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}

/** `REPO:TAG` (a layout's name for a tag in a repository) to `TAG`; tags never hold a colon. */
function bareTag(name: string): string {
  return name.slice(name.lastIndexOf(':') + 1);
}

/** The manifests an index lists, nested indexes followed; unreadable ones were reported by verify itself. */
async function platformManifests(target: ReadTarget, index: Descriptor, depth = 0): Promise<Descriptor[]> {
  if (depth >= MAX_NESTING_DEPTH) return [];
  let children: Descriptor[];
  try {
    const { doc } = await fetchManifestOrEmbedded(target, index);
    children = Array.isArray((doc as { manifests?: unknown }).manifests) ? (doc as { manifests: Descriptor[] }).manifests : [];
  } catch {
    return [];
  }
  const out: Descriptor[] = [];
  for (const c of children) {
    if (typeof c?.digest !== 'string' || typeof c.mediaType !== 'string') continue;
    out.push(c);
    if (isIndexMediaType(c.mediaType)) out.push(...(await platformManifests(target, c, depth + 1)));
  }
  return out;
}

/**
 * A check that makes its subject signed: a valid signature. An attestation
 * says something about the image, and is reported, but as with cosign
 * (`verify` versus `verify-attestation`) it does not sign the image.
 */
function signsSubject(c: SignatureCheck): boolean {
  return c.verdict === 'valid' && isSignature(c);
}

/**
 * A signature rather than an attestation. cosign v3 (`cosign sign`, new bundle
 * format) writes its image signatures as DSSE in-toto statements with cosign's
 * own predicate type: those are signatures, whatever their envelope.
 */
function isSignature(c: SignatureCheck): boolean {
  return c.kind !== 'cosign-attestation' && (c.predicateType === undefined || c.predicateType === COSIGN_SIGN_PREDICATE_TYPE);
}

function unsigned(subject: string, checks: SignatureCheck[], required: boolean): Finding {
  const found = checks.filter(isSignature).length;
  const what = found === 0 ? 'no signature found' : `${found} signature${found === 1 ? '' : 's'} found, none valid`;
  return { severity: required ? 'error' : 'note', code: FindingCode.Unsigned, object: subject, message: `unsigned: ${what} for the given --key/--trusted-root${required ? ' (--require-signature)' : ''}` };
}

const KIND_WORDS: Record<SignatureCheck['kind'], string> = {
  'cosign-signature': 'cosign signature',
  'cosign-attestation': 'cosign attestation',
  'sigstore-bundle': 'Sigstore bundle',
};

function checkFinding(subject: string, c: SignatureCheck): Finding {
  const what = `${KIND_WORDS[c.kind]}${c.predicateType !== undefined ? ` (${c.predicateType})` : ''}`;
  // The manifest and layer are in `location`; the message says how it is attached.
  const where = c.placement === 'tag' ? "under cosign's tag" : 'as a referrer';
  const location = `signature ${c.manifest} layers[${c.layer}]`;
  switch (c.verdict) {
    case 'valid':
      return { severity: 'note', code: FindingCode.SignatureValid, object: subject, location, message: `signature valid: ${what} by ${signerWords(c)}, ${where}` };
    case 'wrong-subject':
      return { severity: 'error', code: FindingCode.SignatureWrongSubject, object: subject, location, message: `signature of another image: ${what} ${where}: ${c.reason ?? 'it names another subject'}` };
    case 'unverified':
      return { severity: 'warning', code: FindingCode.SignatureUnverified, object: subject, location, message: `signature not checked: ${what} ${where}: ${c.reason ?? 'no --key or --trusted-root given'}` };
    default:
      return { severity: 'error', code: FindingCode.SignatureInvalid, object: subject, location, message: `signature not valid: ${what} ${where}: ${c.reason ?? 'it does not check out'}` };
  }
}

function signerWords(c: SignatureCheck): string {
  const s = c.signer;
  if (s?.keyFingerprint !== undefined) return `key ${s.keyFingerprint}${s.keySource !== undefined ? ` (${s.keySource})` : ''}`;
  if (s?.identity !== undefined || s?.issuer !== undefined) return `identity ${s.identity ?? '(none)'} from issuer ${s.issuer ?? '(none)'}`;
  return 'an unnamed signer';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
