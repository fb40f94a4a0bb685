/**
 * The tar header scanner: tars written by GNU tar (gnu and pax formats, long
 * names, with and without `./` and directory entries) and by tar-stream,
 * corrupt and truncated tars, and every hostile entry kind. Offsets are
 * checked by reading the data at the offset the scanner reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tarStream from 'tar-stream';
import { ArchiveFile } from '../../src/archive/archive-file.js';
import { normalizeEntryName, parsePax, scanTar, type TarEntry } from '../../src/archive/tar-scan.js';
import { TarIndex } from '../../src/archive/tar-index.js';
import { isOcikitError } from '../../src/errors.js';

let work: string;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-tar-scan-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const LONG_DIR = 'd'.repeat(120);
const LONG_FILE = 'f'.repeat(150);

/** A small tree with a long path (needs GNU `L` or PAX `path`) and an empty file. */
async function makeTree(): Promise<string> {
  const root = path.join(work, `tree-${++n}`);
  await mkdir(path.join(root, 'blobs', 'sha256'), { recursive: true });
  await mkdir(path.join(root, LONG_DIR), { recursive: true });
  await writeFile(path.join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(path.join(root, 'blobs', 'sha256', 'abc'), 'x'.repeat(1000));
  await writeFile(path.join(root, LONG_DIR, LONG_FILE), 'long name content');
  await writeFile(path.join(root, 'empty'), '');
  return root;
}

function gnuTar(args: string[]): void {
  execFileSync('tar', args, { stdio: 'pipe' });
}

async function scanFile(file: string, opts = {}): Promise<TarEntry[]> {
  const archive = await ArchiveFile.open(file);
  try {
    const out: TarEntry[] = [];
    for await (const e of scanTar(archive, opts)) out.push(e);
    return out;
  } finally {
    await archive.close();
  }
}

async function contentAt(file: string, e: TarEntry): Promise<string> {
  return (await readFile(file)).subarray(e.offset, e.offset + e.size).toString('utf8');
}

async function scanError(file: string, opts = {}): Promise<string> {
  try {
    await scanFile(file, opts);
  } catch (err) {
    if (isOcikitError(err)) return err.code;
    throw err;
  }
  throw new Error('expected the scan to fail');
}

interface Spec {
  name: string;
  content?: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  linkname?: string;
}

/** A tar written by tar-stream from a list of entries. */
async function tarStreamFile(entries: Spec[]): Promise<string> {
  const file = path.join(work, `ts-${++n}.tar`);
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mtime: new Date(0) };
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === undefined || e.type === 'file') pack.entry(header, Buffer.from(e.content ?? ''), done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  await ended;
  await writeFile(file, Buffer.concat(chunks));
  return file;
}

describe('archives written by GNU tar', () => {
  for (const format of ['gnu', 'pax', 'ustar'] as const) {
    it(`--format=${format} with ./ prefixes and directory entries`, async () => {
      const root = await makeTree();
      const file = path.join(work, `gnu-${format}-${++n}.tar`);
      if (format === 'ustar') {
        // ustar cannot hold a 271-character name; leave the long one out.
        gnuTar(['--format=ustar', '-cf', file, '-C', root, './oci-layout', './blobs', './empty']);
      } else {
        gnuTar([`--format=${format}`, '-cf', file, '-C', root, '.']);
      }
      const entries = await scanFile(file);
      const byName = new Map(entries.map((e) => [e.name, e]));
      expect(entries.every((e) => !e.name.startsWith('./') && !e.name.endsWith('/'))).toBe(true);
      expect(byName.get('blobs')?.type).toBe('directory');
      expect(byName.get('blobs/sha256')?.type).toBe('directory');
      expect(await contentAt(file, byName.get('oci-layout')!)).toBe('{"imageLayoutVersion":"1.0.0"}');
      expect(await contentAt(file, byName.get('blobs/sha256/abc')!)).toBe('x'.repeat(1000));
      expect(byName.get('empty')).toMatchObject({ type: 'file', size: 0 });
      if (format !== 'ustar') expect(await contentAt(file, byName.get(`${LONG_DIR}/${LONG_FILE}`)!)).toBe('long name content');
    });
  }

  it('without ./ and without directory entries (--no-recursion file list)', async () => {
    const root = await makeTree();
    const file = path.join(work, `norec-${++n}.tar`);
    gnuTar(['--format=gnu', '--no-recursion', '-cf', file, '-C', root, 'oci-layout', 'blobs/sha256/abc', `${LONG_DIR}/${LONG_FILE}`]);
    const entries = await scanFile(file);
    expect(entries.map((e) => e.name)).toEqual(['oci-layout', 'blobs/sha256/abc', `${LONG_DIR}/${LONG_FILE}`]);
    expect(entries.every((e) => e.type === 'file')).toBe(true);
    expect(await contentAt(file, entries[2]!)).toBe('long name content');
  });

  it('symlinks, hard links and FIFOs are refused, or yielded as links when the caller resolves them', async () => {
    const root = await makeTree();
    execFileSync('ln', ['-s', 'oci-layout', path.join(root, 'link')]);
    const file = path.join(work, `links-${++n}.tar`);
    gnuTar(['-cf', file, '-C', root, 'oci-layout', 'link']);
    expect(await scanError(file)).toBe('UNSAFE_ARCHIVE_ENTRY');
    const entries = await scanFile(file, { allowLinks: true });
    expect(entries.find((e) => e.name === 'link')).toMatchObject({ type: 'symlink', linkname: 'oci-layout' });

    const hard = path.join(work, `hard-${++n}.tar`);
    execFileSync('ln', [path.join(root, 'empty'), path.join(root, 'empty2')]);
    gnuTar(['-cf', hard, '-C', root, 'empty', 'empty2']);
    expect(await scanError(hard)).toBe('UNSAFE_ARCHIVE_ENTRY');

    const fifoDir = path.join(work, `fifo-${++n}`);
    await mkdir(fifoDir);
    execFileSync('mkfifo', [path.join(fifoDir, 'pipe')]);
    const fifo = path.join(work, `fifo-${n}.tar`);
    gnuTar(['-cf', fifo, '-C', fifoDir, 'pipe']);
    expect(await scanError(fifo, { allowLinks: true })).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('absolute names written with -P are refused', async () => {
    const root = await makeTree();
    const file = path.join(work, `abs-${++n}.tar`);
    gnuTar(['-P', '-cf', file, path.join(root, 'oci-layout')]);
    expect(await scanError(file)).toBe('UNSAFE_ARCHIVE_ENTRY');
  });
});

describe('archives written by tar-stream', () => {
  it('are scanned, including a name that needs a PAX header', async () => {
    const longName = `blobs/sha512/${'a'.repeat(128)}`;
    const file = await tarStreamFile([
      { name: 'index.json', content: '{}' },
      { name: 'blobs/', type: 'directory' },
      { name: longName, content: 'sha512 named' },
    ]);
    const entries = await scanFile(file);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['index.json', 'file'],
      ['blobs', 'directory'],
      [longName, 'file'],
    ]);
    expect(await contentAt(file, entries[2]!)).toBe('sha512 named');
  });

  const hostile: Array<[string, Spec[]]> = [
    ['an absolute path', [{ name: '/etc/passwd', content: 'x' }]],
    ['a ".." component', [{ name: '../escape', content: 'x' }]],
    ['a ".." in the middle', [{ name: 'blobs/../../escape', content: 'x' }]],
    ['a symbolic link', [{ name: 'evil', type: 'symlink', linkname: '/etc/passwd' }]],
    ['a hard link', [{ name: 'evil', type: 'link', linkname: 'index.json' }]],
    ['a character device', [{ name: 'dev', type: 'character-device' }]],
    ['a block device', [{ name: 'dev', type: 'block-device' }]],
    ['a FIFO', [{ name: 'pipe', type: 'fifo' }]],
  ];
  for (const [what, entries] of hostile) {
    it(`refuse ${what}`, async () => {
      expect(await scanError(await tarStreamFile([{ name: 'oci-layout', content: '{}' }, ...entries]))).toBe('UNSAFE_ARCHIVE_ENTRY');
    });
  }

  it('a link pointing outside the archive is refused even when links are allowed', async () => {
    for (const [type, linkname] of [
      ['symlink', '../../etc/passwd'],
      ['symlink', '/etc/passwd'],
      ['link', '../x'],
    ] as const) {
      const file = await tarStreamFile([{ name: 'a/layer.tar', type, linkname }]);
      const archive = await ArchiveFile.open(file);
      await expect(TarIndex.build(archive, { allowLinks: true })).rejects.toMatchObject({ code: 'UNSAFE_ARCHIVE_ENTRY' });
      await archive.close();
    }
  });

  it('links inside the archive resolve to their target', async () => {
    const file = await tarStreamFile([
      { name: 'abc.tar', content: 'layer bytes' },
      { name: 'id/layer.tar', type: 'symlink', linkname: '../abc.tar' },
      { name: 'id2/layer.tar', type: 'link', linkname: 'abc.tar' },
      { name: 'dangling', type: 'symlink', linkname: 'nowhere' },
    ]);
    const index = await TarIndex.build(await ArchiveFile.open(file), { allowLinks: true });
    try {
      expect(index.lookup('id/layer.tar')?.name).toBe('abc.tar');
      expect(index.lookup('id2/layer.tar')?.name).toBe('abc.tar');
      expect(() => index.lookup('dangling')).toThrow(expect.objectContaining({ code: 'UNSAFE_ARCHIVE_ENTRY' }));
    } finally {
      await index.close();
    }
  });

  it('duplicate names: identical copies are accepted, different ones refused', async () => {
    const same = await tarStreamFile([
      { name: 'x', content: 'same' },
      { name: './x', content: 'same' },
    ]);
    const index = await TarIndex.build(await ArchiveFile.open(same));
    expect(index.lookup('x')?.size).toBe(4);
    await index.close();
    for (const other of ['diff', 'different size']) {
      const file = await tarStreamFile([
        { name: 'x', content: 'same' },
        { name: 'x', content: other },
      ]);
      const archive = await ArchiveFile.open(file);
      await expect(TarIndex.build(archive)).rejects.toMatchObject({ code: 'UNSAFE_ARCHIVE_ENTRY' });
      await archive.close();
    }
  });
});

describe('corrupt and truncated archives', () => {
  async function variant(mutate: (b: Buffer) => Buffer): Promise<string> {
    const base = await readFile(await tarStreamFile([{ name: 'oci-layout', content: 'x'.repeat(700) }, { name: 'index.json', content: '{}' }]));
    const file = path.join(work, `corrupt-${++n}.tar`);
    await writeFile(file, mutate(Buffer.from(base)));
    return file;
  }

  it('a header with a bad checksum', async () => {
    expect(await scanError(await variant((b) => ((b[3] = b[3]! ^ 0xff), b)))).toBe('UNSAFE_ARCHIVE_ENTRY');
    // the second header (after 512 + 1024 bytes of the first entry)
    expect(await scanError(await variant((b) => ((b[1536 + 10] = 0x41), b)))).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('data running past the end of the file', async () => {
    expect(await scanError(await variant((b) => b.subarray(0, 600)))).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('a file that ends before the end-of-archive marker', async () => {
    expect(await scanError(await variant((b) => b.subarray(0, 1536)))).toBe('UNSAFE_ARCHIVE_ENTRY');
    expect(await scanError(await variant((b) => b.subarray(0, 1536 + 100)))).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('an empty file and a file that is not a tar', async () => {
    expect(await scanError(await variant(() => Buffer.alloc(0)))).toBe('UNSAFE_ARCHIVE_ENTRY');
    expect(await scanError(await variant(() => Buffer.from('just some text, not a tar at all\n'.repeat(40))))).toBe('UNSAFE_ARCHIVE_ENTRY');
  });

  it('a GNU base-256 size field is read', async () => {
    const file = await variant((b) => {
      // Rewrite the first entry's size (700) in base-256 and fix the checksum.
      b.fill(0, 124, 136);
      b[124] = 0x80;
      b.writeUInt32BE(700, 132);
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += b[i]!;
      b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      return b;
    });
    const entries = await scanFile(file);
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ['oci-layout', 700],
      ['index.json', 2],
    ]);
  });
});

describe('names and PAX records', () => {
  it('normalizes names', () => {
    expect(normalizeEntryName('./blobs//sha256/./x')).toEqual({ name: 'blobs/sha256/x' });
    expect(normalizeEntryName('./')).toEqual({ name: '' });
    expect(normalizeEntryName('/abs')).toHaveProperty('problem');
    expect(normalizeEntryName('a/../b')).toHaveProperty('problem');
    expect(normalizeEntryName('a\0b')).toHaveProperty('problem');
  });

  it('parses PAX records and rejects malformed ones', () => {
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      // LEN counts bytes, é included.
      let len = Buffer.byteLength(body) + 1;
      while (Buffer.byteLength(`${len}${body}`) !== len) len++;
      return `${len}${body}`;
    };
    const pax = parsePax(Buffer.from(rec('path', 'a/é/b') + rec('size', '12')));
    expect(pax.get('path')).toBe('a/é/b');
    expect(pax.get('size')).toBe('12');
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow();
  });
});
