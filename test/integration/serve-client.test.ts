/**
 * ocikit's own registry client against ocikit serve. `serve --writable` has
 * the referrers API and answers a manifest with a subject with OCI-Subject,
 * so `ocikit push` must take the referrers-API path: no fallback tag is
 * created (the docker-registry tests cover the fallback path). `pull` and
 * `discover` then read the referrers back through the API, and a read-only
 * serve of a packed archive is pulled into a new layout (the air-gap
 * round trip).
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedDigests, FIXTURES, tempDir } from '../helpers/cli.js';
import { indexTags, ocikitOk, once } from '../helpers/peers.js';
import { http, startServe, stopAllServers, type ServeProcess } from './serve-helpers.js';

interface ReferrersIndex {
  manifests: Array<{ digest: string; artifactType?: string }>;
}

const digestsOf = (index: ReferrersIndex) => index.manifests.map((m) => m.digest).sort();
const referrers = async (ref: string, ...flags: string[]) => JSON.parse((await ocikitOk(['referrers', ref, ...flags])).stdout) as ReferrersIndex;

const state = once(async (): Promise<{ dir: string; cleanup: () => Promise<void>; server: ServeProcess; layout: string }> => {
  const { dir, cleanup } = await tempDir('ocikit-serve-client-');
  const layout = path.join(dir, 'registry');
  await ocikitOk(['init', layout]);
  const server = await startServe([layout, '--writable']);
  return { dir, cleanup, server, layout };
});

afterAll(async () => {
  await stopAllServers();
  await (await state().catch(() => undefined))?.cleanup();
});

describe('ocikit push / pull / discover against serve --writable', { timeout: 120_000 }, () => {
  const pushed = once(async () => {
    const s = await state();
    const res = await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${s.server.host}/fixtures/with-referrers`]);
    return { ...s, res };
  });

  it('push takes the referrers-API path: every referrer stored, no fallback tag anywhere', async () => {
    const { server, layout, res } = await pushed();
    expect(res.stdout).toMatch(/pushed .*3 referrers/);
    const tags = (await http(server, 'GET', '/v2/fixtures/with-referrers/tags/list')).json<{ tags: string[] }>().tags;
    expect(tags).toEqual(['v1']);
    expect([...indexTags(layout).keys()].filter((t) => t.startsWith('sha256-'))).toEqual([]);
    // The artifacts are listed untagged in index.json, where the layout's own referrers walk finds them.
    const w = (await expectedDigests())['with-referrers']!;
    const onDisk = await referrers(`oci:${layout}@${w['image']}`);
    const fixture = await referrers(`oci:${path.join(FIXTURES, 'with-referrers')}:v1`);
    expect(digestsOf(onDisk)).toEqual(digestsOf(fixture));
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests.map((m) => m.digest)).toEqual(expect.arrayContaining([w['sbom'], w['signature'], w['sbomSignature']]));
  });

  it('the referrers API of serve answers what `ocikit referrers` says of the fixture', async () => {
    const { server } = await pushed();
    const w = (await expectedDigests())['with-referrers']!;
    const api = (await http(server, 'GET', `/v2/fixtures/with-referrers/referrers/${w['image']}`)).json<ReferrersIndex>();
    expect(api).toEqual(await referrers(`oci:${path.join(FIXTURES, 'with-referrers')}:v1`));
  });

  it('discover through the registry shows the same tree as discover on the fixture', async () => {
    const { server } = await pushed();
    const remote = JSON.parse((await ocikitOk(['discover', `${server.host}/fixtures/with-referrers:v1`, '--format', 'json'])).stdout) as unknown;
    const local = JSON.parse((await ocikitOk(['discover', `oci:${path.join(FIXTURES, 'with-referrers')}:v1`, '--format', 'json'])).stdout) as unknown;
    expect(remote).toEqual(local);
  });

  it('pull brings the image and its referrers back into a new layout', async () => {
    const { server, dir } = await pushed();
    const w = (await expectedDigests())['with-referrers']!;
    const dest = path.join(dir, 'pulled');
    await ocikitOk(['pull', `${server.host}/fixtures/with-referrers:v1`, dest]);
    expect(indexTags(dest).get('v1')).toBe(w['image']);
    expect(await referrers(`oci:${dest}:v1`)).toEqual(await referrers(`oci:${path.join(FIXTURES, 'with-referrers')}:v1`));
    await ocikitOk(['verify', dest]);
  });
});

describe('air-gap round trip: pack, serve the archive read-only, pull it back', { timeout: 120_000 }, () => {
  it('pull from a served archive gives a layout that verifies, with the same referrers', async () => {
    const { dir } = await state();
    const archive = path.join(dir, 'bundle.tar');
    await ocikitOk(['pack', path.join(FIXTURES, 'with-referrers'), archive]);
    const server = await startServe([archive]);
    const dest = path.join(dir, 'from-archive');
    await ocikitOk(['pull', `${server.host}/bundle:v1`, dest]);
    await ocikitOk(['verify', dest]);
    const w = (await expectedDigests())['with-referrers']!;
    expect(indexTags(dest).get('v1')).toBe(w['image']);
    expect(digestsOf(await referrers(`oci:${dest}:v1`))).toEqual(digestsOf(await referrers(`oci:${path.join(FIXTURES, 'with-referrers')}:v1`)));
    expect(await server.stop()).toBe(0);
  });
});

describe('a push into serve --writable that was cut off', { timeout: 120_000 }, () => {
  it('a referrer stored as a blob but never listed (server killed between the two writes) is not "there": the re-push lists it (found by test/crash)', async () => {
    const { dir } = await state();
    const layout = path.join(dir, 'cut-off');
    await ocikitOk(['init', layout]);
    // What the killed server left: every blob of the fixture, the referrers' manifests included, and an index.json that lists none.
    await cp(path.join(FIXTURES, 'with-referrers', 'blobs'), path.join(layout, 'blobs'), { recursive: true });
    const server = await startServe([layout, '--writable']);
    const w = (await expectedDigests())['with-referrers']!;
    const sbom = await http(server, 'HEAD', `/v2/fixtures/with-referrers/manifests/${w['sbom']}`);
    expect(sbom.status).toBe(404);
    await ocikitOk(['push', path.join(FIXTURES, 'with-referrers'), `${server.host}/fixtures/with-referrers`]);
    expect(await server.stop()).toBe(0);
    expect(digestsOf(await referrers(`oci:${layout}:v1`))).toEqual(digestsOf(await referrers(`oci:${path.join(FIXTURES, 'with-referrers')}:v1`)));
    await ocikitOk(['verify', layout]);
  });
});
