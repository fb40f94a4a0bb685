/**
 * What `verify` reports: a list of findings, each with a severity, a stable
 * code, the object it is about (a digest, or a path inside the layout) and a
 * one-line message. Codes are for programs and tests; messages are for people.
 *
 * Severities:
 * - error: the content is damaged or unusable (exit 1);
 * - warning: valid, but something a reader may trip over (exit 0);
 * - note: worth knowing, harmless (exit 0).
 */

export type Severity = 'error' | 'warning' | 'note';

export interface Finding {
  severity: Severity;
  /** Stable code, see FindingCode (document problems keep the validator's code, e.g. INVALID_MANIFEST). */
  code: string;
  /** The digest, or the layout path (`index.json`, `oci-layout`, `blobs/sha256/...`), the finding is about. */
  object: string;
  message: string;
  /** Where inside the object's document, e.g. `layers[1].digest`. */
  location?: string;
}

/** The codes verify itself assigns (validators add INVALID_MANIFEST, INVALID_DIGEST, UNSUPPORTED_DIGEST, INVALID_LAYOUT). */
export const FindingCode = {
  /** A descriptor names a blob the target does not have. */
  MissingBlob: 'MISSING_BLOB',
  /** --allow-missing: a missing blob of a delta bundle, expected in another store. */
  ExpectedElsewhere: 'EXPECTED_ELSEWHERE',
  /** A missing blob whose descriptor lists `urls`: non-distributable content fetched from elsewhere by design. */
  ExternalBlob: 'EXTERNAL_BLOB',
  DigestMismatch: 'DIGEST_MISMATCH',
  SizeMismatch: 'SIZE_MISMATCH',
  /** A document is not valid JSON, or not a manifest / index / config. */
  InvalidManifest: 'INVALID_MANIFEST',
  ManifestTooLarge: 'MANIFEST_TOO_LARGE',
  InvalidLayout: 'INVALID_LAYOUT',
  /** A blob path that is a symlink, a directory or a device. */
  UnsafeBlobPath: 'UNSAFE_BLOB_PATH',
  /** A directory ocikit writes or deletes in (blobs, blobs/<alg>, .ocikit-leases) is a symlink or not a directory; writers refuse the layout. */
  UnsafeLayout: 'UNSAFE_LAYOUT',
  /** A manifest's `subject` names a manifest the target does not have. */
  DanglingSubject: 'DANGLING_SUBJECT',
  /** A blob no descriptor reachable from index.json (or a subject) names. */
  UnreferencedBlob: 'UNREFERENCED_BLOB',
  /** One tag given to two different manifests in index.json. */
  DuplicateTag: 'DUPLICATE_TAG',
  /** A file that is not part of an OCI layout (temp files, `ingest/`, docker save metadata). */
  StrayFile: 'STRAY_FILE',
  /** A missing blob whose descriptor embeds its content in a valid `data` field. */
  EmbeddedOnly: 'EMBEDDED_ONLY',
  /** A digest whose algorithm ocikit cannot compute: the content is not checked. */
  UnsupportedDigest: 'UNSUPPORTED_DIGEST',
  /** Reading failed for a reason that is not the content's fault (I/O, permissions, network). */
  ReadError: 'READ_ERROR',
  /** An archive holds data after its tar end-of-archive marker and padding; ocikit does not read it, other tools may. */
  TrailingData: 'TRAILING_DATA',
  /** A signature or attestation checks out against a given key or trusted root, and is about this image (note). */
  SignatureValid: 'SIGNATURE_VALID',
  /** A signature or attestation that does not check out: tampered, unreadable, or no given key or root vouches for it (error). */
  SignatureInvalid: 'SIGNATURE_INVALID',
  /** A good signature of another image, attached to this one (error). */
  SignatureWrongSubject: 'SIGNATURE_WRONG_SUBJECT',
  /** A signature found, but no --key or --trusted-root given that could check it (warning). */
  SignatureUnverified: 'SIGNATURE_UNVERIFIED',
  /** An image or index with no valid signature when a key or root was given (note; error with --require-signature). */
  Unsigned: 'UNSIGNED',
} as const;

const RANK: Record<Severity, number> = { error: 0, warning: 1, note: 2 };

/** Deterministic order (verify runs concurrently): severity, object, code, location, message. */
export function sortFindings(list: Finding[]): Finding[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...list].sort(
    (a, b) =>
      RANK[a.severity] - RANK[b.severity] ||
      cmp(a.object, b.object) ||
      cmp(a.code, b.code) ||
      cmp(a.location ?? '', b.location ?? '') ||
      cmp(a.message, b.message),
  );
}

export interface FindingCounts {
  errors: number;
  warnings: number;
  notes: number;
}

export function countFindings(list: Finding[]): FindingCounts {
  const counts: FindingCounts = { errors: 0, warnings: 0, notes: 0 };
  for (const f of list) {
    if (f.severity === 'error') counts.errors++;
    else if (f.severity === 'warning') counts.warnings++;
    else counts.notes++;
  }
  return counts;
}

/** One line: `error   DIGEST_MISMATCH  sha256:... (layers[0]): message`. */
export function formatFinding(f: Finding): string {
  const where = f.location ? ` (${f.location})` : '';
  return `${f.severity.padEnd(7)} ${f.code}  ${f.object}${where}: ${f.message}`;
}
