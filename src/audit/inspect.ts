/**
 * `inspect`: the tree of what a target holds. Each root (a tag, or an
 * untagged entry) leads to its index, the index's platform manifests, each
 * image's config summary and layers, and under every manifest its referrers
 * (SBOMs, signatures, attestations, recursively), with annotations.
 *
 * The report is plain data: the CLI prints it as text or JSON, and
 * renderInspectHtml turns it into a self-contained page. With a verify report
 * attached, every manifest, config and layer carries its verification status.
 */
import type { Descriptor } from '../spec/types.js';
import { Annotation } from '../spec/media-types.js';
import { MAX_NESTING_DEPTH, nestingTooDeep } from '../spec/nesting.js';
import { isFallbackTagEntry } from '../spec/index-entries.js';
import type { ReadTarget } from '../graph/target.js';
import { JsonArrayStream, JsonLater } from '../util/json-chunks.js';
import { mapBounded } from '../util/limit.js';
import { summarizeArtifact, type ArtifactSummary } from './artifacts.js';
import { Catalog, platformOf, type ManifestInfo, type ManifestKind } from './catalog.js';
import type { Finding } from './findings.js';
import type { AuditRoot } from './roots.js';
import { isValidDigest } from '../digest/digest.js';
import { rollUp, type InspectRollup } from './rollup.js';
import { BlobLedger } from './blob-ledger.js';
import { checkCatalogSignatures, countSignatures, type SignatureCounts } from './signature-checks.js';
import type { SignatureCheck, SignaturePolicy } from '../signatures/types.js';
import { verifyCompact, type BlobStatus, type CompactVerification, type VerifyOptions, type VerifyReport, type VerifySummary } from './verify.js';

export interface InspectBlob {
  digest: string;
  mediaType: string;
  size: number;
  /** `org.opencontainers.image.title`, when the layer has one (file names of artifacts). */
  title?: string;
  status?: BlobStatus;
}

export interface InspectNode {
  digest: string;
  mediaType: string;
  size: number;
  kind: ManifestKind;
  platform?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Images: the config summary. */
  config?: {
    digest: string;
    mediaType: string;
    size: number;
    created?: string;
    labels?: Record<string, string>;
    status?: BlobStatus;
    problem?: string;
  };
  layers?: InspectBlob[];
  layerCount?: number;
  /** Sum of the layers' (compressed) sizes. */
  layersSize?: number;
  /** Artifacts: what kind, which format, which predicate. */
  artifact?: ArtifactSummary;
  /** Index members. */
  children?: InspectNode[];
  referrers?: InspectNode[];
  /** The manifest could not be read; the message says why. */
  problem?: string;
  /** Already shown above on this branch (only damaged content makes this possible); not expanded again. */
  cycle?: true;
  status?: BlobStatus;
  /** Verified reports: indexes into `verification.findings` of the findings about this row (its manifest, config, layers). */
  findings?: number[];
  /** Verified reports: the worst status of this row and everything below it (see rollup.ts). */
  rollup?: InspectRollup;
  /**
   * Images and indexes: each signature and attestation found for this manifest
   * (referrers, cosign's tags) and whether it is valid, and by whom. Only when
   * signatures were checked (InspectOptions.signatures) and some were found.
   */
  signatures?: SignatureCheck[];
}

export interface InspectRoot {
  tags: string[];
  /** An artifact whose subject is not in the target (shown at the top level so it is not lost). */
  orphan?: true;
  node: InspectNode;
}

export interface InspectSummary {
  roots: number;
  tags: number;
  manifests: number;
  images: number;
  indexes: number;
  artifacts: number;
  /** Distinct blobs named by what was read (manifests, configs, layers). */
  blobs: number;
  /** Sum of those distinct blobs' sizes. */
  totalSize: number;
  /** When signatures were checked: how many got each verdict. */
  signatures?: SignatureCounts;
}

export interface InspectReport {
  target: string;
  roots: InspectRoot[];
  summary: InspectSummary;
  /** Present when the inspection was verified (inspect --verify, --html). */
  verification?: VerifySummary & { ok: boolean; findings: Finding[] };
}

/**
 * A report to print: the roots may be produced one at a time (Inspection),
 * and the summary is asked for once they have all been printed.
 */
export interface InspectSource {
  target: string;
  roots: Iterable<InspectRoot>;
  summary: () => InspectSummary;
  verification?: InspectReport['verification'];
}

/**
 * The report's JSON document (the shape of InspectReport) for jsonChunks:
 * the roots are serialized as they are built, the summary after them.
 */
export function inspectJson(source: InspectSource): Record<string, unknown> {
  const { target, roots, summary, verification } = source;
  return { target, roots: new JsonArrayStream(roots), summary: new JsonLater(summary), ...(verification ? { verification } : {}) };
}

/** A report already in memory, as a source. */
export function sourceOfReport(report: InspectReport): InspectSource {
  return { target: report.target, roots: report.roots, summary: () => report.summary, ...(report.verification ? { verification: report.verification } : {}) };
}

export interface InspectOptions {
  /** Only these roots (a reference with a tag or digest). */
  roots?: AuditRoot[];
  /**
   * Attach verification statuses and findings. Pass compactVerification(report)
   * and let the report go when the target is big: the full report's per-blob
   * records are what inspect would otherwise hold beside its catalog.
   */
  verification?: VerifyReport | InspectVerification;
  /**
   * Find each image's signatures and attestations and check them against
   * this policy; an empty policy (no keys, no trusted root) finds them and
   * reports each as unverified. Without it, signatures are not looked at.
   */
  signatures?: SignaturePolicy;
}

export async function inspectTarget(target: ReadTarget, opts: InspectOptions = {}): Promise<InspectReport> {
  return (await openInspection(target, opts)).report();
}

/**
 * What inspect found, with the tree of each root built only when it is
 * asked for. Printing a report of tens of thousands of manifests root by root
 * keeps in memory the catalog's facts about each manifest, never the whole
 * tree of nodes (nor its text, nor its JSON) at once.
 */
export class Inspection {
  private counted?: { roots: number; tags: number };
  private tally?: Tally;

  constructor(
    readonly target: string,
    private readonly catalog: Catalog,
    private readonly artifacts: Map<string, ArtifactSummary>,
    private readonly status: ((digest: string) => BlobStatus | undefined) | undefined,
    /** Present when the inspection was verified. */
    readonly verification: InspectReport['verification'] | undefined,
    /** Verified inspections: the findings about each digest the tree shows (see attachFindings). */
    private readonly findingsAt?: Map<string, number[]>,
    /** Checked signatures, by subject digest (see checkCatalogSignatures). */
    private readonly signatures?: Map<string, SignatureCheck[]>,
  ) {}

  /** The roots in report order, each tree built as it is reached; every call starts afresh. */
  *roots(): Generator<InspectRoot, void, undefined> {
    const builder = new TreeBuilder(this.catalog, this.artifacts, this.status, this.findingsAt, this.signatures);
    const findings = this.verification?.findings;
    let roots = 0;
    let tags = 0;
    for (const root of builder.buildRoots()) {
      roots++;
      if (!root.orphan) tags += root.tags.length;
      if (findings) rollUp(root.node, findings);
      yield root;
    }
    this.counted = { roots, tags };
  }

  /** The summary; its root and tag counts come from a full pass over roots() (made now if none has been). */
  summary(): InspectSummary {
    if (!this.counted) for (const _ of this.roots());
    // Tallied once: the report is printed twice (the HTML file, then the terminal).
    this.tally ??= tally(this.catalog);
    const signatures = this.signatures ? { signatures: countSignatures(this.signatures.values()) } : {};
    return { roots: this.counted!.roots, tags: this.counted!.tags, ...this.tally, ...signatures };
  }

  /** The report as a source to print: a fresh pass over the roots. */
  source(): InspectSource {
    return { target: this.target, roots: this.roots(), summary: () => this.summary(), ...(this.verification ? { verification: this.verification } : {}) };
  }

  /** The whole report as one value (what inspectTarget returns). */
  report(): InspectReport {
    const report: InspectReport = { target: this.target, roots: [...this.roots()], summary: this.summary() };
    if (this.verification) report.verification = this.verification;
    return report;
  }
}

/** Read what `target` holds (and attach a verify report's statuses) so that it can be reported. */
export async function openInspection(target: ReadTarget, opts: InspectOptions = {}): Promise<Inspection> {
  const catalog = await Catalog.load(target, { roots: opts.roots, runtimeConfig: false });
  const artifacts = await summarizeArtifacts(target, catalog);
  let status: ((digest: string) => BlobStatus | undefined) | undefined;
  let verification: InspectReport['verification'];
  let findingsAt: Map<string, number[]> | undefined;
  if (opts.verification) {
    const v = 'blobs' in opts.verification ? compactVerification(opts.verification) : opts.verification;
    status = v.status;
    verification = { ...v.summary, ok: v.ok, findings: v.findings };
    findingsAt = attachFindings(v.findings, catalog);
  }
  const signatures = opts.signatures ? await checkCatalogSignatures(target, catalog, opts.signatures, opts.roots !== undefined) : undefined;
  return new Inspection(target.description, catalog, artifacts, status, verification, findingsAt, signatures);
}

/**
 * Which digest each finding belongs to, so that its row can link to it and
 * count it: its object, when the tree shows that object (a manifest, config,
 * layer or index member); otherwise the manifest its location starts with (a
 * dangling subject is not in the tree, the referrer naming it is). Findings
 * about layout files (index.json, a stray file, an unreferenced blob) belong
 * to no row and are listed only with the others. Findings are few; the
 * catalog is scanned once.
 */
function attachFindings(findings: Finding[], catalog: Catalog): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (findings.length === 0) return out;
  const objects = new Set(findings.map((f) => f.object));
  const shown = new Set<string>();
  const see = (digest: string) => void (objects.has(digest) && shown.add(digest));
  for (const r of catalog.roots) see(r.descriptor.digest);
  for (const m of catalog.manifests.values()) {
    see(m.digest);
    if (m.config) see(m.config.digest);
    for (const l of m.layers ?? []) see(l.digest);
    for (const c of m.children ?? []) see(c.digest);
  }
  findings.forEach((f, i) => {
    const from = f.location?.split(' ', 1)[0];
    const digest = shown.has(f.object) ? f.object : from !== undefined && isValidDigest(from) ? from : undefined;
    if (digest === undefined) return;
    const list = out.get(digest);
    if (list) list.push(i);
    else out.set(digest, [i]);
  });
  return out;
}

/** What inspect keeps of a verification. */
export type InspectVerification = CompactVerification;

/** The compact form of a full report, for a caller that has one: its statuses frozen as verify's own ledger freezes them. */
export function compactVerification(report: VerifyReport): InspectVerification {
  const ledger = new BlobLedger();
  for (const b of report.blobs) ledger.record({ digest: b.digest, size: b.size, mediaType: b.mediaType ?? '' }, b.status);
  return { summary: report.summary, ok: report.ok, findings: report.findings, status: ledger.frozenStatus() };
}

/** Verify `target`, keeping only the compact form (see CompactVerification). */
export async function verifyForInspection(target: ReadTarget, opts: VerifyOptions = {}): Promise<InspectVerification> {
  return verifyCompact(target, opts);
}

/** Artifact details need payload reads: do them concurrently, once per artifact. */
async function summarizeArtifacts(target: ReadTarget, catalog: Catalog): Promise<Map<string, ArtifactSummary>> {
  const out = new Map<string, ArtifactSummary>();
  const artifacts = [...catalog.manifests.values()].filter((m) => m.kind === 'artifact');
  await mapBounded(artifacts, 8, async (m) => void out.set(m.digest, await summarizeArtifact(target, m.artifactType, m.layers ?? [], m.annotations)));
  return out;
}

class TreeBuilder {
  /** Digests whose showing decides whether a deferred root is shown after all (see buildRoots). */
  private readonly watched = new Set<string>();
  private readonly shown = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly artifacts: Map<string, ArtifactSummary>,
    private readonly status: ((digest: string) => BlobStatus | undefined) | undefined,
    private readonly findingsAt: Map<string, number[]> | undefined,
    private readonly signatures: Map<string, SignatureCheck[]> | undefined,
  ) {}

  /**
   * Roots grouped by digest (two tags for one index are one tree), in the
   * order of their first entry. Referrers listed in index.json appear under
   * their subject, and fallback-tag indexes are bookkeeping whose members
   * appear under their subject too; either is shown at the top level only
   * when it would otherwise not be shown at all.
   *
   * Kept small on purpose, since it lives while a report of 50,000 roots is
   * written: no group object per root, only the tags of digests that more
   * than one entry names, and only the digests a deferred root depends on
   * are remembered as shown.
   */
  *buildRoots(): Generator<InspectRoot, void, undefined> {
    const pending = new Set<string>();
    const moreTags = new Map<string, string[]>();
    for (const r of this.catalog.roots) {
      const digest = r.descriptor.digest;
      if (!pending.has(digest)) pending.add(digest);
      else if (r.tag !== undefined) {
        const tags = moreTags.get(digest);
        if (!tags) moreTags.set(digest, [r.tag]);
        else if (!tags.includes(r.tag)) tags.push(r.tag);
      }
    }
    const tagsOf = (r: AuditRoot): string[] => {
      const more = moreTags.get(r.descriptor.digest) ?? [];
      return r.tag === undefined ? more : [r.tag, ...more.filter((t) => t !== r.tag)];
    };
    const deferred: Array<{ tags: string[]; descriptor: Descriptor }> = [];
    for (const r of this.catalog.roots) {
      // The first entry of a digest stands for all of them.
      if (!pending.delete(r.descriptor.digest)) continue;
      const g = { tags: tagsOf(r), descriptor: r.descriptor };
      if (this.isBookkeeping(g)) {
        deferred.push(g);
        for (const d of this.members(g)) this.watched.add(d);
      }
    }
    for (const r of this.catalog.roots) pending.add(r.descriptor.digest);
    // Each tree is handed out as soon as it is built, and dropped by the caller once printed.
    for (const r of this.catalog.roots) {
      if (!pending.delete(r.descriptor.digest)) continue;
      const g = { tags: tagsOf(r), descriptor: r.descriptor };
      if (!this.isBookkeeping(g)) yield { tags: g.tags, node: this.node(g.descriptor, []) };
    }
    for (const g of deferred) {
      if (this.members(g).every((d) => !this.shown.has(d))) yield { tags: g.tags, orphan: true, node: this.node(g.descriptor, []) };
    }
  }

  /** A deferred root's own digest and, for a fallback-tag index, the referrers it lists. */
  private members(g: { tags: string[]; descriptor: Descriptor }): string[] {
    const info = this.catalog.get(g.descriptor.digest);
    return [g.descriptor.digest, ...(isFallback(g) ? (info?.children ?? []).map((c) => c.digest) : [])];
  }

  private isBookkeeping(g: { tags: string[]; descriptor: Descriptor }): boolean {
    if (isFallback(g)) return true;
    return g.tags.length === 0 && this.catalog.get(g.descriptor.digest)?.subject !== undefined;
  }

  private node(desc: Descriptor, branch: string[]): InspectNode {
    const node = this.nodeContent(desc, branch);
    if (this.findingsAt && this.findingsAt.size > 0) this.withFindings(node);
    return node;
  }

  /** The findings about what this row shows, each once, in the report's order. */
  private withFindings(node: InspectNode): void {
    let found = this.findingsOf(node.digest, undefined);
    if (node.config) found = this.findingsOf(node.config.digest, found);
    for (const l of node.layers ?? []) found = this.findingsOf(l.digest, found);
    if (found) node.findings = [...found].sort((a, b) => a - b);
  }

  /** `found` with the findings about `digest` added; a set is made only when there is one. */
  private findingsOf(digest: string, found: Set<number> | undefined): Set<number> | undefined {
    for (const i of this.findingsAt!.get(digest) ?? []) (found ??= new Set()).add(i);
    return found;
  }

  private nodeContent(desc: Descriptor, branch: string[]): InspectNode {
    if (this.watched.has(desc.digest)) this.shown.add(desc.digest);
    const info = this.catalog.get(desc.digest);
    const node: InspectNode = { digest: desc.digest, mediaType: info?.mediaType ?? desc.mediaType, size: desc.size, kind: info?.kind ?? 'unreadable' };
    const platform = platformOf(desc, info);
    if (platform) node.platform = platform;
    const artifactType = info?.artifactType ?? desc.artifactType;
    if (artifactType && node.kind !== 'image') node.artifactType = artifactType;
    if (info?.annotations) node.annotations = info.annotations;
    this.withStatus(node, desc.digest);
    if (!info) {
      node.problem = 'not read (not a manifest media type ocikit walks)';
      return node;
    }
    if (info.problem) node.problem = info.problem;
    if (branch.includes(desc.digest)) {
      node.cycle = true;
      return node;
    }
    // The tree (and its text, JSON and HTML renderings) is as deep as the content: refuse rather than overflow.
    if (branch.length >= MAX_NESTING_DEPTH) throw nestingTooDeep(`the tree under ${branch[0]}`, desc.digest);
    const below = [...branch, desc.digest];
    this.fillContent(node, info, below);
    const referrers = this.catalog.referrersOf(desc.digest);
    if (referrers.length > 0) node.referrers = referrers.map((r) => this.node(r, below));
    const signatures = this.signatures?.get(desc.digest);
    if (signatures) node.signatures = signatures;
    return node;
  }

  private fillContent(node: InspectNode, info: ManifestInfo, below: string[]): void {
    if (info.kind === 'index') {
      node.children = (info.children ?? []).map((c) => this.node(c, below));
      return;
    }
    if (info.config) {
      const c = info.config;
      node.config = { digest: c.digest, mediaType: c.mediaType, size: c.size };
      if (c.created) node.config.created = c.created;
      if (c.labels) node.config.labels = c.labels;
      if (c.problem) node.config.problem = c.problem;
      this.withStatus(node.config, c.digest);
    }
    if (info.layers) {
      node.layers = info.layers.map((l) => {
        const ref: InspectBlob = { digest: l.digest, mediaType: l.mediaType, size: l.size };
        const title = l.annotations?.[Annotation.Title];
        if (title) ref.title = title;
        this.withStatus(ref, l.digest);
        return ref;
      });
      node.layerCount = node.layers.length;
      node.layersSize = node.layers.reduce((n, l) => n + l.size, 0);
    }
    const artifact = this.artifacts.get(info.digest);
    if (artifact) node.artifact = artifact;
  }

  private withStatus(target: { status?: BlobStatus }, digest: string): void {
    const s = this.status?.(digest);
    if (s) target.status = s;
  }
}

type Tally = Omit<InspectSummary, 'roots' | 'tags'>;

/** What the catalog holds, counted: fallback-tag indexes are listings of referrers, not indexes anybody pulls. */
function tally(catalog: Catalog): Tally {
  const bookkeeping = new Set<string>();
  for (const r of catalog.roots) {
    if (r.tag !== undefined && isFallback({ tags: [r.tag], descriptor: r.descriptor })) bookkeeping.add(r.descriptor.digest);
  }
  const blobs = new Map<string, number>();
  let images = 0;
  let indexes = 0;
  let artifacts = 0;
  for (const m of catalog.manifests.values()) {
    blobs.set(m.digest, m.size);
    if (m.kind === 'image') images++;
    else if (m.kind === 'index' && !bookkeeping.has(m.digest)) indexes++;
    else if (m.kind === 'artifact') artifacts++;
    if (m.config) blobs.set(m.config.digest, m.config.size);
    for (const l of m.layers ?? []) blobs.set(l.digest, l.size);
  }
  let totalSize = 0;
  for (const size of blobs.values()) totalSize += size;
  return { manifests: catalog.manifests.size, images, indexes, artifacts, blobs: blobs.size, totalSize };
}

function isFallback(g: { tags: string[]; descriptor: Descriptor }): boolean {
  return g.tags.length > 0 && g.tags.every((t) => isFallbackTagEntry({ ...g.descriptor, annotations: { [Annotation.RefName]: t } }));
}
