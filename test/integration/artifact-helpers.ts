/**
 * Helpers of the `artifact push` / `artifact pull` tests: a working directory
 * of files to push (titles are paths relative to it), push and pull through
 * the built CLI with --format json, and hand-made artifacts stored directly
 * in a layout (hostile titles, corrupt layers) that ocikit would never write.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll } from 'vitest';
import { afterFile, type RunOptions } from '../helpers/cli.js';
import { EMPTY, OCI_MANIFEST, editIndex, storeAt, storeBlob, storeJson, tagged, type Desc } from '../helpers/audit-layouts.js';
import { expectJson, expectSuccess } from './_support.js';

export const TITLE = 'org.opencontainers.image.title';
/** 2024-01-01T00:00:00Z: a fixed SOURCE_DATE_EPOCH makes artifact push reproducible. */
export const EPOCH = { SOURCE_DATE_EPOCH: '1704067200' };
export const TYPE = 'application/vnd.example.docs';

/** The files every push starts from, by path relative to the working directory. */
export const FILES: Record<string, string> = {
  'docs/a.md': '# a\n',
  'docs/sub/b.md': '# b\n',
  'docs/.hidden': 'dot file\n',
  'c.txt': 'c\n',
  'd.txt': 'd\n',
  'e.json': '{"e":true}\n',
};

export interface Layer extends Desc {
  annotations?: Record<string, string>;
}

export interface Manifest {
  artifactType: string;
  config: Desc;
  layers: Layer[];
  subject?: Desc;
  annotations: Record<string, string>;
}

export interface PullJson {
  manifest: Desc;
  files: Array<{ title: string; path: string; digest: string; size: number }>;
  untitled: Desc[];
  excluded: number;
}

/** Every file under `dir` with its text, by relative path. */
export async function filesUnder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    out[path.relative(dir, abs)] = await readFile(abs, 'utf8');
  }
  return out;
}

/** Store a hand-made artifact (layers with these titles, or none) in `layout` under `tag`. */
export async function craft(layout: string, tag: string, layers: Array<{ text: string; title?: string; storedAs?: string }>): Promise<Desc> {
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

export async function manifestOf(ref: string): Promise<Manifest> {
  return JSON.parse((await expectSuccess(['manifest', 'fetch', ref])).stdout) as Manifest;
}

/**
 * The per-file part: temp directories removed after the file, and the
 * working directory with FILES in it, made before its tests.
 */
export function artifactSuite() {
  const { cleanups, tmp } = afterFile();
  let work = '';
  beforeAll(async () => {
    work = await tmp();
    for (const [rel, text] of Object.entries(FILES)) {
      await mkdir(path.dirname(path.join(work, rel)), { recursive: true });
      await writeFile(path.join(work, rel), text);
    }
  });
  const inWork = (opts: RunOptions = {}): RunOptions => ({ cwd: work, env: EPOCH, ...opts });
  const newLayout = async (): Promise<string> => {
    const layout = path.join(await tmp(), 'layout');
    await expectSuccess(['init', layout]);
    return layout;
  };
  const push = (ref: string, args: string[], opts: RunOptions = {}): Promise<Desc> => expectJson<Desc>(['artifact', 'push', ref, ...args], inWork(opts));
  const pull = (ref: string, dir: string, args: string[] = []): Promise<PullJson> => expectJson<PullJson>(['artifact', 'pull', ref, '-o', dir, ...args]);
  /** Pull REF into a fresh directory; returns it. */
  const pullInto = async (ref: string, args: string[] = []): Promise<string> => {
    const out = path.join(await tmp(), 'out');
    await pull(ref, out, args);
    return out;
  };
  return { cleanups, tmp, inWork, newLayout, push, pull, pullInto, workDir: () => work };
}
