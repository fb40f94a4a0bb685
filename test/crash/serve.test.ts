/**
 * `serve --writable` killed (SIGKILL, the server, not the client) at random
 * points while `ocikit push` uploads a layout into it: the served layout
 * stays sound (half-received uploads are temp files, never blobs), and after
 * a restart a re-push completes: every tag, blob and the referrer arrive.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ocikit, tempDir } from '../helpers/cli.js';
import { crashPlan, CrashTally, drawDelay, expectSoundLayout, killAfter, spawnOcikit } from '../helpers/crash.js';
import { blobDigests, emptyLayout, indexEntries, tagMap, transferLayout } from '../helpers/random-layout.js';
import { startServe, stopAllServers, type ServeProcess } from '../integration/serve-helpers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let source: string;
let expected: { tags: Record<string, string>; referrer: string; blobs: string[] };

beforeAll(async () => {
  tmp = await tempDir('ocikit-crash-serve-');
  source = path.join(tmp.dir, 'source');
  const made = await transferLayout(source);
  expected = { ...made, blobs: await blobDigests(source) };
});
afterAll(async () => {
  await stopAllServers();
  await tmp?.cleanup();
});

/** `ocikit push SOURCE localhost:PORT/crash/app`, as a user of the served registry would write it. */
const pushArgs = (server: ServeProcess) => ['push', source, `localhost:${server.port}/crash/app`];

async function freshLayout(n: number): Promise<string> {
  const dir = path.join(tmp.dir, `trial-${n}`, 'registry');
  await mkdir(dir, { recursive: true });
  return emptyLayout(dir);
}

async function pushOk(server: ServeProcess, context: string): Promise<number> {
  const start = performance.now();
  const res = await ocikit(pushArgs(server));
  if (res.code !== 0) throw new Error(`${context}: ocikit push exited ${res.code}: ${res.stderr}\nserver: ${server.stderr()}`);
  return performance.now() - start;
}

async function expectDone(layout: string): Promise<void> {
  expect(await tagMap(layout)).toEqual(expected.tags);
  expect((await indexEntries(layout)).map((e) => e.digest)).toContain(expected.referrer);
  expect(await blobDigests(layout)).toEqual(expected.blobs);
}

it('serve --writable survives SIGKILL in the middle of uploads', { timeout: 900_000 }, async () => {
  const plan = crashPlan('serve --writable');
  // The scale: the faster of two uncrashed pushes into a fresh server.
  let duration = Infinity;
  for (const n of [-1, 0]) {
    const layout = await freshLayout(n);
    const server = await startServe([layout, '--writable']);
    duration = Math.min(duration, await pushOk(server, 'reference push'));
    await server.stop();
    await expectDone(layout);
    await rm(path.dirname(layout), { recursive: true, force: true });
  }
  const tally = new CrashTally('serve --writable');
  for (let n = 1; n <= plan.trials; n++) {
    const layout = await freshLayout(n);
    const delay = drawDelay(plan, duration);
    const context = `serve trial ${n} (OCIKIT_CRASH_SEED=${plan.seed}, server SIGKILLed ${delay} ms into the push)`;
    const server = await startServe([layout, '--writable']);
    const push = spawnOcikit(pushArgs(server));
    let pushEnded = false;
    void push.exited.then(() => (pushEnded = true));
    await new Promise((r) => setTimeout(r, delay));
    tally.record(!pushEnded);
    server.child.kill('SIGKILL');
    await server.exited;
    // The client is not under test here (its retries would only spend time): it goes too.
    await killAfter(push, 0);
    await expectSoundLayout(layout, context);

    const restarted = await startServe([layout, '--writable']);
    const start = performance.now();
    await pushOk(restarted, `${context}: the re-push`);
    tally.rerun(performance.now() - start);
    await restarted.stop();
    await expectDone(layout).catch((err: Error) => {
      throw new Error(`${context}: after the re-push: ${err.message}`);
    });
    await rm(path.dirname(layout), { recursive: true, force: true });
  }
  expect(tally.report(plan, duration)).toMatch(/trials/);
});
