/**
 * verify's signature checks: which images and indexes a target holds, the
 * signatures and attestations found for each (signatures/verify-signatures.ts),
 * and findings that say what checking them showed.
 */
import type { SignaturePolicy } from '../signatures/types.js';

export interface SignatureAuditOptions {
  policy: SignaturePolicy;
  /** An image or index without a valid signature is an error (UNSIGNED), not a note. */
  requireSignature?: boolean;
}
