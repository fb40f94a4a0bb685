import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compactVerification, type BlobRecord, type VerifyReport } from '../../src/index.js';

const sha = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`;

function report(blobs: BlobRecord[]): VerifyReport {
  const summary = { manifests: 0, blobs: blobs.length, bytes: 0, errors: 0, warnings: 0, notes: 0 } as VerifyReport['summary'];
  return { target: 't', ok: true, allowMissing: false, summary, findings: [], blobs };
}

describe('compactVerification', () => {
  it('answers every blob status as the full report does, and nothing for digests it never saw', () => {
    const blobs: BlobRecord[] = [];
    for (let i = 0; i < 2000; i++) blobs.push({ digest: sha(i), size: i, status: i % 97 === 0 ? 'missing' : 'ok', referenced: true });
    blobs.push({ digest: `sha512:${'a'.repeat(128)}`, size: 1, status: 'ok', referenced: true });
    // Out of order on purpose: the compact form must not rely on the report's order.
    blobs.reverse();
    const v = compactVerification(report(blobs));
    for (const b of blobs) expect(v.status(b.digest)).toBe(b.status);
    for (let i = 2000; i < 2100; i++) expect(v.status(sha(i))).toBeUndefined();
    expect(v.status('sha256:nothex')).toBeUndefined();
  });
});
