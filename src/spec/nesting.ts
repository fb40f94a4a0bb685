/**
 * How deep ocikit follows nesting: an index inside an index, a referrer of a
 * referrer. Real images nest two or three levels (a tag's index, its
 * platform manifests, an SBOM and its signature); thousands of levels are a
 * broken or hostile layout.
 *
 * Walks that only collect content (copy, pack, unpack, verify, gc, diff, ls)
 * keep their work in queues and follow any depth. What draws or resolves a
 * path from the root (inspect's tree, discover's tree, `--platform`
 * resolution) holds the whole path at once and its output grows with the
 * depth, so it stops at this one limit with a typed error instead of running
 * out of stack.
 */
import { OcikitError } from '../errors.js';

/** Documents on one path from a root: the root is level 1. */
export const MAX_NESTING_DEPTH = 64;

/** The error for a path that goes deeper than MAX_NESTING_DEPTH; `digest` is where the limit was hit. */
export function nestingTooDeep(what: string, digest: string): OcikitError {
  return new OcikitError('LIMIT_EXCEEDED', `${what} nests more than ${MAX_NESTING_DEPTH} levels deep at ${digest}`, {
    digest,
    expected: MAX_NESTING_DEPTH,
    hint: `ocikit draws and resolves at most ${MAX_NESTING_DEPTH} levels of indexes and referrers; verify, copy and ls handle any depth`,
  });
}
