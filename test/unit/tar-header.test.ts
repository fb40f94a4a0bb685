/**
 * The tar header encoder against an independent writer (tar-stream) and our
 * own scanner: the same bytes tar-stream writes for every kind of name the
 * archive writer uses (so archives stay byte-identical across ocikit
 * versions), and sizes past ustar's 8 GiB octal limit in base-256, read back
 * from a sparse file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tarStream from 'tar-stream';
import { TAR_TRAILER, encodeTarHeader, paddedSize, paddingFor, type TarEntryHeader } from '../../src/archive/tar-header.js';
import { ArchiveFile } from '../../src/archive/archive-file.js';
import { scanTar } from '../../src/archive/tar-scan.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-tar-header-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** What tar-stream writes for the same entries (content bytes `x` repeated), as one buffer. */
async function tarStreamBytes(entries: TarEntryHeader[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: e.name, type: e.type, mode: e.mode, size: e.size, mtime: new Date(e.mtime * 1000), uid: 0, gid: 0, uname: '', gname: '' },
        e.type === 'file' ? Buffer.alloc(e.size, 'x') : Buffer.alloc(0),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

function ourBytes(entries: TarEntryHeader[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeTarHeader(e));
    if (e.type === 'file') parts.push(Buffer.alloc(e.size, 'x'), paddingFor(e.size));
  }
  parts.push(TAR_TRAILER);
  return Buffer.concat(parts);
}

describe('encodeTarHeader', () => {
  const hex64 = 'a'.repeat(64);
  const hex128 = 'b'.repeat(128);
  const cases: Array<[string, TarEntryHeader[]]> = [
    ['layout files', [
      { name: 'oci-layout', type: 'file', size: 30, mode: 0o644, mtime: 0 },
      { name: 'index.json', type: 'file', size: 512, mode: 0o644, mtime: 1_700_000_000 },
    ]],
    ['directories', [
      { name: 'blobs/', type: 'directory', size: 0, mode: 0o755, mtime: 0 },
      { name: 'blobs/sha256/', type: 'directory', size: 0, mode: 0o755, mtime: 0 },
    ]],
    ['a sha256 blob (77 characters: fits the name field)', [{ name: `blobs/sha256/${hex64}`, type: 'file', size: 1000, mode: 0o644, mtime: 0 }]],
    ['a sha512 blob (141 characters: a PAX path record)', [{ name: `blobs/sha512/${hex128}`, type: 'file', size: 3, mode: 0o644, mtime: 0 }]],
    ['a long name that ustar splits into prefix and name', [{ name: `${'d'.repeat(60)}/${'e'.repeat(90)}`, type: 'file', size: 1, mode: 0o644, mtime: 0 }]],
  ];
  for (const [what, entries] of cases) {
    it(`writes what tar-stream writes: ${what}`, async () => {
      expect(ourBytes(entries).equals(await tarStreamBytes(entries))).toBe(true);
    });
  }

  it('writes sizes past 8 GiB in base-256, which the scanner reads back (sparse file)', async () => {
    const size = 10 * 1024 ** 3 + 7;
    const name = `blobs/sha256/${hex64}`;
    const header = encodeTarHeader({ name, type: 'file', size, mode: 0o644, mtime: 0 });
    expect(header[124]).toBe(0x80);
    const file = path.join(work, 'huge.tar');
    const fh = await open(file, 'w');
    await fh.write(header, 0, header.length, 0);
    await fh.write(TAR_TRAILER, 0, TAR_TRAILER.length, header.length + paddedSize(size));
    await fh.close();
    const archive = await ArchiveFile.open(file);
    try {
      const entries = [];
      for await (const e of scanTar(archive)) entries.push(e);
      expect(entries.map((e) => [e.name, e.size, e.offset])).toEqual([[name, size, 512]]);
    } finally {
      await archive.close();
    }
  });

  it('refuses an mtime that does not fit rather than writing a corrupt header', () => {
    expect(() => encodeTarHeader({ name: 'x', type: 'file', size: 0, mode: 0o644, mtime: 8 ** 12 })).toThrow(RangeError);
  });
});
