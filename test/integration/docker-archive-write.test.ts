/**
 * `copy SRC docker-archive:FILE[:NAME:TAG]` writes a `docker save` archive
 * of the old format (manifest.json, <config>.json, <diff_id>/layer.tar,
 * repositories). skopeo is the oracle for "docker tools read it"; Docker
 * itself is checked by hand (README, the dockerarch closing note), not here.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterFile, FIXTURES, ocikit, run, type RunOptions } from '../helpers/cli.js';
import { requireTool, peer } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, storeBlob, storeJson } from '../helpers/audit-layouts.js';
import { blobFile, expectOneErrorLine, fixture, loadExpected } from './_support.js';

const { cleanups, tmp } = afterFile();
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

/** `--json` (not `--output json`): the flag that asks for JSON before and after `--output` became a path. */
async function copyJson<T = Record<string, unknown>>(args: string[], opts: RunOptions = {}): Promise<T> {
  const r = await ocikit(['copy', ...args, '--json'], opts);
  expect(r.code, `ocikit copy ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

async function copyFails(args: string[], exit: 1 | 2, code: string): Promise<void> {
  const r = await ocikit(['copy', ...args, '--json']);
  expect(r.code, `ocikit copy ${args.join(' ')}: ${r.stderr}`).toBe(exit);
  expectOneErrorLine(r.stderr);
  expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe(code);
}

/** The entries of a tar, in order (GNU tar is the independent reader). */
async function tarList(file: string): Promise<string[]> {
  const r = await run('tar', ['-tf', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

async function tarMember(file: string, member: string): Promise<Buffer> {
  const r = await run('tar', ['-xOf', file, member]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdoutBytes;
}

/** fixtures/expected.json as it is (loadExpected leaves out the diff_ids and the platform table). */
interface ExpectedFile {
  'single-image': { diffIds: string[] };
  'multi-platform': { index: string; manifests: Record<string, { image: string }> };
}
async function expected(): Promise<ExpectedFile> {
  return JSON.parse(await readFile(path.join(FIXTURES, 'expected.json'), 'utf8'));
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** Nothing but `keep` in `dir`: no archive, no temp file left behind. */
async function onlyThere(dir: string, keep: string[] = []): Promise<void> {
  expect((await readdir(dir)).sort()).toEqual([...keep].sort());
}

describe('copy to docker-archive:', () => {
  it('writes the old docker save format that skopeo reads, with the same config and diff_ids', async () => {
    const skopeo = requireTool('skopeo');
    const E = await loadExpected();
    const diffIds: string[] = (await expected())['single-image'].diffIds;
    const dir = await tmp();
    const file = path.join(dir, 'hello.tar');
    const result = await copyJson<{ images: Array<{ config: string; repoTags: string[] }> }>([`${fixture('single-image')}:v1`, `docker-archive:${file}:example/hello:v1`]);
    expect(result.images).toEqual([expect.objectContaining({ config: E.single.config, platform: 'linux/amd64', repoTags: ['example/hello:v1'] })]);

    // The format, read with GNU tar: layers uncompressed and named by diff_id, the config by its digest.
    const hex = (d: string) => d.slice('sha256:'.length);
    expect(await tarList(file)).toEqual([
      ...diffIds.flatMap((d) => [`${hex(d)}/`, `${hex(d)}/layer.tar`]),
      `${hex(E.single.config)}.json`,
      'manifest.json',
      'repositories',
    ]);
    const items = JSON.parse((await tarMember(file, 'manifest.json')).toString()) as ManifestItem[];
    expect(items).toEqual([{ Config: `${hex(E.single.config)}.json`, RepoTags: ['example/hello:v1'], Layers: diffIds.map((d) => `${hex(d)}/layer.tar`) }]);
    for (const d of diffIds) expect(sha256(await tarMember(file, `${hex(d)}/layer.tar`))).toBe(d);
    expect(JSON.parse((await tarMember(file, 'repositories')).toString())).toEqual({ 'example/hello': { v1: hex(diffIds.at(-1)!) } });

    // skopeo reads it: same layers (diff_ids), and a copy out of it has the same config.
    const inspected = JSON.parse((await peer(skopeo, ['inspect', `docker-archive:${file}`])).stdout) as { Layers: string[]; Architecture: string; Os: string };
    expect(inspected.Layers).toEqual(diffIds);
    expect(`${inspected.Os}/${inspected.Architecture}`).toBe('linux/amd64');
    const out = path.join(dir, 'from-skopeo');
    await peer(skopeo, ['copy', `docker-archive:${file}`, `oci:${out}:v1`]);
    const config = JSON.parse((await peer(skopeo, ['inspect', '--raw', `oci:${out}:v1`])).stdout) as { config: { digest: string } };
    expect(config.config.digest).toBe(E.single.config);
    const configDoc = JSON.parse(await readFile(blobFile(out, config.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
    expect(configDoc.rootfs.diff_ids).toEqual(diffIds);

    // ocikit reads it back, by the name it was given.
    const ls = await ocikit(['ls', `docker-archive:${file}`, '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('example/hello:v1');
    const verify = await ocikit(['verify', `docker-archive:${file}`]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it('is reproducible: the same source gives the same bytes, whatever the directory or the run', async () => {
    const a = path.join(await tmp(), 'a.tar');
    const b = path.join(await tmp(), 'b.tar');
    await copyJson([`${fixture('single-image')}:v1`, `docker-archive:${a}:example/hello:v1`], { env: EPOCH });
    await copyJson([`${fixture('single-image')}:v1`, `docker-archive:${b}:example/hello:v1`], { env: EPOCH });
    expect(sha256(await readFile(a))).toBe(sha256(await readFile(b)));
    // Every entry carries SOURCE_DATE_EPOCH as its mtime (GNU tar prints it in UTC).
    const r = await run('tar', ['--utc', '-tvf', a]);
    for (const line of r.stdout.trim().split('\n')) expect(line).toContain('2023-11-14 22:13');
  });

  it('names: from the source when it has one, none for a bare tag; several images with --all-tags, shared layers once', async () => {
    const dir = await tmp();
    const layout = path.join(dir, 'layout');
    await copyJson([`${fixture('single-image')}:v1`, `oci:${layout}:docker.io/library/hello:v1`]);
    await copyJson([`${fixture('single-image')}:v1`, `oci:${layout}:example/hello:latest`]);
    await copyJson([`${fixture('multi-platform')}:10`, `oci:${layout}:example/multi:10`, '--platform', 'linux/arm64']);

    const named = path.join(dir, 'named.tar');
    await copyJson([`oci:${layout}:docker.io/library/hello:v1`, `docker-archive:${named}`]);
    // The familiar form, as docker save writes it.
    expect((JSON.parse((await tarMember(named, 'manifest.json')).toString()) as ManifestItem[])[0]!.RepoTags).toEqual(['hello:v1']);

    const bare = path.join(dir, 'bare.tar');
    const r = await copyJson<{ images: Array<{ repoTags: string[] }> }>([`${fixture('single-image')}:v1`, `docker-archive:${bare}`]);
    expect(r.images[0]!.repoTags).toEqual([]);
    expect((JSON.parse((await tarMember(bare, 'manifest.json')).toString()) as ManifestItem[])[0]!.RepoTags).toBeNull();
    expect(await tarList(bare)).not.toContain('repositories');

    const everything = path.join(dir, 'all.tar');
    await copyJson(['--all-tags', `oci:${layout}`, `docker-archive:${everything}`]);
    const items = JSON.parse((await tarMember(everything, 'manifest.json')).toString()) as ManifestItem[];
    expect(items.map((i) => i.RepoTags)).toEqual([['hello:v1', 'example/hello:latest'], ['example/multi:10']]);
    const entries = await tarList(everything);
    expect(new Set(entries).size).toBe(entries.length);
    const skopeo = requireTool('skopeo');
    const inspected = JSON.parse((await peer(skopeo, ['inspect', `docker-archive:${everything}:example/multi:10`])).stdout) as { Architecture: string };
    expect(inspected.Architecture).toBe('arm64');
  });

  it('from a registry: the image is named HOST/REPO:TAG', async () => {
    const reg = await startRegistry();
    cleanups.push(() => reg.stop());
    await copyJson([`${fixture('single-image')}:v1`, `${reg.host}/example/hello:v1`]);
    const file = path.join(await tmp(), 'r.tar');
    await copyJson([`${reg.host}/example/hello:v1`, `docker-archive:${file}`]);
    expect((JSON.parse((await tarMember(file, 'manifest.json')).toString()) as ManifestItem[])[0]!.RepoTags).toEqual([`${reg.host}/example/hello:v1`]);
  });

  it("an index: this machine's image, --platform for another, a usage error when the index has none for this machine", async () => {
    const all = await expected();
    const manifests = all['multi-platform'].manifests;
    const hostKey = { x64: 'linux/amd64', arm64: 'linux/arm64/v8', s390x: 'linux/s390x', ppc64: 'linux/ppc64le', ia32: 'linux/386' }[process.arch as string];
    const dir = await tmp();

    const host = path.join(dir, 'host.tar');
    const r = await ocikit(['copy', `${fixture('multi-platform')}:10`, `docker-archive:${host}:example/multi:10`, '--json']);
    if (hostKey && manifests[hostKey]) {
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { images: Array<{ digest: string; hostPlatform?: boolean }> };
      expect(result.images).toEqual([expect.objectContaining({ digest: manifests[hostKey]!.image, hostPlatform: true })]);
    } else {
      expect(r.code).toBe(2);
    }

    const s390x = path.join(dir, 's390x.tar');
    const chosen = await copyJson<{ images: Array<{ digest: string; platform: string }> }>([
      `${fixture('multi-platform')}:10`,
      `docker-archive:${s390x}:example/multi:10`,
      '--platform',
      'linux/s390x',
    ]);
    expect(chosen.images).toEqual([expect.objectContaining({ digest: manifests['linux/s390x']!.image, platform: 'linux/s390x' })]);

    // An index with no image for this machine: a usage error (its hint lists the platforms), and no file.
    const layout = path.join(dir, 'foreign');
    await cp(fixture('multi-platform'), layout, { recursive: true });
    const index = JSON.parse(await readFile(blobFile(layout, all['multi-platform'].index), 'utf8')) as { manifests: Array<{ platform: { architecture: string } }> };
    const hostArch = hostKey?.split('/')[1];
    const foreign = index.manifests.filter((m) => m.platform.architecture !== hostArch).slice(0, 2);
    const idx = await storeJson(layout, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: foreign }, OCI_INDEX);
    await writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...idx, annotations: { 'org.opencontainers.image.ref.name': 'foreign' } }] }));
    await copyFails([`${layout}:foreign`, `docker-archive:${path.join(dir, 'foreign.tar')}`], 2, 'USAGE');
    expect(existsSync(path.join(dir, 'foreign.tar'))).toBe(false);
  });

  it('an existing file is refused and left as it was; --overwrite replaces it', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'there.tar');
    await writeFile(file, 'precious');
    await copyFails([`${fixture('single-image')}:v1`, `docker-archive:${file}:example/hello:v1`], 1, 'ALREADY_EXISTS');
    expect(await readFile(file, 'utf8')).toBe('precious');
    await onlyThere(dir, ['there.tar']);
    await copyJson([`${fixture('single-image')}:v1`, `docker-archive:${file}:example/hello:v1`, '--overwrite']);
    expect(await tarList(file)).toContain('manifest.json');
    // --overwrite means nothing for a destination that is merged into.
    await copyFails([`${fixture('single-image')}:v1`, `oci:${path.join(dir, 'layout')}`, '--overwrite'], 2, 'USAGE');
  });

  it('a failure while writing leaves no file: a missing layer, a damaged layer, a layer that does not match its diff_id', async () => {
    const E = await loadExpected();
    const dir = await tmp();
    const out = path.join(dir, 'out');
    await run('mkdir', [out]);

    const missing = path.join(dir, 'missing');
    await cp(fixture('single-image'), missing, { recursive: true });
    await rm(blobFile(missing, E.single.layers[1]!));
    await copyFails([`${missing}:v1`, `docker-archive:${path.join(out, 'a.tar')}:example/hello:v1`], 1, 'NOT_FOUND');
    await onlyThere(out);

    const damaged = path.join(dir, 'damaged');
    await cp(fixture('single-image'), damaged, { recursive: true });
    const layer = await readFile(blobFile(damaged, E.single.layers[1]!));
    layer[layer.length - 20] = layer[layer.length - 20]! ^ 0xff;
    await writeFile(blobFile(damaged, E.single.layers[1]!), layer);
    await copyFails([`${damaged}:v1`, `docker-archive:${path.join(out, 'a.tar')}:example/hello:v1`], 1, 'DIGEST_MISMATCH');
    await onlyThere(out);

    // A well-formed gzip layer whose uncompressed bytes are not what the config's diff_id says.
    const lying = path.join(dir, 'lying');
    await cp(fixture('single-image'), lying, { recursive: true });
    const tarBytes = Buffer.alloc(2048);
    const gz = await storeBlob(lying, gzipSync(tarBytes), 'application/vnd.oci.image.layer.v1.tar+gzip');
    const config = await storeJson(lying, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } }, OCI_CONFIG);
    const manifest = await storeJson(lying, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [gz] }, OCI_MANIFEST);
    await writeFile(path.join(lying, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'lie' } }] }));
    await copyFails([`${lying}:lie`, `docker-archive:${path.join(out, 'a.tar')}:example/lie:1`], 1, 'DIGEST_MISMATCH');
    await onlyThere(out);

    // Layers that match their digests but are not the gzip their media type says: not gzip at all, cut short.
    for (const [tag, bytes] of [['notgzip', Buffer.alloc(2048, 7)], ['cut', gzipSync(Buffer.alloc(1 << 20, 1)).subarray(0, 200)]] as const) {
      const layer = await storeBlob(lying, bytes, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const m = await storeJson(lying, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, OCI_MANIFEST);
      await writeFile(path.join(lying, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
      await copyFails([`${lying}:${tag}`, `docker-archive:${path.join(out, 'a.tar')}:example/lie:1`], 1, 'INVALID_MANIFEST');
      await onlyThere(out);
    }
  });

  it('refuses what a docker archive cannot hold or where it cannot go, before writing: a bare tag, standard output, referrers, an artifact', async () => {
    const E = await loadExpected();
    const dir = await tmp();
    await copyFails([`${fixture('single-image')}:v1`, `docker-archive:${path.join(dir, 'a.tar')}:v1`], 2, 'USAGE');
    // Standard output is no file to name "-" in the working directory: refused.
    await copyFails([`${fixture('single-image')}:v1`, 'docker-archive:-:example/x:1'], 2, 'USAGE');
    await copyFails(['-r', `${fixture('with-referrers')}@${E.referrers.image}`, `docker-archive:${path.join(dir, 'a.tar')}:example/x:1`], 2, 'USAGE');
    await copyFails([`${fixture('with-referrers')}@${E.referrers.sbom}`, `docker-archive:${path.join(dir, 'a.tar')}:example/sbom:1`], 1, 'UNSUPPORTED');
    await onlyThere(dir);
  });
});
