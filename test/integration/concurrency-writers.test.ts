/**
 * Many ocikit processes writing one layout at the same time (issue 8,
 * "Hardening"): several `attach`, several `tag`, `copy` of different images
 * from other layouts, `pull` from a real registry, `push` into a
 * `serve --writable` of the layout, `gc` and `gc --dry-run` over and over,
 * and copies of images that were stored but untagged (blobs gc is free to
 * delete, which a writer then wants again). Afterwards nothing may be lost:
 * every tag and artifact is there, index.json lists nothing twice, every
 * blob a listed manifest needs is present with the right bytes (checked
 * with node:crypto, not with ocikit), and `ocikit verify` passes.
 *
 * Each round starts the processes in a different order with different
 * delays (a seeded shuffle; the seed is printed on failure), so rounds hit
 * different interleavings.
 */
import { seededRandom } from '../helpers/crash.js';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ocikit, tempDir, type RunResult } from '../helpers/cli.js';
import { blobProblems, makeImageLayout, type MadeImage } from '../helpers/image-layouts.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startServe, stopAllServers } from './serve-helpers.js';
import { readIndexJson, REF_NAME } from './_support.js';

const ROUNDS = Number(process.env['OCIKIT_CONCURRENCY_ROUNDS'] ?? 3);
const ATTACHES = 4;
const TAGS = 4;
const COPIES = 3;
const PULLS = 2;
const PUSHES = 2;
const REVIVED = 2;
const TIMEOUT = 120_000;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let registry: RegistryHandle;
/** The same bytes as a layer of every made-up image: writers of different images race on this blob. */
const SHARED = Buffer.alloc(8192, 7);

beforeAll(async () => {
  tmp = await tempDir('ocikit-concurrency-');
  registry = await startRegistry();
}, 60_000);

afterAll(async () => {
  await stopAllServers();
  await registry?.stop();
  await tmp?.cleanup();
});

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Job {
  name: string;
  args: string[];
}

async function makeImages(dir: string, prefix: string, n: number, tag: (i: number) => string): Promise<MadeImage[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const d = path.join(dir, `${prefix}-${i}`);
      await mkdir(d, { recursive: true });
      return makeImageLayout(d, { tag: tag(i), seed: `${dir}/${prefix}/${i}`, sharedLayer: SHARED });
    }),
  );
}

async function mustSucceed(args: string[]): Promise<RunResult> {
  const r = await ocikit(args, { timeoutMs: TIMEOUT });
  if (r.code !== 0) throw new Error(`ocikit ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

describe('many writers on one layout at once', () => {
  it(`${ROUNDS} rounds: attach, tag, copy, pull, push to serve --writable, gc and gc --dry-run; nothing lost, nothing listed twice`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const seed = 0x5eed + round * 7919;
      const rand = seededRandom(seed);
      const dir = path.join(tmp.dir, `round-${round}`);
      const target = path.join(dir, 'target');
      await mkdir(dir, { recursive: true });

      // The starting layout: one image to tag and attach to, and images that are stored but no longer tagged.
      const [base] = await makeImages(dir, 'base', 1, () => 'base');
      const revived = await makeImages(dir, 'revived', REVIVED, (i) => `revived-${i}`);
      await mustSucceed(['copy', `oci:${base!.dir}:base`, `oci:${target}:base`]);
      for (const img of revived) {
        await mustSucceed(['copy', `oci:${img.dir}:${img.tag}`, `oci:${target}:${img.tag}`]);
        await mustSucceed(['untag', `oci:${target}:${img.tag}`]);
      }

      const copies = await makeImages(dir, 'copy', COPIES, (i) => `copy-${i}`);
      const pulls = await makeImages(dir, 'pull', PULLS, (i) => `pull-${round}-${i}`);
      const pushes = await makeImages(dir, 'push', PUSHES, (i) => `srv-${i}`);
      for (const [i, img] of pulls.entries()) await mustSucceed(['copy', `oci:${img.dir}:${img.tag}`, `${registry.host}/round${round}/pull${i}:${img.tag}`]);
      const files = await Promise.all(
        Array.from({ length: ATTACHES }, async (_, i) => {
          const f = path.join(dir, `payload-${i}.json`);
          await writeFile(f, JSON.stringify({ round, attach: i }));
          return f;
        }),
      );

      const serve = await startServe([target, '--writable', '--repo', 'target']);
      const jobs: Job[] = [
        ...files.map((f, i) => ({ name: `attach-${i}`, args: ['attach', `oci:${target}:base`, '--artifact-type', `application/vnd.test.c${i}+json`, `${f}:application/json`, '--format', 'json'] })),
        ...Array.from({ length: TAGS }, (_, i) => ({ name: `tag-${i}`, args: ['tag', `oci:${target}:base`, `t-${i}`] })),
        ...copies.map((img) => ({ name: img.tag, args: ['copy', `oci:${img.dir}:${img.tag}`, `oci:${target}:${img.tag}`] })),
        ...revived.map((img) => ({ name: img.tag, args: ['copy', `oci:${img.dir}:${img.tag}`, `oci:${target}:${img.tag}`] })),
        ...pulls.map((img, i) => ({ name: img.tag, args: ['pull', `${registry.host}/round${round}/pull${i}:${img.tag}`, target] })),
        ...pushes.map((img) => ({ name: img.tag, args: ['push', img.dir, `${serve.host}/target`] })),
      ];

      // Writers start in a shuffled order, each after a random delay; gc and gc --dry-run run in loops until all are done.
      let writersDone = false;
      const gcRuns: RunResult[] = [];
      const gcLoop = async (args: string[]) => {
        await sleep(rand() * 300);
        do gcRuns.push(await ocikit(args, { timeoutMs: TIMEOUT }));
        while (!writersDone);
      };
      const started = Date.now();
      const loops = [gcLoop(['gc', target]), gcLoop(['gc', target, '--dry-run'])];
      const results = await Promise.all(
        shuffle(jobs, rand).map(async (job) => {
          await sleep(rand() * 1500);
          return { job, result: await ocikit(job.args, { timeoutMs: TIMEOUT }) };
        }),
      );
      writersDone = true;
      await Promise.all(loops);
      expect(await serve.stop()).toBe(0);
      const elapsed = Date.now() - started;

      const context = `round ${round} (seed ${seed})`;
      for (const { job, result } of results) expect(result.code, `${context}: ${job.name}: ${result.stderr}`).toBe(0);
      for (const r of gcRuns) expect(r.code, `${context}: gc: ${r.stderr}`).toBe(0);

      // Every tag where it should be, each listed once, and nothing listed twice.
      const index = await readIndexJson(target);
      const expectedTags: Record<string, string> = { base: base!.manifest.digest };
      for (let i = 0; i < TAGS; i++) expectedTags[`t-${i}`] = base!.manifest.digest;
      for (const img of [...copies, ...revived, ...pulls, ...pushes]) expectedTags[img.tag] = img.manifest.digest;
      const tags: Record<string, string[]> = {};
      for (const e of index.manifests) {
        const tag = e.annotations?.[REF_NAME];
        if (tag !== undefined) (tags[tag] ??= []).push(e.digest);
      }
      for (const [tag, digest] of Object.entries(expectedTags)) expect(tags[tag], `${context}: tag ${tag}`).toEqual([digest]);
      expect(Object.keys(tags).sort(), context).toEqual(Object.keys(expectedTags).sort());
      const keys = index.manifests.map((e) => `${e.digest} ${e.annotations?.[REF_NAME] ?? ''}`);
      expect(new Set(keys).size, `${context}: duplicate entries in index.json: ${keys.join(', ')}`).toBe(keys.length);

      // Every artifact listed, and found as a referrer of the image it was attached to.
      const attached = results.filter((r) => r.job.name.startsWith('attach-')).map((r) => (JSON.parse(r.result.stdout) as { digest: string }).digest);
      const listed = new Set(index.manifests.map((e) => e.digest));
      for (const d of attached) expect(listed.has(d), `${context}: artifact ${d} not in index.json`).toBe(true);
      const referrers = JSON.parse((await mustSucceed(['referrers', `oci:${target}:base`])).stdout) as { manifests: Array<{ digest: string }> };
      expect(referrers.manifests.map((m) => m.digest).sort(), context).toEqual([...attached].sort());

      // Every blob each entry needs, present and correct (checked without ocikit), then ocikit's own verdict.
      for (const e of index.manifests) expect(await blobProblems(target, e as never), `${context}: ${e.digest}`).toEqual([]);
      const verify = await ocikit(['verify', target]);
      expect(verify.code, `${context}: verify: ${verify.stdout}${verify.stderr}`).toBe(0);

      // Nobody left a lease or a temp file behind (serve released its lease when it stopped).
      const leftovers = (await readdir(target)).filter((n) => n.startsWith('.ocikit-') && n !== '.ocikit.lock');
      expect(leftovers, context).toEqual([]);

      // A last gc finds nothing of the above to delete.
      await mustSucceed(['gc', target]);
      for (const e of index.manifests) expect(await blobProblems(target, e as never), `${context} after gc: ${e.digest}`).toEqual([]);
      console.log(`${context}: ${jobs.length} writers + ${gcRuns.length} gc runs + serve, ${(elapsed / 1000).toFixed(1)} s`);
    }
  }, ROUNDS * 200_000);
});
