/**
 * ArchiveEditor in process: the write verbs' edits of a layout archive
 * (a new archive beside the old one, renamed over it on commit), read back
 * through LayoutArchive. The CLI's verbs on archives are in
 * test/integration/archive-edit.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { digestBytes } from '../../src/digest/digest.js';
import { detectCompression } from '../../src/archive/compression.js';
import { MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import { ArchiveEditor } from '../../src/targets/archive-editor.js';
import { LayoutArchive } from '../../src/targets/layout-archive.js';
import { writeArchiveFile } from '../../src/ops/archive-merge.js';
import type { ArchiveWriter } from '../../src/targets/archive-writer.js';
import { TarIndex } from '../../src/archive/tar-index.js';
import { openArchiveFile } from '../../src/archive/compression.js';

let work: string;
let n = 0;
const SDE = process.env.SOURCE_DATE_EPOCH;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-archive-editor-'));
  process.env.SOURCE_DATE_EPOCH = '1700000000';
});
afterAll(async () => {
  if (SDE === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = SDE;
  await rm(work, { recursive: true, force: true });
});

async function caseDir(): Promise<string> {
  const dir = path.join(work, `case-${++n}`);
  await mkdir(dir);
  return dir;
}

function desc(bytes: Buffer, mediaType: string): Descriptor {
  return { mediaType, digest: digestBytes(bytes), size: bytes.length };
}

async function put(w: ArchiveWriter, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const d = desc(bytes, mediaType);
  await w.push(d, bytes);
  return d;
}

interface Image {
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
}

function imageDocs(name: string): { config: Buffer; layer: Buffer; manifest: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name }));
  const layer = Buffer.from(`layer of ${name}`);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config: desc(config, MediaType.ImageConfig), layers: [desc(layer, MediaType.Layer)] }),
  );
  return { config, layer, manifest };
}

/** An archive holding image `app` tagged 1 (and, with `stray`, a blob nothing lists). */
async function makeArchive(file: string, opts: { stray?: boolean } = {}): Promise<Image> {
  const docs = imageDocs('app');
  const w = await writeArchiveFile(file, {}, async (writer) => {
    const config = await put(writer, docs.config, MediaType.ImageConfig);
    const layer = await put(writer, docs.layer, MediaType.Layer);
    const manifest = await put(writer, docs.manifest, MediaType.ImageManifest);
    if (opts.stray) await put(writer, Buffer.from('stray'), MediaType.OctetStream);
    await writer.tag(manifest, '1');
    return { manifest, config, layer };
  });
  return w.result;
}

async function read<T>(file: string, fn: (a: LayoutArchive) => Promise<T>): Promise<T> {
  const a = await LayoutArchive.open(file, { spoolDir: path.dirname(file) });
  try {
    return await fn(a);
  } finally {
    await a.close();
  }
}

async function tagsIn(file: string): Promise<string[]> {
  return read(file, async (a) => {
    const out: string[] = [];
    for await (const t of a.tags()) out.push(t);
    return out.sort();
  });
}

async function blobsIn(file: string): Promise<string[]> {
  return read(file, async (a) => a.blobDigests().sort());
}

/** The tar's entry names in order (what an edit must not reorder). */
async function entryNames(file: string): Promise<string[]> {
  const { archive } = await openArchiveFile(file, { spoolDir: path.dirname(file) });
  const tar = await TarIndex.build(archive);
  try {
    return [...tar.names()];
  } finally {
    await tar.close();
  }
}

async function edit(file: string, fn: (e: ArchiveEditor) => Promise<void>, opts: { create?: boolean } = {}): Promise<void> {
  const e = await ArchiveEditor.open(file, opts);
  try {
    await fn(e);
    await e.commit();
  } finally {
    await e.close();
  }
}

async function noTempFiles(dir: string): Promise<void> {
  expect((await readdir(dir)).filter((f) => f.startsWith('.ocikit-'))).toEqual([]);
}

describe('ArchiveEditor', () => {
  it('tag: a new name for a stored manifest; every blob and entry kept, nothing but index.json rewritten', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    const img = await makeArchive(file, { stray: true });
    const before = await readFile(file);
    const namesBefore = await entryNames(file);
    await edit(file, async (e) => e.tag(await e.resolve('1'), 'latest'));
    expect(await tagsIn(file)).toEqual(['1', 'latest']);
    expect(await blobsIn(file)).toEqual([img.manifest.digest, img.config.digest, img.layer.digest, digestBytes(Buffer.from('stray'))].sort());
    expect(await entryNames(file)).toEqual(namesBefore);
    expect((await readFile(file)).equals(before)).toBe(false);
    await noTempFiles(dir);
  });

  it('is reproducible: the same edit of the same archive writes the same bytes', async () => {
    const dir = await caseDir();
    const a = path.join(dir, 'a.tar');
    const b = path.join(dir, 'b.tar');
    await makeArchive(a);
    await copyFile(a, b);
    for (const f of [a, b]) {
      await edit(f, async (e) => {
        await e.pushStream(Readable.from([Buffer.from('sbom')]));
        await e.tag(await e.resolve('1'), 'two');
      });
    }
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  });

  it('close() without commit() leaves the old archive byte for byte, and no temporary file', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    await makeArchive(file);
    const before = await readFile(file);
    const e = await ArchiveEditor.open(file);
    await e.pushStream(Readable.from([Buffer.from('x'.repeat(100_000))]));
    await e.tag(await e.resolve('1'), 'gone');
    await e.close();
    expect((await readFile(file)).equals(before)).toBe(true);
    await noTempFiles(dir);
  });

  it('a stream that fails while it is stored: the push fails, no temporary file is left, the archive is as it was', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    await makeArchive(file);
    const before = await readFile(file);
    const e = await ArchiveEditor.open(file);
    try {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(Object.assign(new Error('input went away'), { code: 'EIO' }));
        },
      });
      await expect(e.pushStream(failing)).rejects.toThrow();
      await noTempFiles(dir);
    } finally {
      await e.close();
    }
    expect((await readFile(file)).equals(before)).toBe(true);
    await noTempFiles(dir);
  });

  it('untag removes the name and keeps the blobs; a missing tag is NOT_FOUND and nothing changes', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    const img = await makeArchive(file);
    const blobs = await blobsIn(file);
    const before = await readFile(file);
    await expect(edit(file, async (e) => void (await e.untag('nope')))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await readFile(file)).equals(before)).toBe(true);
    await edit(file, async (e) => {
      const removed = await e.untag('1');
      expect(removed.map((d) => d.digest)).toEqual([img.manifest.digest]);
      // Visible to reads of the same edit at once.
      await expect(e.resolve('1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
    expect(await tagsIn(file)).toEqual([]);
    expect(await blobsIn(file)).toEqual(blobs);
  });

  it('a .tar.gz stays gzip-compressed', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar.gz');
    await makeArchive(file);
    expect(detectCompression((await readFile(file)).subarray(0, 4))).toBe('gzip');
    await edit(file, async (e) => e.tag(await e.resolve('1'), 'two'));
    expect(detectCompression((await readFile(file)).subarray(0, 4))).toBe('gzip');
    expect(await tagsIn(file)).toEqual(['1', 'two']);
    await noTempFiles(dir);
  });

  it('attach-style edit: blobs, a manifest with a subject and its entry, seen by referrers before and after commit', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    const img = await makeArchive(file);
    const e = await ArchiveEditor.open(file);
    let artifact: Descriptor;
    try {
      const layer = await e.pushStream(Readable.from([Buffer.from('{"spdx":true}')]), 'application/spdx+json');
      expect(await e.exists(layer)).toBe(true);
      expect((await e.statBlob(layer.digest)).size).toBe(layer.size);
      const empty = Buffer.from('{}');
      await e.push(desc(empty, MediaType.Empty), empty);
      const bytes = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, artifactType: 'application/spdx+json', config: desc(empty, MediaType.Empty), layers: [layer], subject: img.manifest }),
      );
      artifact = { ...desc(bytes, MediaType.ImageManifest), artifactType: 'application/spdx+json' };
      await e.push(artifact, bytes);
      await e.addEntry(artifact);
      const seen = [];
      for await (const r of e.referrers(img.manifest)) seen.push(r.digest);
      expect(seen).toEqual([artifact.digest]);
      await e.commit();
    } finally {
      await e.close();
    }
    const after = await read(file, async (a) => {
      const out = [];
      for await (const r of a.referrers(img.manifest)) out.push(r.digest);
      return out;
    });
    expect(after).toEqual([artifact.digest]);
  });

  it('a missing archive is NOT_FOUND, unless created (blob push); a new .tar.gz is gzip', async () => {
    const dir = await caseDir();
    const missing = path.join(dir, 'none.tar');
    await expect(ArchiveEditor.open(missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await readdir(dir)).toEqual([]);
    const file = path.join(dir, 'new.tar.gz');
    let blob!: Descriptor;
    await edit(file, async (e) => void (blob = await e.pushStream(Readable.from([Buffer.from('hello')]))), { create: true });
    expect(detectCompression((await readFile(file)).subarray(0, 4))).toBe('gzip');
    expect(await blobsIn(file)).toEqual([blob.digest]);
  });

  it('refuses a file that is not a layout archive, and leaves it as it was', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'notes.tar');
    await writeFile(file, 'not a tar at all, but somebody\'s notes\n'.repeat(20));
    await expect(ArchiveEditor.open(file, { create: true })).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    expect((await readFile(file, 'utf8')).startsWith('not a tar')).toBe(true);
  });

  it('manifest delete removes its entries and keeps its blobs; a manifest not listed is NOT_FOUND', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    const img = await makeArchive(file);
    const blobs = await blobsIn(file);
    await expect(edit(file, (e) => e.deleteManifest(img.layer))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await edit(file, (e) => e.deleteManifest(img.manifest));
    expect(await read(file, async (a) => (await a.readIndex()).manifests)).toEqual([]);
    expect(await blobsIn(file)).toEqual(blobs);
  });

  it('blob delete: IN_USE while a listed manifest reaches it (nothing changed), then really gone once it is not', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'a.tar');
    const img = await makeArchive(file, { stray: true });
    const before = await readFile(file);
    for (const d of [img.layer, img.config, img.manifest]) {
      await expect(edit(file, (e) => e.deleteBlob(d))).rejects.toMatchObject({ code: 'IN_USE' });
    }
    expect((await readFile(file)).equals(before)).toBe(true);
    const stray = desc(Buffer.from('stray'), MediaType.OctetStream);
    await edit(file, (e) => e.deleteBlob(stray));
    expect(await blobsIn(file)).not.toContain(stray.digest);
    expect((await readFile(file)).includes(Buffer.from('blobs/sha256/' + stray.digest.slice(7)))).toBe(false);
    // Once the image is unlisted, its layer may go too.
    await edit(file, async (e) => void (await e.untag('1')));
    await edit(file, (e) => e.deleteBlob(img.layer));
    expect(await blobsIn(file)).toEqual([img.manifest.digest, img.config.digest].sort());
    await expect(edit(file, (e) => e.deleteBlob(stray))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('two edits committed at the same moment: one lands, the other is LOCKED (never both, which would lose the first)', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = await caseDir();
      const file = path.join(dir, 'a.tar');
      await makeArchive(file);
      const editors = [await ArchiveEditor.open(file), await ArchiveEditor.open(file)];
      try {
        for (const [i, e] of editors.entries()) await e.tag(await e.resolve('1'), `edit-${i}`);
        // Both checks used to run before either rename: both "succeeded" and the second erased the first.
        const outcomes = await Promise.allSettled(editors.map((e) => e.commit()));
        const landed = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [`edit-${i}`] : []));
        expect(landed).toHaveLength(1);
        for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'LOCKED' });
        const archive = await LayoutArchive.open(file);
        try {
          const tags: string[] = [];
          for await (const t of archive.tags()) tags.push(t);
          expect(tags).toContain(landed[0]);
        } finally {
          await archive.close();
        }
      } finally {
        for (const e of editors) await e.close();
      }
      await noTempFiles(dir);
    }
  });

  for (const how of ['renamed over it (another ocikit)', 'rewritten in place (another program)'] as const) {
    it(`another writer changing the archive meanwhile, ${how}: LOCKED, and its file is kept`, async () => {
      const dir = await caseDir();
      const file = path.join(dir, 'a.tar');
      await makeArchive(file);
      const e = await ArchiveEditor.open(file);
      try {
        await e.tag(await e.resolve('1'), 'mine');
        if (how.startsWith('renamed')) {
          await writeFile(path.join(dir, 'theirs'), 'theirs');
          await rename(path.join(dir, 'theirs'), file);
        } else await writeFile(file, 'theirs');
        await expect(e.commit()).rejects.toMatchObject({ code: 'LOCKED' });
      } finally {
        await e.close();
      }
      expect(await readFile(file, 'utf8')).toBe('theirs');
      await noTempFiles(dir);
    });
  }
});
