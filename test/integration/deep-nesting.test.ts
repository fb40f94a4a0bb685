/**
 * Deep nesting, read side: an index nested 10,000 levels deep (and a chain
 * of 10,000 referrers) fed to every command that reads. Each one either
 * succeeds or refuses with LIMIT_EXCEEDED in one clean line; none may run out
 * of stack (which surfaced as INTERNAL "Maximum call stack size exceeded").
 * What draws or resolves a path (inspect, discover, --platform) stops at
 * MAX_NESTING_DEPTH (64 documents on one path); the boundary is pinned too.
 * The transfer commands are in deep-nesting-transfer.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { MAX_NESTING_DEPTH } from '../../src/spec/nesting.js';
import { ocikit, tempDir } from '../helpers/cli.js';
import { addReferrerChain, makeDeepLayout, type DeepLayout } from '../helpers/deep-layout.js';
import { expectFailure, expectJson, expectOneErrorLine, expectSuccess } from './_support.js';
import { http, startServe, stopAllServers } from './serve-helpers.js';

const DEPTH = 10_000;

let work: { dir: string; cleanup: () => Promise<void> };
let deep: DeepLayout;
let chain: DeepLayout;
let chainTop: string;

beforeAll(async () => {
  work = await tempDir('ocikit-deep-');
  deep = makeDeepLayout(path.join(work.dir, 'deep'), DEPTH);
  chain = makeDeepLayout(path.join(work.dir, 'chain'), 1);
  chainTop = addReferrerChain(chain, DEPTH).at(-1)!.digest;
});

afterAll(async () => {
  await stopAllServers();
  await work?.cleanup();
});

describe(`an index nested ${DEPTH} levels deep`, () => {
  it('ls, resolve, verify, diff and gc --dry-run follow it to the bottom', async () => {
    const ls = await expectJson<Array<{ digest: string }> | { entries: Array<{ digest: string }> }>(['ls', deep.layout]);
    expect(JSON.stringify(ls)).toContain(deep.root.digest);
    const resolved = await expectSuccess(['resolve', `${deep.layout}:${deep.tag}`]);
    expect(resolved.stdout.trim()).toBe(deep.root.digest);
    const verify = await expectJson<{ ok: boolean; summary: { manifests: number } }>(['verify', deep.layout]);
    expect(verify.ok).toBe(true);
    expect(verify.summary.manifests).toBe(DEPTH + 1);
    const diff = await expectJson<{ identical: boolean }>(['diff', deep.layout, deep.layout]);
    expect(diff.identical).toBe(true);
    await expectSuccess(['gc', deep.layout, '--dry-run']);
  });

  it('inspect (text, JSON and HTML) refuses it with LIMIT_EXCEEDED', async () => {
    await expectFailure(['inspect', deep.layout], { exit: 1, code: 'LIMIT_EXCEEDED' });
    await expectFailure(['inspect', deep.layout, '--html', path.join(work.dir, 'deep.html')], { exit: 1, code: 'LIMIT_EXCEEDED' });
    await expectFailure(['inspect', `${deep.layout}:${deep.tag}`], { exit: 1, code: 'LIMIT_EXCEEDED' });
  });

  it('--platform resolution stops at the limit instead of returning an index', async () => {
    await expectFailure(['manifest', 'fetch', `${deep.layout}:${deep.tag}`, '--platform', 'linux/amd64'], { exit: 1, code: 'LIMIT_EXCEEDED' });
  });

  it('discover and referrers answer (no referrers)', async () => {
    await expectSuccess(['discover', `${deep.layout}:${deep.tag}`]);
    await expectSuccess(['referrers', `${deep.layout}:${deep.tag}`]);
  });

  it('serve answers GET for the root, the bottom and the referrers API', async () => {
    const server = await startServe([deep.layout]);
    const repo = (await http(server, 'GET', '/v2/_catalog')).json<{ repositories: string[] }>().repositories[0]!;
    const accept = { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' };
    expect((await http(server, 'GET', `/v2/${repo}/manifests/${deep.tag}`, { headers: accept })).status).toBe(200);
    expect((await http(server, 'GET', `/v2/${repo}/referrers/${deep.root.digest}`)).status).toBe(200);
    await server.stop();
  });
});

describe(`a chain of ${DEPTH} referrers (a signature of a signature of ...)`, () => {
  it('verify, ls and gc --dry-run follow it', async () => {
    const verify = await expectJson<{ ok: boolean; summary: { manifests: number } }>(['verify', chain.layout]);
    expect(verify.ok).toBe(true);
    expect(verify.summary.manifests).toBe(DEPTH + 2);
    await expectSuccess(['ls', chain.layout]);
    await expectSuccess(['gc', chain.layout, '--dry-run']);
  });

  it('discover (tree, table, JSON) and inspect refuse it with LIMIT_EXCEEDED; discover --depth stops before the limit', async () => {
    const subject = `${chain.layout}:${chain.tag}`;
    await expectFailure(['discover', subject], { exit: 1, code: 'LIMIT_EXCEEDED' });
    // The walk fails before anything is drawn, whatever the format: the code is read from the JSON run above.
    for (const format of ['tree', 'table']) {
      const r = await ocikit(['discover', subject, '--format', format]);
      expect(r.code, r.stderr).toBe(1);
      expectOneErrorLine(r.stderr);
    }
    await expectFailure(['inspect', chain.layout], { exit: 1, code: 'LIMIT_EXCEEDED' });
    await expectSuccess(['discover', subject, '--depth', '3']);
    await expectSuccess(['referrers', `${chain.layout}@${chainTop}`]);
  });
});

describe(`the limit: ${MAX_NESTING_DEPTH} documents on one path`, () => {
  it('inspect and --platform accept exactly the limit and refuse one more', async () => {
    const atLimit = makeDeepLayout(path.join(work.dir, 'at-limit'), MAX_NESTING_DEPTH - 1);
    const over = makeDeepLayout(path.join(work.dir, 'over'), MAX_NESTING_DEPTH);
    await expectSuccess(['inspect', atLimit.layout]);
    await expectSuccess(['inspect', atLimit.layout, '--html', path.join(work.dir, 'at-limit.html')]);
    await expectSuccess(['manifest', 'fetch', `${atLimit.layout}:${atLimit.tag}`, '--platform', 'linux/amd64']);
    await expectFailure(['inspect', over.layout], { exit: 1, code: 'LIMIT_EXCEEDED' });
    await expectFailure(['manifest', 'fetch', `${over.layout}:${over.tag}`, '--platform', 'linux/amd64'], { exit: 1, code: 'LIMIT_EXCEEDED' });
  });

  it('discover accepts a referrer chain that reaches the limit and refuses one more', async () => {
    const atLimit = makeDeepLayout(path.join(work.dir, 'chain-at-limit'), 0);
    addReferrerChain(atLimit, MAX_NESTING_DEPTH - 1);
    const over = makeDeepLayout(path.join(work.dir, 'chain-over'), 0);
    addReferrerChain(over, MAX_NESTING_DEPTH);
    await expectSuccess(['discover', `${atLimit.layout}:${atLimit.tag}`]);
    await expectSuccess(['inspect', atLimit.layout]);
    await expectFailure(['discover', `${over.layout}:${over.tag}`], { exit: 1, code: 'LIMIT_EXCEEDED' });
    await expectFailure(['inspect', over.layout], { exit: 1, code: 'LIMIT_EXCEEDED' });
  });
});
