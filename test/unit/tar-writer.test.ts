/**
 * The archive writer and the archive reader together, in process: what is
 * written reads back verified (sha512 names need a PAX header), a push whose
 * content does not match its descriptor fails, and a failed or abandoned
 * archive leaves nothing behind: no destination file, no temporary file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveWriter, sourceDateEpoch } from '../../src/targets/archive-writer.js';
import { LayoutArchive } from '../../src/targets/layout-archive.js';
import { digestBytes } from '../../src/digest/digest.js';
import { readAll } from '../../src/graph/content.js';
import { MediaType } from '../../src/spec/media-types.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ocikit-tar-writer-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const blob = (text: string, algorithm: 'sha256' | 'sha512' = 'sha256') => {
  const bytes = Buffer.from(text);
  return { bytes, desc: { mediaType: MediaType.OctetStream, digest: digestBytes(bytes, algorithm), size: bytes.length } };
};

describe('ArchiveWriter', () => {
  it('writes blobs (sha256 and sha512) and index.json that LayoutArchive reads back', async () => {
    const dest = path.join(work, 'ok.tar');
    const w = await ArchiveWriter.toFile(dest);
    const a = blob('layer bytes');
    const b = blob('sha512 layer', 'sha512');
    const config = blob('{}');
    const manifestBytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config: { ...config.desc, mediaType: MediaType.ImageConfig }, layers: [a.desc, b.desc] }),
    );
    const manifest = { mediaType: MediaType.ImageManifest, digest: digestBytes(manifestBytes), size: manifestBytes.length };
    await w.push(a.desc, Readable.from([a.bytes]));
    await w.push(b.desc, b.bytes);
    await w.push(config.desc, config.bytes);
    await w.push(manifest, manifestBytes);
    await w.tag(manifest, 'v1');
    await w.commit();
    expect(w.stats).toMatchObject({ blobs: 4, excluded: 0 });

    const archive = await LayoutArchive.open(dest);
    try {
      expect(await archive.resolve('v1')).toMatchObject({ digest: manifest.digest });
      expect((await readAll(await archive.fetch(b.desc))).toString()).toBe('sha512 layer');
      expect(archive.blobDigests().sort()).toEqual([a.desc.digest, b.desc.digest, config.desc.digest, manifest.digest].sort());
    } finally {
      await archive.close();
    }
  });

  it('a push whose content does not match fails, and nothing is left behind', async () => {
    const dir = path.join(work, 'fail');
    await (await import('node:fs/promises')).mkdir(dir);
    const w = await ArchiveWriter.toFile(path.join(dir, 'bad.tar'));
    const a = blob('expected');
    await expect(w.push(a.desc, Readable.from([Buffer.from('tampered')]))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(w.commit()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('an abandoned archive leaves nothing behind', async () => {
    const dir = path.join(work, 'abandon');
    await (await import('node:fs/promises')).mkdir(dir);
    const w = await ArchiveWriter.toFile(path.join(dir, 'x.tar'));
    const a = blob('some content');
    await w.push(a.desc, a.bytes);
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to tag what it does not hold, and reads SOURCE_DATE_EPOCH strictly', async () => {
    const w = await ArchiveWriter.toFile(path.join(work, 'tag.tar'));
    await expect(w.tag(blob('x').desc, 'v1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await w.abort();
    expect(sourceDateEpoch({})).toBe(0);
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1700000000);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
