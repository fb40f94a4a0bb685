/**
 * Where an audit starts: the entries of index.json for a layout (directory
 * or archive), or every tag for a target without one (a registry repository).
 */
import { Annotation } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { entryName, fullName } from '../spec/index-entries.js';
import { stripTag } from '../targets/index-resolve.js';
import { isLayoutTarget, type ReadTarget } from '../graph/target.js';

export interface AuditRoot {
  /** The entry's name: its tag, or `REPO:TAG` when it is in a repository (the same tag may be in several). */
  tag?: string;
  /** The manifest's descriptor (the tag annotation removed). */
  descriptor: Descriptor;
  /** Position in index.json, for layouts. */
  entry?: number;
}

export async function listRoots(target: ReadTarget): Promise<AuditRoot[]> {
  if (isLayoutTarget(target)) {
    return (await target.readIndex()).manifests.map((e, i) => {
      const root: AuditRoot = { descriptor: withoutTag(e), entry: i };
      const name = entryName(e);
      if (name.tag !== undefined) root.tag = fullName(name);
      return root;
    });
  }
  const roots: AuditRoot[] = [];
  for await (const tag of target.tags()) roots.push({ tag, descriptor: await target.resolve(tag) });
  return roots;
}

function withoutTag(d: Descriptor): Descriptor {
  return d.annotations && Annotation.RefName in d.annotations ? stripTag(d) : d;
}
