/**
 * Building archives for the archive tests: with GNU tar (as people and other
 * tools do), with tar-stream (for entries GNU tar will not write, such as
 * hostile ones), and small layouts with a blob of a chosen size.
 * (Not a test file: vitest only collects *.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tarStream from 'tar-stream';
import { expect } from 'vitest';
import { ocikit, run } from '../helpers/cli.js';
import { expectSuccess, fixture, REF_NAME } from './_support.js';

export interface TarSpec {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname?: string;
}

/** Write a tar built by tar-stream from `entries`, in order. */
export async function writeTarStream(file: string, entries: TarSpec[]): Promise<string> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const isFile = e.type === undefined || e.type === 'file';
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mtime: new Date(0) };
      if (isFile) pack.entry(header, typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0)), (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await ended;
  await writeFile(file, Buffer.concat(chunks));
  return file;
}

/** Every file of a layout directory as tar-stream entries (relative names, sorted or as given). */
export async function layoutEntries(dir: string, order: 'index-first' | 'index-last' = 'index-last'): Promise<TarSpec[]> {
  const { readFile } = await import('node:fs/promises');
  const blobs: TarSpec[] = [];
  for (const alg of await readdir(path.join(dir, 'blobs'))) {
    for (const hex of (await readdir(path.join(dir, 'blobs', alg))).sort()) {
      blobs.push({ name: `blobs/${alg}/${hex}`, content: await readFile(path.join(dir, 'blobs', alg, hex)) });
    }
  }
  const index = { name: 'index.json', content: await readFile(path.join(dir, 'index.json')) };
  const layout = { name: 'oci-layout', content: await readFile(path.join(dir, 'oci-layout')) };
  return order === 'index-first' ? [index, layout, ...blobs] : [layout, ...blobs, index];
}

/** `tar -cf` of a layout directory, the way people do it (`./` prefixes, directory entries). */
export function gnuTarOf(dir: string, out: string, format: 'gnu' | 'pax' = 'gnu'): string {
  execFileSync('tar', [`--format=${format}`, '-cf', out, '-C', dir, '.'], { stdio: 'pipe' });
  return out;
}

export function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A layout holding one image, tagged `tag`, whose one layer is `layerBytes`
 * random bytes (zeros with `zeros`: it then compresses a thousandfold),
 * written in 1 MiB pieces.
 */
export async function makeImageLayout(
  dir: string,
  opts: { layerBytes: number; tag?: string; seed?: string; zeros?: boolean },
): Promise<{ manifest: string; layer: string; config: string }> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const { open } = await import('node:fs/promises');
  const tmp = path.join(dir, 'layer.tmp');
  const fh = await open(tmp, 'w');
  const h = createHash('sha256');
  for (let left = opts.layerBytes; left > 0; left -= 1024 * 1024) {
    const chunk = opts.zeros ? Buffer.alloc(Math.min(left, 1024 * 1024)) : randomBytes(Math.min(left, 1024 * 1024));
    h.update(chunk);
    await fh.write(chunk);
  }
  await fh.close();
  const layer = `sha256:${h.digest('hex')}`;
  const { rename } = await import('node:fs/promises');
  await rename(tmp, path.join(dir, 'blobs', 'sha256', layer.slice(7)));
  const put = async (bytes: Buffer) => {
    const d = digestOf(bytes);
    await writeFile(path.join(dir, 'blobs', 'sha256', d.slice(7)), bytes);
    return d;
  };
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] }, seed: opts.seed ?? '' }));
  const config = await put(configBytes);
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: opts.layerBytes }],
    }),
  );
  const manifest = await put(manifestBytes);
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: manifestBytes.length, annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'latest' } }],
    }),
  );
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { manifest, layer, config };
}

/** Files under a layout's blobs/ as "alg/hex" names. */
export async function blobNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const alg of await readdir(path.join(dir, 'blobs'))) for (const hex of await readdir(path.join(dir, 'blobs', alg))) out.push(`${alg}/${hex}`);
  return out.sort();
}

// ---- reading back what an archive edit wrote (archive-edit*.test.ts) ----

/** Reproducible output of an edit: the `created` annotation of attach and every tar mtime. */
export const EDIT_ENV = { SOURCE_DATE_EPOCH: '1700000000' };

/** One member of the archive, as GNU tar extracts it (gzip detected by tar): what another reader gets. */
export async function member(file: string, name: string): Promise<Buffer> {
  const r = await run('tar', ['-xOf', file, name]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdoutBytes;
}

export async function indexOf(file: string): Promise<{ manifests: Array<{ digest: string; annotations?: Record<string, string> }> }> {
  return JSON.parse((await member(file, 'index.json')).toString('utf8'));
}

export async function tagsOf(file: string): Promise<string[]> {
  return (await indexOf(file)).manifests
    .map((m) => m.annotations?.[REF_NAME])
    .filter((t): t is string => t !== undefined)
    .sort();
}

export const blobName = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/** The blob digests an archive holds, listed or not, as GNU tar sees its entries (gzip detected by tar). */
export async function blobsIn(file: string): Promise<string[]> {
  const r = await run('tar', ['-tf', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .map((n) => /^(?:\.\/)?blobs\/(\w+)\/([0-9a-f]+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}:${m[2]}`)
    .sort();
}

export async function noTempFiles(dir: string): Promise<void> {
  expect((await readdir(dir)).filter((f) => f.startsWith('.ocikit-'))).toEqual([]);
}

export async function verifyOk(file: string): Promise<void> {
  const r = await ocikit(['verify', file]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

/** fixtures/single-image (tag v1) packed into a fresh case directory (from `newDir`) as a.tar or a.tar.gz. */
export async function packedFixture(newDir: () => Promise<string>, ext: string): Promise<{ dir: string; file: string }> {
  const dir = await newDir();
  const file = path.join(dir, `a.${ext}`);
  await expectSuccess(['pack', fixture('single-image'), file], { env: EDIT_ENV });
  return { dir, file };
}
