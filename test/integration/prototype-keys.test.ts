/**
 * Keys that come from content are data, never object members: labels, env
 * names and annotations called `constructor`, `toString`, `hasOwnProperty`
 * or `__proto__` must be compared, listed and written like any other name.
 * (With plain-object maps, diff did not see them, and a label that only one
 * side had crashed it with `s.replace is not a function`.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ocikit, tempDir } from '../helpers/cli.js';
import { OCI_CONFIG, OCI_MANIFEST, storeBlob, type Desc } from '../helpers/audit-layouts.js';
import { expectJson, expectSuccess } from './_support.js';

type Pairs = Array<[string, unknown]>;

/** A JSON object written from pairs, so that `__proto__` is an ordinary key in the bytes. */
function objectJson(pairs: Pairs): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** A layout holding one image tagged `app` whose config has these labels and env, and whose manifest has these annotations. */
async function imageLayout(dir: string, opts: { labels: Pairs; env: unknown[]; annotations?: Pairs }): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layer = await storeBlob(dir, Buffer.alloc(1024), 'application/vnd.oci.image.layer.v1.tar');
  const config = await storeBlob(
    dir,
    `{"architecture":"amd64","os":"linux","config":{"Labels":${objectJson(opts.labels)},"Env":${JSON.stringify(opts.env)}},"rootfs":{"type":"layers","diff_ids":["${layer.digest}"]}}`,
    OCI_CONFIG,
  );
  const annotations = opts.annotations ? `,"annotations":${objectJson(opts.annotations)}` : '';
  const manifest: Desc = await storeBlob(dir, `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${JSON.stringify(config)},"layers":[${JSON.stringify(layer)}]${annotations}}`, OCI_MANIFEST);
  const entry = { ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'app' } };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  return dir;
}

interface MapChanges {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, { from: string; to: string }>;
}
interface DiffJson {
  identical: boolean;
  configs: Array<{ tag: string; env?: MapChanges; labels?: MapChanges }>;
}

/** Own entries of a parsed JSON object, sorted: `__proto__` included, as JSON.parse makes it an own key. */
function entries(o: Record<string, unknown> | undefined): Array<[string, unknown]> {
  return Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
}

let work: { dir: string; cleanup: () => Promise<void> };
let a: string;
let b: string;

beforeAll(async () => {
  work = await tempDir('ocikit-proto-keys-');
  a = await imageLayout(path.join(work.dir, 'a'), {
    labels: [['constructor', 'a'], ['toString', 'same'], ['__proto__', 'p1'], ['hasOwnProperty', 'h']],
    env: ['constructor=1', '__proto__=x', 'toString=t', 'PATH=/bin'],
    annotations: [['constructor', 'c'], ['__proto__', 'p'], ['toString', 't']],
  });
  b = await imageLayout(path.join(work.dir, 'b'), {
    labels: [['constructor', 'b'], ['toString', 'same'], ['__proto__', 'p2'], ['valueOf', 'new']],
    env: ['constructor=2', 'hasOwnProperty=y', 'PATH=/bin'],
  });
});

afterAll(async () => {
  await work?.cleanup();
});

describe('diff with labels and env named like Object.prototype members', () => {
  it('reports every added, removed and changed name, both ways', async () => {
    const ab = await expectJson<DiffJson>(['diff', a, b]);
    expect(ab.identical).toBe(false);
    expect(ab.configs).toHaveLength(1);
    const { labels, env } = ab.configs[0]!;
    expect(entries(labels?.added)).toEqual([['valueOf', 'new']]);
    expect(entries(labels?.removed)).toEqual([['hasOwnProperty', 'h']]);
    expect(entries(labels?.changed)).toEqual([
      ['__proto__', { from: 'p1', to: 'p2' }],
      ['constructor', { from: 'a', to: 'b' }],
    ]);
    expect(entries(env?.added)).toEqual([['hasOwnProperty', 'y']]);
    expect(entries(env?.removed)).toEqual([
      ['__proto__', 'x'],
      ['toString', 't'],
    ]);
    expect(entries(env?.changed)).toEqual([['constructor', { from: '1', to: '2' }]]);

    const ba = await expectJson<DiffJson>(['diff', b, a]);
    expect(entries(ba.configs[0]!.labels?.added)).toEqual([['hasOwnProperty', 'h']]);
    expect(entries(ba.configs[0]!.env?.added)).toEqual([
      ['__proto__', 'x'],
      ['toString', 't'],
    ]);
  });

  it('a name only one side has is added or removed, not a crash (text and JSON)', async () => {
    const plain = await imageLayout(path.join(work.dir, 'plain'), { labels: [['version', '1']], env: ['PATH=/bin'] });
    const removed = await expectJson<DiffJson>(['diff', a, plain]);
    expect(entries(removed.configs[0]!.labels?.removed).map(([k]) => k)).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    const added = await expectJson<DiffJson>(['diff', plain, a]);
    expect(entries(added.configs[0]!.env?.added).map(([k]) => k)).toEqual(['__proto__', 'constructor', 'toString']);
    const text = await ocikit(['diff', plain, a]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('+ label constructor=a');
    expect(text.stdout).toContain('+ env __proto__=x');
  });

  it('label values and env entries that are not strings are compared as their JSON, not crashed on', async () => {
    const odd = await imageLayout(path.join(work.dir, 'odd'), { labels: [['constructor', 7], ['n', null]], env: [1, 'PATH=/bin'] });
    const r = await expectJson<DiffJson>(['diff', a, odd]);
    expect(r.configs[0]!.labels?.changed?.['constructor']).toEqual({ from: 'a', to: '7' });
    expect(r.configs[0]!.labels?.added?.['n']).toBe('null');
    expect(r.configs[0]!.env?.added?.['1']).toBe('');
    const text = await ocikit(['diff', a, odd]);
    expect(text.code, text.stderr).toBe(0);
  });
});

describe('inspect and ls list such names', () => {
  it('inspect JSON and text show every label and annotation', async () => {
    const report = await expectJson<{ roots: Array<{ node: { annotations?: Record<string, string>; config?: { labels?: Record<string, string> } } }> }>(['inspect', a]);
    const node = report.roots[0]!.node;
    expect(entries(node.config?.labels)).toEqual([
      ['__proto__', 'p1'],
      ['constructor', 'a'],
      ['hasOwnProperty', 'h'],
      ['toString', 'same'],
    ]);
    expect(entries(node.annotations)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    const text = await expectSuccess(['inspect', a]);
    expect(text.stdout).toContain('__proto__=p1');
    expect(text.stdout).toContain('constructor=c');
  });

  it('ls shows index.json annotations with such names', async () => {
    const dir = await imageLayout(path.join(work.dir, 'ls'), { labels: [], env: [] });
    const file = path.join(dir, 'index.json');
    const index = await readFile(file, 'utf8');
    await writeFile(file, index.replace('"annotations":{', '"annotations":{"__proto__":"p","constructor":"c",'));
    const rows = await expectJson<unknown>(['ls', dir]);
    const row = (Array.isArray(rows) ? rows : (rows as { entries: unknown[] }).entries)[0] as { annotations?: Record<string, string> };
    expect(entries(row.annotations)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
    ]);
  });
});

describe('annotations given on the command line or in a file', () => {
  it('attach --annotation and --annotation-file keep __proto__ and constructor', async () => {
    const dir = await imageLayout(path.join(work.dir, 'attach'), { labels: [], env: [] });
    const payload = path.join(work.dir, 'sbom.json');
    await writeFile(payload, '{}');
    const annotationFile = path.join(work.dir, 'annotations.json');
    await writeFile(annotationFile, `{"$manifest":${objectJson([['constructor', 'from-file']])},"__proto__":{"x":"y"}}`);
    const exported = path.join(work.dir, 'exported.json');
    await expectSuccess([
      'attach', `${dir}:app`, '--artifact-type', 'application/spdx+json', `${payload}:application/spdx+json`,
      '--annotation', '__proto__=p', '--annotation', 'toString=t', '--annotation-file', annotationFile, '--export-manifest', exported,
    ]);
    const manifest = JSON.parse(await readFile(exported, 'utf8')) as { annotations?: Record<string, string> };
    expect(entries(manifest.annotations).filter(([k]) => k !== 'org.opencontainers.image.created')).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'from-file'],
      ['toString', 't'],
    ]);
  });
});
