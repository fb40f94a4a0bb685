/**
 * `ocikit artifact push` and `ocikit artifact pull` through the built CLI:
 * files (directories walked, globs expanded) stored as an artifact titled by
 * path and written back to DIR/<title>; every refusal (hostile titles, paths
 * through links, files in the way, corrupt layers, bad command lines) with
 * its code and exit status, and nothing written where it must not be.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile, ocikit, snapshotTree, type RunOptions } from '../helpers/cli.js';
import { EMPTY, OCI_MANIFEST, editIndex, sha256, storeAt, storeBlob, storeJson, tagged, type Desc } from '../helpers/audit-layouts.js';
import { once } from '../helpers/peers.js';
import { schemaAvailable, validateAgainstSchema } from '../helpers/schema.js';
import { startRegistry } from '../helpers/registry.js';
import { expectFailure, expectJson, expectSuccess, readIndexJson } from './_support.js';
import { startServe, stopAllServers } from './serve-helpers.js';

const TITLE = 'org.opencontainers.image.title';
/** 2024-01-01T00:00:00Z: a fixed SOURCE_DATE_EPOCH makes artifact push reproducible. */
const EPOCH = { SOURCE_DATE_EPOCH: '1704067200' };
const TYPE = 'application/vnd.example.docs';

interface Manifest {
  artifactType: string;
  config: Desc;
  layers: Desc[];
  subject?: Desc;
  annotations: Record<string, string>;
}
interface PullJson {
  manifest: Desc;
  files: Array<{ title: string; path: string; digest: string; size: number }>;
  untitled: Desc[];
  excluded: number;
}

const { cleanups, tmp } = afterFile();
cleanups.push(stopAllServers);

/** The files every push test starts from, in a working directory of their own (titles are paths relative to it). */
const FILES: Record<string, string> = {
  'docs/a.md': '# a\n',
  'docs/sub/b.md': '# b\n',
  'docs/.hidden': 'dot file\n',
  'c.txt': 'c\n',
  'd.txt': 'd\n',
  'e.json': '{"e":true}\n',
};

let work: string;

beforeAll(async () => {
  work = await tmp();
  for (const [rel, text] of Object.entries(FILES)) {
    await mkdir(path.dirname(path.join(work, rel)), { recursive: true });
    await writeFile(path.join(work, rel), text);
  }
});

/** A new empty layout in a directory of its own; returns its path. */
async function newLayout(): Promise<string> {
  const layout = path.join(await tmp(), 'layout');
  await expectSuccess(['init', layout]);
  return layout;
}

const inWork = (opts: RunOptions = {}): RunOptions => ({ cwd: work, env: EPOCH, ...opts });

async function push(ref: string, args: string[], opts: RunOptions = {}): Promise<Desc> {
  return expectJson<Desc>(['artifact', 'push', ref, ...args], inWork(opts));
}

async function pull(ref: string, dir: string, args: string[] = []): Promise<PullJson> {
  return expectJson<PullJson>(['artifact', 'pull', ref, '-o', dir, ...args]);
}

async function manifestOf(ref: string): Promise<Manifest> {
  return JSON.parse((await expectSuccess(['manifest', 'fetch', ref])).stdout) as Manifest;
}

/** Every file under `dir` with its text, by relative path. */
async function filesUnder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(dir, abs)] = await readFile(abs, 'utf8');
  }
  return out;
}

/** Store a hand-made artifact (layers with these titles, or none) in `layout` under `tag`. */
async function craft(layout: string, tag: string, layers: Array<{ text: string; title?: string; storedAs?: string }>): Promise<Desc> {
  const descs: Desc[] = [];
  for (const l of layers) {
    const d = await storeBlob(layout, l.text);
    // storedAs: other bytes of the same size on disk under this layer's digest (a corrupt blob).
    if (l.storedAs !== undefined) await storeAt(layout, d.digest, l.storedAs);
    descs.push(l.title === undefined ? d : { ...d, annotations: { [TITLE]: l.title } });
  }
  await storeBlob(layout, '{}', EMPTY.mediaType);
  const m = await storeJson(layout, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: TYPE, config: EMPTY, layers: descs }, OCI_MANIFEST);
  await editIndex(layout, (i) => void i.manifests.push(tagged(m, tag)));
  return m;
}

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

/** Pull REF into a fresh directory; returns it. */
async function pullInto(ref: string, args: string[] = []): Promise<string> {
  const out = path.join(await tmp(), 'out');
  await pull(ref, out, args);
  return out;
}

/**
 * A layout where an artifact push has just succeeded: a refusal that follows
 * is then the command refusing its input, not a command that does not exist
 * (which also exits 2).
 */
async function pushedOnce(): Promise<string> {
  const layout = await newLayout();
  await push(`${layout}:v0`, ['c.txt', '--artifact-type', TYPE]);
  return layout;
}

describe('artifact push: bad input gets one clear line, the right exit status, and the layout is untouched', () => {
  it.each([
    ['missing --artifact-type', ['c.txt'], 2, 'USAGE'],
    ['a pattern that matches nothing', ['nothing-*.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['an absolute path (it would become the title)', [path.join('/', 'etc', 'hostname'), '--artifact-type', TYPE], 2, 'USAGE'],
    ['a path with ..', ['docs/../c.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['the same title twice', ['c.txt', './c.txt', '--artifact-type', TYPE], 2, 'USAGE'],
    ['a bad media type', ['c.txt:not a type/x', '--artifact-type', TYPE], 2, 'USAGE'],
    ['a file that does not exist', ['c.txt', 'nosuch.txt', '--artifact-type', TYPE], 1, 'NOT_FOUND'],
    ['a subject that does not exist', ['c.txt', '--artifact-type', TYPE, '--subject', 'nosuch'], 1, 'NOT_FOUND'],
  ] as const)('%s', async (_what, args, exit, code) => {
    const layout = await pushedOnce();
    await expectFailure(['artifact', 'push', `${layout}:v1`, ...args], { ...inWork(), exit, code, unchanged: layout });
  });

  it('a file that does not exist fails as it does for attach (exit 1, NOT_FOUND)', async () => {
    const layout = await pushedOnce();
    await expectFailure(['attach', `${layout}:v0`, 'nosuch.txt', '--artifact-type', TYPE], { ...inWork(), exit: 1, code: 'NOT_FOUND', unchanged: layout });
  });

  it('a symbolic link inside a directory to push is refused (exit 2), not followed', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'tree'));
    await writeFile(path.join(dir, 'tree', 'ok.txt'), 'ok');
    await symlink('/etc/passwd', path.join(dir, 'tree', 'passwd'));
    const layout = await pushedOnce();
    await expectFailure(['artifact', 'push', layout, 'tree', '--artifact-type', TYPE], { cwd: dir, exit: 2, code: 'USAGE', unchanged: layout });
  });
});

describe('artifact pull: hostile titles and paths through links are refused, nothing is written outside DIR', () => {
  it.each([['../escaped'], ['a/../../escaped'], ['ABS/escaped'], ['..\\escaped'], ['a/\0/x'], ['a/']])('title %j: exit 1, UNSAFE_PATH, DIR not even created', async (title) => {
    const root = await tmp();
    const layout = await newLayout();
    const t = title.replace('ABS', root);
    await craft(layout, 'v1', [{ text: 'harmless', title: 'ok.txt' }, { text: 'evil', title: t }]);
    const before = await snapshotTree(root);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', path.join(root, 'sub', 'out')], { exit: 1, code: 'UNSAFE_PATH' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('a title through a symbolic link in DIR (DIR/a -> elsewhere, title a/passwd) is refused; elsewhere stays empty', async () => {
    const root = await tmp();
    const elsewhere = path.join(root, 'elsewhere');
    const out = path.join(root, 'out');
    await mkdir(elsewhere);
    await mkdir(out);
    await symlink(elsewhere, path.join(out, 'a'));
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'root::0:0::/:/bin/sh\n', title: 'a/passwd' }]);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out, '--overwrite'], { exit: 1, code: 'UNSAFE_PATH', unchanged: root });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('a title that names an existing symbolic link is not written through, even with --overwrite', async () => {
    const root = await tmp();
    const victim = path.join(root, 'victim.txt');
    const out = path.join(root, 'out');
    await writeFile(victim, 'precious\n');
    await mkdir(out);
    await symlink(victim, path.join(out, 'notes.txt'));
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'overwritten', title: 'notes.txt' }]);
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out, '--overwrite'], { exit: 1, code: 'UNSAFE_PATH', unchanged: root });
  });

  it('two layers with the same title, or a title that is the directory of another, are refused before anything is written', async () => {
    for (const titles of [['x.txt', './x.txt'], ['a', 'a/b']]) {
      const layout = await newLayout();
      await craft(layout, 'v1', titles.map((title, i) => ({ text: `layer ${i}`, title })));
      const out = path.join(await tmp(), 'out');
      await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out], { exit: 1, code: 'AMBIGUOUS' });
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('artifact pull: verification and untitled layers', () => {
  it('a layer whose bytes do not match its digest: exit 1, no file at DIR/<title> and no temp file left', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'the real content', title: 'data/file.bin', storedAs: 'THE REAL CONTENT' }]);
    const out = await tmp();
    await expectFailure(['artifact', 'pull', `${layout}:v1`, '-o', out], { exit: 1, code: 'DIGEST_MISMATCH' });
    expect(await readdir(path.join(out, 'data'))).toEqual([]);
  });

  it('a layer without a title is skipped with a warning on stderr; the others are written', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'no title' }, { text: 'titled', title: 't.txt' }]);
    const out = path.join(await tmp(), 'out');
    const r = await ocikit(['artifact', 'pull', `${layout}:v1`, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^ocikit: warning: .*sha256:/);
    expect(r.stdout.trim()).toBe(path.join(out, 't.txt'));
    expect(await filesUnder(out)).toEqual({ 't.txt': 'titled' });
  });

  it('-o is required (exit 2)', async () => {
    const layout = await newLayout();
    await craft(layout, 'v1', [{ text: 'x', title: 'x' }]);
    await pullInto(`${layout}:v1`);
    await expectFailure(['artifact', 'pull', `${layout}:v1`], { exit: 2, code: 'USAGE' });
  });
});

/** A layout with the pushed artifact tagged v1, made once for the other targets. */
const source = once(async () => {
  const layout = await newLayout();
  const desc = await push(`${layout}:v1`, ['docs', '*.txt', 'e.json', '--artifact-type', TYPE]);
  return { layout, desc };
});

describe('artifact pull from other targets', () => {
  it.each(['a.tar', 'a.tar.gz'])('a layout archive (%s), read in place or spooled', async (name) => {
    const { layout, desc } = await source();
    const archive = path.join(await tmp(), name);
    await expectSuccess(['pack', `${layout}:v1`, archive]);
    const out = path.join(await tmp(), 'out');
    const r = await pull(`${archive}:v1`, out);
    expect(r.manifest.digest).toBe(desc.digest);
    expect(await filesUnder(out)).toEqual(FILES);
    // Nothing spooled is left beside the output directory.
    expect((await readdir(path.dirname(archive))).filter((n) => n.startsWith('.ocikit-'))).toEqual([]);
  });

  it('a registry (distribution 2.8)', async () => {
    const { layout, desc } = await source();
    const reg = await startRegistry();
    cleanups.push(reg.stop);
    await expectSuccess(['copy', `${layout}:v1`, `${reg.host}/docs/artifact:v1`]);
    const out = await pullInto(`${reg.host}/docs/artifact:v1`);
    expect(await filesUnder(out)).toEqual(FILES);
    expect((await pull(`${reg.host}/docs/artifact@${desc.digest}`, await tmp(), ['--include', '*.txt'])).files.map((f) => f.title)).toEqual(['c.txt', 'd.txt']);
  });

  it('ocikit serve', async () => {
    const { layout } = await source();
    const server = await startServe([layout]);
    const out = await pullInto(`${server.host}/${path.basename(layout)}:v1`);
    expect(await filesUnder(out)).toEqual(FILES);
  });
});
