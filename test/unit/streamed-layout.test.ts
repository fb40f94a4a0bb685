/**
 * A layout archive read once as a stream (targets/streamed-layout.ts): what
 * `verify -` sees. Entry order and extra files do not matter; a second
 * index.json that says something else is refused; past the limit on kept
 * documents the walk is told so (LIMIT_EXCEEDED) rather than memory growing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { StreamedLayout } from '../../src/targets/streamed-layout.js';
import { verifyTarget } from '../../src/audit/verify.js';
import { LayoutDir } from '../../src/targets/layout-dir.js';
import { OcikitError } from '../../src/errors.js';
import { unpackStream } from '../../src/ops/unpack.js';
import type { ProgressEvent } from '../../src/graph/progress-events.js';
import { FIXTURES, tempDir } from '../helpers/cli.js';
import { layoutEntries, writeTarStream, type TarSpec } from '../integration/archive-helpers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  tmp = await tempDir('ocikit-streamed-layout-');
});
afterAll(async () => {
  await tmp.cleanup();
});

async function tarOf(entries: TarSpec[]): Promise<Buffer> {
  return readFile(await writeTarStream(path.join(tmp.dir, `${++n}.tar`), entries));
}

function read(bytes: Buffer, opts: { keepLimit?: number } = {}): Promise<StreamedLayout> {
  // Small chunks, as a pipe delivers them: entries and headers straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
  return StreamedLayout.read(Readable.from(chunks), { source: 'stdin', ...opts });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof OcikitError ? err.code : `not an OcikitError: ${String(err)}`;
  }
}

const withReferrers = path.join(FIXTURES, 'with-referrers');

describe('StreamedLayout', () => {
  it('index.json first, extra files, gzip or not: verify finds what it finds in the directory', async () => {
    const tar = await tarOf([{ name: 'manifest.json', content: '[]' }, ...(await layoutEntries(withReferrers, 'index-first'))]);
    const fromDir = await verifyTarget(await LayoutDir.open(withReferrers));
    for (const bytes of [tar, zlib.gzipSync(tar)]) {
      const report = await verifyTarget(await read(bytes));
      expect(report.ok).toBe(true);
      expect(report.summary).toEqual({ ...fromDir.summary, notes: 1 }); // manifest.json: a stray file
      expect(report.blobs).toEqual(fromDir.blobs);
    }
  });

  it('a second index.json with other content is UNSAFE_ARCHIVE_ENTRY', async () => {
    const entries = await layoutEntries(withReferrers);
    const tar = await tarOf([...entries, { name: './index.json', content: '{"schemaVersion":2,"manifests":[]}' }]);
    expect(await codeOf(read(tar))).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('an empty stream is INVALID_LAYOUT; one without oci-layout too', async () => {
    expect(await codeOf(read(Buffer.alloc(0)))).toBe('INVALID_LAYOUT');
    const entries = (await layoutEntries(withReferrers)).filter((e) => e.name !== 'oci-layout');
    expect(await codeOf(read(await tarOf(entries)))).toBe('INVALID_LAYOUT');
  });

  it('past the limit on kept documents, the walk is told LIMIT_EXCEEDED for what was not kept; blobs are still checked', async () => {
    const tar = await tarOf(await layoutEntries(withReferrers));
    const report = await verifyTarget(await read(tar, { keepLimit: 2000 }));
    expect(report.ok).toBe(false);
    expect(new Set(report.findings.filter((f) => f.severity === 'error').map((f) => f.code))).toEqual(new Set(['LIMIT_EXCEEDED']));
    expect(report.findings.some((f) => f.code === 'DIGEST_MISMATCH')).toBe(false);
  });

  it('bytes after the end-of-archive marker are trailing data, and not read', async () => {
    const tar = await tarOf(await layoutEntries(withReferrers));
    const target = await read(Buffer.concat([tar, Buffer.alloc(20 * 1024, 0x61)]));
    expect(target.trailingData()).toEqual({ offset: tar.length });
    expect((await verifyTarget(target)).findings.map((f) => f.code)).toEqual(['TRAILING_DATA']);
  });
});

describe('unpackStream progress', () => {
  it('reports every blob as it arrives: found, then bytes adding up to its size, then done', async () => {
    const tar = await tarOf(await layoutEntries(withReferrers));
    const events: ProgressEvent[] = [];
    const chunks: Buffer[] = [];
    for (let i = 0; i < tar.length; i += 1000) chunks.push(tar.subarray(i, i + 1000));
    await unpackStream(Readable.from(chunks), path.join(tmp.dir, `unpacked-${++n}`), { source: 'stdin', onEvent: (e) => events.push(e) });
    const blobs = (await readdir(path.join(withReferrers, 'blobs', 'sha256'))).map((hex) => `sha256:${hex}`);
    const found = new Set(events.filter((e) => e.type === 'found').map((e) => e.descriptor.digest));
    expect([...found].sort()).toEqual([...blobs].sort());
    for (const digest of found) {
      const mine = events.filter((e) => e.descriptor.digest === digest);
      const size = mine[0]!.descriptor.size;
      const firstDone = mine.findIndex((e) => e.type === 'done');
      const bytes = mine.slice(0, firstDone).reduce((sum, e) => sum + (e.type === 'bytes' ? e.bytes : 0), 0);
      expect(bytes, digest).toBe(size);
    }
  });
});
