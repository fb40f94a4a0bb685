/**
 * What each file of a layout is: part of the layout, a blob, a stray file
 * (harmless, but not part of the layout), or something that breaks it.
 * Paths are relative to the layout root and `/`-separated.
 */
import { isDigestGrammar, isSupportedAlgorithm, isValidDigest } from '../digest/digest.js';
import type { LayoutFileEntry } from '../targets/file-listing.js';
import { LEASE_DIR, OWN_DIRS, ownDirProblem } from '../fs/layout-own-dirs.js';

export type PathClass =
  | { kind: 'layout' }
  | { kind: 'blob'; digest: string }
  | { kind: 'stray'; message: string }
  | { kind: 'bad'; code: string; message: string };

/** Files that other tools and ocikit itself leave beside a layout, and what to say about them. */
const KNOWN_STRAYS: Array<{ test: (name: string) => boolean; message: string }> = [
  { test: (n) => n.startsWith('.ocikit-tmp-'), message: 'temporary file of an interrupted ocikit write; ocikit gc removes it' },
  { test: (n) => n.startsWith('.ocikit-partial-'), message: 'partial blob download kept by an interrupted pull; the next pull of that blob resumes it, ocikit gc removes it' },
  { test: (n) => n === LEASE_DIR, message: 'write leases of ocikit processes that are running or were killed; not part of the layout' },
  { test: (n) => n === '.ocikit.lock', message: 'lock of an ocikit process that is running or was killed; not part of the layout' },
  { test: (n) => n === 'ingest', message: 'upload area that other tools (oras) use for writes in progress; not part of the layout' },
  { test: (n) => n === 'manifest.json' || n === 'repositories', message: 'docker save metadata; OCI readers ignore it' },
];

export function classifyLayoutPath(entry: LayoutFileEntry): PathClass {
  // A directory ocikit writes or deletes in that is a symlink (or no directory) makes the layout unsafe to change.
  const ownDir = OWN_DIRS.includes(entry.path) ? ownDirProblem(entry.path, entry.type) : undefined;
  if (ownDir) return { kind: 'bad', ...ownDir };
  const parts = entry.path.split('/');
  const top = parts[0]!;
  if (parts.length === 1 && (top === 'oci-layout' || top === 'index.json')) {
    if (entry.type === 'file') return { kind: 'layout' };
    return { kind: 'bad', code: 'INVALID_LAYOUT', message: `${top} is a ${entry.type}, not a regular file` };
  }
  if (top === 'blobs') return classifyBlobPath(entry, parts);
  if (parts.length === 1) {
    const known = KNOWN_STRAYS.find((k) => k.test(top));
    if (known) return { kind: 'stray', message: known.message };
  }
  return { kind: 'stray', message: `not part of an OCI image layout (a ${entry.type})` };
}

function classifyBlobPath(entry: LayoutFileEntry, parts: string[]): PathClass {
  if (parts.length === 1) return { kind: 'layout' }; // a directory: classifyLayoutPath reported anything else
  const alg = parts[1]!;
  if (parts.length === 2) {
    if (entry.type !== 'directory') return { kind: 'stray', message: `not part of an OCI image layout (a ${entry.type} directly under blobs/)` };
    if (isSupportedAlgorithm(alg)) return { kind: 'layout' };
    return { kind: 'stray', message: `blobs of algorithm "${alg}", which ocikit cannot verify` };
  }
  if (parts.length === 3) {
    const digest = `${alg}:${parts[2]}`;
    if (isValidDigest(digest)) return { kind: 'blob', digest };
    const why = isDigestGrammar(digest) ? 'its algorithm is not supported or its name is not a well-formed digest' : 'its name is not a digest';
    return { kind: 'stray', message: `not a blob: ${why}` };
  }
  return { kind: 'stray', message: `not part of an OCI image layout (nested below ${parts.slice(0, 3).join('/')})` };
}
