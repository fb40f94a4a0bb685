/**
 * The pieces of a usage error that are pure (cli/usage.ts): which flags of a
 * command line are unknown (as typed, each once, yargs' `--no-` negation and
 * `--flag=value` understood) and which known word is near enough to suggest.
 */
import { describe, expect, it } from 'vitest';
import { closest, unknownFlags } from '../../src/cli/usage.js';

const KNOWN = new Set(['artifact-type', 'artifactType', 'annotation', 'a', 'progress', 'json', 'format', 'o', 'output']);

describe('unknownFlags', () => {
  it('lists each unknown flag once, as typed, in order; values, -, and what follows -- are not flags', () => {
    expect(unknownFlags(['attach', 'x', '--artifact-typ', 'y', '--artifact-typ=z', '-', '--', '--later'], KNOWN)).toEqual(['--artifact-typ']);
    expect(unknownFlags(['--json', '--format=json', '-a', 'k=v', '--artifactType', 't'], KNOWN)).toEqual([]);
    expect(unknownFlags(['-ax', '--frob'], KNOWN)).toEqual(['-x', '--frob']);
  });

  it('--no-X is known when X is; a negative number is a value', () => {
    expect(unknownFlags(['--no-progress', '--no-such', '-1'], KNOWN)).toEqual(['--no-such']);
  });
});

describe('closest', () => {
  it('suggests a word within one edit in three, or one the typed word begins', () => {
    expect(closest('artifact-typ', ['artifact-type', 'annotation'])).toBe('artifact-type');
    expect(closest('fech', ['fetch', 'push', 'delete'])).toBe('fetch');
    expect(closest('copi', ['copy', 'pack'])).toBe('copy');
    expect(closest('plat', ['platform', 'pretty'])).toBe('platform');
  });

  it('suggests nothing when no word is near', () => {
    expect(closest('frobnicate', ['copy', 'pack', 'push'])).toBeUndefined();
    expect(closest('x', ['json'])).toBeUndefined();
  });
});
