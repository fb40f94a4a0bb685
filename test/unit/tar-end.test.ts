/**
 * The streaming end finder (archive/tar-end.ts) must find the marker exactly
 * where scanTar finds it, however the decompressor cuts the stream, and say
 * where trailing data starts; spoolLimit reads OCIKIT_SPOOL_LIMIT.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ArchiveFile } from '../../src/archive/archive-file.js';
import { scanTar } from '../../src/archive/tar-scan.js';
import { TarEndFinder, paddingEnd, trailingDataInFile } from '../../src/archive/tar-end.js';
import { SPOOL_MIN_LIMIT, spoolLimit } from '../../src/archive/spool.js';
import { parseByteSize } from '../../src/util/byte-size.js';

/** A ustar header block: `size` in the size field, whatever the data that follows. */
function header(name: string, size: number, typeflag = '0'): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 'latin1');
  b.write('0000644 ', 100, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')} `, 124, 'latin1');
  b.write('00000000000 ', 136, 'latin1');
  b.write(typeflag, 156, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  let sum = 8 * 0x20;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** A PAX header whose `size` record (1000) overrides the next header's size field (0), a GNU long name, then the marker. */
function trickyTar(): Buffer {
  const record = '13 size=1000\n';
  const longName = `${'d/'.repeat(80)}file`;
  const parts = [
    header('PaxHeader', record.length, 'x'),
    Buffer.from(record),
    pad(record.length),
    header('overridden', 0),
    Buffer.alloc(1000, 0x41),
    pad(1000),
    header('././@LongLink', longName.length + 1, 'L'),
    Buffer.from(`${longName}\0`),
    pad(longName.length + 1),
    header('short', 3),
    Buffer.from('abc'),
    pad(3),
    Buffer.alloc(1024),
  ];
  return Buffer.concat(parts);
}

async function scanMarker(bytes: Buffer): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-tar-end-'));
  try {
    const file = path.join(dir, 'a.tar');
    await writeFile(file, bytes);
    const archive = await ArchiveFile.open(file);
    let marker = -1;
    for await (const _ of scanTar(archive, { onEnd: (at) => (marker = at) })) void _;
    await archive.close();
    return marker;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function feed(bytes: Buffer, chunk: number): { finder: TarEndFinder; kept: number } {
  const finder = new TarEndFinder();
  let kept = 0;
  for (let i = 0; i < bytes.length && !finder.trailing; i += chunk) kept += finder.push(bytes.subarray(i, i + chunk));
  return { finder, kept };
}

describe('TarEndFinder', () => {
  const tar = trickyTar();

  it('finds the marker where scanTar does, in chunks of any size (PAX size override, GNU long name)', async () => {
    const marker = await scanMarker(tar);
    expect(marker).toBe(tar.length - 1024);
    for (const chunk of [1, 7, 511, 512, 513, 4096, tar.length]) {
      const { finder, kept } = feed(tar, chunk);
      expect([chunk, finder.marker, finder.trailing, kept]).toEqual([chunk, marker, undefined, tar.length]);
    }
  });

  it('keeps zero padding up to the record boundary, and stops at the first byte past it or the first non-zero byte', async () => {
    const marker = tar.length - 1024;
    const end = paddingEnd(marker);
    const padded = Buffer.concat([tar, Buffer.alloc(end - tar.length)]);
    for (const chunk of [1, 512, 100_000]) {
      expect(feed(padded, chunk).finder.trailing).toBeUndefined();
      const zeros = feed(Buffer.concat([padded, Buffer.alloc(1)]), chunk);
      expect([zeros.finder.trailing, zeros.kept]).toEqual([{ offset: end }, end]);
      const hidden = Buffer.concat([tar.subarray(0, marker + 512), header('hidden', 0), Buffer.alloc(1024)]);
      const h = feed(hidden, chunk);
      expect(h.finder.trailing?.offset).toBe(marker + 512 + hidden.subarray(marker + 512).findIndex((b) => b !== 0));
    }
  });

  it('gives up on a header it cannot read, and keeps everything', () => {
    const bad = Buffer.concat([tar.subarray(0, 512), Buffer.alloc(512, 0x55), Buffer.alloc(100_000)]);
    bad[0] ^= 0xff; // the first header's checksum no longer matches
    const { finder, kept } = feed(bad, 4096);
    expect([finder.marker, finder.trailing, kept]).toEqual([undefined, undefined, bad.length]);
  });

  it('agrees with the uncompressed check on a GNU tar (10 KiB records: no trailing data)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocikit-tar-end-'));
    try {
      await writeFile(path.join(dir, 'f'), 'content');
      const file = path.join(dir, 'gnu.tar');
      execFileSync('tar', ['-cf', file, '-C', dir, 'f']);
      const archive = await ArchiveFile.open(file);
      let marker = -1;
      for await (const _ of scanTar(archive, { onEnd: (at) => (marker = at) })) void _;
      expect(archive.size % 10240).toBe(0);
      expect(await trailingDataInFile(archive, marker)).toBeUndefined();
      await archive.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('spoolLimit', () => {
  it('defaults to 100 times the compressed size, at least 256 MiB', () => {
    expect(spoolLimit(1000, {})).toBe(SPOOL_MIN_LIMIT);
    expect(spoolLimit(10 * 2 ** 20, {})).toBe(1000 * 2 ** 20);
  });

  it('OCIKIT_SPOOL_LIMIT sets it; a value that is not a size is a usage error', () => {
    expect(spoolLimit(1000, { OCIKIT_SPOOL_LIMIT: '64G' })).toBe(64 * 2 ** 30);
    expect(spoolLimit(1000, { OCIKIT_SPOOL_LIMIT: '4096' })).toBe(4096);
    expect([parseByteSize('512MiB'), parseByteSize('1k'), parseByteSize('-1'), parseByteSize('1.5G')]).toEqual([512 * 2 ** 20, 1024, undefined, undefined]);
    for (const bad of ['lots', '0', '-5M']) expect(() => spoolLimit(1000, { OCIKIT_SPOOL_LIMIT: bad })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
