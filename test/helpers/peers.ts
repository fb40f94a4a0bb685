/**
 * Helpers for interop tests against real peers (skopeo, umoci, the registry).
 *
 * A missing peer must FAIL the test with a message that says how to install
 * it, never skip it: CI installs every peer, so a skip there would hide a
 * broken setup. Call `requireTool` inside each test, and build shared state
 * with `once` from inside the tests too, not in `beforeAll`: vitest reports
 * the tests of a suite whose `beforeAll` threw as *skipped*, while an error
 * thrown inside a test fails that test with the install hint.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { expectedDigests, FIXTURES, ocikit, run, type RunOptions, type RunResult } from './cli.js';

export const INSTALL_HINT = 'apt-get install -y skopeo umoci docker-registry';

/** The absolute path of `name` on $PATH; throws an Error saying how to install it when it is absent. */
export function requireTool(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; keep looking
    }
  }
  // The peers' Debian packages are named like their commands; a tool outside the usual three (curl) is added to the line.
  const hint = INSTALL_HINT.split(' ').includes(name) ? INSTALL_HINT : `${INSTALL_HINT} ${name}`;
  throw new Error(`${name} is required by this test but was not found on PATH; install it with: ${hint}`);
}

/**
 * A shared fixture built on first use and reused by later tests; when building
 * fails, every test that needs it fails with the same error.
 */
export function once<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => (built ??= build());
}

/** A private copy of a layout for a test that changes it. */
export async function copyLayout(src: string, dest: string): Promise<string> {
  await cp(src, dest, { recursive: true });
  return dest;
}

/** Run a peer tool and return its result, or throw with its stderr when it exits non-zero. */
export async function peer(tool: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return succeeded(await run(tool, args, opts), [path.basename(tool), ...args]);
}

/** Run ocikit and return its result, or throw with its stderr when it exits non-zero. */
export async function ocikitOk(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return succeeded(await ocikit(args, opts), ['ocikit', ...args]);
}

function succeeded(res: RunResult, argv: string[]): RunResult {
  if (res.code !== 0) throw new Error(`\`${argv.join(' ')}\` exited ${res.code}:\n${res.stderr}${res.stdout}`);
  return res;
}

/**
 * Every path under `dir` with its size and mtime, to show that a read-only
 * command changed nothing (no lock file, no rewritten index.json).
 */
export async function snapshot(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  const lines = await Promise.all(
    entries.map(async (rel) => {
      const st = await stat(path.join(dir, rel));
      return `${rel} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`;
    }),
  );
  return lines.sort();
}

/** Where a blob lives in a layout directory. */
export function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layout, 'blobs', alg!, hex!);
}

export function readBlob(layout: string, digest: string): Promise<Buffer> {
  return readFile(blobPath(layout, digest));
}

/** The tag → digest map that a layout's index.json states, read directly (the oracle, not ocikit). */
export function indexTags(layout: string): Map<string, string> {
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const tags = new Map<string, string>();
  for (const m of index.manifests) {
    const tag = m.annotations?.['org.opencontainers.image.ref.name'];
    if (tag !== undefined) tags.set(tag, m.digest);
  }
  return tags;
}

interface ImageManifestLike {
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

/**
 * Copy one image manifest from the layout `src` into `layout` through the
 * ocikit CLI only (blob push of config and layers, then manifest push with
 * `tag`), as a user copying by hand would. Checks that ocikit reports the
 * digests `src` has.
 */
export async function pushImage(layout: string, src: string, manifestDigest: string, tag: string): Promise<void> {
  const manifest = JSON.parse((await readBlob(src, manifestDigest)).toString('utf8')) as ImageManifestLike;
  // Blob pushes touch no index.json, so they may run side by side (two cores; each spawn costs ~0.4 s).
  await Promise.all(
    [manifest.config.digest, ...manifest.layers.map((l) => l.digest)].map(async (d) => {
      const res = await ocikitOk(['blob', 'push', `oci:${layout}`, blobPath(src, d)]);
      if (res.stdout.split(' ')[0] !== d) throw new Error(`ocikit blob push printed ${res.stdout.trim()}, expected ${d}`);
    }),
  );
  const res = await ocikitOk(['manifest', 'push', `oci:${layout}:${tag}`, blobPath(src, manifestDigest)]);
  if (res.stdout.trim() !== manifestDigest) throw new Error(`ocikit manifest push printed ${res.stdout.trim()}, expected ${manifestDigest}`);
}

/** `pushImage` from one of the fixtures (fixtures/NAME). */
export function pushFixtureImage(layout: string, fixture: string, manifestDigest: string, tag: string): Promise<void> {
  return pushImage(layout, path.join(FIXTURES, fixture), manifestDigest, tag);
}

/** What `buildOcikitLayout` wrote: tag names and the digests behind them. */
export interface OcikitLayout {
  dir: string;
  /** The common image (single-image fixture, linux/amd64), tagged v1, latest and stable. */
  image: string;
  /** The linux/arm/v7 image of the multi-platform fixture, tagged armv7. */
  armv7: string;
  /** An index made by `ocikit index create` over v1 and armv7, tagged multi. */
  multi: string;
}

/** The tags `buildOcikitLayout` writes, sorted. */
export const OCIKIT_LAYOUT_TAGS = ['armv7', 'latest', 'multi', 'stable', 'v1'];

/**
 * A layout written entirely by ocikit: `init`, `blob push`, `manifest push`
 * with a tag, `tag` and `index create`. Interop tests hand it to the peers.
 * `afterStep` runs after each command that changes index.json, so that a test
 * can check the layout at every stage without building it twice.
 */
export async function buildOcikitLayout(dir: string, afterStep: (step: string) => Promise<void> = async () => {}): Promise<OcikitLayout> {
  const e = await expectedDigests();
  const image = e['single-image']!['image'] as string;
  const armv7 = (e['multi-platform']!['manifests'] as Record<string, { image: string }>)['linux/arm/v7']!.image;
  await ocikitOk(['init', dir]);
  await afterStep('init');
  await pushFixtureImage(dir, 'single-image', image, 'v1');
  await afterStep('manifest push');
  await ocikitOk(['tag', `oci:${dir}:v1`, 'latest', 'stable']);
  await afterStep('tag');
  await pushFixtureImage(dir, 'multi-platform', armv7, 'armv7');
  await afterStep('second manifest push');
  const multi = (await ocikitOk(['index', 'create', `oci:${dir}:multi`, 'v1', 'armv7'])).stdout.trim();
  await afterStep('index create');
  return { dir, image, armv7, multi };
}
