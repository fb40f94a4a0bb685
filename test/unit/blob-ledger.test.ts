import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobLedger, OutcomeMemo, type Outcome } from '../../src/audit/blob-ledger.js';
import type { BlobStatus } from '../../src/audit/verify.js';

const sha = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`;
const desc = (i: number, mediaType = 'application/vnd.oci.image.layer.v1.tar', size = i) => ({ digest: sha(i), mediaType, size });

describe('BlobLedger', () => {
  it('keeps the worst status a blob got, with the size and media type of the descriptor that gave it', () => {
    const ledger = new BlobLedger();
    ledger.record(desc(1, 'application/vnd.oci.image.manifest.v1+json', 10), 'ok');
    ledger.record(desc(1, 'application/octet-stream', 11), 'corrupt');
    ledger.record(desc(1, 'text/plain', 12), 'missing');
    const [r] = ledger.records();
    // corrupt outranks missing; octet-stream names nothing, so the earlier media type stays.
    expect(r).toEqual({ digest: sha(1), size: 11, status: 'corrupt', referenced: true, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  });

  it('counts reached digests, manifests once each, unreferenced blobs and the blobs whose bytes were read', () => {
    const ledger = new BlobLedger();
    ledger.reach(sha(1));
    expect(ledger.reached(sha(1))).toBe(true);
    expect(ledger.reached(sha(2))).toBe(false);
    // Reached is not recorded: a status comes only from a check.
    expect(ledger.isRecorded(sha(1))).toBe(false);
    ledger.countManifest(sha(1));
    ledger.countManifest(sha(1));
    expect(ledger.manifests).toBe(1);
    ledger.record(desc(1), 'ok');
    ledger.record(desc(2), 'invalid');
    ledger.record(desc(3), 'missing');
    ledger.markUnreferenced(sha(2));
    // Not recorded: nothing to mark.
    ledger.markUnreferenced(sha(4));
    expect(ledger.countChecked()).toBe(2);
    expect(ledger.records().map((r) => r.digest)).toEqual([sha(1), sha(2), sha(3)].sort());
    expect(ledger.records().find((r) => r.digest === sha(2))!.referenced).toBe(false);
    expect(ledger.records().find((r) => r.digest === sha(4))).toBeUndefined();
  });

  it('answers every status the same after it is frozen, for 50,000 blobs and digests of other forms', () => {
    const ledger = new BlobLedger();
    const statuses: BlobStatus[] = ['ok', 'ok', 'ok', 'missing', 'corrupt', 'absent-ok', 'unverifiable', 'invalid', 'unreadable'];
    for (let i = 0; i < 50_000; i++) {
      ledger.reach(sha(i));
      if (i % 11 !== 0) ledger.record(desc(i), statuses[i % statuses.length]!);
    }
    const sha512 = `sha512:${'c'.repeat(128)}`;
    ledger.record({ digest: sha512, mediaType: '', size: 1 }, 'ok');
    const status = ledger.frozenStatus();
    for (let i = 0; i < 50_000; i += 13) expect(status(sha(i))).toBe(ledger.status(sha(i)));
    expect(status(sha512)).toBe('ok');
    expect(status(sha(50_000))).toBeUndefined();
  });
});

describe('OutcomeMemo', () => {
  const ok: Outcome<true> = { ok: true, value: true };

  it('remembers a read until it settles, then a success as a tag alone and a failure as itself', async () => {
    const ledger = new BlobLedger();
    const memo = new OutcomeMemo(ledger);
    expect(memo.get(desc(1))).toBeUndefined();
    let settle!: (o: Outcome<true>) => void;
    const pending = new Promise<Outcome<true>>((resolve) => (settle = resolve));
    memo.set(desc(1), pending, 7);
    expect(memo.get(desc(1))!.outcome).toBe(pending);
    settle(ok);
    await pending;
    await Promise.resolve();
    expect(memo.get(desc(1))).toEqual({ outcome: ok, tag: 7 });

    const failure: Outcome<true> = { ok: false, error: new Error('unreadable') };
    const failed = Promise.resolve(failure);
    memo.set(desc(2), failed, 3);
    await failed;
    await Promise.resolve();
    expect(memo.get(desc(2))).toEqual({ outcome: failure, tag: 3 });
  });

  it('files a digest named with a second size apart, and answers nothing for a third', async () => {
    const ledger = new BlobLedger();
    const memo = new OutcomeMemo(ledger);
    const first = Promise.resolve(ok);
    const other: Outcome<true> = { ok: false, error: new Error('size') };
    memo.set(desc(1, 'x', 10), first, 1);
    memo.set(desc(1, 'x', 20), Promise.resolve(other), 2);
    await first;
    await Promise.resolve();
    expect(memo.get(desc(1, 'x', 10))).toEqual({ outcome: ok, tag: 1 });
    expect(memo.get(desc(1, 'x', 20))!.tag).toBe(2);
    expect(memo.get(desc(1, 'x', 30))).toBeUndefined();
  });
});
