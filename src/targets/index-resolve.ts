/**
 * Resolution over an index.json, the same for every target that has one
 * (layout directory, layout archive, docker archive): tag and digest lookup,
 * the layout's only image, and describing a manifest that index.json does not
 * list (a child of an index) by reading it.
 */
import { NotFoundError, OcikitError, UsageError } from '../errors.js';
import { isSupportedAlgorithm, parseDigest } from '../digest/digest.js';
import { Annotation, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { detectManifestMediaType } from '../spec/validate.js';
import { fetchDocument } from '../graph/content.js';
import { isWalkable } from '../graph/successors.js';
import { isFallbackTagEntry, namesOf, selectNamed, tagOf } from '../spec/index-entries.js';
import type { ReadTarget } from '../graph/target.js';

function looksLikeDigest(ref: string): boolean {
  const alg = ref.split(':', 1)[0]!;
  return ref.includes(':') && (isSupportedAlgorithm(alg) || /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/.test(ref));
}

/** An index.json entry as the descriptor of its manifest: the tag annotation belongs to the index, not the manifest. */
export function stripTag(entry: Descriptor): Descriptor {
  if (!entry.annotations || !(Annotation.RefName in entry.annotations)) return { ...entry };
  const { [Annotation.RefName]: _tag, ...rest } = entry.annotations;
  // Built without the key rather than copied and `delete`d: deleting a property turns an object
  // into a hash table, ten times its size, and audits keep one of these per index.json entry.
  const { annotations: _all, ...copy } = entry;
  return Object.keys(rest).length > 0 ? { ...copy, annotations: rest } : copy;
}

/** Untagged entries carrying artifactType are referrers listed for other tools, not images to pick by default. */
function isArtifactEntry(e: Descriptor): boolean {
  return e.artifactType !== undefined && tagOf(e) === undefined;
}

/** Tag names as `tags` prints them (index-entries' namesOf: `REPO:TAG` where a tag is in several repositories). */
export function* tagsOf(index: ImageIndex): Iterable<string> {
  yield* namesOf(index);
}

/** A tag, `REPO:TAG` or digest to a descriptor (an ambiguous tag is AMBIGUOUS): index.json entries first, then any manifest blob the target holds. */
export async function resolveInIndex(target: ReadTarget, index: ImageIndex, ref: string): Promise<Descriptor> {
  if (looksLikeDigest(ref)) {
    parseDigest(ref);
    const entry = index.manifests.find((e) => e.digest === ref);
    if (entry) return stripTag(entry);
    return describeManifestBlob(target, ref);
  }
  const matches = selectNamed(index, ref, target.description);
  if (matches.length === 0) {
    const tags = [...tagsOf(index)];
    throw new NotFoundError(`tag "${ref}" not found in ${target.description}`, {
      hint: tags.length > 0 ? `tags present: ${tags.slice(0, 10).join(', ')}${tags.length > 10 ? ', ...' : ''}` : `${target.description} has no tags`,
    });
  }
  return stripTag(matches[matches.length - 1]!);
}

/** The only image of an index.json, when it holds exactly one (referrers do not count). */
export function defaultInIndex(description: string, index: ImageIndex): Descriptor {
  // Referrers (untagged artifacts, fallback-tag listings) and entries of media types that are not
  // manifests are not what a user means by naming the layout alone.
  const roots = index.manifests.filter((e) => isWalkable(e) && !isArtifactEntry(e) && !isFallbackTagEntry(e));
  const unique = [...new Map(roots.map((e) => [e.digest, e])).values()];
  if (unique.length === 1) return stripTag(unique[0]!);
  if (unique.length === 0) throw new NotFoundError(`${description} has no images`);
  throw new UsageError(`${description} holds ${unique.length} images; say which one with :TAG or @DIGEST`, {
    hint: `tags: ${[...tagsOf(index)].slice(0, 10).join(', ')}`,
  });
}

/** Describe a manifest known only by digest (a child of an index, say) by reading it. */
async function describeManifestBlob(target: ReadTarget, digest: string): Promise<Descriptor> {
  let size: number;
  try {
    size = (await target.statBlob(digest)).size;
  } catch (err) {
    if (err instanceof OcikitError && err.code === 'NOT_FOUND') throw new NotFoundError(`manifest ${digest} not found in ${target.description}`, { digest });
    throw err;
  }
  const bytes = await fetchDocument(target, { mediaType: MediaType.OctetStream, digest, size });
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new OcikitError('INVALID_MANIFEST', `${digest} in ${target.description} is not a manifest (not JSON)`, { digest });
  }
  const mediaType = doc && typeof doc === 'object' ? detectManifestMediaType(doc as Record<string, unknown>) : undefined;
  if (!mediaType) throw new OcikitError('INVALID_MANIFEST', `${digest} in ${target.description} is not a manifest or index`, { digest });
  return { mediaType, digest, size };
}
