/**
 * What an index.json entry reaches: itself, the children of an index, configs
 * and layers, and the subject it hangs on. gc decides what stays from it, and
 * `blob delete` on a layout refuses to pull a blob from under a listed
 * manifest with it; both must count the same things as reachable.
 */
import { OcikitError, isOcikitError } from '../errors.js';
import type { Descriptor } from '../spec/types.js';
import { fetchManifest } from './content.js';
import { isWalkable, successors } from './successors.js';
import type { ReadTarget } from './target.js';

/** What one index.json entry keeps alive: every digest it reaches, and the subject it hangs on (artifacts). */
export interface EntryClosure {
  subject?: string;
  closure: Set<string>;
}

/**
 * The closure of every entry, read from `target` (any readable target: a
 * layout, a MemoryTarget). `purpose` names the caller in the error a
 * manifest that cannot be read gives ("gc stopped"): nobody guesses what an
 * unreadable manifest needs.
 */
export async function entryClosures(target: ReadTarget, entries: readonly Descriptor[], purpose = 'gc stopped'): Promise<Map<string, EntryClosure>> {
  const closures = new Map<string, EntryClosure>();
  for (const entry of entries) {
    if (!closures.has(entry.digest)) closures.set(entry.digest, await closureOf(target, entry, purpose));
  }
  return closures;
}

/** Every digest an entry reaches (itself, children, configs, layers) and its subject. Missing children are skipped (delta layouts). */
async function closureOf(layout: ReadTarget, entry: Descriptor, purpose: string): Promise<EntryClosure> {
  const closure = new Set<string>();
  let subject: string | undefined;
  const stack: Descriptor[] = [entry];
  while (stack.length > 0) {
    const desc = stack.pop()!;
    if (closure.has(desc.digest)) continue;
    closure.add(desc.digest);
    if (!isWalkable(desc) || !(await isStored(layout, desc.digest))) continue;
    let m;
    try {
      m = await fetchManifest(layout, desc);
    } catch (err) {
      throw new OcikitError('INVALID_MANIFEST', `${purpose}: cannot read manifest ${desc.digest} (${(err as Error).message}); nothing was removed`, {
        digest: desc.digest,
        cause: err,
        hint: 'run ocikit verify to see what is damaged',
      });
    }
    if (desc === entry && m.doc.subject) subject = m.doc.subject.digest;
    stack.push(...successors(m));
  }
  return { subject, closure };
}

/**
 * Whether a blob file is there at all. Only a missing file means "not stored"
 * (a delta layout); one that is present with the wrong size, or is not a
 * regular file, is damaged, and fetchManifest then says so. (`exists()` would
 * answer false for a truncated manifest, and gc would delete what it needs.)
 */
async function isStored(layout: ReadTarget, digest: string): Promise<boolean> {
  try {
    await layout.statBlob(digest);
    return true;
  } catch (err) {
    if (isOcikitError(err, 'NOT_FOUND')) return false;
    return true;
  }
}
