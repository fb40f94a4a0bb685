/**
 * The write verbs against `ocikit serve --writable` (referrers API; deletes
 * scoped to the repository), see write-verbs-steps.ts; and what only serve
 * says: a read-only serve refuses every delete (405 UNSUPPORTED, nothing
 * changed), and a writable one refuses to delete a blob a listed manifest
 * uses.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { afterFile, FIXTURES } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess } from './_support.js';
import { startServe, stopAllServers } from './serve-helpers.js';
import { describeWriteVerbs } from './write-verbs-steps.js';

const scope = afterFile();
afterAll(stopAllServers);
describeWriteVerbs('serve', scope);

describe('serve refusals', { timeout: 60_000 }, () => {
  it('a read-only serve refuses untag, manifest delete and blob delete: UNSUPPORTED, exit 1, nothing changed', async () => {
    const server = await startServe([path.join(FIXTURES, 'with-referrers')]);
    const base = `${server.host}/with-referrers`;
    const image = (await expectSuccess(['resolve', `${base}:v1`])).stdout.trim();
    const manifest = await expectJson<{ layers: Array<{ digest: string }> }>(['manifest', 'fetch', `${base}:v1`]);
    await expectFailure(['untag', `${base}:v1`], { exit: 1, code: 'UNSUPPORTED' });
    await expectFailure(['manifest', 'delete', `${base}:v1`], { exit: 1, code: 'UNSUPPORTED' });
    await expectFailure(['blob', 'delete', `${base}@${manifest.layers[0]!.digest}`], { exit: 1, code: 'UNSUPPORTED' });
    expect((await expectSuccess(['resolve', `${base}:v1`])).stdout.trim()).toBe(image);
  });

  it('a writable serve refuses to delete a blob that a listed manifest uses (exit 1) and keeps it', async () => {
    const layout = path.join(await scope.tmp(), 'in-use');
    await expectSuccess(['init', layout]);
    const server = await startServe([layout, '--writable']);
    const base = `${server.host}/in/use`;
    await expectSuccess(['copy', `${path.join(FIXTURES, 'single-image')}:v1`, `${base}:v1`]);
    const manifest = await expectJson<{ layers: Array<{ digest: string }> }>(['manifest', 'fetch', `${base}:v1`]);
    const layer = manifest.layers[0]!.digest;
    await expectFailure(['blob', 'delete', `${base}@${layer}`], { exit: 1 });
    await expectSuccess(['blob', 'fetch', `${base}@${layer}`, '-o', path.join(await scope.tmp(), 'layer')]);
  });
});

describe('requests a push makes', { timeout: 60_000 }, () => {
  it('a tagged image goes up with one manifest PUT, by its tag (not by digest and then by tag); its referrers by digest', async () => {
    const { LayoutDir, startServer } = await import('../../src/index.js');
    const layout = path.join(await scope.tmp(), 'registry');
    await expectSuccess(['init', layout]);
    const puts: string[] = [];
    const server = await startServer(await LayoutDir.open(layout), { port: 0, writable: true, repository: 'x', onRequest: (e) => e.method === 'PUT' && e.path.includes('/manifests/') && puts.push(e.path) });
    try {
      await expectSuccess(['copy', '-r', `${path.join(FIXTURES, 'with-referrers')}:v1`, `127.0.0.1:${server.port}/pushed:v1`]);
      const byTag = puts.filter((p) => p.endsWith('/manifests/v1'));
      expect(byTag).toHaveLength(1);
      const image = (await expectSuccess(['resolve', `127.0.0.1:${server.port}/pushed:v1`])).stdout.trim();
      expect(puts.filter((p) => p.endsWith(`/manifests/${image}`))).toHaveLength(0);
      // The referrers (untagged, and theirs in turn) still go by digest, each once.
      const referrers = await expectJson<{ manifests: unknown[] }>(['referrers', `127.0.0.1:${server.port}/pushed@${image}`]);
      expect(referrers.manifests.length).toBeGreaterThan(0);
      const byDigest = puts.filter((p) => p.includes('/manifests/sha256:'));
      expect(byDigest.length).toBe(puts.length - 1);
      expect(new Set(byDigest).size).toBe(byDigest.length);
    } finally {
      await server.close();
    }
  });
});
