/**
 * Memory at scale (issue 16, point 15): ls, verify and inspect of a layout of
 * 25,000 manifests (and of the same layout as a tar, read in place), and diff,
 * finish inside a V8 old space of a few dozen megabytes and print one valid
 * JSON document. A cap on the heap is a hard, deterministic
 * limit (unlike a peak RSS, which depends on when the collector runs): a
 * command that holds every document, a whole tree of nodes or its JSON text
 * at once dies of it (exit 134). Each cap sits between what the command needs
 * now and what it needed before (before: ls needed 32 MiB, verify and inspect
 * more than 56; now 20, 32 and 36; see /work/wt-notes/mem.md). The peak RSS
 * at 50,000 manifests is measured by bench/inspect.mjs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { BIN, run, tempDir } from '../helpers/cli.js';
// The benchmarks' layout (tagged images with their own config, an SBOM for every tenth), so
// that this test and bench/inspect.mjs measure the same shape.
// @ts-expect-error: a plain ES module of the benchmarks, without type declarations
import { imagesFor, makeManyManifestLayout } from '../../bench/many-manifests.mjs';

const MANIFESTS = 25_000;

let work: { dir: string; cleanup: () => Promise<void> };
let layout: string;
let manifests: number;

beforeAll(async () => {
  work = await tempDir('ocikit-memory-');
  layout = path.join(work.dir, 'layout');
  manifests = (makeManyManifestLayout as (dir: string, n: number) => number)(layout, (imagesFor as (n: number) => number)(MANIFESTS));
}, 60_000);

afterAll(async () => {
  await work?.cleanup();
});

/** Run a command with V8's old space capped at `mib`; its stdout must be one JSON document. */
async function cappedJson<T>(mib: number, args: string[]): Promise<{ code: number; doc: T }> {
  const r = await run(process.execPath, [`--max-old-space-size=${mib}`, BIN, ...args, '--format', 'json'], { timeoutMs: 120_000 });
  expect(r.code, `exit status (134: out of memory)\n${r.stderr.slice(0, 500)}`).toBe(0);
  return { code: r.code, doc: JSON.parse(r.stdout) as T };
}

describe(`${MANIFESTS} manifests in a capped heap`, () => {
  it('ls lists every entry within 24 MiB of old space', async () => {
    const { doc } = await cappedJson<Array<{ digest: string; platforms: string[] }>>(24, ['ls', layout]);
    expect(doc).toHaveLength(manifests);
    expect(doc[0]!.platforms).toEqual(['linux/amd64']);
  }, 120_000);

  // Verify's facts about each blob were a record object, a read memo, a digest string and entries in
  // four Maps and Sets: 32 MiB was needed. Now a blob is a digest number and a few columns (audit/blob-ledger.ts): 28.
  it('verify checks every manifest and blob within 30 MiB', async () => {
    const { doc } = await cappedJson<{ ok: boolean; summary: { manifests: number; errors: number }; blobs: unknown[] }>(30, ['verify', layout]);
    expect(doc.ok).toBe(true);
    expect(doc.summary.manifests).toBe(manifests);
    expect(doc.summary.errors).toBe(0);
    // Every manifest, every image config, every SBOM, the shared layer and the empty config.
    expect(doc.blobs.length).toBeGreaterThan(manifests);
  }, 120_000);

  it('inspect reports every root with its referrers within 46 MiB', async () => {
    const { doc } = await cappedJson<{ roots: Array<{ node: { referrers?: unknown[] } }>; summary: { manifests: number; images: number; artifacts: number } }>(46, ['inspect', layout]);
    expect(doc.summary.manifests).toBe(manifests);
    expect(doc.summary.images + doc.summary.artifacts).toBe(manifests);
    // SBOMs are shown under their images, not as roots of their own.
    expect(doc.roots).toHaveLength(doc.summary.images);
    expect(doc.roots.filter((r) => (r.node.referrers ?? []).length > 0)).toHaveLength(doc.summary.artifacts);
  }, 120_000);

  // Both sides are read whole, so comparing the layout with itself costs what any two such layouts
  // cost. Before, the two catalogs (every config's env, cmd and labels) were held at once: more than
  // 56 MiB; then one side reduced to an object per manifest: 40. Now each side is opened only while it
  // is read, a kept side is a digest number and a few columns per manifest, and the catalog keeps of
  // each config its platform alone: 28 is enough.
  it('diff compares two sides within 34 MiB', async () => {
    const { doc } = await cappedJson<{ identical: boolean; manifests: { added: unknown[]; removed: unknown[] } }>(34, ['diff', layout, layout]);
    expect(doc.identical).toBe(true);
    expect(doc.manifests.added).toHaveLength(0);
  }, 120_000);
});

// The same layout as a tar, read in place. Written by tar(1) so that the test does not wait on pack
// (whose memory bench/inspect.mjs measures). Before, the archive handed every caller its own copy of
// index.json's 25,000 entries and kept a second table of its 50,000 blobs beside the tar's own: ls
// needed more than 40 MiB, verify and inspect more than 48; then 32, 40 and 40. Now the tar's table
// keeps a `blobs/sha256/<hex>` entry as a digest number and three numbers (archive/entry-table.ts),
// not an object and its name: 20, 32 and 32, and diff of the layout against the archive 28 (34 before).
describe(`${MANIFESTS} manifests in an archive read in place, in a capped heap`, () => {
  let archive: string;

  beforeAll(async () => {
    archive = path.join(work.dir, 'layout.tar');
    const r = await run('tar', ['-cf', archive, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);

  it('ls lists every entry within 26 MiB', async () => {
    const { doc } = await cappedJson<unknown[]>(26, ['ls', archive]);
    expect(doc).toHaveLength(manifests);
  }, 120_000);

  it('verify checks every manifest and blob within 30 MiB', async () => {
    const { doc } = await cappedJson<{ ok: boolean; summary: { manifests: number; errors: number } }>(30, ['verify', archive]);
    expect(doc.ok).toBe(true);
    expect(doc.summary.manifests).toBe(manifests);
  }, 120_000);

  it('inspect reports every manifest within 36 MiB', async () => {
    const { doc } = await cappedJson<{ summary: { manifests: number } }>(36, ['inspect', archive]);
    expect(doc.summary.manifests).toBe(manifests);
  }, 120_000);

  // Before, unpack held every root's transfer record and the tar's table of objects and names: more than
  // 36 MiB, for the archive read in place and for a .tar.gz (spooled) alike. Now a .tar's blob entries
  // are numbers (archive/entry-table.ts), and a .tar.gz is read once as a stream whose blob outcomes are
  // numbers too (targets/streamed-layout.ts), its index.json bytes dropped once parsed: about 30 each.
  // Only the .tar.gz is unpacked here (50,000 files written take a minute); bench/inspect.mjs measures both.
  it('unpack writes the archive, gzip-compressed, into a new layout within 34 MiB', async () => {
    const gz = path.join(work.dir, 'layout.tar.gz');
    const r = await run('sh', ['-c', `gzip -1 -c "${archive}" > "${gz}"`]);
    expect(r.code, r.stderr).toBe(0);
    await cappedJson(34, ['unpack', gz, path.join(work.dir, 'unpacked')]);
    const index = JSON.parse(await readFile(path.join(work.dir, 'unpacked', 'index.json'), 'utf8')) as { manifests: unknown[] };
    expect(index.manifests).toHaveLength(manifests);
  }, 240_000);

  it('diff compares the layout with the archive within 34 MiB', async () => {
    const { doc } = await cappedJson<{ identical: boolean }>(34, ['diff', layout, archive]);
    expect(doc.identical).toBe(true);
  }, 120_000);
});
