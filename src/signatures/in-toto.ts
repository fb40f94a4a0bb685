/**
 * The in-toto statement inside a DSSE envelope: which artifacts it is about
 * (`subject[].digest`) and what kind of claim it makes (`predicateType`).
 * Pure: the envelope's signature is checked elsewhere; this only reads the
 * payload that signature covers.
 */
import { IN_TOTO_PAYLOAD_TYPE } from './formats.js';

/** The predicate type cosign v3 (`cosign sign --new-bundle-format`) gives an image signature. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export interface InTotoStatement {
  predicateType?: string;
  /** The sha256 hex digests of the statement's subjects, lowercase. */
  subjectSha256: string[];
}

/**
 * Reads the statement a DSSE envelope carries. Returns a reason string when
 * the payload is not an in-toto statement (wrong payload type, not JSON, no
 * subject list): such an envelope is about nothing we can match to an image.
 */
export function readInTotoStatement(payloadType: string, payload: Uint8Array): InTotoStatement | string {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return `the DSSE payload type is ${JSON.stringify(payloadType)}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})`;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return 'the DSSE payload is not JSON';
  }
  if (!isRecord(doc) || !Array.isArray(doc.subject)) return 'the in-toto statement has no subject list';
  const subjectSha256: string[] = [];
  for (const s of doc.subject) {
    const hex = isRecord(s) && isRecord(s.digest) ? s.digest.sha256 : undefined;
    if (typeof hex === 'string') subjectSha256.push(hex.toLowerCase());
  }
  const predicateType = typeof doc.predicateType === 'string' ? doc.predicateType : undefined;
  return { predicateType, subjectSha256 };
}

/** Whether the statement names `subject` (`sha256:<hex>`) among its subjects. */
export function statementNames(statement: InTotoStatement, subject: string): boolean {
  if (!subject.startsWith('sha256:')) return false;
  const hex = subject.slice('sha256:'.length).toLowerCase();
  return statement.subjectSha256.includes(hex);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
