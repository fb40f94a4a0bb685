/**
 * Issue 13's naming model, end to end: a layout holding tag `1` in two
 * repositories (as `serve --writable`, skopeo's `oci:DIR:REPO:TAG` and
 * containerd's export write it) keeps both through every command; a plain
 * tag that two repositories hold is AMBIGUOUS; a copy writes the
 * destination's name; a manifest pushed to `serve --writable` by digest only
 * survives gc.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { makeImageLayout, type MadeImage } from '../helpers/image-layouts.js';
import { OCI_INDEX, OCI_MANIFEST } from '../helpers/audit-layouts.js';
import { expectFailure, expectJson, expectSuccess, readIndexJson, REF_NAME } from './_support.js';
import { http, startServe, stopAllServers } from './serve-helpers.js';

const NAME = 'io.containerd.image.name';

let base: string;
let cleanup: () => Promise<void>;
let a: MadeImage;
let b: MadeImage;
/** `recv`: tag 1 in rc/a (image a) and in rc/b (image b). */
let recv: string;

type Row = { repository?: string; tag?: string; digest: string };
const pairs = (rows: Row[]) => rows.map((r) => `${r.repository ?? '-'}:${r.tag ?? '-'}@${r.digest}`).sort();

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('ocikit-naming-'));
  recv = path.join(base, 'recv');
  a = await makeImageLayout(recv, { tag: '1', seed: 'a' });
  b = await makeImageLayout(recv, { tag: '1', seed: 'b' });
  await writeFile(
    path.join(recv, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...a.manifest, annotations: { [REF_NAME]: '1', [NAME]: 'rc/a:1' } },
        { ...b.manifest, annotations: { [REF_NAME]: '1', [NAME]: 'rc/b:1' } },
      ],
    }),
  );
});

afterAll(async () => {
  await stopAllServers();
  await cleanup();
});

const both = () => pairs([
  { repository: 'rc/a', tag: '1', digest: a.manifest.digest },
  { repository: 'rc/b', tag: '1', digest: b.manifest.digest },
]);

describe('a tag in two repositories', { timeout: 60_000 }, () => {
  it('ls lists both with their repository (REPOSITORY column, repository in JSON)', async () => {
    expect(pairs(await expectJson<Row[]>(['ls', recv]))).toEqual(both());
    const text = (await expectSuccess(['ls', recv])).stdout.split('\n');
    expect(text[0]).toMatch(/^REPOSITORY\s+TAG\s+DIGEST/);
    expect(text.filter((l) => /^rc\/[ab]\s+1\s+sha256:/.test(l))).toHaveLength(2);
  });

  it('resolve of the bare tag is AMBIGUOUS (exit 1); REPO:TAG after oci:PATH: selects one', async () => {
    await expectFailure(['resolve', recv], { exit: 2, code: 'USAGE' });
    await expectFailure(['resolve', `${recv}:1`], { exit: 1, code: 'AMBIGUOUS' });
    expect((await expectJson<{ digest: string }>(['resolve', `oci:${recv}:rc/b:1`])).digest).toBe(b.manifest.digest);
    expect((await expectJson<{ digest: string }>(['resolve', `oci:${recv}:rc/a:1`])).digest).toBe(a.manifest.digest);
    // A bare reference takes the same suffix where its path exists.
    expect((await expectJson<{ digest: string }>(['resolve', `${recv}:rc/b:1`])).digest).toBe(b.manifest.digest);
  });

  it('tags prints REPO:TAG for a tag that several repositories hold', async () => {
    expect((await expectJson<string[]>(['tags', recv])).sort()).toEqual(['rc/a:1', 'rc/b:1']);
  });

  it('pack keeps every pair, and serve of the archive lists both repositories', async () => {
    const tar = path.join(base, 'packed.tar');
    await expectSuccess(['pack', recv, tar]);
    const rows = await expectJson<Row[]>(['ls', tar]);
    // Two entries (the old code kept one per tag), with their repositories.
    expect(rows.map((r) => r.digest).sort()).toEqual([a.manifest.digest, b.manifest.digest].sort());
    expect(pairs(rows)).toEqual(both());
    const server = await startServe([tar]);
    try {
      const catalog = (await http(server, 'GET', '/v2/_catalog')).json<{ repositories: string[] }>().repositories;
      expect(catalog).toEqual(expect.arrayContaining(['rc/a', 'rc/b']));
      expect((await http(server, 'HEAD', '/v2/rc/b/manifests/1')).headers['docker-content-digest']).toBe(b.manifest.digest);
    } finally {
      await server.stop();
    }
  });

  it('unpack of that archive and copy --all-tags keep every pair', async () => {
    const tar = path.join(base, 'packed-for-unpack.tar');
    await expectSuccess(['pack', recv, tar]);
    const unpacked = path.join(base, 'unpacked');
    await expectSuccess(['unpack', tar, unpacked]);
    const unpackedRows = await expectJson<Row[]>(['ls', unpacked]);
    expect(unpackedRows.map((r) => r.digest).sort()).toEqual([a.manifest.digest, b.manifest.digest].sort());
    expect(pairs(unpackedRows)).toEqual(both());
    const copied = path.join(base, 'all-tags');
    await expectSuccess(['copy', '--all-tags', recv, `oci:${copied}`]);
    const copiedRows = await expectJson<Row[]>(['ls', copied]);
    expect(copiedRows.map((r) => r.digest).sort()).toEqual([a.manifest.digest, b.manifest.digest].sort());
    expect(pairs(copiedRows)).toEqual(both());
  });

  it('tag and manifest push take REPO:TAG names', async () => {
    const dir = path.join(base, 'tagged');
    await expectSuccess(['copy', '--all-tags', recv, `oci:${dir}`]);
    await expectSuccess(['tag', `${dir}@${a.manifest.digest}`, 'rc/c:2']);
    await expectSuccess(['manifest', 'push', `oci:${dir}:rc/d:3`, path.join(recv, 'blobs', 'sha256', b.manifest.digest.slice('sha256:'.length))]);
    const rows = await expectJson<Row[]>(['ls', dir]);
    expect(pairs(rows)).toEqual(
      pairs([
        { repository: 'rc/a', tag: '1', digest: a.manifest.digest },
        { repository: 'rc/b', tag: '1', digest: b.manifest.digest },
        { repository: 'rc/c', tag: '2', digest: a.manifest.digest },
        { repository: 'rc/d', tag: '3', digest: b.manifest.digest },
      ]),
    );
  });

  it('untag REPO:TAG removes only that pair', async () => {
    const dir = path.join(base, 'untag');
    await expectSuccess(['copy', '--all-tags', recv, `oci:${dir}`]);
    await expectSuccess(['untag', `oci:${dir}:rc/a:1`]);
    expect(pairs(await expectJson<Row[]>(['ls', dir]))).toEqual(pairs([{ repository: 'rc/b', tag: '1', digest: b.manifest.digest }]));
  });
});

describe('audits name roots REPO:TAG', { timeout: 60_000 }, () => {
  it('inspect lists both names, and diff sees the pair that went', async () => {
    const roots = (await expectJson<{ roots: Array<{ tags: string[]; node: { digest: string } }> }>(['inspect', recv])).roots;
    expect(roots.map((r) => `${r.tags.join(',')}@${r.node.digest}`).sort()).toEqual([`rc/a:1@${a.manifest.digest}`, `rc/b:1@${b.manifest.digest}`].sort());
    const onlyB = path.join(base, 'only-b');
    await expectSuccess(['copy', `oci:${recv}:rc/b:1`, `oci:${onlyB}`]);
    const diff = await expectJson<{ identical: boolean; tags: { added: unknown[]; removed: Array<{ tag: string; digest: string }>; moved: unknown[] } }>(['diff', recv, onlyB]);
    expect(diff.tags).toEqual({ added: [], removed: [{ tag: 'rc/a:1', digest: a.manifest.digest }], moved: [] });
  });
});

describe('names after a copy', { timeout: 60_000 }, () => {
  it('copy to a new tag or name writes the destination name, not the one the source entry had', async () => {
    const src = path.join(base, 'named-src');
    const img = await makeImageLayout(src, { tag: 'old', seed: 'named' });
    const index = await readIndexJson(src);
    index.manifests[0]!.annotations = { [REF_NAME]: 'old', [NAME]: 'docker.io/library/old:old' };
    await writeFile(path.join(src, 'index.json'), JSON.stringify(index));

    const retagged = path.join(base, 'retagged.tar');
    await expectSuccess(['copy', `${src}:old`, `oci-archive:${retagged}:new`]);
    const [row] = await expectJson<Array<Row & { annotations?: Record<string, string> }>>(['ls', retagged]);
    expect(row!.tag).toBe('new');
    expect(row!.annotations?.[NAME]).toBeUndefined();

    const renamed = path.join(base, 'renamed');
    await expectSuccess(['copy', `${src}:old`, `oci:${renamed}:team/app:2`]);
    const entries = (await readIndexJson(renamed)).manifests;
    expect(entries.map((e) => [e.digest, e.annotations?.[NAME], e.annotations?.[REF_NAME]])).toEqual([[img.manifest.digest, 'team/app:2', '2']]);
  });
});

describe('serve --writable', { timeout: 60_000 }, () => {
  it('a manifest pushed by digest only is listed untagged in its repository, so gc keeps it', async () => {
    const src = path.join(base, 'by-digest-src');
    const img = await makeImageLayout(src, { tag: 'x', seed: 'by-digest' });
    const dst = path.join(base, 'by-digest');
    await expectSuccess(['init', dst]);
    const rw = await startServe([dst, '--writable']);
    const blobFile = (d: string) => path.join(src, 'blobs', ...d.split(':'));
    let put: { status: number };
    try {
      for (const d of img.blobs) {
        const bytes = await readFile(blobFile(d.digest));
        expect((await http(rw, 'POST', `/v2/team/app/blobs/uploads/?digest=${d.digest}`, { body: bytes })).status).toBe(201);
      }
      const manifest = await readFile(blobFile(img.manifest.digest));
      put = await http(rw, 'PUT', `/v2/team/app/manifests/${img.manifest.digest}`, { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    } finally {
      await rw.stop();
    }
    expect(put.status).toBe(201);
    await expectSuccess(['gc', dst]);
    const ro = await startServe([dst]);
    try {
      const got = await http(ro, 'GET', `/v2/team/app/manifests/${img.manifest.digest}`, { headers: { Accept: OCI_MANIFEST } });
      expect(got.status).toBe(200);
      expect(got.body.equals(await readFile(blobFile(img.manifest.digest)))).toBe(true);
    } finally {
      await ro.stop();
    }
    expect(pairs(await expectJson<Row[]>(['ls', dst]))).toEqual(pairs([{ repository: 'team/app', digest: img.manifest.digest }]));
    // Packed, it stays an untagged entry of its repository.
    const tar = path.join(base, 'by-digest.tar');
    await expectSuccess(['pack', dst, tar]);
    expect(pairs(await expectJson<Row[]>(['ls', tar]))).toEqual(pairs([{ repository: 'team/app', digest: img.manifest.digest }]));
  });
});

