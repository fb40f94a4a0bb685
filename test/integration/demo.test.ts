import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { REPO_ROOT, run, tempDir } from '../helpers/cli.js';

describe("the README's main job (bin/demo.mjs)", () => {
  it('runs every step and ends with the success line', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'demo.mjs'), dir], { timeoutMs: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^demo: OK/);
    } finally {
      await cleanup();
    }
  });
});
