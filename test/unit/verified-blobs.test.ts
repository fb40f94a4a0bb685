import { createHash } from 'node:crypto';
import { mkdtemp, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileRange } from '../../src/fs/file-range.js';
import { VerifiedBlobs } from '../../src/server/verified-blobs.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('VerifiedBlobs: one verification per version of a blob file, shared by its downloads', () => {
  let dir: string;
  let handles: FileHandle[];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ocikit-verified-'));
    handles = [];
  });
  afterEach(async () => {
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  /** The whole of `file` as a range on a descriptor of its own, and a counter of how often it was opened this way. */
  const opener = (file: string, size: number) => {
    const counted = { opens: 0 };
    const openRange = async (): Promise<FileRange> => {
      counted.opens++;
      const fh = await open(file, 'r');
      handles.push(fh);
      return { fd: fh.fd, start: 0, size, path: file, release: () => fh.close() };
    };
    return { openRange, counted };
  };

  it('eight concurrent downloads of one file share one verification; a later one reuses its verdict', async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 5, 9);
    const file = path.join(dir, 'blob');
    await writeFile(file, bytes);
    const expected = { digest: sha256(bytes), size: bytes.length };
    const { openRange, counted } = opener(file, bytes.length);
    const blobs = new VerifiedBlobs();
    const checks = await Promise.all(Array.from({ length: 8 }, async () => blobs.checkFor(await openRange(), expected, openRange)));
    await Promise.all(checks.map((check) => check()));
    // Eight downloads and one reopen by the verification.
    expect(counted.opens).toBe(9);
    await (await blobs.checkFor(await openRange(), expected, openRange))();
    expect(counted.opens).toBe(10);
  });

  it('verifies again once the file changed, and a failed verification is not kept', async () => {
    const bytes = Buffer.alloc(4096, 1);
    const file = path.join(dir, 'blob');
    await writeFile(file, bytes);
    const expected = { digest: sha256(bytes), size: bytes.length };
    const { openRange, counted } = opener(file, bytes.length);
    const blobs = new VerifiedBlobs();
    await (await blobs.checkFor(await openRange(), expected, openRange))();
    // Same size, other bytes: the file's change time moves, so its verdict no longer applies.
    await writeFile(file, Buffer.alloc(4096, 2));
    await expect((await blobs.checkFor(await openRange(), expected, openRange))()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    const opensAfterFailure = counted.opens;
    await expect((await blobs.checkFor(await openRange(), expected, openRange))()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    // The failure was not remembered: the third download verified afresh (its own open and a reopen).
    expect(counted.opens).toBe(opensAfterFailure + 2);
  });

  it('when the file was replaced between the download opening it and the verification reopening it, the download checks its own bytes', async () => {
    const good = Buffer.alloc(70_000, 3);
    const file = path.join(dir, 'blob');
    await writeFile(file, good);
    const expected = { digest: sha256(good), size: good.length };
    const { openRange } = opener(file, good.length);
    const held = await openRange();
    // Another file (bad bytes) renamed over the name: the verification reads that one, which is another version.
    await writeFile(path.join(dir, 'other'), Buffer.alloc(70_000, 4));
    await rename(path.join(dir, 'other'), file);
    const blobs = new VerifiedBlobs();
    await expect((await blobs.checkFor(held, expected, openRange))()).resolves.toBeUndefined();
    // And a download of the replaced (bad) file is refused.
    await expect((await blobs.checkFor(await openRange(), expected, openRange))()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});

describe('VerifiedBlobs: bounded reading', () => {
  it('reads at most four files at once, however many downloads start verifications of different blobs', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-verified-many-'));
    const handles: FileHandle[] = [];
    try {
      let open_ = 0;
      let most = 0;
      const blobs = new VerifiedBlobs();
      const checks = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const bytes = Buffer.alloc(200_000, i);
          const file = path.join(dir, `b${i}`);
          await writeFile(file, bytes);
          const openRange = async (): Promise<FileRange> => {
            const fh = await open(file, 'r');
            handles.push(fh);
            return { fd: fh.fd, start: 0, size: bytes.length, path: file, release: () => fh.close() };
          };
          const reopen = async (): Promise<FileRange> => {
            open_++;
            most = Math.max(most, open_);
            const range = await openRange();
            return { ...range, release: async () => {
              open_--;
              await range.release!();
            } };
          };
          return blobs.checkFor(await openRange(), { digest: sha256(bytes), size: bytes.length }, reopen);
        }),
      );
      await Promise.all(checks.map((check) => check()));
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
