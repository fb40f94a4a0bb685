/**
 * `repo ls` and `repo tags` (issue 14): the repositories of a registry
 * (distribution 2.8's `_catalog`, its `Link` pages followed), of
 * `ocikit serve`, of a layout directory holding several repositories and of
 * the archive packed from it; `repo tags` as `tags` with `--last` and `-n`.
 */
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import { afterFile, FIXTURES, ocikit, type RunResult } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { closeServer, listen, startRegistry } from '../helpers/registry.js';
import { expectFailure } from './_support.js';
import { startServe, stopAllServers } from './serve-helpers.js';

const { cleanups, tmp } = afterFile();
cleanups.push(stopAllServers);

const single = path.join(FIXTURES, 'single-image');
const multi = path.join(FIXTURES, 'multi-platform');

async function ok(args: string[]): Promise<RunResult> {
  const res = await ocikit(args, { env: { DOCKER_CONFIG: '/nonexistent-ocikit-docker-config' } });
  if (res.code !== 0) throw new Error(`ocikit ${args.join(' ')} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return res;
}

const lines = (r: RunResult) => r.stdout.split('\n').filter((l) => l !== '');

/** distribution 2.8 holding three repositories, one of them with three tags. */
const registry = once(async () => {
  const r = await startRegistry();
  cleanups.push(r.stop);
  await ok(['copy', `${single}:v1`, `${r.host}/team/app:v1`]);
  // The rest at once: the first copy's blobs are there (mounted or skipped), so they do not race.
  await Promise.all([
    ok(['copy', `${single}:v1`, `${r.host}/team/app:v2`]),
    ok(['copy', `${single}:v1`, `${r.host}/team/app:v3`]),
    ok(['copy', `${multi}:10`, `${r.host}/library/debian:10`]),
    ok(['copy', `${single}:v1`, `${r.host}/zeta:v1`]),
  ]);
  return r;
});

/** A layout directory with three repositories and a tag of none, and the archive packed from it. */
const layout = once(async () => {
  const dir = path.join(await tmp(), 'store');
  await ok(['copy', `${single}:v1`, `oci:${dir}:team/app:v1`]);
  await ok(['copy', `${single}:v1`, `oci:${dir}:team/app:v2`]);
  await ok(['copy', `${multi}:10`, `oci:${dir}:library/debian:10`]);
  await ok(['copy', `${single}:v1`, `oci:${dir}:zeta:v1`]);
  await ok(['copy', `${single}:v1`, `oci:${dir}:plain`]);
  const archive = `${dir}.tar`;
  await ok(['pack', dir, archive]);
  return { dir, archive };
});

const REPOS = ['library/debian', 'team/app', 'zeta'];

describe('repo ls on distribution 2.8', () => {
  it('lists every repository, one per line; --format json is an array', async () => {
    const reg = await registry();
    expect(lines(await ok(['repo', 'ls', reg.host]))).toEqual(REPOS);
    expect(JSON.parse((await ok(['repo', 'ls', `docker://${reg.host}`, '--format', 'json'])).stdout)).toEqual(REPOS);
  });

  it('-n 1 asks for pages of one and follows the Link of each page to the end', async () => {
    const reg = await registry();
    const res = await ok(['--debug', 'repo', 'ls', reg.host, '-n', '1']);
    expect(lines(res)).toEqual(REPOS);
    // One request per page: the registry paged, and every next link was followed.
    const pages = res.stderr.split('\n').filter((l) => /GET \S*\/v2\/_catalog\?\S*n=1\S* -> 200/.test(l));
    expect(pages.length).toBeGreaterThanOrEqual(3);
  });

  it('--last starts after a repository', async () => {
    const reg = await registry();
    expect(lines(await ok(['repo', 'ls', reg.host, '--last', 'library/debian', '-n', '1']))).toEqual(['team/app', 'zeta']);
  });

  it('repo tags pages through a repository\'s tags; --last starts after a tag', async () => {
    const reg = await registry();
    expect(lines(await ok(['repo', 'tags', `${reg.host}/team/app`, '-n', '1']))).toEqual(['v1', 'v2', 'v3']);
    expect(lines(await ok(['repo', 'tags', `${reg.host}/team/app`, '--last', 'v1', '-n', '1']))).toEqual(['v2', 'v3']);
    // The same as tags, which takes the flags too.
    expect(JSON.parse((await ok(['tags', `${reg.host}/team/app`, '--last', 'v2', '--format', 'json'])).stdout)).toEqual(['v3']);
  });

  it('bad paging flags and a repository where a registry belongs are usage errors (exit 2)', async () => {
    const reg = await registry();
    await expectFailure(['repo', 'ls', reg.host, '-n', '0'], { exit: 2, code: 'USAGE' });
    await expectFailure(['repo', 'ls', reg.host, '-n', 'ten'], { exit: 2, code: 'USAGE' });
    await expectFailure(['repo', 'ls', `${reg.host}/team/app`], { exit: 2, code: 'USAGE' });
    await expectFailure(['repo', 'tags', `${reg.host}/nope/none`], { exit: 1, code: 'NOT_FOUND' });
  });
});

describe('repo ls on serve, a layout directory and an archive', () => {
  it('a layout lists the repositories its entries name, sorted, each once (a plain tag names none)', async () => {
    const { dir } = await layout();
    expect(lines(await ok(['repo', 'ls', dir]))).toEqual(REPOS);
    expect(lines(await ok(['repo', 'ls', `oci:${dir}`, '--last', 'team/app']))).toEqual(['zeta']);
    // A layout's tags as `tags` prints them (REPO:TAG where a tag lives in several repositories), after v1.
    expect(lines(await ok(['repo', 'tags', dir, '--last', 'v1']))).toEqual(['v2', 'zeta:v1']);
  });

  it('an archive lists the same repositories', async () => {
    const { archive } = await layout();
    expect(lines(await ok(['repo', 'ls', archive]))).toEqual(REPOS);
    expect(JSON.parse((await ok(['repo', 'ls', `oci-archive:${archive}`, '--format', 'json'])).stdout)).toEqual(REPOS);
  });

  it('serve answers _catalog: its layout\'s repositories and the default one (the directory name), paged', async () => {
    const { dir } = await layout();
    const srv = await startServe([dir]);
    const want = [...REPOS, 'store'].sort();
    expect(lines(await ok(['repo', 'ls', srv.host]))).toEqual(want);
    expect(lines(await ok(['repo', 'ls', srv.host, '-n', '1']))).toEqual(want);
    expect(lines(await ok(['repo', 'tags', `${srv.host}/team/app`, '-n', '1']))).toEqual(['v1', 'v2']);
    await srv.stop();
  });

  it('a layout reference with a tag, and a path that is not there, are refused', async () => {
    const { dir } = await layout();
    await expectFailure(['repo', 'ls', `${dir}:v1`], { exit: 2, code: 'USAGE' });
    await expectFailure(['repo', 'ls', path.join(dir, 'missing')], { exit: 1 });
    // A bare name.tar is an archive that is not there, not a registry host called "missing.tar".
    await expectFailure(['repo', 'ls', 'missing.tar'], { exit: 1, code: 'NOT_FOUND', cwd: path.dirname(dir) });
  });
});

describe('a hostile registry\'s listings', () => {
  /** A registry answering every GET with `answer(url)`; counts the catalog requests. */
  async function fake(answer: (url: URL) => { headers?: Record<string, string>; body: unknown }): Promise<{ host: string; requests: () => number }> {
    let requests = 0;
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
      requests++;
      const a = answer(url);
      res.writeHead(200, { 'Content-Type': 'application/json', ...(a.headers ?? {}) }).end(JSON.stringify(a.body));
    });
    const port = await listen(server);
    cleanups.push(() => closeServer(server));
    return { host: `127.0.0.1:${port}`, requests: () => requests };
  }

  it('catalog pages whose next links go round in a loop: REGISTRY_ERROR, not an endless walk', async () => {
    const reg = await fake((url) => {
      const to = url.searchParams.get('last') === 'b' ? 'a' : 'b';
      return { headers: { Link: `</v2/_catalog?n=1&last=${to}>; rel="next"` }, body: { repositories: [to] } };
    });
    await expectFailure(['repo', 'ls', reg.host], { exit: 1, code: 'REGISTRY_ERROR' });
    expect(reg.requests()).toBe(3);
  });

  it('a repository name with a terminal escape is refused, not printed', async () => {
    const repos = await fake(() => ({ body: { repositories: ['ok', 'evil\u001b]0;owned\u0007'] } }));
    const err = await expectFailure(['repo', 'ls', repos.host], { exit: 1, code: 'REGISTRY_ERROR' });
    expect(err.message).not.toContain('\u001b');
  });

  it('a tag with a terminal escape is refused by tags, which printed it as it came', async () => {
    const tags = await fake(() => ({ body: { name: 'r/x', tags: ['v1', 'v2\u001b[2J'] } }));
    await expectFailure(['tags', `${tags.host}/r/x`], { exit: 1, code: 'REGISTRY_ERROR' });
  });
});
