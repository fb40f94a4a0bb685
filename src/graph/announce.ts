/**
 * The whole graph under some roots, reported as `found` before a copy starts
 * (graph/progress-events.ts), so that a progress display knows the total up
 * front: the copy itself finds each root's content only when that root's
 * turn comes (pack of a layout of many images, push of many tags).
 *
 * Only for a source that reads its documents locally (a layout directory or
 * archive): a registry would be asked for every manifest twice. The walk
 * holds digests, never documents, and gives up after ANNOUNCE_LIMIT
 * manifests (a layout of 50,000 images is found as the copy goes instead):
 * a display's total is a convenience, not worth reading every manifest
 * twice. Anything unreadable is left for the copy to report.
 */
import type { Descriptor } from '../spec/types.js';
import { EventLoopTurns } from '../util/turns.js';
import { fetchManifest, fetchManifestSync } from './content.js';
import { isWalkable, successors } from './successors.js';
import { readsIndex, type Fetcher } from './target.js';
import type { ProgressEvent } from './progress-events.js';

/** Manifests read ahead at most; past this the rest is found as the copy goes. */
export const ANNOUNCE_LIMIT = 5000;

export async function announceGraph(src: Fetcher, roots: Descriptor[], emit: (e: ProgressEvent) => void): Promise<void> {
  if (!readsIndex(src)) return;
  const seen = new Set<string>();
  const stack = [...roots].reverse();
  const turns = new EventLoopTurns();
  let manifests = 0;
  while (stack.length > 0) {
    const desc = stack.pop()!;
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    emit({ type: 'found', descriptor: desc });
    if (!isWalkable(desc) || ++manifests > ANNOUNCE_LIMIT) continue;
    await turns.step();
    try {
      const m = fetchManifestSync(src, desc) ?? (await fetchManifest(src, desc));
      // Children in reverse so that they pop in document order.
      for (const child of successors(m).reverse()) if (!seen.has(child.digest)) stack.push(child);
    } catch {
      // Missing or damaged: the copy reads it again and reports it.
    }
  }
}
