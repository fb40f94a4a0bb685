/**
 * Where a subject's signatures and attestations are, offline, on any target:
 * - OCI 1.1 referrers of the subject (target.referrers: computed from
 *   index.json for a layout or archive, the referrers API or its fallback tag
 *   for a registry) that are signatures by artifactType or by their layers;
 * - cosign's tags `<alg>-<hex>.sig` (signatures) and `.att` (attestations).
 * Only descriptors here; the manifests are read by the caller.
 */
import { isOcikitError } from '../errors.js';
import type { Descriptor } from '../spec/types.js';
import type { ReadTarget } from '../graph/target.js';
import { cosignTag } from './formats.js';

export interface SignatureManifest {
  descriptor: Descriptor;
  placement: 'referrer' | 'tag';
  /** For a tag: `sig` or `att`, which says what its layers should be. */
  suffix?: 'sig' | 'att';
}

/**
 * What a caller already knows about a subject, to save the lookups: an audit
 * of a whole layout has index.json's cosign tags at hand, and resolving each
 * by name would scan index.json once per image.
 */
export interface KnownSignatureManifests {
  /** The subject's referrers; when absent, target.referrers is asked. */
  referrers?: Descriptor[];
  /** The manifests of the subject's cosign tags; when absent, the tags are resolved in the target. */
  tagged?: SignatureManifest[];
}

export async function findSignatureManifests(target: ReadTarget, subject: Descriptor, known: KnownSignatureManifests = {}): Promise<SignatureManifest[]> {
  const found: SignatureManifest[] = [];
  const referrers = known.referrers ?? (await collect(target.referrers(subject)));
  for (const d of referrers) found.push({ descriptor: d, placement: 'referrer' });
  found.push(...(known.tagged ?? (await resolveCosignTags(target, subject.digest))));
  // The same manifest reached both ways is one set of checks (the first placement says where).
  const seen = new Set<string>();
  return found.filter((m) => !seen.has(m.descriptor.digest) && seen.add(m.descriptor.digest));
}

async function resolveCosignTags(target: ReadTarget, subject: string): Promise<SignatureManifest[]> {
  const out: SignatureManifest[] = [];
  for (const suffix of ['sig', 'att'] as const) {
    try {
      out.push({ descriptor: await target.resolve(cosignTag(subject, suffix)), placement: 'tag', suffix });
    } catch (err) {
      if (!isOcikitError(err, 'NOT_FOUND')) throw err;
    }
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
