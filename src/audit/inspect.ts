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
import { mapBounded } from '../util/limit.js';
import { summarizeArtifact, type ArtifactSummary } from './artifacts.js';
import { Catalog, platformOf, type ManifestInfo, type ManifestKind } from './catalog.js';
import type { Finding } from './findings.js';
import type { AuditRoot } from './roots.js';
import type { BlobStatus, VerifyReport, VerifySummary } from './verify.js';

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
}

export interface InspectReport {
  target: string;
  roots: InspectRoot[];
  summary: InspectSummary;
  /** Present when the inspection was verified (inspect --verify, --html). */
  verification?: VerifySummary & { ok: boolean; findings: Finding[] };
}

export interface InspectOptions {
  /** Only these roots (a reference with a tag or digest). */
  roots?: AuditRoot[];
  /** Attach verification statuses and findings. */
  verification?: VerifyReport;
}

export async function inspectTarget(target: ReadTarget, opts: InspectOptions = {}): Promise<InspectReport> {
  const catalog = await Catalog.load(target, { roots: opts.roots });
  const artifacts = await summarizeArtifacts(target, catalog);
  const status = opts.verification ? new Map(opts.verification.blobs.map((b) => [b.digest, b.status])) : undefined;
  const builder = new TreeBuilder(catalog, artifacts, status);
  const roots = builder.buildRoots();
  const report: InspectReport = { target: target.description, roots, summary: summarize(catalog, roots, builder.bookkeeping()) };
  if (opts.verification) {
    const v = opts.verification;
    report.verification = { ...v.summary, ok: v.ok, findings: v.findings };
  }
  return report;
}

/** Artifact details need payload reads: do them concurrently, once per artifact. */
async function summarizeArtifacts(target: ReadTarget, catalog: Catalog): Promise<Map<string, ArtifactSummary>> {
  const out = new Map<string, ArtifactSummary>();
  const artifacts = [...catalog.manifests.values()].filter((m) => m.kind === 'artifact');
  await mapBounded(artifacts, 8, async (m) => void out.set(m.digest, await summarizeArtifact(target, m.artifactType, m.layers ?? [], m.annotations)));
  return out;
}

class TreeBuilder {
  private readonly shown = new Set<string>();

  constructor(
    private readonly catalog: Catalog,
    private readonly artifacts: Map<string, ArtifactSummary>,
    private readonly status: Map<string, BlobStatus> | undefined,
  ) {}

  /**
   * Roots grouped by digest (two tags for one index are one tree). Referrers
   * listed in index.json appear under their subject, and fallback-tag indexes
   * are bookkeeping whose members appear under their subject too; either is
   * shown at the top level only when it would otherwise not be shown at all.
   */
  buildRoots(): InspectRoot[] {
    const groups = new Map<string, { tags: string[]; descriptor: Descriptor }>();
    for (const r of this.catalog.roots) {
      const g = groups.get(r.descriptor.digest) ?? { tags: [], descriptor: r.descriptor };
      if (r.tag !== undefined && !g.tags.includes(r.tag)) g.tags.push(r.tag);
      groups.set(r.descriptor.digest, g);
    }
    const deferred: Array<{ tags: string[]; descriptor: Descriptor }> = [];
    const roots: InspectRoot[] = [];
    for (const g of groups.values()) {
      if (this.isBookkeeping(g)) deferred.push(g);
      else roots.push({ tags: g.tags, node: this.node(g.descriptor, []) });
    }
    for (const g of deferred) {
      const info = this.catalog.get(g.descriptor.digest);
      const members = [g.descriptor.digest, ...(this.isFallback(g) ? (info?.children ?? []).map((c) => c.digest) : [])];
      if (members.every((d) => !this.shown.has(d))) roots.push({ tags: g.tags, orphan: true, node: this.node(g.descriptor, []) });
    }
    return roots;
  }

  /** Digests of fallback-tag indexes: listings of referrers, not indexes anybody pulls. */
  bookkeeping(): Set<string> {
    const out = new Set<string>();
    for (const r of this.catalog.roots) {
      if (r.tag !== undefined && this.isFallback({ tags: [r.tag], descriptor: r.descriptor })) out.add(r.descriptor.digest);
    }
    return out;
  }

  private isFallback(g: { tags: string[]; descriptor: Descriptor }): boolean {
    return g.tags.length > 0 && g.tags.every((t) => isFallbackTagEntry({ ...g.descriptor, annotations: { [Annotation.RefName]: t } }));
  }

  private isBookkeeping(g: { tags: string[]; descriptor: Descriptor }): boolean {
    if (this.isFallback(g)) return true;
    return g.tags.length === 0 && this.catalog.get(g.descriptor.digest)?.subject !== undefined;
  }

  private node(desc: Descriptor, branch: string[]): InspectNode {
    this.shown.add(desc.digest);
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
    const s = this.status?.get(digest);
    if (s) target.status = s;
  }
}

function summarize(catalog: Catalog, roots: InspectRoot[], bookkeeping: Set<string>): InspectSummary {
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
  return {
    roots: roots.length,
    tags: roots.reduce((n, r) => n + (r.orphan ? 0 : r.tags.length), 0),
    manifests: catalog.manifests.size,
    images,
    indexes,
    artifacts,
    blobs: blobs.size,
    totalSize: [...blobs.values()].reduce((a, b) => a + b, 0),
  };
}
