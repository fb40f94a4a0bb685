import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const loaderPath = require.resolve('../../bin/cli-loader.cjs');
const { loadCli } = require(loaderPath) as {
  loadCli: (o: { bundle?: string; writeCodeCache?: boolean; report?: (s: string) => void }) => { main: () => number };
};

describe('the CLI loader and its V8 code cache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ocikit-loader-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ignores a cache made from another bundle of the same length (V8 checks only the length)', async () => {
    const bundle = path.join(dir, 'bundle.cjs');
    await writeFile(bundle, 'exports.main = () => 42;\n');
    const seen: string[] = [];
    expect(loadCli({ bundle, writeCodeCache: true, report: (s) => seen.push(s) }).main()).toBe(42);
    expect(loadCli({ bundle, report: (s) => seen.push(s) }).main()).toBe(42);
    await writeFile(bundle, 'exports.main = () => 43;\n');
    expect(loadCli({ bundle, report: (s) => seen.push(s) }).main()).toBe(43);
    expect(seen).toEqual(['written', 'used', 'stale']);
  });

  it('compiles from source when the cache is missing or unreadable', async () => {
    const bundle = path.join(dir, 'bundle.cjs');
    await writeFile(bundle, 'exports.main = () => 7;\n');
    const seen: string[] = [];
    expect(loadCli({ bundle, report: (s) => seen.push(s) }).main()).toBe(7);
    await writeFile(`${bundle}.v8-cache`, 'short');
    expect(loadCli({ bundle, report: (s) => seen.push(s) }).main()).toBe(7);
    expect(seen).toEqual(['absent', 'stale']);
  });

  it('the built CLI is loaded from its cache under the flags the CLI runs with', async () => {
    // A flag added to applyCliFlags without rebuilding, or a cache made under other flags, shows here as 'rejected'.
    const script = `const l = require(${JSON.stringify(loaderPath)}); l.applyCliFlags(); l.loadCli({ report: (s) => process.stdout.write(s) });`;
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })).toBe('used');
    expect((await readFile(path.join(path.dirname(loaderPath), '../dist/cli/bundle.cjs.v8-cache')).catch(() => Buffer.alloc(0))).length).toBeGreaterThan(32);
  });
});
