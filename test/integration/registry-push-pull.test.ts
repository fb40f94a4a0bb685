/**
 * Push and pull against a real registry (Debian's docker-registry,
 * distribution 2.8: no referrers API, so the fallback tag must be written),
 * checked with skopeo and curl as independent readers.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, expectedDigests, FIXTURES, isCleanError, ocikit, run, tempDir } from '../helpers/cli.js';
import { indexTags, ocikitOk, once, peer, requireTool } from '../helpers/peers.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const { cleanups } = afterFile();

const registry = once(async () => {
  const r = await startRegistry();
  cleanups.push(r.stop);
  return r;
});

async function tmp(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function curlJson(url: string, accept: string): Promise<unknown> {
  const res = await peer(requireTool('curl'), ['-sSf', '-H', `Accept: ${accept}`, url]);
  return JSON.parse(res.stdout);
}

/** The set of referrer digests `ocikit referrers` reports for REF. */
async function referrerDigests(ref: string): Promise<string[]> {
  const index = JSON.parse((await ocikitOk(['referrers', ref])).stdout) as { manifests: Array<{ digest: string }> };
  return index.manifests.map((m) => m.digest).sort();
}

const INDEX = 'application/vnd.oci.image.index.v1+json';

describe('push a layout with referrers to a registry without the referrers API', () => {
  const pushed = once(async () => {
    const reg = await registry();
    const res = await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${reg.host}/fixtures/with-referrers`]);
    return { reg, res };
  });

  it('pushes every blob, manifest and referrer and prints a summary line', async () => {
    const { res } = await pushed();
    expect(res.stdout).toMatch(/pushed \d+ blobs \([^)]*, 0 skipped\), 4 manifests, 3 referrers/);
  });

  it('writes the fallback tag index listing the referrers of the image', async () => {
    const { reg } = await pushed();
    const e = (await expectedDigests())['with-referrers']!;
    const image = e['image'] as string;
    const fallback = (await curlJson(`http://${reg.host}/v2/fixtures/with-referrers/manifests/sha256-${image.slice(7)}`, INDEX)) as {
      mediaType: string;
      manifests: Array<{ digest: string; artifactType?: string }>;
    };
    expect(fallback.mediaType).toBe(INDEX);
    const want = ((e['referrers'] as Record<string, Array<{ digest: string }>>)[image] ?? []).map((r) => r.digest).sort();
    expect(fallback.manifests.map((m) => m.digest).sort()).toEqual(want);
    expect(fallback.manifests.every((m) => typeof m.artifactType === 'string')).toBe(true);
    const tags = (await curlJson(`http://${reg.host}/v2/fixtures/with-referrers/tags/list`, 'application/json')) as { tags: string[] };
    expect(tags.tags).toContain('v1');
    expect(tags.tags).toContain(`sha256-${image.slice(7)}`);
  });

  it('skopeo inspect sees the pushed image', async () => {
    const { reg } = await pushed();
    const e = (await expectedDigests())['with-referrers']!;
    const res = await peer(requireTool('skopeo'), ['inspect', '--tls-verify=false', `docker://${reg.host}/fixtures/with-referrers:v1`]);
    const doc = JSON.parse(res.stdout) as { Digest: string; Architecture: string; Layers: string[] };
    expect(doc.Digest).toBe(e['image']);
    expect(doc.Architecture).toBe('amd64');
    expect(doc.Layers).toEqual((await expectedDigests())['single-image']!['layers']);
  });

  it('ocikit referrers, discover, ls and tags work on the registry reference', async () => {
    const { reg } = await pushed();
    const ref = `${reg.host}/fixtures/with-referrers:v1`;
    expect(await referrerDigests(ref)).toEqual(await referrerDigests(`${path.join(FIXTURES, 'with-referrers')}:v1`));
    const tags = (await ocikitOk(['tags', `${reg.host}/fixtures/with-referrers`])).stdout.trim().split('\n');
    expect(tags).toContain('v1');
    const ls = JSON.parse((await ocikitOk(['ls', '--format', 'json', `${reg.host}/fixtures/with-referrers`])).stdout) as Array<{ tag?: string; platforms: string[] }>;
    expect(ls.find((r) => r.tag === 'v1')?.platforms).toEqual(['linux/amd64']);
    const tree = JSON.parse((await ocikitOk(['discover', '--format', 'json', ref])).stdout) as unknown;
    const local = JSON.parse((await ocikitOk(['discover', '--format', 'json', `${path.join(FIXTURES, 'with-referrers')}:v1`])).stdout) as unknown;
    expect(JSON.stringify(tree).length).toBeGreaterThan(10);
    expect(countNodes(tree)).toBe(countNodes(local));
  });

  it('pulls it back into a fresh layout: same digests, same referrers', async () => {
    const { reg } = await pushed();
    const dir = path.join(await tmp(), 'pulled');
    const res = await ocikitOk(['pull', `${reg.host}/fixtures/with-referrers:v1`, dir]);
    expect(res.stdout).toMatch(/pulled \d+ blobs/);
    const e = (await expectedDigests())['with-referrers']!;
    expect(indexTags(dir).get('v1')).toBe(e['image']);
    expect(await referrerDigests(`${dir}:v1`)).toEqual(await referrerDigests(`${path.join(FIXTURES, 'with-referrers')}:v1`));
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
    expect(index.manifests.some((m) => m.annotations?.['io.containerd.image.name'] === `${reg.host}/fixtures/with-referrers:v1`)).toBe(true);
    // Every blob of the source is there, byte for byte.
    for (const [digest] of Object.entries(e['blobs'] as Record<string, number>)) {
      const hex = digest.slice(7);
      expect(await readFile(path.join(dir, 'blobs', 'sha256', hex))).toEqual(await readFile(path.join(FIXTURES, 'with-referrers', 'blobs', 'sha256', hex)));
    }
    await ocikitOk(['pull', `${reg.host}/fixtures/with-referrers:v1`, dir]).then((again) => expect(again.stdout).toMatch(/pulled 0 blobs \(0 B, \d+ skipped\)/));
  });

  it('a second push skips everything already there', async () => {
    const { reg } = await pushed();
    const res = await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${reg.host}/fixtures/with-referrers`]);
    expect(res.stdout).toMatch(/pushed 0 blobs \(0 B, \d+ skipped\)/);
    // No duplicates in the fallback index after pushing twice.
    const image = (await expectedDigests())['with-referrers']!['image'] as string;
    const fallback = (await curlJson(`http://${reg.host}/v2/fixtures/with-referrers/manifests/sha256-${image.slice(7)}`, INDEX)) as { manifests: Array<{ digest: string }> };
    expect(new Set(fallback.manifests.map((m) => m.digest)).size).toBe(fallback.manifests.length);
  });

  it('--no-referrers pushes the image alone', async () => {
    const reg = await registry();
    const res = await ocikitOk(['push', '--no-referrers', path.join(FIXTURES, 'with-referrers'), `${reg.host}/fixtures/no-refs`]);
    expect(res.stdout).toMatch(/, 0 referrers/);
    expect(await referrerDigests(`${reg.host}/fixtures/no-refs:v1`)).toEqual([]);
  });
});

function countNodes(tree: unknown): number {
  const nodes = (Array.isArray(tree) ? tree : ((tree as { referrers?: unknown[] }).referrers ?? [])) as Array<{ referrers?: unknown[] }>;
  return nodes.reduce((n, node) => n + 1 + countNodes(node.referrers ?? []), 0);
}

describe('interop with skopeo through the registry', () => {
  it('pulls what skopeo copy pushed', async () => {
    const reg = await registry();
    const e = (await expectedDigests())['single-image']!;
    await peer(requireTool('skopeo'), ['copy', '--dest-tls-verify=false', `oci:${path.join(FIXTURES, 'single-image')}:v1`, `docker://${reg.host}/skopeo/single:v1`]);
    const dir = path.join(await tmp(), 'from-skopeo');
    await ocikitOk(['pull', `${reg.host}/skopeo/single:v1`, dir]);
    const digest = indexTags(dir).get('v1')!;
    // skopeo may rewrite the manifest for the registry; what we pulled must be what the registry serves.
    const inspect = JSON.parse((await peer(requireTool('skopeo'), ['inspect', '--tls-verify=false', `docker://${reg.host}/skopeo/single:v1`])).stdout) as { Digest: string; Layers: string[] };
    expect(digest).toBe(inspect.Digest);
    expect(inspect.Layers).toEqual(e['layers']);
    await ocikitOk(['verify', dir]).catch(() => undefined);
  });

  it('skopeo copies what ocikit pushed back out into an oci layout with the same digest', async () => {
    const reg = await registry();
    await ocikitOk(['push', path.join(FIXTURES, 'single-image'), `${reg.host}/ocikit/single`]);
    const dir = path.join(await tmp(), 'skopeo-out');
    await peer(requireTool('skopeo'), ['copy', '--src-tls-verify=false', '--preserve-digests', `docker://${reg.host}/ocikit/single:v1`, `oci:${dir}:v1`]);
    expect(indexTags(dir).get('v1')).toBe((await expectedDigests())['single-image']!['image']);
  });
});

describe('multi-platform images', () => {
  const pushed = once(async () => {
    const reg = await registry();
    await ocikitOk(['push', path.join(FIXTURES, 'multi-platform'), `${reg.host}/library/debian`]);
    return reg;
  });

  it('pushes the index under both tags and pulls all platforms', async () => {
    const reg = await pushed();
    const e = (await expectedDigests())['multi-platform']!;
    expect((await ocikitOk(['resolve', `${reg.host}/library/debian:10`])).stdout.trim()).toBe(e['index']);
    expect((await ocikitOk(['resolve', `${reg.host}/library/debian:buster`])).stdout.trim()).toBe(e['index']);
    const dir = path.join(await tmp(), 'all');
    await ocikitOk(['pull', `${reg.host}/library/debian:10`, dir]);
    expect(indexTags(dir).get('10')).toBe(e['index']);
    const manifests = e['manifests'] as Record<string, { image: string; layers: string[] }>;
    for (const m of Object.values(manifests)) {
      await readFile(path.join(dir, 'blobs', 'sha256', m.image.slice(7)));
      for (const l of m.layers) await readFile(path.join(dir, 'blobs', 'sha256', l.slice(7)));
    }
  });

  it('--platform pulls one platform only, tagged', async () => {
    const reg = await pushed();
    const e = (await expectedDigests())['multi-platform']!;
    const arm = (e['manifests'] as Record<string, { image: string; layers: string[] }>)['linux/arm/v7']!;
    const amd = (e['manifests'] as Record<string, { image: string; layers: string[] }>)['linux/amd64']!;
    const dir = path.join(await tmp(), 'arm');
    await ocikitOk(['pull', '--platform', 'linux/arm/v7', `${reg.host}/library/debian:10`, dir]);
    expect(indexTags(dir).get('10')).toBe(arm.image);
    await expect(readFile(path.join(dir, 'blobs', 'sha256', amd.layers[0]!.slice(7)))).rejects.toThrow();
  });

  it('a repository without a tag pulls every tag, and --images-file adds references', async () => {
    const reg = await pushed();
    const dir = path.join(await tmp(), 'every-tag');
    const list = path.join(await tmp(), 'images.txt');
    const { writeFile } = await import('node:fs/promises');
    await ocikitOk(['push', path.join(FIXTURES, 'single-image'), `${reg.host}/library/single`]);
    await writeFile(list, `# images\n${reg.host}/library/single:v1\n\n`);
    await ocikitOk(['pull', '--images-file', list, `${reg.host}/library/debian`, dir]);
    const tags = indexTags(dir);
    expect([...tags.keys()].sort()).toEqual(['10', 'buster', 'v1']);
  });

  it('mirror mode: without /REPO each entry goes to the repository its io.containerd.image.name names', async () => {
    const reg = await pushed();
    const dir = path.join(await tmp(), 'mirror');
    await ocikitOk(['push', path.join(FIXTURES, 'single-image'), `${reg.host}/library/single`]);
    await ocikitOk(['pull', `${reg.host}/library/debian:10`, `${reg.host}/library/single:v1`, dir]);
    const mirror = await startRegistry();
    cleanups.push(mirror.stop);
    const res = await ocikitOk(['push', dir, mirror.host]);
    expect(res.stdout).toContain(`${mirror.host}/library/debian:10`);
    const e = await expectedDigests();
    expect((await ocikitOk(['resolve', `${mirror.host}/library/debian:10`])).stdout.trim()).toBe(e['multi-platform']!['index']);
    expect((await ocikitOk(['resolve', `${mirror.host}/library/single:v1`])).stdout.trim()).toBe(e['single-image']!['image']);
    // A layout without the annotation cannot be mirrored: a usage error before anything is sent.
    const bad = await ocikit(['push', path.join(FIXTURES, 'single-image'), mirror.host]);
    expect(bad.code).toBe(2);
    expect(isCleanError(bad.stderr)).toBe(true);
  });
});

describe('archives', () => {
  it('pulls into a new archive (a bare name) and pushes from it, referrers included', async () => {
    const reg = await registry();
    await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${reg.host}/archive/src`]);
    const dir = await tmp();
    await ocikitOk(['pull', `${reg.host}/archive/src:v1`, 'bundle.tar'], { cwd: dir });
    await ocikitOk(['push', path.join(dir, 'bundle.tar'), `${reg.host}/archive/dst`]);
    expect(await referrerDigests(`${reg.host}/archive/dst:v1`)).toEqual(await referrerDigests(`${path.join(FIXTURES, 'with-referrers')}:v1`));
    expect((await ocikitOk(['resolve', `${reg.host}/archive/dst:v1`])).stdout.trim()).toBe((await expectedDigests())['with-referrers']!['image']);
  });
});

describe('copy with registries', () => {
  it('copies registry to registry with referrers, and registry to layout', async () => {
    const reg = await registry();
    await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${reg.host}/copy/src`]);
    await ocikitOk(['copy', '-r', `${reg.host}/copy/src:v1`, `${reg.host}/copy/dst:v2`]);
    const e = (await expectedDigests())['with-referrers']!;
    expect((await ocikitOk(['resolve', `${reg.host}/copy/dst:v2`])).stdout.trim()).toBe(e['image']);
    expect(await referrerDigests(`${reg.host}/copy/dst:v2`)).toEqual(await referrerDigests(`${reg.host}/copy/src:v1`));
    const dir = path.join(await tmp(), 'copied');
    await ocikitOk(['copy', '-r', `${reg.host}/copy/dst:v2`, dir]);
    expect(indexTags(dir).get('v2')).toBe(e['image']);
  });

  it('blob fetch and manifest fetch read from the registry, verified', async () => {
    const reg = await registry();
    await ocikitOk(['push', path.join(FIXTURES, 'single-image'), `${reg.host}/fetch/single`]);
    const e = (await expectedDigests())['single-image']!;
    const layer = (e['layers'] as string[])[1]!;
    const blob = await ocikitOk(['blob', 'fetch', `${reg.host}/fetch/single@${layer}`]);
    expect(blob.stdoutBytes).toEqual(await readFile(path.join(FIXTURES, 'single-image', 'blobs', 'sha256', layer.slice(7))));
    const manifest = await ocikitOk(['manifest', 'fetch', `${reg.host}/fetch/single:v1`]);
    expect(manifest.stdoutBytes).toEqual(await readFile(path.join(FIXTURES, 'single-image', 'blobs', 'sha256', (e['image'] as string).slice(7))));
  });
});

describe('bad input against a registry', () => {
  it('a missing tag, a missing repository and a refused connection are clean one-line errors with exit 1', async () => {
    const reg: RegistryHandle = await registry();
    const dir = path.join(await tmp(), 'none');
    for (const args of [
      ['pull', `${reg.host}/does/not-exist:v1`, dir],
      ['pull', `${reg.host}/does/not-exist`, dir],
      ['pull', '127.0.0.1:1/nothing/here:v1', dir],
    ]) {
      const res = await ocikit(args);
      expect(res.code, res.stderr).toBe(1);
      expect(isCleanError(res.stderr), res.stderr).toBe(true);
    }
    // Nothing was created for failed pulls.
    const { existsSync } = await import('node:fs');
    expect(existsSync(path.join(dir, 'index.json')) ? JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')).manifests : []).toEqual([]);
  });

  it('a push destination with a tag is a usage error', async () => {
    const reg = await registry();
    const res = await ocikit(['push', path.join(FIXTURES, 'single-image'), `${reg.host}/x/y:v1`]);
    expect(res.code).toBe(2);
    expect(isCleanError(res.stderr)).toBe(true);
  });

  it('curl agrees the registry has no referrers API (the reason for the fallback tag)', async () => {
    const reg = await registry();
    const res = await run(requireTool('curl'), ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${reg.host}/v2/fixtures/x/referrers/sha256:${'0'.repeat(64)}`]);
    expect(res.stdout).toBe('404');
  });
});
