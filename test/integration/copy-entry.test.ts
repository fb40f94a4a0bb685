/**
 * `copy` has one entry point (ops/copy.ts) whatever its two ends are: what it
 * cannot write to is refused before the source is opened or read, whether
 * or not a registry is involved.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { expectFailure, fixture } from './_support.js';
import { tempDir } from '../helpers/cli.js';

describe('copy: one entry point', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('ocikit-copy-entry-'));
  });
  afterAll(async () => cleanup());

  it('an unwritable destination kind is UNSUPPORTED before a registry source is contacted (port 1 would refuse)', async () => {
    const out = path.join(dir, 'out.tar');
    await expectFailure(['copy', '127.0.0.1:1/x/y:1', `docker-archive:${out}`], { exit: 1, code: 'UNSUPPORTED' });
    expect(existsSync(out)).toBe(false);
  });

  it('the same refusal for a local source', async () => {
    const out = path.join(dir, 'out2.tar');
    await expectFailure(['copy', `oci:${fixture('single-image')}`, `docker-archive:${out}`], { exit: 1, code: 'UNSUPPORTED' });
    expect(existsSync(out)).toBe(false);
  });
});
