/**
 * pullArtifactFiles (ops/artifact-pull.ts) on an in-memory target: which
 * layers are written where, in what order, and the refusals that need no
 * CLI (the CLI tests in test/integration/artifact*.test.ts cover the rest):
 * titles of one file spelled two ways, the pre-1.1 artifact manifest's
 * `blobs`, a layer whose bytes are embedded in its descriptor, an index.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOcikitError } from '../../src/errors.js';
import { pullArtifactFiles } from '../../src/ops/artifact-pull.js';
import { Annotation, EMPTY_DESCRIPTOR, MediaType } from '../../src/spec/media-types.js';
import type { Descriptor } from '../../src/spec/types.js';
import { MemoryTarget } from '../../src/targets/memory.js';
import { afterFile } from '../helpers/cli.js';
import { putBlob, putIndex } from '../helpers/memory-images.js';

const { tmp } = afterFile();

const titled = (d: Descriptor, title: string): Descriptor => ({ ...d, annotations: { [Annotation.Title]: title } });

async function artifact(t: MemoryTarget, layers: Descriptor[], mediaType: string = MediaType.ImageManifest): Promise<Descriptor> {
  const doc =
    mediaType === MediaType.LegacyArtifactManifest
      ? { mediaType, artifactType: 'application/vnd.example', blobs: layers }
      : { schemaVersion: 2, mediaType, artifactType: 'application/vnd.example', config: EMPTY_DESCRIPTOR, layers };
  return putBlob(t, JSON.stringify(doc), mediaType);
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (isOcikitError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('pullArtifactFiles', () => {
  it('writes titled layers in manifest order, reports each through onFile, and lists untitled ones', async () => {
    const t = new MemoryTarget();
    const a = await putBlob(t, 'A');
    const b = await putBlob(t, 'B');
    const loose = await putBlob(t, 'no title');
    const m = await artifact(t, [titled(b, 'z/b.txt'), loose, titled(a, './a.txt')]);
    const dir = path.join(await tmp(), 'out');
    const seen: string[] = [];
    const r = await pullArtifactFiles(t, m, dir, { onFile: (f) => seen.push(f.title) });
    expect(seen).toEqual(['z/b.txt', './a.txt']);
    expect(r.files.map((f) => path.relative(dir, f.path))).toEqual(['z/b.txt', 'a.txt']);
    expect(r.untitled.map((d) => d.digest)).toEqual([loose.digest]);
    expect(await readFile(path.join(dir, 'a.txt'), 'utf8')).toBe('A');
  });

  it('matches --include against the normalised title', async () => {
    const t = new MemoryTarget();
    const m = await artifact(t, [titled(await putBlob(t, '1'), './docs//x.md'), titled(await putBlob(t, '2'), 'y.md')]);
    const dir = await tmp();
    const r = await pullArtifactFiles(t, m, dir, { include: ['docs/*.md'] });
    expect(r.files.map((f) => f.title)).toEqual(['./docs//x.md']);
    expect(r.excluded).toBe(1);
  });

  it('refuses two spellings of one file (AMBIGUOUS) before writing anything', async () => {
    const t = new MemoryTarget();
    const m = await artifact(t, [titled(await putBlob(t, '1'), 'x'), titled(await putBlob(t, '2'), './x')]);
    const dir = path.join(await tmp(), 'out');
    expect(await codeOf(pullArtifactFiles(t, m, dir))).toBe('AMBIGUOUS');
    await expect(readdir(dir)).rejects.toThrow();
  });

  it("reads the pre-1.1 artifact manifest's blobs", async () => {
    const t = new MemoryTarget();
    const m = await artifact(t, [titled(await putBlob(t, 'legacy'), 'old.txt')], MediaType.LegacyArtifactManifest);
    const dir = await tmp();
    await pullArtifactFiles(t, m, dir);
    expect(await readFile(path.join(dir, 'old.txt'), 'utf8')).toBe('legacy');
  });

  it('writes a layer whose bytes are embedded in its descriptor (data), checked against its digest', async () => {
    const t = new MemoryTarget();
    const stored = await putBlob(new MemoryTarget(), 'embedded');
    const m = await artifact(t, [{ ...titled(stored, 'e.txt'), data: Buffer.from('embedded').toString('base64') }]);
    const dir = await tmp();
    await pullArtifactFiles(t, m, dir);
    expect(await readFile(path.join(dir, 'e.txt'), 'utf8')).toBe('embedded');
  });

  it('refuses an index (UNSUPPORTED): the caller resolves a platform first', async () => {
    const t = new MemoryTarget();
    const child = await artifact(t, [titled(await putBlob(t, '1'), 'x')]);
    const index = await putIndex(t, [child]);
    expect(await codeOf(pullArtifactFiles(t, index, await tmp()))).toBe('UNSUPPORTED');
  });
});
