/**
 * What a target holds, read once for inspect and diff: its roots (index.json
 * entries, or tags), every manifest reachable from them through index
 * children and referrers, each image's config summary, and the referrers of
 * every manifest. Works over any ReadTarget: a layout's referrers come from
 * one walk (buildReferrersMap), other targets are asked per manifest.
 *
 * Reading is tolerant: a manifest or config that cannot be read is kept with
 * a `problem` and the rest of the catalog is still built (verify says why).
 */
import { Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { MediaType } from '../spec/media-types.js';
import { formatPlatform } from '../spec/platform.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, LegacyArtifactManifest } from '../spec/types.js';
import { effectiveArtifactType } from '../spec/validate.js';
import { fetchDocumentOrEmbedded, fetchManifestOrEmbedded, readAll, type FetchedManifest } from '../graph/content.js';
import { buildReferrersMap, lookupReferrers, ReferrersCollector } from '../graph/referrers.js';
import { isWalkable } from '../graph/successors.js';
import { isLayoutTarget, type ReadTarget } from '../graph/target.js';
import { WorkQueue } from '../util/limit.js';
import { listRoots, type AuditRoot } from './roots.js';

export type ManifestKind = 'index' | 'image' | 'artifact' | 'unreadable';

export interface ConfigSummary {
  digest: string;
  mediaType: string;
  size: number;
  /** os/arch[/variant] as the config states it. */
  platform?: string;
  created?: string;
  author?: string;
  labels?: Record<string, string>;
  env?: string[];
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  workingDir?: string;
  user?: string;
  /** Set when the config could not be read or parsed (artifacts' configs are not read). */
  problem?: string;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
  kind: ManifestKind;
  artifactType?: string;
  annotations?: Record<string, string>;
  subject?: Descriptor;
  /** An index's members, as the index lists them (with platform). */
  children?: Descriptor[];
  config?: ConfigSummary;
  /** Layers of an image or artifact; `blobs` of a legacy artifact. */
  layers?: Descriptor[];
  /** An image's platform as its config states it, kept instead of `config` by a platformOnly catalog. */
  configPlatform?: string;
  problem?: string;
}

export interface CatalogOptions {
  /** Start from these instead of every index.json entry or tag. */
  roots?: AuditRoot[];
  /** Manifests read at once (default 16). */
  concurrency?: number;
  /**
   * Keep what an image runs with (env, entrypoint, cmd, working dir, user) in
   * each config summary; diff compares them, inspect shows none of them, and
   * for 50,000 images they are megabytes (default true).
   */
  runtimeConfig?: boolean;
  /**
   * Keep of each image config only its platform, as `configPlatform`, and no
   * annotations or subject (default false): what diff needs. Diff compares
   * configs only where a tag moved, and reads those again with
   * Catalog.describe; at 50,000 images the config summaries alone were 6 MiB.
   */
  platformOnly?: boolean;
}

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);

export class Catalog {
  readonly manifests = new Map<string, ManifestInfo>();
  private readonly referrerLists = new Map<string, Descriptor[]>();

  /** What is read, until the catalog is loaded (see loaded()). */
  private source: ReadTarget | undefined;

  private constructor(
    target: ReadTarget,
    readonly roots: AuditRoot[],
    private readonly runtimeConfig: boolean,
    private readonly platformOnly = false,
  ) {
    this.source = target;
  }

  private get target(): ReadTarget {
    if (!this.source) throw new Error('the catalog is loaded: its target is no longer read');
    return this.source;
  }

  static async load(target: ReadTarget, opts: CatalogOptions = {}): Promise<Catalog> {
    const concurrency = opts.concurrency ?? 16;
    if (!opts.roots && isLayoutTarget(target)) {
      // Walking every index.json entry reaches every manifest a layout's referrers can come
      // from, so one walk finds both: each manifest is read once and no document is kept.
      const catalog = new Catalog(target, await listRoots(target), opts.runtimeConfig ?? true, opts.platformOnly);
      await catalog.walkLayout(await target.readIndex(), concurrency);
      return catalog.loaded();
    }
    // The referrers walk and the catalog's own walk read the same manifests: read each once.
    const cached = withDocumentCache(target);
    const catalog = new Catalog(cached, opts.roots ?? (await listRoots(cached)), opts.runtimeConfig ?? true, opts.platformOnly);
    await catalog.walk(concurrency);
    return catalog.loaded();
  }

  /**
   * Once every document is read, the catalog lets go of what only reading
   * needed: the tables that share strings and layer descriptors among the
   * documents (what they shared stays shared; their own entries were 4 MiB
   * at 50,000 images), and the target itself, so that a report printed from
   * the catalog after the target is closed does not keep the target's own
   * state alive (an archive's table of 100,000 entries is 9 MiB).
   */
  private loaded(): this {
    this.strings.clear();
    this.plainDescriptors.clear();
    this.source = undefined;
    return this;
  }

  /** One manifest summarized as a catalog keeps it, its image config in full (runtime config included). */
  static describe(target: ReadTarget, desc: Descriptor): Promise<ManifestInfo> {
    return new Catalog(target, [], true).readManifest(desc);
  }

  get(digest: string): ManifestInfo | undefined {
    return this.manifests.get(digest);
  }

  referrersOf(digest: string): Descriptor[] {
    return this.referrerLists.get(digest) ?? [];
  }

  /** Every manifest's referrers, by subject digest (only manifests that have some). */
  referrerMap(): ReadonlyMap<string, readonly Descriptor[]> {
    return this.referrerLists;
  }

  /**
   * Every manifest, each forgotten as it is handed over: for a reader that
   * keeps its own summary of them (diff), so that the two are never whole at once.
   */
  *take(): Generator<ManifestInfo> {
    for (const [digest, info] of this.manifests) {
      this.manifests.delete(digest);
      yield info;
    }
  }

  private async walk(concurrency: number): Promise<void> {
    const referrersFor = await this.referrersSource();
    const queue = new WorkQueue<Descriptor>(concurrency, async (desc) => {
      const info = await this.readManifest(desc);
      this.manifests.set(desc.digest, info);
      for (const child of info.children ?? []) enqueue(child);
      const referrers = await referrersFor(desc).catch(() => [] as Descriptor[]);
      if (referrers.length > 0) this.referrerLists.set(desc.digest, referrers);
      for (const r of referrers) enqueue(r);
    });
    const enqueue = (desc: Descriptor) => {
      if (isWalkable(desc)) queue.pushNew(desc.digest, desc);
    };
    for (const root of this.roots) enqueue(root.descriptor);
    await queue.drained();
  }

  /** Every manifest index.json reaches, and the referrers among them. */
  private async walkLayout(index: ImageIndex, concurrency: number): Promise<void> {
    const referrers = new ReferrersCollector(index);
    const queue = new WorkQueue<Descriptor>(concurrency, async (desc) => {
      const info = await this.readManifest(desc, (manifest) => referrers.add({ descriptor: desc, manifest }));
      this.manifests.set(info.digest, info);
      for (const child of info.children ?? []) enqueue(child);
    });
    const enqueue = (desc: Descriptor) => {
      if (isWalkable(desc)) queue.pushNew(desc.digest, desc);
    };
    for (const root of this.roots) enqueue(root.descriptor);
    await queue.drained();
    const map = referrers.map();
    for (const digest of this.manifests.keys()) {
      const list = lookupReferrers(map, digest);
      if (list.length > 0) this.referrerLists.set(digest, list);
    }
  }

  /** A layout's referrers from one walk of what index.json reaches; anything else is asked per manifest. */
  private async referrersSource(): Promise<(desc: Descriptor) => Promise<Descriptor[]>> {
    const target = this.target;
    if (isLayoutTarget(target)) {
      const map = await buildReferrersMap(target);
      return async (desc) => lookupReferrers(map, desc.digest);
    }
    return async (desc) => {
      const list: Descriptor[] = [];
      for await (const d of target.referrers(desc)) list.push(d);
      return list;
    };
  }

  /**
   * What inspect and diff need to know about a manifest: kept for every
   * manifest, so compact (the document itself is dropped; media types and
   * shared layers' digests are one string each, however often they occur).
   */
  private async readManifest(desc: Descriptor, onRead?: (m: FetchedManifest) => void): Promise<ManifestInfo> {
    const info: ManifestInfo = { digest: desc.digest, mediaType: this.intern(desc.mediaType), size: desc.size, kind: 'unreadable' };
    let m;
    try {
      // What a descriptor embeds in `data` is content the target has (verify and copy treat it so too).
      m = await fetchManifestOrEmbedded(this.target, desc);
    } catch (err) {
      info.problem = messageOf(err);
      return info;
    }
    onRead?.(m);
    const doc = m.doc;
    info.mediaType = this.intern(m.mediaType);
    if (!this.platformOnly) {
      if (doc.annotations && Object.keys(doc.annotations).length > 0) info.annotations = { ...doc.annotations };
      if (doc.subject) info.subject = doc.subject;
    }
    const artifactType = effectiveArtifactType(doc);
    if (m.kind === 'index') {
      info.kind = 'index';
      info.children = [...(doc as ImageIndex).manifests];
      if (doc.artifactType) info.artifactType = doc.artifactType;
      return info;
    }
    if (m.kind === 'legacy-artifact') {
      info.kind = 'artifact';
      if (artifactType) info.artifactType = artifactType;
      info.layers = ((doc as LegacyArtifactManifest).blobs ?? []).map((l) => this.compact(l));
      return info;
    }
    const manifest = doc as ImageManifest;
    info.layers = manifest.layers.map((l) => this.compact(l));
    const isImage = IMAGE_CONFIG_TYPES.has(manifest.config.mediaType) && manifest.artifactType === undefined;
    info.kind = isImage ? 'image' : 'artifact';
    if (!isImage && artifactType) info.artifactType = artifactType;
    if (isImage && this.platformOnly) {
      const platform = (await this.readConfig(manifest.config)).platform;
      if (platform) info.configPlatform = platform;
      return info;
    }
    // An artifact's config is usually the empty descriptor: named, not read.
    if (this.platformOnly) return info;
    info.config = isImage
      ? await this.readConfig(manifest.config)
      : { digest: this.intern(manifest.config.digest), mediaType: this.intern(manifest.config.mediaType), size: manifest.config.size };
    return info;
  }

  private readonly strings = new Map<string, string>();

  /** One copy of a string that recurs (media types, a layer many images share), not one per document parsed. */
  private intern(s: string): string {
    if (typeof s !== 'string') return s;
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  private readonly plainDescriptors = new Map<string, Descriptor>();

  /**
   * A layer's descriptor as kept: a plain one (media type, digest, size and
   * nothing else, as most are) is one object however many images share the
   * layer; others are copied with their strings shared.
   */
  private compact(d: Descriptor): Descriptor {
    const plain = Object.keys(d).length === 3 && typeof d.digest === 'string' && 'mediaType' in d && 'size' in d;
    if (plain) {
      const known = this.plainDescriptors.get(d.digest);
      if (known && known.size === d.size && known.mediaType === d.mediaType) return known;
    }
    const copy = { ...d, mediaType: this.intern(d.mediaType), digest: this.intern(d.digest) };
    if (plain && !this.plainDescriptors.has(d.digest)) this.plainDescriptors.set(copy.digest, copy);
    return copy;
  }

  private async readConfig(desc: Descriptor): Promise<ConfigSummary> {
    const summary: ConfigSummary = { digest: desc.digest, mediaType: this.intern(desc.mediaType), size: desc.size };
    let doc: Partial<ImageConfig>;
    try {
      const parsed: unknown = JSON.parse((await fetchDocumentOrEmbedded(this.target, desc)).toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OcikitError('INVALID_MANIFEST', 'image config is not a JSON object');
      doc = parsed as Partial<ImageConfig>;
    } catch (err) {
      summary.problem = messageOf(err);
      return summary;
    }
    if (typeof doc.os === 'string' && typeof doc.architecture === 'string') {
      summary.platform = this.intern(formatPlatform({ os: doc.os, architecture: doc.architecture, ...(typeof doc.variant === 'string' ? { variant: doc.variant } : {}) }));
    }
    if (this.platformOnly) return summary;
    // Interned: builds made reproducible all say the same time (often 1970-01-01T00:00:00Z).
    if (typeof doc.created === 'string') summary.created = this.intern(doc.created);
    if (typeof doc.author === 'string') summary.author = doc.author;
    const c = doc.config && typeof doc.config === 'object' ? doc.config : undefined;
    if (c) {
      if (c.Labels && typeof c.Labels === 'object' && !Array.isArray(c.Labels) && Object.keys(c.Labels).length > 0) {
        // Spread would do for the keys (own keys stay own, `__proto__` too); values are made text
        // because a config may hold numbers or null there, and every renderer expects strings.
        summary.labels = Object.fromEntries(Object.entries(c.Labels as Record<string, unknown>).map(([k, v]) => [k, asText(v)]));
      }
      if (!this.runtimeConfig) return summary;
      if (Array.isArray(c.Env)) summary.env = (c.Env as unknown[]).map(asText);
      if (c.Entrypoint !== undefined) summary.entrypoint = c.Entrypoint;
      if (c.Cmd !== undefined) summary.cmd = c.Cmd;
      if (typeof c.WorkingDir === 'string' && c.WorkingDir !== '') summary.workingDir = c.WorkingDir;
      if (typeof c.User === 'string' && c.User !== '') summary.user = c.User;
    }
    return summary;
  }
}

/** Documents at most this big are kept in memory once read... */
const CACHED_DOCUMENT_LIMIT = 64 * 1024;
/** ...up to this much in all, so memory stays bounded however big the target is. */
const CACHE_BUDGET = 64 * 1024 * 1024;

/**
 * The target, with small documents (manifests, configs) kept after their
 * first verified read and served from memory afterwards. Everything else
 * passes through untouched.
 */
function withDocumentCache<T extends ReadTarget>(target: T): T {
  const cache = new Map<string, Promise<Buffer>>();
  let budget = CACHE_BUDGET;
  const fetch = async (desc: Descriptor): Promise<Readable> => {
    if (desc.size > CACHED_DOCUMENT_LIMIT) return target.fetch(desc);
    const key = `${desc.digest}|${desc.size}`;
    let bytes = cache.get(key);
    if (!bytes) {
      if (budget < desc.size) return target.fetch(desc);
      budget -= desc.size;
      bytes = target.fetch(desc).then((s) => readAll(s, desc.size));
      cache.set(key, bytes);
      // A failed read is not remembered: the next reader sees the failure for itself.
      bytes.catch(() => {
        cache.delete(key);
        budget += desc.size;
      });
    }
    return Readable.from([await bytes], { objectMode: false });
  };
  return new Proxy(target, {
    get(t, prop) {
      if (prop === 'fetch') return fetch;
      const value: unknown = Reflect.get(t, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

/** The platform an image is for: what its index entry says, else what its config says. */
export function platformOf(desc: Descriptor, info: ManifestInfo | undefined): string | undefined {
  if (desc.platform && typeof desc.platform.os === 'string' && typeof desc.platform.architecture === 'string') return formatPlatform(desc.platform);
  return info?.config?.platform ?? info?.configPlatform;
}

/** A value from a config as text: strings as they are, anything else as its JSON. */
function asText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
