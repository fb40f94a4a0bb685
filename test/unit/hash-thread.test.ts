/**
 * The hash thread (digest/hash-thread.ts) behind large range copies: its
 * digests are node:crypto's for both algorithms, concurrent jobs do not mix
 * their bytes, a dropped job leaves the thread usable, a mismatch found there
 * fails the copy with DIGEST_MISMATCH, and a process that used it still exits
 * on its own (the idle thread holds nothing open).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ThreadHash, allocSharedBuffer } from '../../src/digest/hash-thread.js';
import { copyVerifiedRange } from '../../src/fs/file-range.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Hash `parts` on the thread through two shared buffers, as a copy does. */
async function threadDigest(algorithm: 'sha256' | 'sha512', parts: Buffer[]): Promise<string> {
  const size = Math.max(...parts.map((p) => p.length));
  const buffers = [allocSharedBuffer(size), allocSharedBuffer(size)];
  const hash = ThreadHash.start(algorithm, buffers);
  const done: Promise<void>[] = [];
  for (const [i, part] of parts.entries()) {
    const slot = i % 2;
    await done[slot];
    part.copy(buffers[slot]!);
    done[slot] = hash.update(slot, part.length);
  }
  return hash.digest();
}

describe('ThreadHash', () => {
  it('gives node:crypto digests for sha256 and sha512, in the order the chunks were handed over', async () => {
    const parts = [randomBytes(1000), randomBytes(77), randomBytes(1000), Buffer.alloc(0), randomBytes(5)];
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const expected = createHash(algorithm);
      for (const p of parts) expected.update(p);
      expect(await threadDigest(algorithm, parts)).toBe(expected.digest('hex'));
    }
  });

  it('keeps concurrent jobs apart, and stays usable after a dropped one', async () => {
    const dropped = ThreadHash.start('sha256', [allocSharedBuffer(16)]);
    await dropped.update(0, 16);
    dropped.drop();
    const inputs = Array.from({ length: 6 }, (_, i) => Array.from({ length: 4 }, () => randomBytes(512 + i)));
    const digests = await Promise.all(inputs.map((parts) => threadDigest('sha256', parts)));
    digests.forEach((d, i) => expect(d).toBe(createHash('sha256').update(Buffer.concat(inputs[i]!)).digest('hex')));
  });

  it('fails a large copy whose bytes do not match its digest (the check done on the thread)', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'ocikit-hash-thread-'));
    try {
      const content = randomBytes(3 * 1024 * 1024 + 1);
      const file = path.join(work, 'blob');
      await writeFile(file, content);
      const fd = fs.openSync(file, 'r');
      const other = Buffer.from(content);
      other[other.length - 1]! ^= 1;
      const expected = { digest: `sha256:${createHash('sha256').update(other).digest('hex')}`, size: content.length };
      await expect(copyVerifiedRange({ fd, start: 0, size: content.length, path: file }, expected, async () => undefined, { threadHashFrom: 0 })).rejects.toMatchObject({
        code: 'DIGEST_MISMATCH',
      });
      fs.closeSync(fd);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('does not keep a process alive once its hashes are done', async () => {
    // The built module, in a plain node process: it must exit by itself, promptly.
    const script = `
      import { ThreadHash, allocSharedBuffer } from ${JSON.stringify(path.join(ROOT, 'dist/digest/hash-thread.js'))};
      const b = allocSharedBuffer(4);
      const h = ThreadHash.start('sha256', [b]);
      await h.update(0, 4);
      process.stdout.write(await h.digest());
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out).toBe(createHash('sha256').update(Buffer.alloc(4)).digest('hex'));
  });
});
