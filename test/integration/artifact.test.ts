/**
 * `ocikit artifact push` and `ocikit artifact pull` through the built CLI:
 * files (directories walked, globs expanded) stored as an artifact titled by
 * path and written back to DIR/<title>, on a layout directory (the shape of
 * what is written) and as a round trip on every target kind: a new and an
 * existing compressed archive, distribution 2.8 (fallback tag) and `ocikit
 * serve --writable` (referrers API). The refusals are in
 * artifact-refusals.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY, OCI_MANIFEST, sha256, type Desc } from '../helpers/audit-layouts.js';
import { once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { schemaAvailable, validateAgainstSchema } from '../helpers/schema.js';
import { expectFailure, expectJson, expectSuccess, readIndexJson } from './_support.js';
import { FILES, TITLE, TYPE, artifactSuite, filesUnder, manifestOf } from './artifact-helpers.js';
import { startServe, stopAllServers } from './serve-helpers.js';

const { cleanups, tmp, inWork, newLayout, push, pull, pullInto } = artifactSuite();
cleanups.push(stopAllServers);

describe('artifact push and pull on a layout directory', () => {
  const pushed = once(async () => {
    const layout = await newLayout();
    const desc = await push(`${layout}:v1`, ['docs', '*.txt', 'e.json:application/json', '--artifact-type', TYPE, '--annotation', 'org.example.k=v']);
    return { layout, desc };
  });

  it('titles each layer by its path as given: a directory file by file (dot files too, sorted), a glob in sorted order, then the named file', async () => {
    const { layout, desc } = await pushed();
    const m = await manifestOf(`${layout}@${desc.digest}`);
    expect(m.artifactType).toBe(TYPE);
    expect(m.config).toEqual(EMPTY);
    expect(m.subject).toBeUndefined();
    expect(m.annotations).toEqual({ 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.k': 'v' });
    expect(m.layers.map((l) => l.annotations?.[TITLE])).toEqual(['docs/.hidden', 'docs/a.md', 'docs/sub/b.md', 'c.txt', 'd.txt', 'e.json']);
    expect(m.layers.map((l) => l.mediaType)).toEqual([...Array(5).fill('application/octet-stream'), 'application/json']);
    for (const l of m.layers) expect(l.digest).toBe(sha256(FILES[l.annotations![TITLE]!]!));
    if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
  });

  it('without files: one empty layer, as oras does', async () => {
    const layout = await newLayout();
    await push(`${layout}:marker`, ['--artifact-type', TYPE]);
    const m = await manifestOf(`${layout}:marker`);
    expect(m.layers).toEqual([EMPTY]);
    expect(m.config).toEqual(EMPTY);
    if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
  });

  it('names the artifact by the tag of REF', async () => {
    const { layout, desc } = await pushed();
    expect((await expectSuccess(['resolve', `${layout}:v1`])).stdout.trim()).toBe(desc.digest);
  });

  it('pulls every file back to DIR/<title>, byte for byte, creating DIR and its subdirectories', async () => {
    const { layout, desc } = await pushed();
    const out = path.join(await tmp(), 'new', 'out');
    const r = await pull(`${layout}:v1`, out);
    expect(r.manifest.digest).toBe(desc.digest);
    expect(r.files.map((f) => f.title)).toEqual(['docs/.hidden', 'docs/a.md', 'docs/sub/b.md', 'c.txt', 'd.txt', 'e.json']);
    expect(await filesUnder(out)).toEqual(FILES);
  });

  it('is reproducible: the same files and SOURCE_DATE_EPOCH give the same manifest digest', async () => {
    const { desc } = await pushed();
    const again = await push(`${await newLayout()}:v1`, ['docs', '*.txt', 'e.json:application/json', '--artifact-type', TYPE, '--annotation', 'org.example.k=v']);
    expect(again.digest).toBe(desc.digest);
  });

  it('--include writes only the layers whose title matches', async () => {
    const { layout } = await pushed();
    const out = await tmp();
    const r = await pull(`${layout}:v1`, out, ['--include', 'docs/**', '--include', '*.json']);
    expect(r.excluded).toBe(2);
    expect(Object.keys(await filesUnder(out)).sort()).toEqual(['docs/.hidden', 'docs/a.md', 'docs/sub/b.md', 'e.json']);
  });

  it('an --include that matches no title is an error, and nothing is written', async () => {
    const { layout } = await pushed();
    const out = path.join(await tmp(), 'out');
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out, '--include', 'nothing/*'], { exit: 1, code: 'NOT_FOUND' });
    expect(existsSync(out)).toBe(false);
  });

  it('does not replace an existing file without --overwrite (checked for every layer before any is written), and does with it', async () => {
    const { layout } = await pushed();
    const out = await tmp();
    await mkdir(path.join(out, 'docs'));
    await writeFile(path.join(out, 'd.txt'), 'mine\n');
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out], { exit: 1, code: 'ALREADY_EXISTS', unchanged: out });
    await pull(`${layout}:v1`, out, ['--overwrite']);
    expect(await filesUnder(out)).toEqual(FILES);
  });

  it('--annotation-file: $manifest on the manifest (flags win), the others on the layer of that title', async () => {
    const layout = await newLayout();
    const file = path.join(await tmp(), 'annotations.json');
    await writeFile(file, JSON.stringify({ $manifest: { 'org.example.k': 'file', 'org.example.only': 'file' }, 'docs/a.md': { 'org.example.layer': 'a' } }));
    await push(`${layout}:v1`, ['docs', '--artifact-type', TYPE, '--annotation-file', file, '--annotation', 'org.example.k=flag']);
    const m = await manifestOf(`${layout}:v1`);
    expect(m.annotations).toMatchObject({ 'org.example.k': 'flag', 'org.example.only': 'file' });
    expect(m.layers.map((l) => l.annotations)).toEqual([{ [TITLE]: 'docs/.hidden' }, { 'org.example.layer': 'a', [TITLE]: 'docs/a.md' }, { [TITLE]: 'docs/sub/b.md' }]);
  });

  it('without a tag and without a subject, the artifact is listed untagged in index.json', async () => {
    const layout = await newLayout();
    const desc = await push(layout, ['c.txt', '--artifact-type', TYPE]);
    const entries = (await readIndexJson(layout)).manifests;
    expect(entries.map((e) => e.digest)).toEqual([desc.digest]);
    expect(entries[0]!.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
    expect(await filesUnder(await pullInto(`${layout}@${desc.digest}`))).toEqual({ 'c.txt': FILES['c.txt'] });
  });

  it('--subject makes it a referrer of that manifest; --config sets the config blob; --export-manifest writes the manifest stored', async () => {
    const layout = await newLayout();
    const image = await push(`${layout}:v1`, ['c.txt', '--artifact-type', TYPE]);
    const exported = path.join(await tmp(), 'm.json');
    const desc = await push(`${layout}:sbom`, ['e.json', '--artifact-type', 'application/spdx+json', '--subject', 'v1', '--config', 'd.txt:application/vnd.example.config+json', '--export-manifest', exported]);
    const m = await manifestOf(`${layout}:sbom`);
    expect(m.subject).toEqual({ mediaType: OCI_MANIFEST, digest: image.digest, size: image.size });
    expect(m.config).toEqual({ mediaType: 'application/vnd.example.config+json', digest: sha256(FILES['d.txt']!), size: FILES['d.txt']!.length });
    expect(sha256(await readFile(exported))).toBe(desc.digest);
    if (schemaAvailable) expect(validateAgainstSchema('manifest', m)).toEqual([]);
    const referrers = await expectJson<{ manifests: Desc[] }>(['referrers', `${layout}:v1`]);
    expect(referrers.manifests.map((d) => d.digest)).toEqual([desc.digest]);
    // A full reference to the same layout is the same subject; another layout's is refused.
    const again = await push(`${layout}:sbom2`, ['e.json', '--artifact-type', 'application/spdx+json', '--subject', `${layout}@${image.digest}`]);
    expect((await manifestOf(`${layout}@${again.digest}`)).subject?.digest).toBe(image.digest);
    await expectFailure(['artifact', 'push', layout, 'e.json', '--artifact-type', TYPE, '--subject', `${await newLayout()}:v1`], { ...inWork(), exit: 2, code: 'USAGE', unchanged: layout });
  });
});


/** The targets the round trip runs on: a reference prefix under which `:TAG` and `@DIGEST` may follow. */
const TARGETS: Array<[string, () => Promise<string>]> = [
  ['a layout directory', async () => newLayout()],
  ['a new archive (.tar)', async () => path.join(await tmp(), 'new.tar')],
  ['an existing compressed archive (.tar.gz)', async () => {
    const archive = path.join(await tmp(), 'old.tar.gz');
    const layout = await newLayout();
    await push(`${layout}:old`, ['d.txt', '--artifact-type', TYPE]);
    await expectSuccess(['pack', `${layout}:old`, archive]);
    return archive;
  }],
  ['distribution 2.8 (no referrers API: fallback tag)', async () => `${(await registry()).host}/docs/artifact`],
  ['ocikit serve --writable (referrers API)', async () => {
    const layout = await newLayout();
    const server = await startServe([layout, '--writable']);
    return `${server.host}/${path.basename(layout)}`;
  }],
];

const registry = once(async () => {
  const reg = await startRegistry();
  cleanups.push(reg.stop);
  return reg;
});

/** The digests `ocikit referrers` lists for TAG (a compressed archive, which referrers reads only in place, unpacked first). */
async function referrerDigests(target: string, tag: string): Promise<string[]> {
  let where = target;
  if (target.endsWith('.gz')) {
    where = path.join(await tmp(), 'unpacked');
    await expectSuccess(['unpack', target, where]);
  }
  return (await expectJson<{ manifests: Desc[] }>(['referrers', `${where}:${tag}`])).manifests.map((d) => d.digest);
}

describe.each(TARGETS)('artifact push, then pull, on %s', (_kind, makeTarget) => {
  const pushed = once(async () => {
    const target = await makeTarget();
    const image = await push(`${target}:v1`, ['docs', '*.txt', 'e.json', '--artifact-type', TYPE]);
    const sbom = await push(`${target}:sbom`, ['e.json:application/spdx+json', '--artifact-type', 'application/spdx+json', '--subject', 'v1']);
    return { target, image, sbom };
  });

  it('pulls the files back by title, byte for byte; by digest with --include, only the matching ones', async () => {
    const { target, image } = await pushed();
    const out = path.join(await tmp(), 'out');
    const r = await pull(`${target}:v1`, out);
    expect(r.manifest.digest).toBe(image.digest);
    expect(await filesUnder(out)).toEqual(FILES);
    const some = await pull(`${target}@${image.digest}`, await tmp(), ['--include', '*.txt']);
    expect(some.files.map((f) => f.title)).toEqual(['c.txt', 'd.txt']);
  });

  it('--subject makes a referrer that referrers lists and that pulls by its own tag', async () => {
    const { target, sbom } = await pushed();
    expect(await referrerDigests(target, 'v1')).toEqual([sbom.digest]);
    expect(await filesUnder(await pullInto(`${target}:sbom`))).toEqual({ 'e.json': FILES['e.json'] });
  });
});
