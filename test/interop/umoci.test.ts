/**
 * umoci interop: ocikit reads layouts that umoci wrote, and umoci (stat,
 * unpack, tag, ls, gc) accepts layouts that ocikit wrote. umoci is the
 * strictest layout tool around: it verifies every blob it reads.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedDigests, isCleanError, ocikit, tempDir } from '../helpers/cli.js';
import {
  buildOcikitLayout,
  copyLayout,
  indexTags,
  OCIKIT_LAYOUT_TAGS,
  ocikitOk,
  once,
  peer,
  pushImage,
  readBlob,
  requireTool,
  snapshot,
  type OcikitLayout,
} from '../helpers/peers.js';

interface Manifest {
  config: { digest: string };
  layers: Array<{ digest: string; mediaType: string }>;
}

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('ocikit-umoci-');
});
afterAll(async () => tmp?.cleanup());

// Looked up in every test so that a missing umoci fails each test with the install hint.
const umoci = (args: string[]): ReturnType<typeof peer> => peer(requireTool('umoci'), args);

const umociLs = async (layout: string): Promise<string[]> => (await umoci(['ls', '--layout', layout])).stdout.split('\n').filter(Boolean);

describe('ocikit reads a layout umoci wrote', () => {
  const umociLayout = once(async () => {
    const layout = path.join(tmp.dir, 'umoci-layout');
    const payload = path.join(tmp.dir, 'payload');
    await mkdir(path.join(payload, 'sub'), { recursive: true });
    await writeFile(path.join(payload, 'sub', 'greeting.txt'), 'hello from umoci insert\n');
    await umoci(['init', '--layout', layout]);
    // `empty`: a config and no layers; `t1`: one layer added by insert;
    // `t2`: a second layer added by unpack + repack.
    await umoci(['new', '--image', `${layout}:empty`]);
    await umoci(['new', '--image', `${layout}:t1`]);
    await umoci(['insert', '--rootless', '--image', `${layout}:t1`, payload, '/data']);
    const bundle = path.join(tmp.dir, 'umoci-bundle');
    await umoci(['unpack', '--rootless', '--image', `${layout}:t1`, bundle]);
    await writeFile(path.join(bundle, 'rootfs', 'added-by-repack'), 'second layer\n');
    await umoci(['repack', '--image', `${layout}:t2`, bundle]);
    return layout;
  });

  it('lists the same tags as umoci ls, and resolves each to the digest in index.json', async () => {
    const layout = await umociLayout();
    const tags = (await ocikitOk(['tags', `oci:${layout}`])).stdout.split('\n').filter(Boolean);
    expect(tags.sort()).toEqual((await umociLs(layout)).sort());
    expect(tags.sort()).toEqual(['empty', 't1', 't2']);
    for (const [tag, digest] of indexTags(layout)) {
      expect((await ocikitOk(['resolve', `oci:${layout}:${tag}`])).stdout.trim()).toBe(digest);
    }
  });

  it('ls shows every entry with the platform from its config', async () => {
    const layout = await umociLayout();
    const rows = JSON.parse((await ocikitOk(['ls', `oci:${layout}`, '--format', 'json'])).stdout) as Array<{
      tag?: string;
      digest: string;
      mediaType: string;
      platforms: string[];
    }>;
    const tags = indexTags(layout);
    expect(rows.map((r) => r.tag).sort()).toEqual([...tags.keys()].sort());
    for (const row of rows) {
      expect(row.digest).toBe(tags.get(row.tag!));
      expect(row.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      const m = JSON.parse((await readBlob(layout, row.digest)).toString('utf8')) as Manifest;
      const config = JSON.parse((await readBlob(layout, m.config.digest)).toString('utf8')) as { os: string; architecture: string };
      expect(row.platforms).toEqual([`${config.os}/${config.architecture}`]);
    }
  });

  it('manifest fetch, fetch-config and blob fetch return the exact stored bytes, and change nothing', async () => {
    const layout = await umociLayout();
    const before = await snapshot(layout);
    let layersSeen = 0;
    for (const [tag, digest] of indexTags(layout)) {
      const manifestBytes = (await ocikitOk(['manifest', 'fetch', `oci:${layout}:${tag}`])).stdoutBytes;
      expect(manifestBytes.equals(await readBlob(layout, digest))).toBe(true);
      const m = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
      const configBytes = (await ocikitOk(['manifest', 'fetch-config', `oci:${layout}:${tag}`])).stdoutBytes;
      expect(configBytes.equals(await readBlob(layout, m.config.digest))).toBe(true);
      for (const layer of m.layers) {
        const layerBytes = (await ocikitOk(['blob', 'fetch', `oci:${layout}@${layer.digest}`])).stdoutBytes;
        expect(layerBytes.equals(await readBlob(layout, layer.digest))).toBe(true);
        layersSeen++;
      }
    }
    // t1 has the inserted layer, t2 that one plus the repacked one.
    expect(layersSeen).toBe(3);
    expect(await snapshot(layout)).toEqual(before);
  });

  it('blob fetch -o writes the verified layer to a file', async () => {
    const layout = await umociLayout();
    const m = JSON.parse((await readBlob(layout, indexTags(layout).get('t2')!)).toString('utf8')) as Manifest;
    const out = path.join(tmp.dir, 'layer.tar.gz');
    await ocikitOk(['blob', 'fetch', `oci:${layout}@${m.layers[1]!.digest}`, '-o', out]);
    expect((await readFile(out)).equals(await readBlob(layout, m.layers[1]!.digest))).toBe(true);
  });

  it('an image ocikit copies out of the umoci layout by hand unpacks with umoci', async () => {
    // umoci's manifests have no mediaType field: ocikit's manifest push must recognise them anyway.
    const layout = await umociLayout();
    const dest = path.join(tmp.dir, 'ocikit-copy-of-umoci');
    await ocikitOk(['init', dest]);
    await pushImage(dest, layout, indexTags(layout).get('t2')!, 'copied');
    const bundle = path.join(tmp.dir, 'bundle-copied');
    await umoci(['unpack', '--rootless', '--image', `${dest}:copied`, bundle]);
    expect(await readFile(path.join(bundle, 'rootfs', 'data', 'sub', 'greeting.txt'), 'utf8')).toBe('hello from umoci insert\n');
    expect(await readFile(path.join(bundle, 'rootfs', 'added-by-repack'), 'utf8')).toBe('second layer\n');
  });

  it('an index ocikit creates over umoci manifests is seen by umoci ls', async () => {
    // umoci's manifests carry no mediaType field; ocikit takes it from index.json.
    const layout = await copyLayout(await umociLayout(), path.join(tmp.dir, 'umoci-layout-indexed'));
    const digest = (await ocikitOk(['index', 'create', `oci:${layout}:both`, 't1', 't2'])).stdout.trim();
    expect(await umociLs(layout)).toContain('both');
    const index = JSON.parse((await readBlob(layout, digest)).toString('utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests.map((m) => m.digest)).toEqual([indexTags(layout).get('t1'), indexTags(layout).get('t2')]);
  });
});

describe('umoci accepts a layout ocikit wrote', () => {
  const ocikitLayout = once(() => buildOcikitLayout(path.join(tmp.dir, 'ocikit-layout')));
  /** A private copy for tests that change the layout. */
  const ocikitLayoutCopy = async (name: string): Promise<OcikitLayout> => {
    const src = await ocikitLayout();
    return { ...src, dir: await copyLayout(src.dir, path.join(tmp.dir, name)) };
  };

  it('umoci builds an image in a layout ocikit initialised, and ocikit reads it', async () => {
    const layout = path.join(tmp.dir, 'ocikit-init-umoci-image');
    await ocikitOk(['init', layout]);
    const payload = path.join(tmp.dir, 'payload-2');
    await mkdir(payload, { recursive: true });
    await writeFile(path.join(payload, 'note.txt'), 'written by umoci into an ocikit layout\n');
    await umoci(['new', '--image', `${layout}:fresh`]);
    await umoci(['insert', '--rootless', '--image', `${layout}:fresh`, payload, '/opt']);
    const digest = indexTags(layout).get('fresh')!;
    expect((await ocikitOk(['resolve', `oci:${layout}:fresh`])).stdout.trim()).toBe(digest);
    const m = JSON.parse((await readBlob(layout, digest)).toString('utf8')) as Manifest;
    const layer = (await ocikitOk(['blob', 'fetch', `oci:${layout}@${m.layers[0]!.digest}`])).stdoutBytes;
    expect(layer.equals(await readBlob(layout, m.layers[0]!.digest))).toBe(true);
  });

  it('umoci stat reads the image and computes the fixture diff_ids', async () => {
    const written = await ocikitLayout();
    const expected = (await expectedDigests())['single-image']!;
    const res = await umoci(['stat', '--json', '--image', `${written.dir}:v1`]);
    const history = (JSON.parse(res.stdout) as { history: Array<{ layer: { digest: string } | null; diff_id: string }> }).history;
    expect(history.map((h) => h.layer?.digest)).toEqual(expected['layers']);
    expect(history.map((h) => h.diff_id)).toEqual(expected['diffIds']);
  });

  it('umoci unpack extracts the layers into a rootfs', async () => {
    const written = await ocikitLayout();
    const bundle = path.join(tmp.dir, 'bundle-v1');
    await umoci(['unpack', '--rootless', '--image', `${written.dir}:v1`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    expect(await readFile(path.join(rootfs, 'hello.txt'), 'utf8')).toContain('Hello from the ocikit single-image fixture!');
    expect((await stat(path.join(rootfs, 'usr/local/bin/hello'))).mode & 0o111).not.toBe(0);
    expect((await readdir(path.join(rootfs, 'etc'))).sort()).toEqual(['motd', 'os-release']);
    const runtime = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: { args: string[] } };
    expect(runtime.process.args).toEqual(['/usr/local/bin/hello']);
  });

  it('umoci unpack works on an image from a second push into the same layout', async () => {
    const written = await ocikitLayout();
    const bundle = path.join(tmp.dir, 'bundle-armv7');
    await umoci(['unpack', '--rootless', '--image', `${written.dir}:armv7`, bundle]);
    expect(await readFile(path.join(bundle, 'rootfs', 'hello.txt'), 'utf8')).toMatch(/arm.*v7/);
  });

  it('umoci ls lists every tag ocikit wrote', async () => {
    const written = await ocikitLayout();
    expect((await umociLs(written.dir)).sort()).toEqual(OCIKIT_LAYOUT_TAGS);
  });

  it('umoci gc finds every blob reachable and deletes nothing', async () => {
    const written = await ocikitLayoutCopy('ocikit-layout-gc');
    const before = (await readdir(path.join(written.dir, 'blobs', 'sha256'))).sort();
    await umoci(['gc', '--layout', written.dir]);
    expect((await readdir(path.join(written.dir, 'blobs', 'sha256'))).sort()).toEqual(before);
    expect((await ocikitOk(['resolve', `oci:${written.dir}:multi`])).stdout.trim()).toBe(written.multi);
  });

  it('tags umoci adds appear in ocikit, and tags ocikit adds afterwards appear in umoci', async () => {
    const written = await ocikitLayoutCopy('ocikit-layout-tag');
    await umoci(['tag', '--image', `${written.dir}:v1`, 'from-umoci']);
    const tags = (await ocikitOk(['tags', `oci:${written.dir}`])).stdout.split('\n').filter(Boolean);
    expect(tags).toContain('from-umoci');
    expect((await ocikitOk(['resolve', `oci:${written.dir}:from-umoci`])).stdout.trim()).toBe(written.image);
    const fetched = (await ocikitOk(['manifest', 'fetch', `oci:${written.dir}:from-umoci`])).stdoutBytes;
    expect(fetched.equals(await readBlob(written.dir, written.image))).toBe(true);

    // index.json has now been rewritten by umoci; ocikit must keep umoci's entries when it writes again.
    await ocikitOk(['tag', `oci:${written.dir}:from-umoci`, 'round-trip']);
    expect((await umociLs(written.dir)).sort()).toEqual([...OCIKIT_LAYOUT_TAGS, 'from-umoci', 'round-trip'].sort());
    await umoci(['stat', '--image', `${written.dir}:round-trip`]);
  });

  it('a tag umoci removes is gone for ocikit too', async () => {
    const written = await ocikitLayoutCopy('ocikit-layout-rm');
    await umoci(['rm', '--image', `${written.dir}:stable`]);
    const res = await ocikit(['resolve', `oci:${written.dir}:stable`]);
    expect(res.code).toBe(1);
    expect(isCleanError(res.stderr)).toBe(true);
    expect((await ocikitOk(['tags', `oci:${written.dir}`])).stdout.split('\n')).not.toContain('stable');
    // The other names of the same manifest still work.
    expect((await ocikitOk(['resolve', `oci:${written.dir}:latest`])).stdout.trim()).toBe(written.image);
  });
});
