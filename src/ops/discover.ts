/** `referrers` and `discover`: the referrers API's answer, and the whole referrers graph below a subject. */
import { MediaType } from '../spec/media-types.js';
import { MAX_NESTING_DEPTH, nestingTooDeep } from '../spec/nesting.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import type { ReadTarget, ReferrersFilter } from '../graph/target.js';

/** The image index the distribution-spec referrers API returns for `subject`. */
export async function referrersIndex(target: ReadTarget, subject: Descriptor, filter?: ReferrersFilter): Promise<ImageIndex> {
  const manifests: Descriptor[] = [];
  for await (const d of target.referrers(subject, filter)) manifests.push(apiDescriptor(d));
  return { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
}

/** Exactly the fields the referrers API lists: mediaType, digest, size, artifactType, annotations. */
function apiDescriptor(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = d.annotations;
  return out;
}

export interface ReferrerNode extends Descriptor {
  referrers: ReferrerNode[];
  /** Set when this digest was already shown higher up the same branch: a cycle, not followed. */
  cycle?: true;
}

export interface DiscoverOptions extends ReferrersFilter {
  /** How many levels below the subject (default: unlimited). */
  depth?: number;
  onCycle?: (path: string[]) => void;
}

/**
 * Referrers of `subject`, recursively (signatures of SBOMs...). The artifact
 * type filter applies at every level. A digest already on the current branch
 * is a cycle: it is marked, reported, and not followed. A chain deeper
 * than MAX_NESTING_DEPTH is refused (LIMIT_EXCEEDED), unless `depth` stops
 * the walk before it.
 */
export async function discover(target: ReadTarget, subject: Descriptor, opts: DiscoverOptions = {}): Promise<ReferrerNode[]> {
  const maxDepth = opts.depth ?? Number.POSITIVE_INFINITY;
  const walk = async (desc: Descriptor, branch: string[], level: number): Promise<ReferrerNode[]> => {
    if (level > maxDepth) return [];
    const nodes: ReferrerNode[] = [];
    for await (const r of target.referrers(desc, { artifactType: opts.artifactType })) {
      const node: ReferrerNode = { ...apiDescriptor(r), referrers: [] };
      // The subject is level 1, its referrers level 2: the tree drawn below must stay within the limit.
      if (level + 1 > MAX_NESTING_DEPTH) throw nestingTooDeep(`the referrer chain below ${subject.digest}`, r.digest);
      if (branch.includes(r.digest)) {
        node.cycle = true;
        opts.onCycle?.([...branch, r.digest]);
      } else {
        node.referrers = await walk(r, [...branch, r.digest], level + 1);
      }
      nodes.push(node);
    }
    return nodes;
  };
  return walk(subject, [subject.digest], 1);
}

/** Render like `oras discover -o tree`: referrers grouped by artifact type (in type order) under the subject. */
export function renderTree(root: string, nodes: ReferrerNode[]): string {
  const lines = [root];
  const draw = (items: ReferrerNode[], prefix: string) => {
    const groups = new Map<string, ReferrerNode[]>();
    for (const n of items) {
      const key = n.artifactType ?? n.mediaType;
      groups.set(key, [...(groups.get(key) ?? []), n]);
    }
    // Sorted by type, so the picture does not depend on the digests (which change with every created time).
    const keys = [...groups.keys()].sort();
    keys.forEach((type, gi) => {
      const lastGroup = gi === keys.length - 1;
      lines.push(`${prefix}${lastGroup ? '└── ' : '├── '}${type}`);
      const inner = prefix + (lastGroup ? '    ' : '│   ');
      const members = groups.get(type)!;
      members.forEach((n, i) => {
        const last = i === members.length - 1;
        lines.push(`${inner}${last ? '└── ' : '├── '}${n.digest}${n.cycle ? ' (cycle: already shown above)' : ''}`);
        if (n.referrers.length > 0) draw(n.referrers, inner + (last ? '    ' : '│   '));
      });
    });
  };
  draw(nodes, '');
  return lines.join('\n');
}

/** Flatten for `-o table`: one row per referrer with its depth and subject. */
export function flattenTree(subject: string, nodes: ReferrerNode[], depth = 1): Array<{ depth: number; subject: string; node: ReferrerNode }> {
  return nodes.flatMap((n) => [{ depth, subject, node: n }, ...flattenTree(n.digest, n.referrers, depth + 1)]);
}
