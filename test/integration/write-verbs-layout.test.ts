/**
 * The write verbs on a layout directory (see write-verbs-steps.ts), and what
 * only a layout has: blob delete's in-use check, and fallback-tag indexes in
 * index.json that manifest delete rewrites.
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterFile, FIXTURES } from '../helpers/cli.js';
import { expectFailure, expectJson, expectSuccess } from './_support.js';
import { describeWriteVerbs, referrerDigests } from './write-verbs-steps.js';

const scope = afterFile();
const { tmp } = scope;
describeWriteVerbs('layout', scope);

describe('layout specifics', { timeout: 60_000 }, () => {
  it('blob delete refuses a blob a listed manifest uses (IN_USE, layout unchanged) and --force deletes it', async () => {
    const layout = path.join(await tmp(), 'in-use');
    await expectSuccess(['copy', `${path.join(FIXTURES, 'single-image')}:v1`, `oci:${layout}:v1`]);
    const manifest = await expectJson<{ layers: Array<{ digest: string }> }>(['manifest', 'fetch', `oci:${layout}:v1`]);
    const layer = manifest.layers[0]!.digest;
    await expectFailure(['blob', 'delete', `oci:${layout}@${layer}`], { exit: 1, code: 'IN_USE', unchanged: layout });
    await expectSuccess(['blob', 'delete', `oci:${layout}@${layer}`, '--force']);
    await expectFailure(['blob', 'fetch', `oci:${layout}@${layer}`, '-o', path.join(await tmp(), 'out')], { exit: 1, code: 'NOT_FOUND' });
  });

  it('manifest delete takes a referrer out of a fallback-tag index (regclient-style layout) and drops an emptied one', async () => {
    const layout = path.join(await tmp(), 'fallback');
    await cp(path.join(FIXTURES, 'referrers-fallback'), layout, { recursive: true });
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const fallbackEntry = index.manifests.find((m) => /^sha256-[0-9a-f]{64}$/.test(m.annotations?.['org.opencontainers.image.ref.name'] ?? ''))!;
    const subject = `sha256:${fallbackEntry.annotations!['org.opencontainers.image.ref.name']!.slice('sha256-'.length)}`;
    const before = await referrerDigests(`oci:${layout}@${subject}`);
    expect(before.length).toBeGreaterThan(0);
    for (const [i, referrer] of before.entries()) {
      await expectSuccess(['manifest', 'delete', `oci:${layout}@${referrer}`]);
      expect((await referrerDigests(`oci:${layout}@${subject}`)).sort()).toEqual(before.slice(i + 1).sort());
    }
    const after = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as typeof index;
    expect(after.manifests.some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === fallbackEntry.annotations!['org.opencontainers.image.ref.name'])).toBe(false);
    await expectSuccess(['verify', layout]);
  });
});
