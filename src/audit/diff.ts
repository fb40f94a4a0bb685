/**
 * `diff A B`: what changed between two targets of any kind (layout directory,
 * archive, registry), compared by content: tags added, removed or moved;
 * manifests and platforms added or removed; image layers added or removed,
 * with sizes; referrers added or removed per subject; and for every tag and
 * platform whose image changed, what changed in its config (env, entrypoint,
 * cmd, working dir, user, labels).
 *
 * Referrers fallback-tag indexes (`sha256-<hex>` tags) are left out of the
 * tag and manifest lists: they are how one form stores referrers that another
 * form serves through an API, so a layout and a registry copy of it differ
 * there without differing in content. Their listings count as referrers.
 */
import { DigestIndex } from '../util/digest-index.js';
import { mapBounded } from '../util/limit.js';
import { Annotation } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { isFallbackTagEntry } from '../spec/index-entries.js';
import type { ReadTarget } from '../graph/target.js';
import { Catalog, platformOf, type ConfigSummary, type ManifestInfo, type ManifestKind } from './catalog.js';
import { formatBytes, oneLine, plural } from './format.js';

/** Images read again at once to compare their configs (as many as the catalog reads manifests). */
const CONFIG_READS = 16;

export interface ManifestRef {
  digest: string;
  mediaType: string;
  kind: ManifestKind;
  platform?: string;
  artifactType?: string;
}

export interface TagChange {
  tag: string;
  digest: string;
}

export interface DiffBlob {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PlatformChanges {
  tag: string;
  added: string[];
  removed: string[];
  /** Same platform, another image. */
  changed: Array<{ platform: string; from: string; to: string }>;
}

export interface ValueChange<T> {
  from: T;
  to: T;
}

export interface MapChanges {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, ValueChange<string>>;
}

export interface ConfigChanges {
  tag: string;
  /** The platform the two images are for ("" for an image without one). */
  platform: string;
  from: string;
  to: string;
  env?: MapChanges;
  labels?: MapChanges;
  entrypoint?: ValueChange<string[] | null | undefined>;
  cmd?: ValueChange<string[] | null | undefined>;
  workingDir?: ValueChange<string | undefined>;
  user?: ValueChange<string | undefined>;
}

export interface ReferrerChanges {
  subject: string;
  added: ManifestRef[];
  removed: ManifestRef[];
}

export interface DiffReport {
  a: string;
  b: string;
  identical: boolean;
  tags: { added: TagChange[]; removed: TagChange[]; moved: Array<{ tag: string; from: string; to: string }> };
  manifests: { added: ManifestRef[]; removed: ManifestRef[] };
  platforms: PlatformChanges[];
  layers: { added: DiffBlob[]; removed: DiffBlob[]; addedSize: number; removedSize: number };
  referrers: ReferrerChanges[];
  configs: ConfigChanges[];
}

/**
 * A side of a diff given as a way to open it: diffTargets opens it, reduces
 * it to what the comparison needs and closes it before the other side is
 * opened, so that the two targets' own state (a parsed index.json, an
 * archive's table of contents) is never held at once. It is opened again
 * only when tags moved and their images' configs are compared.
 */
export type DiffSource = ReadTarget | (() => Promise<ReadTarget>);

export async function diffTargets(a: DiffSource, b: DiffSource): Promise<DiffReport> {
  // One side at a time, each reduced to what the comparison needs before the next is read: two
  // whole catalogs of 50,000 manifests at once were about 300 MiB. Configs are kept as their
  // platform only; the few images whose tag moved are read again when their configs are compared.
  const sa = await withSource(a, async (t) => new Side(t.description, await Catalog.load(t, { platformOnly: true })));
  const sb = await withSource(b, async (t) => new Side(t.description, await Catalog.load(t, { platformOnly: true })));
  return diffSides(sa, sb, (fn) => withSource(a, (ta) => withSource(b, (tb) => fn(ta, tb))));
}

/** Run fn on the source's target, closing it afterwards when diffTargets opened it. */
async function withSource<T>(source: DiffSource, fn: (t: ReadTarget) => Promise<T>): Promise<T> {
  if (typeof source !== 'function') return fn(source);
  const target = await source();
  try {
    return await fn(target);
  } finally {
    await target.close?.();
  }
}

type BothOpen = <T>(fn: (a: ReadTarget, b: ReadTarget) => Promise<T>) => Promise<T>;

async function diffSides(sa: Side, sb: Side, bothOpen: BothOpen): Promise<DiffReport> {
  const report: DiffReport = {
    a: sa.description,
    b: sb.description,
    identical: false,
    tags: diffTags(sa, sb),
    manifests: {
      added: sb.missingFrom(sa),
      removed: sa.missingFrom(sb),
    },
    platforms: [],
    layers: diffLayers(sa.layers, sb.layers),
    referrers: diffReferrers(sa, sb),
    configs: [],
  };
  // The images to compare configs of, in report order; read again a few at a time (a registry's
  // round trips add up when many tags moved).
  const pairs: Array<{ tag: string; platform: string; from: string; to: string }> = [];
  for (const [tag, numberA] of sa.tags) {
    const numberB = sb.tags.get(tag);
    if (numberB === undefined) continue;
    const digestA = sa.digestOf(numberA);
    const digestB = sb.digestOf(numberB);
    if (digestB === digestA) continue;
    const pa = sa.imagesByPlatform(digestA);
    const pb = sb.imagesByPlatform(digestB);
    const changes: PlatformChanges = { tag, added: [], removed: [], changed: [] };
    for (const p of pb.keys()) if (!pa.has(p)) changes.added.push(p);
    for (const [p, from] of pa) {
      const to = pb.get(p);
      if (to === undefined) changes.removed.push(p);
      else if (to !== from) {
        changes.changed.push({ platform: p, from, to });
        pairs.push({ tag, platform: p, from, to });
      }
    }
    if (changes.added.length + changes.removed.length + changes.changed.length > 0) report.platforms.push(changes);
  }
  if (pairs.length > 0) {
    const configs = await bothOpen((ta, tb) =>
      mapBounded(pairs, CONFIG_READS, async (x) => diffConfigs(x.tag, x.platform, x.from, x.to, await sa.config(ta, x.from), await sb.config(tb, x.to))),
    );
    for (const c of configs) if (c) report.configs.push(c);
  }
  report.identical =
    report.tags.added.length + report.tags.removed.length + report.tags.moved.length === 0 &&
    report.manifests.added.length + report.manifests.removed.length === 0 &&
    report.layers.added.length + report.layers.removed.length === 0 &&
    report.referrers.length === 0 &&
    report.platforms.length === 0;
  return report;
}

/**
 * One side of a diff: what the comparison needs of its catalog, and no
 * more, so that the catalog can be dropped before the other side is read.
 * A side may keep 50,000 manifests while the other side's catalog is read,
 * so what it keeps per manifest is a number (DigestIndex) and a slot in a
 * few columns, not an object and a digest string each.
 */
class Side {
  /** tag -> number of the digest it points to. */
  readonly tags = new Map<string, number>();
  readonly layers = new Map<string, DiffBlob>();
  /** subject -> its referrers, as the report names them. */
  readonly referrers = new Map<string, ManifestRef[]>();
  private readonly digests = new DigestIndex();
  /** Numbers of the manifests kept, in the order the catalog read them. */
  private readonly order: number[] = [];
  // Columns by digest number; `kind` is undefined for a digest that is not a kept manifest.
  private readonly kind: Array<ManifestKind | undefined> = [];
  private readonly mediaType: Array<string | undefined> = [];
  private readonly size: Array<number | undefined> = [];
  /** The platform the report shows: an index's word for it, else the config's. */
  private readonly platform: Array<string | undefined> = [];
  private readonly artifactType: Array<string | undefined> = [];
  /** An image's platform as its config states it. */
  private readonly configPlatform: Array<string | undefined> = [];
  /** An index's image members: [platform ("" if none), digest], the first per platform. */
  private readonly images = new Map<number, Array<[string, string]>>();
  /** Descriptors that embed their manifest in `data`: the target may not have it to read again. */
  private readonly embedded = new Map<string, Descriptor>();

  constructor(
    readonly description: string,
    catalog: Catalog,
  ) {
    // Fallback-tag indexes (`sha256-<hex>`) are how a registry without the referrers API, or a layout
    // written by regclient, lists referrers: bookkeeping whose content is compared as referrers instead.
    const bookkeeping = new Set<string>();
    for (const r of catalog.roots) {
      if (r.descriptor.data !== undefined) this.embedded.set(r.descriptor.digest, r.descriptor);
      if (r.tag !== undefined && isFallbackTagEntry({ ...r.descriptor, annotations: { [Annotation.RefName]: r.tag } })) bookkeeping.add(r.descriptor.digest);
      else if (r.tag !== undefined) this.tags.set(r.tag, this.number(r.descriptor.digest));
    }
    // Referrer lists are named once every manifest is known.
    const referrerLists: Array<[string, Descriptor[]]> = [];
    for (const digest of catalog.manifests.keys()) {
      const list = catalog.referrersOf(digest);
      if (list.length > 0) referrerLists.push([digest, list]);
    }
    // The platform an index says a child is for wins over what the child's config says: noted in
    // the columns first, before each manifest's summary is taken.
    for (const m of catalog.manifests.values()) {
      for (const c of m.children ?? []) {
        const p = platformOf(c, catalog.get(c.digest));
        if (p) this.platform[this.number(c.digest)] = p;
        if (c.data !== undefined) this.embedded.set(c.digest, c);
      }
      if (m.kind === 'index' && !bookkeeping.has(m.digest)) this.images.set(this.number(m.digest), imageMembers(catalog, m));
    }
    // Each manifest's summary is dropped as soon as what the comparison needs of it is kept.
    for (const m of catalog.take()) {
      if (bookkeeping.has(m.digest)) continue;
      const n = this.number(m.digest);
      this.order.push(n);
      this.kind[n] = m.kind;
      this.mediaType[n] = m.mediaType;
      this.size[n] = m.size;
      this.platform[n] ??= m.configPlatform;
      this.artifactType[n] = m.artifactType;
      if (m.kind === 'image') this.configPlatform[n] = m.configPlatform;
      if (m.kind === 'image') for (const l of m.layers ?? []) this.layers.set(l.digest, { digest: l.digest, mediaType: l.mediaType, size: l.size });
    }
    for (const [digest, list] of referrerLists) this.referrers.set(digest, list.map((d) => this.refOf(d)));
  }

  /** The number of a digest, with an empty slot in every column when it is new. */
  private number(digest: string): number {
    const n = this.digests.add(digest);
    while (this.kind.length <= n) {
      this.kind.push(undefined);
      this.mediaType.push(undefined);
      this.size.push(undefined);
      this.platform.push(undefined);
      this.artifactType.push(undefined);
      this.configPlatform.push(undefined);
    }
    return n;
  }

  /** The kept manifest numbered n, or undefined. */
  private keptNumber(digest: string): number | undefined {
    const n = this.digests.get(digest);
    return n !== undefined && this.kind[n] !== undefined ? n : undefined;
  }

  /** The digest a tag's number stands for. */
  digestOf(n: number): string {
    return this.digests.digest(n);
  }

  has(digest: string): boolean {
    return this.keptNumber(digest) !== undefined;
  }

  /** The manifests the other side lacks (bookkeeping aside), in the order the catalog read them. */
  /**
   * The manifests `other` lacks, by digest: the catalog holds them in the
   * order their reads finished, which concurrent reads of an archive do not
   * keep from one run to the next.
   */
  missingFrom(other: Side): ManifestRef[] {
    const out: ManifestRef[] = [];
    for (const n of this.order) {
      const digest = this.digests.digest(n);
      if (!other.has(digest)) out.push(this.ref(n, digest));
    }
    return out.sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
  }

  private ref(n: number, digest: string): ManifestRef {
    const r: ManifestRef = { digest, mediaType: this.mediaType[n]!, kind: this.kind[n]! };
    const platform = this.platform[n];
    const artifactType = this.artifactType[n];
    if (platform) r.platform = platform;
    if (artifactType) r.artifactType = artifactType;
    return r;
  }

  private refOf(d: Descriptor): ManifestRef {
    const n = this.keptNumber(d.digest);
    if (n !== undefined) return this.ref(n, d.digest);
    const r: ManifestRef = { digest: d.digest, mediaType: d.mediaType, kind: 'artifact' };
    if (d.artifactType) r.artifactType = d.artifactType;
    return r;
  }

  /** platform -> image digest under a root: an index's platform children, or the image itself. */
  imagesByPlatform(digest: string): Map<string, string> {
    const n = this.keptNumber(digest);
    if (n === undefined) return new Map();
    const images = this.images.get(n);
    if (images) return new Map(images);
    if (this.kind[n] === 'image') return new Map([[this.configPlatform[n] ?? '', digest]]);
    return new Map();
  }

  /**
   * An image's config in full, read again from the side's target (only images whose tag moved
   * get here); `target` is the side's own, not a catalog's view of it, which may hold a cache.
   */
  async config(target: ReadTarget, digest: string): Promise<ConfigSummary | undefined> {
    const n = this.keptNumber(digest);
    if (n === undefined) return undefined;
    const desc = this.embedded.get(digest) ?? { mediaType: this.mediaType[n]!, digest, size: this.size[n]! };
    return (await Catalog.describe(target, desc)).config;
  }
}

/** An index's image members by platform, the first per platform (what a moved tag compares). */
function imageMembers(catalog: Catalog, index: ManifestInfo): Array<[string, string]> {
  const out = new Map<string, string>();
  for (const c of index.children ?? []) {
    const child = catalog.get(c.digest);
    if (child?.kind !== 'image') continue;
    const p = platformOf(c, child) ?? '';
    if (!out.has(p)) out.set(p, c.digest);
  }
  return [...out];
}

function diffTags(a: Side, b: Side): DiffReport['tags'] {
  const out: DiffReport['tags'] = { added: [], removed: [], moved: [] };
  for (const [tag, n] of b.tags) if (!a.tags.has(tag)) out.added.push({ tag, digest: b.digestOf(n) });
  for (const [tag, n] of a.tags) {
    const digest = a.digestOf(n);
    const to = b.tags.get(tag);
    if (to === undefined) out.removed.push({ tag, digest });
    else if (b.digestOf(to) !== digest) out.moved.push({ tag, from: digest, to: b.digestOf(to) });
  }
  return out;
}

/** Layers in digest order, for the same reason as Side.missingFrom. */
function diffLayers(a: Map<string, DiffBlob>, b: Map<string, DiffBlob>): DiffReport['layers'] {
  const byDigest = (x: DiffBlob, y: DiffBlob) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0);
  const added = [...b.values()].filter((l) => !a.has(l.digest)).sort(byDigest);
  const removed = [...a.values()].filter((l) => !b.has(l.digest)).sort(byDigest);
  const sum = (list: DiffBlob[]) => list.reduce((n, l) => n + l.size, 0);
  return { added, removed, addedSize: sum(added), removedSize: sum(removed) };
}

function diffReferrers(a: Side, b: Side): ReferrerChanges[] {
  const subjects = new Set([...a.referrers.keys(), ...b.referrers.keys()]);
  const out: ReferrerChanges[] = [];
  for (const subject of subjects) {
    const ra = a.referrers.get(subject) ?? [];
    const rb = b.referrers.get(subject) ?? [];
    const inA = new Set(ra.map((r) => r.digest));
    const inB = new Set(rb.map((r) => r.digest));
    const added = rb.filter((r) => !inA.has(r.digest));
    const removed = ra.filter((r) => !inB.has(r.digest));
    if (added.length + removed.length > 0) out.push({ subject, added, removed });
  }
  return out.sort((x, y) => (x.subject < y.subject ? -1 : x.subject > y.subject ? 1 : 0));
}

function diffConfigs(tag: string, platform: string, from: string, to: string, ca: ConfigSummary | undefined, cb: ConfigSummary | undefined): ConfigChanges | undefined {
  if (!ca || !cb || ca.digest === cb.digest) return undefined;
  const c: ConfigChanges = { tag, platform, from, to };
  const env = diffMaps(envMap(ca.env), envMap(cb.env));
  if (env) c.env = env;
  const labels = diffMaps(new Map(Object.entries(ca.labels ?? {})), new Map(Object.entries(cb.labels ?? {})));
  if (labels) c.labels = labels;
  if (JSON.stringify(ca.entrypoint) !== JSON.stringify(cb.entrypoint)) c.entrypoint = { from: ca.entrypoint, to: cb.entrypoint };
  if (JSON.stringify(ca.cmd) !== JSON.stringify(cb.cmd)) c.cmd = { from: ca.cmd, to: cb.cmd };
  if (ca.workingDir !== cb.workingDir) c.workingDir = { from: ca.workingDir, to: cb.workingDir };
  if (ca.user !== cb.user) c.user = { from: ca.user, to: cb.user };
  return c.env || c.labels || c.entrypoint || c.cmd || c.workingDir || c.user ? c : undefined;
}

/**
 * `NAME=value` entries by name; an entry without `=` is a name with an empty
 * value. Names come from the image, so they live in a Map: as keys of a
 * plain object, `constructor` or `__proto__` would be inherited or lost.
 */
function envMap(env: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i < 0) out.set(e, '');
    else out.set(e.slice(0, i), e.slice(i + 1));
  }
  return out;
}

/** The report's records are built with Object.fromEntries, which makes every name (`__proto__` too) an own key. */
function diffMaps(a: Map<string, string>, b: Map<string, string>): MapChanges | undefined {
  const sorted = (m: Map<string, string>) => [...m.keys()].sort();
  const added = sorted(b).filter((k) => !a.has(k)).map((k) => [k, b.get(k)!] as const);
  const removed = sorted(a).filter((k) => !b.has(k)).map((k) => [k, a.get(k)!] as const);
  const changed = sorted(a).filter((k) => b.has(k) && a.get(k) !== b.get(k)).map((k) => [k, { from: a.get(k)!, to: b.get(k)! }] as const);
  if (added.length + removed.length + changed.length === 0) return undefined;
  return { added: Object.fromEntries(added), removed: Object.fromEntries(removed), changed: Object.fromEntries(changed) };
}

// ---------------------------------------------------------------------------
// Text

export function renderDiffText(r: DiffReport): string {
  const lines = [`--- ${oneLine(r.a)}`, `+++ ${oneLine(r.b)}`];
  if (r.identical) {
    lines.push('no differences');
    return lines.join('\n');
  }
  const t = r.tags;
  if (t.added.length + t.removed.length + t.moved.length > 0) {
    lines.push('tags:');
    for (const x of t.added) lines.push(`  + ${oneLine(x.tag)}  ${x.digest}`);
    for (const x of t.removed) lines.push(`  - ${oneLine(x.tag)}  ${x.digest}`);
    for (const x of t.moved) lines.push(`  ~ ${oneLine(x.tag)}  ${x.from} -> ${x.to}`);
  }
  for (const p of r.platforms) {
    lines.push(`platforms of ${oneLine(p.tag)}:`);
    for (const x of p.added) lines.push(`  + ${oneLine(x)}`);
    for (const x of p.removed) lines.push(`  - ${oneLine(x)}`);
    for (const x of p.changed) lines.push(`  ~ ${oneLine(x.platform || '(no platform)')}  ${x.from} -> ${x.to}`);
  }
  if (r.manifests.added.length + r.manifests.removed.length > 0) {
    lines.push('manifests:');
    for (const m of r.manifests.added) lines.push(`  + ${manifestLine(m)}`);
    for (const m of r.manifests.removed) lines.push(`  - ${manifestLine(m)}`);
  }
  const l = r.layers;
  if (l.added.length + l.removed.length > 0) {
    lines.push(`layers: +${plural(l.added.length, 'layer')} (${formatBytes(l.addedSize)}), -${plural(l.removed.length, 'layer')} (${formatBytes(l.removedSize)})`);
    for (const x of l.added) lines.push(`  + ${x.digest}  ${formatBytes(x.size)}`);
    for (const x of l.removed) lines.push(`  - ${x.digest}  ${formatBytes(x.size)}`);
  }
  if (r.referrers.length > 0) {
    lines.push('referrers:');
    for (const s of r.referrers) {
      lines.push(`  of ${s.subject}:`);
      for (const m of s.added) lines.push(`    + ${manifestLine(m)}`);
      for (const m of s.removed) lines.push(`    - ${manifestLine(m)}`);
    }
  }
  for (const c of r.configs) {
    lines.push(`config of ${oneLine(c.tag)}${c.platform ? ` ${oneLine(c.platform)}` : ''}: ${c.from} -> ${c.to}`);
    mapLines(lines, 'env', c.env);
    mapLines(lines, 'label', c.labels);
    if (c.entrypoint) lines.push(`  entrypoint: ${json(c.entrypoint.from)} -> ${json(c.entrypoint.to)}`);
    if (c.cmd) lines.push(`  cmd: ${json(c.cmd.from)} -> ${json(c.cmd.to)}`);
    if (c.workingDir) lines.push(`  working dir: ${json(c.workingDir.from)} -> ${json(c.workingDir.to)}`);
    if (c.user) lines.push(`  user: ${json(c.user.from)} -> ${json(c.user.to)}`);
  }
  return lines.join('\n');
}

function manifestLine(m: ManifestRef): string {
  const what = m.kind === 'artifact' ? `artifact ${m.artifactType ?? m.mediaType}` : m.kind;
  return [m.digest, oneLine(what), m.platform ? oneLine(m.platform) : undefined].filter(Boolean).join('  ');
}

function mapLines(lines: string[], name: string, m: MapChanges | undefined): void {
  if (!m) return;
  for (const [k, v] of Object.entries(m.added)) lines.push(`  + ${name} ${oneLine(k)}=${oneLine(v)}`);
  for (const [k, v] of Object.entries(m.removed)) lines.push(`  - ${name} ${oneLine(k)}=${oneLine(v)}`);
  for (const [k, v] of Object.entries(m.changed)) lines.push(`  ~ ${name} ${oneLine(k)}: ${oneLine(v.from)} -> ${oneLine(v.to)}`);
}

function json(v: unknown): string {
  return v === undefined ? '(unset)' : oneLine(JSON.stringify(v));
}
