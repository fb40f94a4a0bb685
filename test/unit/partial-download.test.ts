/**
 * fs/partial-download.ts on its own, with an in-memory "source": what is
 * kept after which failure, what is resumed, and the hardening rules (a
 * symlink of the partial name is never followed nor taken, and of two
 * downloads of the same blob only one takes the partial file over).
 */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterFile } from '../helpers/cli.js';
import { downloadResumable, partialFileName } from '../../src/fs/partial-download.js';

const { tmp } = afterFile();
const blob = randomBytes(300_000);
const desc = { digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length };

async function setup(): Promise<{ dir: string; dest: string; partial: string }> {
  const dir = await tmp();
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  return { dir, dest: path.join(dir, 'blobs', 'sha256', desc.digest.slice(7)), partial: path.join(dir, partialFileName(desc.digest)) };
}

/** A source honouring ranges, recording the offsets asked for. */
function source(bytes: Buffer = blob): { asked: number[]; fetchFrom: (offset: number) => Promise<{ start: number; body: Readable }> } {
  const asked: number[] = [];
  return {
    asked,
    fetchFrom: async (offset) => {
      asked.push(offset);
      return { start: offset, body: Readable.from([bytes.subarray(offset)]) };
    },
  };
}

describe('downloadResumable', () => {
  it('resumes from the end of the kept bytes and removes the partial file', async () => {
    const { dir, dest, partial } = await setup();
    await writeFile(partial, blob.subarray(0, 100_000));
    const src = source();
    expect(await downloadResumable({ dir, desc, dest, fetchFrom: src.fetchFrom })).toEqual({ resumedBytes: 100_000 });
    expect(src.asked).toEqual([100_000]);
    expect((await readFile(dest)).equals(blob)).toBe(true);
    expect(existsSync(partial)).toBe(false);
  });

  it('a failure of the source keeps what arrived; a verification failure keeps nothing', async () => {
    const { dir, dest, partial } = await setup();
    const breaking = async () => ({
      start: 0,
      body: Readable.from(
        (async function* () {
          yield blob.subarray(0, 70_000);
          throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        })(),
      ),
    });
    await expect(downloadResumable({ dir, desc, dest, fetchFrom: breaking })).rejects.toThrow('connection reset');
    expect((await readFile(partial)).equals(blob.subarray(0, 70_000))).toBe(true);
    expect(existsSync(dest)).toBe(false);

    const wrong = Buffer.from(blob);
    wrong[250_000] ^= 1;
    // Resumed from 70,000 with wrong bytes, then again from 0 with the same wrong bytes: DIGEST_MISMATCH, nothing kept.
    await expect(downloadResumable({ dir, desc, dest, fetchFrom: source(wrong).fetchFrom })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(existsSync(partial)).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });

  it('a symlink with the partial name is neither followed nor taken', async () => {
    const { dir, dest, partial } = await setup();
    const elsewhere = path.join(await tmp(), 'precious');
    await writeFile(elsewhere, blob.subarray(0, 1000));
    await symlink(elsewhere, partial);
    const src = source();
    expect(await downloadResumable({ dir, desc, dest, fetchFrom: src.fetchFrom })).toEqual({ resumedBytes: 0 });
    expect(src.asked).toEqual([0]);
    expect(lstatSync(partial).isSymbolicLink()).toBe(true);
    expect(await readlink(partial)).toBe(elsewhere);
    expect((await readFile(elsewhere)).equals(blob.subarray(0, 1000))).toBe(true);
  });

  it('two downloads of the same blob: one takes the partial file over, the other starts from 0', async () => {
    const { dir, dest, partial } = await setup();
    await writeFile(partial, blob.subarray(0, 50_000));
    const [a, b] = await Promise.all([downloadResumable({ dir, desc, dest, fetchFrom: source().fetchFrom }), downloadResumable({ dir, desc, dest, fetchFrom: source().fetchFrom })]);
    expect([a.resumedBytes, b.resumedBytes].sort((x, y) => x - y)).toEqual([0, 50_000]);
    expect((await readFile(dest)).equals(blob)).toBe(true);
  });

  it('a source that sends the whole blob instead of the rest: the kept bytes are dropped', async () => {
    const { dir, dest, partial } = await setup();
    await writeFile(partial, blob.subarray(0, 10_000));
    const whole = async () => ({ start: 0, body: Readable.from([blob]) });
    expect(await downloadResumable({ dir, desc, dest, fetchFrom: whole })).toEqual({ resumedBytes: 0 });
    expect((await readFile(dest)).equals(blob)).toBe(true);
  });
});
