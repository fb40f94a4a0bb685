/**
 * Where an audit starts: the entries of index.json for a layout (directory
 * or archive), or every tag for a target without one (a registry repository).
 */
import type { Descriptor } from '../spec/types.js';
import { entryName, fullName } from '../spec/index-entries.js';
import { isLayoutTarget, type ReadTarget } from '../graph/target.js';

export interface AuditRoot {
  /** The entry's name: its tag, or `REPO:TAG` when it is in a repository (the same tag may be in several). */
  tag?: string;
  /**
   * The manifest's descriptor. For a layout it is the index.json entry as it
   * is (its annotations, the tag among them, included): audits read a root's
   * digest, media type, size and platform, and a copy without the tag for
   * each of 50,000 entries would sit beside the index the layout keeps.
   */
  descriptor: Descriptor;
}

export async function listRoots(target: ReadTarget): Promise<AuditRoot[]> {
  if (isLayoutTarget(target)) {
    return (await target.readIndex()).manifests.map((e) => {
      const name = entryName(e);
      return name.tag !== undefined ? { tag: fullName(name), descriptor: e } : { descriptor: e };
    });
  }
  const roots: AuditRoot[] = [];
  for await (const tag of target.tags()) roots.push({ tag, descriptor: await target.resolve(tag) });
  return roots;
}
