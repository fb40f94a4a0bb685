/**
 * The signatures and attestations of a subject, found offline (referrers, and
 * cosign's `sha256-<hex>.sig`/`.att` tags) and each checked against a policy.
 * (Contract only: the implementation lands with issue 17's cosign part.)
 */
import type { Descriptor } from '../spec/types.js';
import type { ReadTarget } from '../graph/target.js';
import type { SignaturePolicy, SubjectSignatures } from './types.js';

export async function verifySignatures(target: ReadTarget, subject: Descriptor, policy: SignaturePolicy): Promise<SubjectSignatures> {
  void target;
  void policy;
  return { subject: subject.digest, checks: [] };
}
