/**
 * Commands check what they were given before they store anything, and a
 * failure after storing says what was stored (against a real registry,
 * distribution 2.8):
 *
 * - a referrer the registry refuses (a legacy artifact manifest, which 2.8
 *   rejects) is reported, exit 1 and naming it, after the image, its tag and
 *   the other referrer were pushed;
 * - a failed pull into a new directory leaves no directory (nor the parents
 *   it created), and into an empty one leaves it empty;
 * - an --export-manifest that cannot be written after the artifact was
 *   attached says the artifact was attached, with its digest;
 * - a malformed media type in FILE:TYPE is a usage error before any blob
 *   reaches the registry.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, FIXTURES, isRoot, jsonDocument, ocikit, type JsonError } from '../helpers/cli.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const { cleanups, tmp } = afterFile();
const env = { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config' };
const IMAGE = 'sha256:fe252ae0d27af4f0a1386d7f1ee0c1db22bcc59e9fa6b2511409afca4c71fcac';
const LEGACY = 'sha256:d288dcff69d7d189b3bd8c03c2e3ad6fbf3608e212a93e2b713e1af550700955';

let registry: RegistryHandle;

beforeAll(async () => {
  registry = await startRegistry();
  cleanups.push(() => registry.stop());
}, 60_000);

/** Run with --json; must exit `exit`; the error document. */
async function fails(args: string[], exit: number): Promise<JsonError['error']> {
  const r = await ocikit([...args, '--json'], { env });
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stderr.split('\n')[0]).toMatch(/^ocikit: /);
  return jsonDocument<JsonError>(r).error;
}

async function ok(args: string[]): Promise<string> {
  const r = await ocikit(args, { env });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('a referrer the registry refuses', () => {
  it('is reported (exit 1, naming it) after the image, its tag and the other referrer were pushed', { timeout: 60_000 }, async () => {
    const layout = path.join(await tmp(), 'legacy');
    await cp(path.join(FIXTURES, 'legacy-artifact'), layout, { recursive: true });
    const sbom = path.join(path.dirname(layout), 'sbom.json');
    await writeFile(sbom, '{"spdxVersion":"SPDX-2.3"}');
    const sbomDigest = (await ok(['attach', `${layout}:v1`, sbom, '--artifact-type', 'application/spdx+json'])).trim();
    const repo = `${registry.host}/refused/app`;

    const err = await fails(['push', layout, repo], 1);
    expect(err.digest).toBe(LEGACY);
    expect(err.code).toBe('REGISTRY_ERROR');

    expect((await ok(['resolve', `${repo}:v1`])).trim()).toBe(IMAGE);
    const referrers = JSON.parse(await ok(['referrers', '--json', `${repo}:v1`])) as { manifests: Array<{ digest: string }> };
    expect(referrers.manifests.map((m) => m.digest)).toEqual([sbomDigest]);
  });
});

describe('a failed pull', () => {
  it('into a new directory leaves no directory, nor the parents it created', { timeout: 60_000 }, async () => {
    const base = await tmp();
    for (const dest of [path.join(base, 'new'), path.join(base, 'a', 'b', 'c')]) {
      const err = await fails(['pull', `${registry.host}/nothing/here:v1`, dest], 1);
      expect(err.code).toBe('NOT_FOUND');
    }
    expect(await readdir(base)).toEqual([]);
  });

  it('into an empty directory leaves it empty', { timeout: 60_000 }, async () => {
    const dest = path.join(await tmp(), 'empty');
    await mkdir(dest);
    await fails(['pull', `${registry.host}/nothing/here:v1`, dest], 1);
    expect(await readdir(dest)).toEqual([]);
  });
});

describe('attach --export-manifest', () => {
  // /proc passes the writability check for root (access(2) says yes) and then refuses the file: a write
  // that fails after the artifact was attached. Other users are refused by the check itself.
  it.skipIf(!isRoot())('a write that fails after attaching says the artifact was attached, with its digest', { timeout: 60_000 }, async () => {
    const layout = path.join(await tmp(), 'img');
    await cp(path.join(FIXTURES, 'single-image'), layout, { recursive: true });
    const sbom = path.join(path.dirname(layout), 'sbom.json');
    await writeFile(sbom, '{}');
    const err = await fails(['attach', `${layout}:v1`, sbom, '--artifact-type', 'application/spdx+json', '--export-manifest', '/proc/ocikit-m.json'], 1);
    const referrers = JSON.parse(await ok(['referrers', '--json', `${layout}:v1`])) as { manifests: Array<{ digest: string }> };
    expect(referrers.manifests).toHaveLength(1);
    expect(err.digest).toBe(referrers.manifests[0]!.digest);
    expect(err.code).toBe('IO_ERROR');
  });

  it('a destination in a missing directory is refused before anything is attached', { timeout: 60_000 }, async () => {
    const layout = path.join(await tmp(), 'img');
    await cp(path.join(FIXTURES, 'single-image'), layout, { recursive: true });
    const sbom = path.join(path.dirname(layout), 'sbom.json');
    await writeFile(sbom, '{}');
    await fails(['attach', `${layout}:v1`, sbom, '--artifact-type', 'application/spdx+json', '--export-manifest', path.join(layout, 'missing', 'm.json')], 1);
    const referrers = JSON.parse(await ok(['referrers', '--json', `${layout}:v1`])) as { manifests: unknown[] };
    expect(referrers.manifests).toEqual([]);
  });
});

describe('FILE:TYPE', () => {
  it('a malformed media type is a usage error before any blob reaches the registry', { timeout: 60_000 }, async () => {
    const layout = path.join(await tmp(), 'img');
    await cp(path.join(FIXTURES, 'single-image'), layout, { recursive: true });
    const repo = `${registry.host}/typed/app`;
    await ok(['push', layout, repo]);
    const file = path.join(path.dirname(layout), 'notes.txt');
    await writeFile(file, 'a file nobody else pushes');
    for (const type of ['text/', 'bad type/x', 'text/plain;', 'a/b/c']) {
      const err = await fails(['attach', `${repo}:v1`, `${file}:${type}`, '--artifact-type', 'application/x.notes'], 2);
      expect(err.code).toBe('USAGE');
    }
    // The file's blob never reached the registry.
    const probe = await ocikit(['blob', 'fetch', `${repo}@sha256:${await sha256File(file)}`, '-o', `${file}.fetched`, '--json'], { env });
    expect(probe.code).toBe(1);
    expect(jsonDocument<JsonError>(probe).error.code).toBe('NOT_FOUND');
    expect(existsSync(file)).toBe(true);
  });
});

async function sha256File(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { readFile } = await import('node:fs/promises');
  return createHash('sha256').update(await readFile(file)).digest('hex');
}
