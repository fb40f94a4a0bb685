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
import { entryName, isFallbackTag, isFallbackTagEntry, tagOf } from '../spec/index-entries.js';
import { fetchManifestOrEmbedded } from '../graph/content.js';
import { isLayoutTarget, type ReadTarget } from '../graph/target.js';
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
   * The signature and attestation referrers of every manifest, as the
   * caller's own walk of the whole target found them (verify reads every
   * manifest anyway): saves a second walk of 50,000 manifests. It must hold
   * every such referrer: a digest it does not list is taken to have none.
   * Without it, target.referrers is asked.
   */
  referrers?: ReadonlyMap<string, readonly Descriptor[]>;
  /** The target's roots when the caller has listed them already (a registry's tags, each resolved once). */
  roots?: AuditRoot[];
  /** Roots known to be artifacts (by their artifactType or config media type), which are not subjects. */
  artifacts?: ReadonlySet<string>;
}

/** Subjects checked at once: each is a few small reads. */
const SUBJECT_CONCURRENCY = 8;

export async function auditSignatures(target: ReadTarget, opts: SignatureAuditOptions, scope: SignatureScope = {}): Promise<SignatureAudit> {
  const findings: Finding[] = [];
  let roots: RootList;
  try {
    roots = scope.root ? rootList([{ descriptor: scope.root }]) : await rootsOf(target, scope.roots);
  } catch {
    // verify has reported why the roots cannot be read; there is nothing to find signatures of.
    return { findings, signatures: [] };
  }
  const tagged = scope.root ? undefined : cosignTagged(roots);
  const referrers = scope.referrers;
  const checking = canCheckSignatures(opts.policy);
  // With everything known up front (a whole layout), a digest with no referrer and no
  // cosign tag has no signature: no index needs reading to look for its children's.
  const mayBeSigned = (digest: string): boolean => !referrers || !tagged || referrers.has(digest) || tagged.has(digest);
  const anySigned = !referrers || !tagged || referrers.size > 0 || tagged.size > 0;
  // Nothing signed, nothing asked: a plain verify of 50,000 unsigned images ends here.
  if (!anySigned && !checking) return { findings, signatures: [] };
  const signatureManifests = new Set<string>();
  for (const list of tagged?.values() ?? []) for (const m of list) signatureManifests.add(m.descriptor.digest);
  const notSubjects = scope.artifacts ? new Set([...signatureManifests, ...scope.artifacts]) : signatureManifests;
  const isSubject = scope.root ? () => true : (i: number) => isSubjectRoot(roots, i, notSubjects);
  const check = (subject: Descriptor) =>
    verifySignatures(target, subject, opts.policy, {
      ...(referrers ? { referrers: [...(referrers.get(subject.digest) ?? [])] } : {}),
      ...(tagged ? { tagged: tagged.get(subject.digest) ?? [] } : {}),
    });

  const results: SubjectSignatures[] = [];
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
  // A few workers over the roots, not a promise per subject: 50,000 images would be 50,000
  // waiting calls. An image under two names is one subject.
  const done = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < roots.length) {
      const i = next++;
      const d = roots.descriptor(i);
      if (done.has(d.digest) || !isSubject(i)) continue;
      done.add(d.digest);
      await one(d);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBJECT_CONCURRENCY, roots.length) }, worker));
  // A platform manifest listed in two indexes is one subject.
  const bySubject = new Map<string, SubjectSignatures>();
  for (const r of results) bySubject.set(r.subject, r);
  const signatures = [...bySubject.values()].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  for (const s of signatures) for (const c of s.checks) findings.push(checkFinding(s.subject, c));
  return { findings, signatures };
}

/**
 * The target's roots, read where they are: a layout's index.json entries as
 * the target keeps them (no object per entry: at 50,000 entries, building
 * one each was what verify's capped heap noticed), or a list of roots.
 */
interface RootList {
  readonly length: number;
  descriptor(i: number): Descriptor;
  /** The tag alone (without a repository), if the root has one. */
  tag(i: number): string | undefined;
}

function rootList(roots: AuditRoot[]): RootList {
  return {
    length: roots.length,
    descriptor: (i) => roots[i]!.descriptor,
    tag: (i) => {
      const name = roots[i]!.tag;
      // `REPO:TAG` (a layout's name for a tag in a repository) to `TAG`; tags never hold a colon.
      return name === undefined ? undefined : name.slice(name.lastIndexOf(':') + 1);
    },
  };
}

async function rootsOf(target: ReadTarget, given: AuditRoot[] | undefined): Promise<RootList> {
  if (given) return rootList(given);
  if (!isLayoutTarget(target)) return rootList(await listRoots(target));
  const entries = (await target.readIndex()).manifests;
  return {
    length: entries.length,
    descriptor: (i) => entries[i]!,
    tag: (i) => (tagOf(entries[i]!) === undefined ? undefined : entryName(entries[i]!).tag),
  };
}

/** cosign's tags among the roots: subject digest -> the manifests of its `.sig` and `.att` tags. */
function cosignTagged(roots: RootList): Map<string, SignatureManifest[]> {
  const map = new Map<string, SignatureManifest[]>();
  for (let i = 0; i < roots.length; i++) {
    const tag = roots.tag(i);
    const parsed = tag !== undefined ? parseCosignTag(tag) : undefined;
    if (!parsed || parsed.suffix === 'sbom') continue;
    const descriptor = roots.descriptor(i);
    const list = map.get(parsed.subject) ?? [];
    if (!list.some((m) => m.descriptor.digest === descriptor.digest)) list.push({ descriptor, placement: 'tag', suffix: parsed.suffix });
    map.set(parsed.subject, list);
  }
  return map;
}

/**
 * An image or index among the roots: not an artifact (an entry with an
 * artifactType, or one the caller found to be one), not cosign's own
 * `.sig`/`.att`/`.sbom` tags, not a referrers fallback tag.
 */
function isSubjectRoot(roots: RootList, i: number, notSubjects: ReadonlySet<string>): boolean {
  const d = roots.descriptor(i);
  if (notSubjects.has(d.digest) || d.artifactType !== undefined) return false;
  if (d.mediaType !== MediaType.ImageManifest && d.mediaType !== MediaType.DockerManifest && !isIndexMediaType(d.mediaType)) return false;
  const tag = roots.tag(i);
  return tag === undefined || (!parseCosignTag(tag) && !isFallbackTag(tag) && !isFallbackTagEntry(d));
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

/** What a check is about, in words: its kind, and an attestation's predicate type. */
export function signatureWhat(c: SignatureCheck): string {
  return `${KIND_WORDS[c.kind]}${c.predicateType !== undefined ? ` (${c.predicateType})` : ''}`;
}

function checkFinding(subject: string, c: SignatureCheck): Finding {
  const what = signatureWhat(c);
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

/** Who signed a valid signature: the key's fingerprint and file, or the certificate's identity and issuer. */
export function signerWords(c: SignatureCheck): string {
  const s = c.signer;
  if (s?.keyFingerprint !== undefined) return `key ${s.keyFingerprint}${s.keySource !== undefined ? ` (${s.keySource})` : ''}`;
  if (s?.identity !== undefined || s?.issuer !== undefined) return `identity ${s.identity ?? '(none)'} from issuer ${s.issuer ?? '(none)'}`;
  return 'an unnamed signer';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
