/**
 * `verify`: check everything a target holds, and report every problem
 * rather than stopping at the first.
 *
 * - Every blob reached from index.json (or from the tags of a target without
 *   one) is streamed through the target's verifying fetch: digest and size,
 *   a few blobs at once so that reading and hashing keep both cores busy.
 * - Every manifest, index and image config is validated with the spec
 *   checkers (src/spec/validate.ts), which also check `data` fields and the
 *   `artifactType` rule for empty configs.
 * - A `subject` that the target does not have is a *warning*
 *   (DANGLING_SUBJECT): the distribution-spec lets a referrer arrive before
 *   its subject, and an SBOM or signature shipped on its own is still intact;
 *   what it describes is simply elsewhere.
 * - On targets that can list their files (layout directory, archive): the
 *   `oci-layout` file, blobs nobody references (warning, and their content is
 *   still checked), and stray files (note).
 * - Archives: data after the tar's end-of-archive marker (warning,
 *   TRAILING_DATA; archive/tar-end.ts).
 * - `allowMissing` (delta bundles, `pack --exclude-blobs-from`): a blob that is
 *   absent is a note, EXPECTED_ELSEWHERE, not corruption.
 *
 * Documents are parsed only after their digest checks out (design rule 3), so
 * a manifest whose bytes do not match its digest is reported and not walked.
 * That is also why damaged content cannot send the walk round a cycle: every
 * edge comes from verified bytes, and a content-addressed graph of verified
 * bytes has no cycles; the `seen` sets guard the walk all the same.
 */
import { drainVerified } from '../fs/file-range.js';
import { countBytes } from '../fs/count-bytes.js';
import { bytesReporter, type ProgressEvent } from '../graph/progress-events.js';
import { isOcikitError, OcikitError } from '../errors.js';
import { isValidDigest, parseDigest } from '../digest/digest.js';
import { internMediaType, isIndexMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { checkImageConfig, checkManifestDocument, checkOciLayoutFile, detectManifestMediaType, effectiveArtifactType, type Problem } from '../spec/validate.js';
import { embeddedContent, fetchDocument, MAX_DOCUMENT_SIZE } from '../graph/content.js';
import { isWalkable } from '../graph/successors.js';
import { hasFileListing, type FileListing } from '../targets/file-listing.js';
import { hasTrailingData } from '../archive/tar-end.js';
import { tagOf } from '../spec/index-entries.js';
import { checksBlobs, isLayoutTarget, type ReadTarget } from '../graph/target.js';
import { WorkQueue, limiter } from '../util/limit.js';
import { countFindings, FindingCode, formatFinding, sortFindings, type Finding, type FindingCounts, type Severity } from './findings.js';
import { formatBytes, plural } from './format.js';
import { classifyLayoutPath } from './layout-paths.js';
import { BlobLedger, OutcomeMemo, READ_OK, type Outcome } from './blob-ledger.js';
import { auditSignatures, type SignatureAuditOptions } from './signature-audit.js';
import { isSignatureManifest } from '../signatures/formats.js';
import type { SubjectSignatures } from '../signatures/types.js';

export interface VerifyOptions {
  /** Missing blobs are expected elsewhere (a delta bundle): notes, not errors. */
  allowMissing?: boolean;
  /** Blobs streamed at once (default 3: on two cores, reads run ahead while two hashes run). */
  concurrency?: number;
  /**
   * Verify only what this manifest reaches (a reference with a tag or digest);
   * the layout-wide checks (index.json, files, unreferenced blobs) are skipped.
   */
  root?: Descriptor;
  /**
   * Progress of the blobs streamed to be hashed (layers, large configs;
   * graph/progress-events.ts): `found`, `start`, `bytes` as they are read,
   * and `done` once read, whether they matched or not (the report says).
   */
  onEvent?: (e: ProgressEvent) => void;
  /**
   * Also find every signature and attestation of the images and indexes
   * checked, and check them against this policy (audit/signature-audit.ts):
   * SIGNATURE_* and UNSIGNED findings, and the report's `signatures`. Without
   * it, signatures are content like any other (digests and documents only).
   */
  signatures?: SignatureAuditOptions;
}

export type BlobStatus =
  | 'ok'
  /** Absent and not excused. */
  | 'missing'
  /** Absent, excused by allowMissing, `urls` or an embedded `data` field. */
  | 'absent-ok'
  /** Bytes do not match the digest or size. */
  | 'corrupt'
  /** Bytes match, but the document is not a valid manifest, index or config. */
  | 'invalid'
  /** A digest algorithm ocikit cannot compute. */
  | 'unverifiable'
  /** Could not be read (permissions, not a regular file, network). */
  | 'unreadable';

export interface BlobRecord {
  digest: string;
  size: number;
  mediaType?: string;
  status: BlobStatus;
  /** False for blobs found only by listing the layout's files. */
  referenced: boolean;
}

export interface VerifySummary extends FindingCounts {
  manifests: number;
  /** Blobs whose bytes were read and matched. */
  blobs: number;
  bytes: number;
}

export interface VerifyReport {
  target: string;
  ok: boolean;
  allowMissing: boolean;
  summary: VerifySummary;
  findings: Finding[];
  /** Every blob verify looked at, by digest. */
  blobs: BlobRecord[];
  /** With `signatures`: each image or index with at least one signature or attestation found, and what checking each showed. */
  signatures?: SubjectSignatures[];
}

export async function verifyTarget(target: ReadTarget, opts: VerifyOptions = {}): Promise<VerifyReport> {
  return new Verifier(target, opts).run();
}

/**
 * A verification without its per-blob records: the counts, the findings,
 * and each blob's status as a lookup. What inspect keeps beside its catalog
 * (at 50,000 manifests, 100,000 records are megabytes it does not need).
 */
export interface CompactVerification {
  summary: VerifySummary;
  ok: boolean;
  findings: Finding[];
  status(digest: string): BlobStatus | undefined;
  /** With `signatures` in the options: what VerifyReport.signatures holds. */
  signatures?: SubjectSignatures[];
}

export async function verifyCompact(target: ReadTarget, opts: VerifyOptions = {}): Promise<CompactVerification> {
  const { ledger, summary, ok, findings, signatures } = await new Verifier(target, opts).walk();
  return { summary, ok, findings, status: ledger.frozenStatus(), ...(signatures ? { signatures } : {}) };
}

/** Render a report as text: one line per finding, then a summary line. */
export function renderVerifyText(report: VerifyReport): string {
  return [...verifyTextLines(report)].join('\n');
}

/** The same, a line at a time (a damaged layout can have a finding for every blob). */
export function* verifyTextLines(report: VerifyReport): Generator<string, void, undefined> {
  for (const f of report.findings) yield formatFinding(f);
  const s = report.summary;
  const verdict = report.ok ? 'OK' : 'FAILED';
  yield `${verdict}: ${report.target}: ${plural(s.manifests, 'manifest')}, ${plural(s.blobs, 'blob')} (${formatBytes(s.bytes)}) verified; ` +
    `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${plural(s.notes, 'note')}`;
}

/**
 * The CLI's way to end with exit status 1 after printing a report with errors.
 * VERIFY_FAILED says "the content has problems", as opposed to a failure to
 * run at all; the report itself says which problems.
 */
export class VerificationFailedError extends OcikitError {
  /** The report (verify), or what inspect keeps of it: the target and the counts. */
  readonly report: Pick<VerifyReport, 'target' | 'summary'>;
  constructor(report: Pick<VerifyReport, 'target' | 'summary'>) {
    const s = report.summary;
    super('VERIFY_FAILED', `verification failed: ${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')} in ${report.target}`);
    this.name = 'VerificationFailedError';
    this.report = report;
  }
}

type Role = 'child' | 'config' | 'subject';

/** Who pointed at a blob: `index.json`, `tag v1`, or a manifest digest, and where in it. */
interface Ref {
  from: string;
  location: string;
}

interface Visit {
  desc: Descriptor;
  role: Role;
  ref: Ref;
  /** Run after the check (an unreferenced blob file is marked so once its record exists). */
  after?: () => void;
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);
/** index.json may list many entries; layout-dir reads up to the same size. */
export const INDEX_JSON_LIMIT = MAX_DOCUMENT_SIZE * 16;
/** Manifests are small: read many at once, whatever the blob concurrency. */
const DOCUMENT_CONCURRENCY = 16;
/** Checks under way at once: enough to keep both pools busy. */
const VISIT_CONCURRENCY = 32;

class Verifier {
  private readonly findings: Finding[] = [];
  /** Every blob's status, what reached it, which were manifests. */
  private readonly ledger = new BlobLedger();
  /** Small documents read (manifests, configs): the outcome, tagged with the media type they were validated as. */
  private readonly docs = new OutcomeMemo(this.ledger);
  /** The other media types a document was validated as, by `digest|size` (rare). */
  private readonly alsoAs = new Map<string, string[]>();
  /** Blobs streamed: the outcome. */
  private readonly streams = new OutcomeMemo(this.ledger);
  private readonly contentReported = new Set<string>();
  private unreadableManifests = 0;
  private bytes = 0;
  /** Descriptors waiting to be checked: plain values, however many the layout holds (see WorkQueue). */
  private readonly queue = new WorkQueue<Visit>(VISIT_CONCURRENCY, (v) => this.check(v));
  private readonly blobPool: ReturnType<typeof limiter>;
  private readonly docPool = limiter(DOCUMENT_CONCURRENCY);

  constructor(
    private readonly target: ReadTarget,
    private readonly opts: VerifyOptions,
  ) {
    this.blobPool = limiter(opts.concurrency ?? 3);
    this.referrersSeen = opts.signatures && !opts.root && isLayoutTarget(target) ? new Map() : undefined;
  }

  async run(): Promise<VerifyReport> {
    const { ledger, ...rest } = await this.walk();
    return { ...rest, blobs: ledger.records() };
  }

  /** The report without its per-blob records: their statuses are in the ledger. */
  async walk(): Promise<Omit<VerifyReport, 'blobs'> & { ledger: BlobLedger }> {
    const listing = hasFileListing(this.target) && !this.opts.root ? this.target : undefined;
    if (listing) await this.checkOciLayout(listing);
    this.checkTrailingData();
    await this.visitRoots(listing);
    await this.drain();
    // The files are listed after the walk, so that each blob file is checked against what the
    // walk reached as it is listed: a layout of 100,000 blobs is never held as a list of files.
    if (listing) {
      await this.checkFiles(listing);
      await this.drain();
    }
    const signatures = this.opts.signatures ? await this.checkSignatures(this.opts.signatures) : undefined;
    const findings = dedupe(sortFindings(this.findings));
    const counts = countFindings(findings);
    return {
      target: this.target.description,
      ok: counts.errors === 0,
      allowMissing: this.opts.allowMissing === true,
      summary: { ...counts, manifests: this.ledger.manifests, blobs: this.ledger.countChecked(), bytes: this.bytes },
      findings,
      ...(signatures ? { signatures } : {}),
      ledger: this.ledger,
    };
  }

  // -------------------------------------------------------------------------
  // Signatures

  /**
   * Referrers by subject digest, as the walk meets them: a whole layout's
   * walk reads every manifest, so the signature checks need no second walk to
   * find them (graph/referrers.ts would make one). Only manifests with a
   * subject are kept. Not for a registry (its referrers API may list
   * referrers no tag reaches) or a walk from one reference.
   */
  private readonly referrersSeen: Map<string, Descriptor[]> | undefined;

  private noteReferrer(desc: Descriptor, doc: Record<string, unknown>): void {
    const subject = doc['subject'];
    if (!this.referrersSeen || !isObject(subject) || typeof subject['digest'] !== 'string') return;
    const artifactType = effectiveArtifactType(doc as never);
    // Only signatures and attestations are kept: an SBOM referrer of every tenth image would
    // otherwise be read a second time just to learn it is not one.
    if (!isSignatureManifest(artifactType, doc['layers'])) return;
    const list = this.referrersSeen.get(subject['digest']) ?? [];
    if (list.some((d) => d.digest === desc.digest)) return;
    list.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, ...(artifactType !== undefined ? { artifactType } : {}) });
    this.referrersSeen.set(subject['digest'], list);
  }

  private async checkSignatures(opts: SignatureAuditOptions): Promise<SubjectSignatures[]> {
    const audit = await auditSignatures(this.target, opts, { ...(this.opts.root ? { root: this.opts.root } : {}), ...(this.referrersSeen ? { referrers: this.referrersSeen } : {}) });
    this.findings.push(...audit.findings);
    return audit.signatures;
  }

  // -------------------------------------------------------------------------
  // Roots

  private async visitRoots(listing: FileListing | undefined): Promise<void> {
    if (this.opts.root) {
      this.visit(this.opts.root, 'child', { from: 'the reference', location: '' });
      return;
    }
    if (listing || isLayoutTarget(this.target)) {
      const entries = await this.readIndexEntries(listing);
      this.checkDuplicateTags(entries);
      // Fed to the queue as it makes room: queued all at once, 50,000 entries were 50,000 work items.
      this.queue.feed(this.visitsOf(entries, 'index.json', 'manifests'));
      return;
    }
    let tags: string[] = [];
    try {
      for await (const t of this.target.tags()) tags.push(t);
    } catch (err) {
      this.add('error', codeOf(err, FindingCode.ReadError), this.target.description, `cannot list tags: ${messageOf(err)}`);
      tags = [];
    }
    await Promise.all(
      tags.map(async (tag) => {
        try {
          this.visit(await this.target.resolve(tag), 'child', { from: `tag ${tag}`, location: '' });
        } catch (err) {
          this.add('error', codeOf(err, FindingCode.ReadError), `tag ${tag}`, `cannot resolve: ${messageOf(err)}`);
        }
      }),
    );
  }

  /**
   * index.json validated as an image index, and its entries as found. The
   * target's own parse is used when it succeeds (one copy of a 50,000-entry
   * index, and no second read of the file); when it fails, the bytes are read
   * where the target can, so that one bad entry does not hide the others.
   */
  private async readIndexEntries(listing: FileListing | undefined): Promise<unknown[]> {
    let doc: unknown;
    let failure: unknown;
    if (isLayoutTarget(this.target)) {
      try {
        doc = await this.target.readIndex();
      } catch (err) {
        failure = err;
      }
    }
    if (doc === undefined && listing) {
      let bytes: Buffer | undefined;
      try {
        bytes = await listing.readLayoutFile('index.json', INDEX_JSON_LIMIT);
      } catch (err) {
        this.add('error', FindingCode.InvalidLayout, 'index.json', `cannot read index.json: ${messageOf(err)}`);
        return [];
      }
      if (!bytes) {
        this.add('error', FindingCode.InvalidLayout, 'index.json', 'the layout has no index.json, so nothing in it can be found');
        return [];
      }
      doc = this.decode(bytes, 'index.json', FindingCode.InvalidLayout);
      if (doc === undefined) return [];
    } else if (doc === undefined && failure !== undefined) {
      this.add('error', codeOf(failure, FindingCode.InvalidLayout), 'index.json', messageOf(failure));
      return [];
    }
    this.addProblems('index.json', checkManifestDocument(doc, MediaType.ImageIndex));
    const manifests = isObject(doc) ? doc['manifests'] : undefined;
    return Array.isArray(manifests) ? manifests : [];
  }

  private checkDuplicateTags(entries: unknown[]): void {
    const byTag = new Map<string, Set<string>>();
    for (const e of entries) {
      if (!isObject(e) || typeof e['digest'] !== 'string') continue;
      const tag = tagOf(e as Descriptor);
      if (tag === undefined) continue;
      byTag.set(tag, (byTag.get(tag) ?? new Set()).add(e['digest']));
    }
    for (const [tag, digests] of byTag) {
      if (digests.size > 1) {
        this.add('warning', FindingCode.DuplicateTag, 'index.json', `tag "${tag}" is given to ${digests.size} manifests (${[...digests].join(', ')}); readers disagree on which one it means`);
      }
    }
  }

  // -------------------------------------------------------------------------
  // The walk

  private visit(d: unknown, role: Role, ref: Ref): void {
    const v = this.visitOf(d, role, ref);
    if (v) this.queue.push(v);
  }

  private *visitsOf(list: unknown[], from: string, field: string): Generator<Visit, void, undefined> {
    for (let i = 0; i < list.length; i++) {
      const v = this.visitOf(list[i], 'child', { from, location: `${field}[${i}]` });
      if (v) yield v;
    }
  }

  private visitOf(d: unknown, role: Role, ref: Ref): Visit | undefined {
    const desc = usableDescriptor(d);
    // A descriptor without a checkable digest and size was reported by the document checks.
    if (!desc) return undefined;
    this.ledger.reach(desc.digest);
    return { desc, role, ref };
  }

  private async check({ desc, role, ref, after }: Visit): Promise<void> {
    try {
      if (role === 'subject' || isWalkable(desc)) await this.checkManifest(desc, role, ref);
      else if (role === 'config' && IMAGE_CONFIG_TYPES.has(desc.mediaType)) await this.checkConfig(desc, ref);
      else await this.checkBlob(desc, ref, role);
      after?.();
    } catch (err) {
      // A bug, not a finding about the content; still report it rather than lose the rest of the run.
      this.add('error', FindingCode.ReadError, this.target.description, `internal error: ${messageOf(err)}`);
    }
  }

  private async checkManifest(desc: Descriptor, role: Role, ref: Ref): Promise<void> {
    const read = await this.document(desc, ref, role);
    if (!read) {
      if (role !== 'subject') this.unreadableManifests++;
      return;
    }
    const bytes = read.bytes;
    if (!bytes) return;
    const doc = this.decode(bytes, desc.digest, FindingCode.InvalidManifest);
    if (doc === undefined || !isObject(doc)) {
      if (doc !== undefined) this.addProblems(desc.digest, checkManifestDocument(doc, desc.mediaType));
      this.record(desc, 'invalid');
      return;
    }
    this.ledger.countManifest(desc.digest);
    this.noteReferrer(desc, doc);
    const problems = checkManifestDocument(doc, desc.mediaType);
    this.addProblems(desc.digest, problems);
    if (problems.some((p) => severityOf(p) === 'error')) this.record(desc, 'invalid');

    const at = (location: string): Ref => ({ from: desc.digest, location });
    const list = (key: string): unknown[] => (Array.isArray(doc[key]) ? (doc[key] as unknown[]) : []);
    const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
    const mediaType = isWalkable(desc) ? desc.mediaType : (declared ?? detectManifestMediaType(doc));
    if (isIndexMediaType(mediaType)) {
      list('manifests').forEach((c, i) => this.visit(c, 'child', at(`manifests[${i}]`)));
    } else if (mediaType === MediaType.LegacyArtifactManifest) {
      list('blobs').forEach((c, i) => this.visit(c, 'child', at(`blobs[${i}]`)));
    } else {
      if (doc['config'] !== undefined) this.visit(doc['config'], 'config', at('config'));
      list('layers').forEach((c, i) => this.visit(c, 'child', at(`layers[${i}]`)));
    }
    if (doc['subject'] !== undefined) this.visit(doc['subject'], 'subject', at('subject'));
  }

  private async checkConfig(desc: Descriptor, ref: Ref): Promise<void> {
    if (desc.size > MAX_DOCUMENT_SIZE) {
      this.add('note', FindingCode.ManifestTooLarge, desc.digest, `config is ${desc.size} bytes, over the ${MAX_DOCUMENT_SIZE}-byte document cap: digest and size checked, fields not validated`);
      return this.checkBlob(desc, ref, 'config');
    }
    const bytes = (await this.document(desc, ref, 'config'))?.bytes;
    if (!bytes) return;
    const doc = this.decode(bytes, desc.digest, FindingCode.InvalidManifest);
    if (doc === undefined) {
      this.record(desc, 'invalid');
      return;
    }
    const problems = checkImageConfig(doc).map((p) => ({ ...p, message: `image config: ${p.message}` }));
    this.addProblems(desc.digest, problems);
    if (problems.length > 0) this.record(desc, 'invalid');
  }

  private async checkBlob(desc: Descriptor, ref: Ref, role: Role): Promise<void> {
    let known = this.streams.get(desc);
    if (!known) {
      const onEvent = this.opts.onEvent;
      onEvent?.({ type: 'found', descriptor: desc });
      const outcome = this.blobPool(async () => {
        onEvent?.({ type: 'start', descriptor: desc });
        const result = await attempt(async () => {
          // Without buffering: the target's stream verifies digest and size as it flows
          // (or did, for a target read as a stream, which only says how that went).
          if (checksBlobs(this.target)) await this.target.checkBlob(desc);
          else {
            const stream = await this.target.fetch(desc);
            await drainVerified(onEvent ? countBytes(stream, bytesReporter(desc, onEvent)) : stream);
          }
          return true as const;
        });
        onEvent?.({ type: 'done', descriptor: desc });
        return result;
      });
      known = this.streams.set(desc, outcome, 0);
      const result = await outcome;
      if (result.ok) this.succeeded(desc);
    }
    const result = await known.outcome;
    if (!result.ok) this.failed(desc, result.error, ref, role);
  }

  /**
   * A small document to validate: undefined when it cannot be read (reported
   * for this reference), `{}` when it was validated already under this media
   * type, else its bytes. The same bytes named with another media type are
   * validated again, since the expectation differs. Each digest and size is
   * fetched once and its outcome remembered, but not its bytes: a layout of
   * tens of thousands of manifests would keep them all, and the rare second
   * validation under another media type just reads them again.
   */
  private async document(desc: Descriptor, ref: Ref, role: Role): Promise<{ bytes?: Buffer } | undefined> {
    const known = this.docs.get(desc);
    const validatedAs = this.ledger.mediaTypeNumber(desc.mediaType);
    if (!known) {
      const fetched = this.docPool(() => attempt(() => fetchDocument(this.target, desc)));
      this.docs.set(desc, fetched.then((r): Outcome<true> => (r.ok ? READ_OK : r)), validatedAs);
      const result = await fetched;
      if (!result.ok) {
        this.failed(desc, result.error, ref, role);
        // A manifest or config stored only as its descriptor's `data` is what copy, pack and unpack
        // write out: check it, and walk below it, as if it were stored.
        return role !== 'subject' && isOcikitError(result.error, 'NOT_FOUND') ? embeddedOnly(desc) : undefined;
      }
      this.succeeded(desc);
      return { bytes: result.value };
    }
    const outcome = await known.outcome;
    if (!outcome.ok) {
      this.failed(desc, outcome.error, ref, role);
      return undefined;
    }
    // Almost every document is validated as one media type: a second one is the exception.
    const key = `${desc.digest}|${desc.size}`;
    const alsoAs = this.alsoAs.get(key);
    if (known.tag === validatedAs || alsoAs?.includes(desc.mediaType)) return {};
    if (alsoAs) alsoAs.push(desc.mediaType);
    else this.alsoAs.set(key, [desc.mediaType]);
    const again = await this.docPool(() => attempt(() => fetchDocument(this.target, desc)));
    if (!again.ok) {
      this.failed(desc, again.error, ref, role);
      return undefined;
    }
    return { bytes: again.value };
  }

  private succeeded(desc: Descriptor): void {
    if (!this.ledger.isRecorded(desc.digest)) this.bytes += desc.size;
    this.record(desc, 'ok');
  }

  // -------------------------------------------------------------------------
  // Turning failures into findings

  private failed(desc: Descriptor, err: unknown, ref: Ref, role: Role): void {
    const code = err instanceof OcikitError ? err.code : undefined;
    if (code === 'NOT_FOUND') {
      this.missing(desc, ref, role);
      return;
    }
    // A content problem is the blob's, whoever points at it: report it once.
    const key = `${desc.digest}|${desc.size}|${code}`;
    if (this.contentReported.has(key)) return;
    this.contentReported.add(key);
    switch (code) {
      case 'DIGEST_MISMATCH':
      case 'SIZE_MISMATCH':
        this.record(desc, 'corrupt');
        this.add('error', code, desc.digest, messageOf(err));
        return;
      case 'UNSUPPORTED_DIGEST':
        this.record(desc, 'unverifiable');
        this.add('warning', code, desc.digest, `cannot be checked: ${messageOf(err)}`);
        return;
      case 'MANIFEST_TOO_LARGE':
        this.record(desc, 'invalid');
        this.add('error', code, desc.digest, `${role === 'config' ? 'config' : 'manifest'} is ${desc.size} bytes; documents over ${MAX_DOCUMENT_SIZE} bytes are refused`);
        return;
      default:
        this.record(desc, 'unreadable');
        this.add('error', code ?? FindingCode.ReadError, desc.digest, messageOf(err));
    }
  }

  private missing(desc: Descriptor, ref: Ref, role: Role): void {
    // With a location, the finding names the referrer itself; without one (a tag), the message does.
    const by = ref.location ? '' : `; referenced by ${ref.from}`;
    const what = `${desc.mediaType || 'blob'}, ${desc.size} bytes`;
    const where = this.target.description;
    if (role === 'subject') {
      this.record(desc, this.opts.allowMissing ? 'absent-ok' : 'missing');
      if (this.opts.allowMissing) this.add('note', FindingCode.ExpectedElsewhere, desc.digest, `subject of ${ref.from} is not in ${where}; expected elsewhere`, ref);
      else this.add('warning', FindingCode.DanglingSubject, desc.digest, `dangling subject: ${ref.from} refers to ${desc.digest}, which is not in ${where}`, ref);
      return;
    }
    if (Array.isArray(desc.urls) && desc.urls.length > 0) {
      this.record(desc, 'absent-ok');
      this.add('note', FindingCode.ExternalBlob, desc.digest, `not in ${where} (${what}); its descriptor lists urls to fetch it from${by}`, ref);
      return;
    }
    if (validEmbedded(desc)) {
      this.record(desc, 'absent-ok');
      this.add('note', FindingCode.EmbeddedOnly, desc.digest, `not stored as a blob, but its descriptor embeds the content in a valid data field${by}`, ref);
      return;
    }
    if (this.opts.allowMissing) {
      this.record(desc, 'absent-ok');
      this.add('note', FindingCode.ExpectedElsewhere, desc.digest, `not in ${where} (${what}); expected elsewhere${by}`, ref);
      return;
    }
    this.record(desc, 'missing');
    const hint = ref.from === 'index.json' ? 'index.json lists a manifest that is not there' : `missing blob (${what})`;
    this.add('error', FindingCode.MissingBlob, desc.digest, `${hint}${by}; for a delta bundle, verify with --allow-missing`, ref);
  }

  // -------------------------------------------------------------------------
  // Layout files

  /** Classify every file: stray files become notes, blob files nothing reached are unreferenced. */
  private async checkFiles(listing: FileListing): Promise<void> {
    const strayDirs: string[] = [];
    try {
      for await (const entry of listing.listFiles()) {
        if (strayDirs.some((d) => entry.path.startsWith(`${d}/`))) continue;
        const c = classifyLayoutPath(entry);
        if (c.kind === 'blob') {
          if (!this.ledger.reached(c.digest)) this.unreferenced(c.digest, entry);
        } else if (c.kind === 'stray') {
          if (entry.type === 'directory') strayDirs.push(entry.path);
          this.add('note', FindingCode.StrayFile, entry.path, c.message);
        } else if (c.kind === 'bad') this.add('error', c.code, entry.path, c.message);
      }
    } catch (err) {
      this.add('error', codeOf(err, FindingCode.ReadError), this.target.description, `cannot list the layout's files: ${messageOf(err)}`);
    }
  }

  private async checkOciLayout(listing: FileListing): Promise<void> {
    let bytes: Buffer | undefined;
    try {
      bytes = await listing.readLayoutFile('oci-layout');
    } catch (err) {
      this.add('error', FindingCode.InvalidLayout, 'oci-layout', `cannot read oci-layout: ${messageOf(err)}`);
      return;
    }
    if (!bytes) {
      this.add('error', FindingCode.InvalidLayout, 'oci-layout', 'the oci-layout file is missing: readers will not recognise this as an OCI image layout');
      return;
    }
    const doc = this.decode(bytes, 'oci-layout', FindingCode.InvalidLayout);
    if (doc !== undefined) this.addProblems('oci-layout', checkOciLayoutFile(doc));
  }

  /** Bytes after an archive's end-of-archive marker: ocikit ignores them, but another reader may not (archive/tar-end.ts). */
  private checkTrailingData(): void {
    if (!hasTrailingData(this.target)) return;
    const t = this.target.trailingData();
    if (!t) return;
    const where = t.bytes !== undefined ? `${plural(t.bytes, 'byte')} from offset ${t.offset}` : `from offset ${t.offset} of the uncompressed tar`;
    this.add(
      'warning',
      FindingCode.TrailingData,
      this.target.description,
      `data follows the tar's end-of-archive marker (${where}); ocikit does not read it, other tools may, and decompression bombs hide there`,
    );
  }

  private unreferenced(digest: string, file: { size: number; type: string }): void {
    const path = blobPathOf(digest);
    const unread = this.unreadableManifests > 0 ? ` (${plural(this.unreadableManifests, 'manifest')} could not be read and may reference it)` : '';
    if (file.type !== 'file') {
      this.add('error', FindingCode.UnsafeBlobPath, path, `blob path is a ${file.type}, not a regular file; readers refuse it`);
      return;
    }
    this.add('warning', FindingCode.UnreferencedBlob, digest, `${file.size} bytes that nothing reachable from index.json refers to${unread}; ocikit gc removes it`);
    const desc: Descriptor = { mediaType: MediaType.OctetStream, digest, size: file.size };
    this.queue.push({ desc, role: 'child', ref: { from: 'blobs/', location: '' }, after: () => this.ledger.markUnreferenced(digest) });
  }

  // -------------------------------------------------------------------------
  // Helpers

  private decode(bytes: Buffer, object: string, code: string): unknown {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      this.add('error', code, object, 'not valid UTF-8, so not a JSON document');
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      this.add('error', code, object, `not valid JSON: ${messageOf(err)}`);
      return undefined;
    }
  }

  private addProblems(object: string, problems: Problem[]): void {
    for (const p of problems) this.findings.push({ severity: severityOf(p), code: p.code, object, message: p.message, ...(p.path ? { location: p.path } : {}) });
  }

  private add(severity: Severity, code: string, object: string, message: string, ref?: Ref): void {
    const f: Finding = { severity, code, object, message };
    if (ref?.location && ref.from !== object) f.location = `${ref.from} ${ref.location}`;
    this.findings.push(f);
  }

  /** Keep the worst status a blob got (a blob can be reached through several descriptors). */
  private record(desc: Descriptor, status: BlobStatus): void {
    this.ledger.record(desc, status);
  }

  private async drain(): Promise<void> {
    await this.queue.drained();
  }
}

/** Problems that make content unusable are errors; an algorithm ocikit cannot compute only means "not checked". */
function severityOf(p: Problem): Severity {
  return p.code === 'UNSUPPORTED_DIGEST' ? 'warning' : 'error';
}

async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A descriptor whose digest and size can be checked, whatever else is wrong with it. */
function usableDescriptor(d: unknown): Descriptor | undefined {
  if (!isObject(d)) return undefined;
  const { digest, size, mediaType } = d;
  if (typeof digest !== 'string' || !isValidDigest(digest)) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  return { ...(d as Descriptor), mediaType: typeof mediaType === 'string' ? internMediaType(mediaType) : '' };
}

/** What a descriptor embeds in `data`, when that matches its digest and size (the document checks report data that does not). */
function validEmbedded(desc: Descriptor): Buffer | undefined {
  try {
    return embeddedContent(desc);
  } catch {
    return undefined;
  }
}

function embeddedOnly(desc: Descriptor): { bytes: Buffer } | undefined {
  const bytes = validEmbedded(desc);
  return bytes ? { bytes } : undefined;
}

function blobPathOf(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

function codeOf(err: unknown, fallback: string): string {
  return err instanceof OcikitError ? err.code : fallback;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function dedupe(list: Finding[]): Finding[] {
  const seen = new Set<string>();
  return list.filter((f) => {
    const key = `${f.severity}\u0000${f.code}\u0000${f.object}\u0000${f.location ?? ''}\u0000${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
