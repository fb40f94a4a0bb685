/**
 * `copy` has one entry point (ops/copy.ts) whatever its two ends are: a
 * destination it cannot write is refused before the source is opened or
 * read, whether or not a registry is involved.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { expectOneErrorLine, fixture } from './_support.js';
import { ocikit, tempDir } from '../helpers/cli.js';

describe('copy: one entry point', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('ocikit-copy-entry-'));
  });
  afterAll(async () => cleanup());

  /** `--json` (not `--output json`, which is becoming a path): the error code and exit status, and one line on stderr. */
  async function refused(args: string[], exit: number, code: string): Promise<void> {
    const r = await ocikit([...args, '--json']);
    expect(r.code, r.stderr).toBe(exit);
    expectOneErrorLine(r.stderr);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe(code);
  }

  it('a destination that cannot be written is refused before a registry source is contacted (port 1 would refuse)', async () => {
    const out = path.join(dir, 'out.tar');
    await writeFile(out, 'kept');
    // docker-archive: a file there already, a bare tag where NAME:TAG is needed.
    await refused(['copy', '127.0.0.1:1/x/y:1', `docker-archive:${out}`], 1, 'ALREADY_EXISTS');
    expect(await readFile(out, 'utf8')).toBe('kept');
    const other = path.join(dir, 'other.tar');
    await refused(['copy', '127.0.0.1:1/x/y:1', `docker-archive:${other}:v1`], 2, 'USAGE');
    expect(existsSync(other)).toBe(false);
  });

  it('the same refusal for a local source', async () => {
    const out = path.join(dir, 'out2.tar');
    await writeFile(out, 'kept');
    await refused(['copy', `oci:${fixture('single-image')}`, `docker-archive:${out}`], 1, 'ALREADY_EXISTS');
    expect(await readFile(out, 'utf8')).toBe('kept');
  });
});
