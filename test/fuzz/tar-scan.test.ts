/**
 * The tar header scanner under generated archives and damaged ones.
 *
 * - Archives written by tar-stream from generated entries (long names that
 *   need PAX, empty files, directories, links) scan to exactly those entries,
 *   with offsets that point at their bytes.
 * - Real archives (tar-stream, GNU tar in gnu and pax formats) with bytes
 *   changed, header checksums recomputed or not, and truncated, scan to a
 *   listing that keeps the scanner's promises (safe normalized names, data
 *   inside the file) or fail with UNSAFE_ARCHIVE_ENTRY; damage to entry data
 *   alone never changes the listing. Nothing hangs: every run has a time limit.
 */
import fc from 'fast-check';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveFile } from '../../src/archive/archive-file.js';
import { TarIndex } from '../../src/archive/tar-index.js';
import { scanTar, TAR_BLOCK, type TarEntry } from '../../src/archive/tar-scan.js';
import { LayoutArchive } from '../../src/targets/layout-archive.js';
import { FIXTURES } from '../helpers/cli.js';
import { gnuTarOf, writeTarStream, type TarSpec } from '../integration/archive-helpers.js';
import { fuzzParams, fuzzTimeout, outcomeAsync } from '../helpers/fuzz.js';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

const CODES = ['UNSAFE_ARCHIVE_ENTRY'] as const;
/** Per-run time limit: a scan of a few KiB that takes longer than this is a hang. */
const RUN_TIMEOUT_MS = 5_000;

let work: string;
let n = 0;
/** A packed layout (the with-referrers fixture, by GNU tar): damage must surface as typed errors through the whole reader. */
let layoutArchive: Buffer;
const bases: Array<{ label: string; bytes: Buffer; entries: TarEntry[] }> = [];

/** The bytes as an archive file on disk (the scanner reads by position, through ArchiveFile's window). */
async function withArchive<T>(bytes: Buffer, use: (archive: ArchiveFile) => Promise<T>): Promise<T> {
  const file = path.join(work, `scan-${++n}.tar`);
  await writeFile(file, bytes);
  const archive = await ArchiveFile.open(file);
  try {
    return await use(archive);
  } finally {
    await archive.close();
    await rm(file, { force: true });
  }
}

async function scan(archive: ArchiveFile, allowLinks: boolean): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of scanTar(archive, { allowLinks })) out.push(e);
  return out;
}

function scanBytes(bytes: Buffer, allowLinks = false): Promise<TarEntry[]> {
  return withArchive(bytes, (archive) => scan(archive, allowLinks));
}

/** TarIndex on top of the scan: duplicate names and link resolution, every name looked up. */
async function index(archive: ArchiveFile): Promise<void> {
  const index = await TarIndex.build(archive, { allowLinks: true });
  for (const name of [...index.names()]) index.lookup(name);
}

/** What the scanner promises of every entry it yields, whatever the archive. */
function expectSaneListing(entries: TarEntry[], fileSize: number): void {
  for (const e of entries) {
    expect(e.name).not.toBe('');
    expect(e.name.split('/').every((c) => c !== '' && c !== '.' && c !== '..')).toBe(true);
    expect(e.name).not.toContain('\0');
    expect(e.offset % TAR_BLOCK).toBe(0);
    expect(e.headerOffset).toBeLessThan(e.offset);
    expect(e.offset + e.size).toBeLessThanOrEqual(fileSize);
    expect(['file', 'directory', 'symlink', 'hardlink']).toContain(e.type);
  }
}

// ------------------------------------------------------------- generation

const segment = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-'.split('')), minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..');
/** Mostly short names; some long enough to need a ustar prefix or a PAX header. */
const entryName = fc.oneof(
  { weight: 4, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')) },
  { weight: 1, arbitrary: fc.tuple(fc.array(segment, { minLength: 8, maxLength: 14 }), segment).map(([dirs, f]) => [...dirs, f].join('/')) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ unit: fc.constantFrom('x', 'y'), minLength: 101, maxLength: 180 }), segment).map(([d, f]) => `${d}/${f}`) },
);
const spec: fc.Arbitrary<TarSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: entryName, content: fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)) }) },
  { weight: 1, arbitrary: entryName.map((name): TarSpec => ({ name, type: 'directory' })) },
  { weight: 1, arbitrary: fc.record({ name: entryName, type: fc.constantFrom('symlink' as const, 'link' as const), linkname: entryName }) },
);

/** Where to damage: mostly inside headers (their fields), or the block after one (a PAX or GNU long-name body), or anywhere. */
interface Damage {
  where: 'header' | 'body' | 'anywhere';
  pick: number;
  field: number;
  byte: number;
}
const INTERESTING = [0, 0x20, 0x2f, 0x2e, 0x30, 0x31, 0x32, 0x35, 0x37, 0x78, 0x67, 0x4c, 0x4b, 0x53, 0x80, 0xff, 0x0a, 0x3d];
/** Offsets of the interesting header fields: name, mode, size, checksum, typeflag, linkname, magic, prefix. */
const FIELDS = [0, 1, 99, 100, 124, 125, 130, 135, 148, 155, 156, 157, 257, 262, 263, 345, 346, 499];
const damage: fc.Arbitrary<Damage> = fc.record({
  where: fc.constantFrom('header', 'header', 'header', 'body', 'anywhere'),
  pick: fc.nat(),
  field: fc.oneof(fc.constantFrom(...FIELDS), fc.nat({ max: TAR_BLOCK - 1 })),
  byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
});

/** Header blocks of the base archive: every entry's header, and any header (PAX, GNU) before it. */
function headerBlocks(bytes: Buffer): number[] {
  const out: number[] = [];
  let pos = 0;
  // Walk as tar does, without validation: enough to find where headers are in an archive we wrote.
  while (pos + TAR_BLOCK <= bytes.length && bytes.subarray(pos, pos + TAR_BLOCK).some((b) => b !== 0)) {
    out.push(pos);
    const size = parseInt(bytes.toString('latin1', pos + 124, pos + 136).replace(/\0.*$/, '').trim() || '0', 8);
    pos += TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
  return out;
}

/** A copy of `original` with `damages` applied (header checksums recomputed when `fixSums`), then cut. */
function damaged(original: Buffer, damages: Damage[], fixSums: boolean, cut: number | undefined): Buffer {
  const bytes = Buffer.from(original);
  const headers = headerBlocks(bytes);
  for (const d of damages) {
    const header = headers[d.pick % headers.length]!;
    if (d.where === 'header') {
      bytes[header + d.field] = d.byte;
      if (fixSums) fixChecksum(bytes, header);
    } else if (d.where === 'body') {
      bytes[Math.min(header + TAR_BLOCK + d.field, bytes.length - 1)] = d.byte;
    } else {
      bytes[d.pick % bytes.length] = d.byte;
    }
  }
  return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
}

function fixChecksum(bytes: Buffer, block: number): void {
  bytes.fill(0x20, block + 148, block + 156);
  let sum = 0;
  for (let i = block; i < block + TAR_BLOCK; i++) sum += bytes[i]!;
  bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, block + 148, 'latin1');
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-fuzz-tar-'));
  // Bases for damage: what tar-stream writes (PAX for long names, links) and what GNU tar writes (gnu `L` and pax).
  const entries: TarSpec[] = [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'blobs', type: 'directory' },
    { name: `blobs/sha256/${'a'.repeat(64)}`, content: Buffer.alloc(700, 7) },
    { name: `${'d'.repeat(120)}/${'f'.repeat(30)}`, content: 'long name' },
    { name: 'empty', content: '' },
    { name: 'link', type: 'symlink', linkname: 'oci-layout' },
    { name: 'index.json', content: '{"schemaVersion":2,"manifests":[]}' },
  ];
  const ts = await writeTarStream(path.join(work, 'base-tar-stream.tar'), entries);
  const tree = path.join(work, 'tree');
  await mkdir(path.join(tree, 'blobs', 'sha256'), { recursive: true });
  await mkdir(path.join(tree, 'd'.repeat(120)), { recursive: true });
  for (const e of entries) if (e.type === undefined) await writeFile(path.join(tree, e.name), e.content ?? '');
  const files = [ts, gnuTarOf(tree, path.join(work, 'base-gnu.tar'), 'gnu'), gnuTarOf(tree, path.join(work, 'base-pax.tar'), 'pax')];
  layoutArchive = await readFile(gnuTarOf(path.join(FIXTURES, 'with-referrers'), path.join(work, 'layout.tar')));
  for (const f of files) {
    const bytes = await readFile(f);
    bases.push({ label: path.basename(f), bytes, entries: await scanBytes(bytes, true) });
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Mostly none; else at a block boundary (a clean cut between headers) or anywhere. */
const truncation = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.nat().map((k) => k * TAR_BLOCK) },
  { weight: 1, arbitrary: fc.nat() },
);

describe('tar header scanning (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('archives written from generated entries scan to exactly those entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { maxLength: 8 }), async (specs) => {
        const file = await writeTarStream(path.join(work, `gen-${++n}.tar`), specs);
        const bytes = await readFile(file);
        await rm(file);
        const entries = await scanBytes(bytes, true);
        expectSaneListing(entries, bytes.length);
        expect(entries.map((e) => ({ name: e.name, type: e.type, size: e.size, linkname: e.linkname }))).toEqual(
          specs.map((s) => ({
            name: s.name,
            type: s.type === 'directory' ? 'directory' : s.type === 'symlink' ? 'symlink' : s.type === 'link' ? 'hardlink' : 'file',
            size: s.type === undefined ? Buffer.byteLength(s.content ?? '') : 0,
            linkname: s.linkname,
          })),
        );
        for (const [i, e] of entries.entries()) {
          if (e.type === 'file') expect(bytes.subarray(e.offset, e.offset + e.size).equals(Buffer.from(specs[i]!.content ?? ''))).toBe(true);
        }
        // Without allowLinks, links are refused and nothing else changes.
        const plain = await outcomeAsync(() => scanBytes(bytes), CODES);
        expect(plain.ok).toBe(!specs.some((s) => s.type === 'symlink' || s.type === 'link'));
      }),
      fuzzParams(300, { timeout: RUN_TIMEOUT_MS }),
    );
  });

  it('damaged and truncated archives: a sane listing or UNSAFE_ARCHIVE_ENTRY, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(damage, { minLength: 1, maxLength: 4 }), fc.constantFrom(true, true, true, false), truncation, fc.boolean(), async (which, damages, fixSums, cut, allowLinks) => {
        const base = bases[which % bases.length]!;
        const bytes = damaged(base.bytes, damages, fixSums, cut);
        await withArchive(bytes, async (archive) => {
          const r = await outcomeAsync(() => scan(archive, allowLinks), CODES);
          if (r.ok) expectSaneListing(r.value, bytes.length);
          await outcomeAsync(() => index(archive), CODES);
        });
      }),
      fuzzParams(1000, { timeout: RUN_TIMEOUT_MS }),
    );
  });

  it('damage confined to entry data leaves the listing unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (which, edits) => {
        const base = bases[which % bases.length]!;
        const files = base.entries.filter((e) => e.type === 'file' && e.size > 0);
        const bytes = Buffer.from(base.bytes);
        for (const [pick, at, byte] of edits) {
          const e = files[pick % files.length]!;
          bytes[e.offset + (at % e.size)] = byte;
        }
        expect(await scanBytes(bytes, true)).toEqual(base.entries);
      }),
      fuzzParams(300, { timeout: RUN_TIMEOUT_MS }),
    );
  });
  it('a damaged layout archive opens and reads every blob, or fails with a typed error', async () => {
    const drain = () => new Writable({ write: (_chunk, _enc, cb) => cb() });
    await fc.assert(
      fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 3 }), fc.constantFrom(true, true, true, false), truncation, async (damages, fixSums, cut) => {
        const bytes = damaged(layoutArchive, damages, fixSums, cut);
        const file = path.join(work, `layout-${++n}.tar`);
        await writeFile(file, bytes);
        try {
          // Any code may be right here (INVALID_LAYOUT, DIGEST_MISMATCH, NOT_FOUND...): the property is that it is one.
          await outcomeAsync(async () => {
            const target = await LayoutArchive.open(file);
            try {
              for (const entry of (await target.readIndex()).manifests) await outcomeAsync(() => target.resolve(entry.digest));
              for (const digest of target.blobDigests()) {
                await outcomeAsync(async () => pipeline(await target.fetch(await target.statBlob(digest)), drain()));
              }
            } finally {
              await target.close();
            }
          });
        } finally {
          await rm(file, { force: true });
        }
      }),
      fuzzParams(500, { timeout: RUN_TIMEOUT_MS }),
    );
  });
});
