/**
 * Reference parsing under generated input: any string is either a reference
 * or a typed error (USAGE, or the digest codes), and what parses formats to a
 * string that parses back to the same reference. The filesystem is a fake
 * (a generated set of existing paths), so results never depend on the cwd.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReference, isValidRegistryHost, isValidRepositoryName, isValidTag, parseReference, withoutSelector, type Reference } from '../../src/reference.js';
import { fuzzParams, fuzzTimeout, hostileString, outcome, validDigest } from '../helpers/fuzz.js';

const CODES = ['USAGE', 'INVALID_DIGEST', 'UNSUPPORTED_DIGEST'] as const;
const PIECES = ['oci:', 'oci-archive:', 'docker-archive:', 'docker://', 'localhost', 'localhost:5000', '[::1]:5000', 'example.com', '.tar', '.tar.gz', '.tgz', './', '../', 'dir:', 'http://', 'latest', 'v1.0'];

type Fs = Record<string, 'file' | 'dir'>;

/** A fake filesystem in which some of the generated strings (and their prefixes) exist. */
function fakeFs(paths: Array<[string, 'file' | 'dir']>): (p: string) => 'file' | 'dir' | undefined {
  const fs: Fs = Object.create(null) as Fs;
  for (const [p, kind] of paths) fs[p] = kind;
  return (p) => fs[p];
}

const lower = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')), minLength: min, maxLength: max });
const repoComponent = fc.tuple(lower(1, 6), fc.option(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), lower(1, 6)), { nil: undefined })).map(([a, rest]) => (rest ? a + rest[0] + rest[1] : a));
const repository = fc.array(repoComponent, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')).filter(isValidRepositoryName);
const tag = fc
  .tuple(fc.constantFrom(...'aZ9_'.split('')), fc.string({ unit: fc.constantFrom(...'abcXYZ019._-'.split('')), maxLength: 20 }))
  .map(([a, b]) => a + b)
  .filter(isValidTag);
const host = fc
  .oneof(
    fc.constant('localhost'),
    fc.array(lower(1, 8), { minLength: 2, maxLength: 3 }).map((l) => l.join('.')),
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.')),
    fc.constantFrom('[::1]', '[fe80::1]', '[2001:db8::7]'),
  )
  .chain((h) => fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }).map((port) => (port === undefined ? h : `${h}:${port}`)))
  .filter(isValidRegistryHost);
const selector = fc.record({ tag: fc.option(tag, { nil: undefined }), digest: fc.option(validDigest, { nil: undefined }) });

/** A registry reference built from valid parts, with its expected fields. */
const registryRef: fc.Arbitrary<Reference> = fc.tuple(host, repository, selector).map(([registry, repo, sel]) => {
  const ref: Reference = { kind: 'registry', registry, repository: repo, original: '' };
  if (sel.tag !== undefined) ref.tag = sel.tag;
  if (sel.digest !== undefined) ref.digest = sel.digest;
  return ref;
});

/** A reference equal up to `original`, which records the input string. */
function comparable(ref: Reference): Omit<Reference, 'original'> {
  const { original: _original, ...rest } = ref;
  return rest;
}

describe('parseReference (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('returns a reference or throws USAGE / INVALID_DIGEST / UNSUPPORTED_DIGEST for any string', () => {
    // Mostly noise, plus valid references with noise around them, so that the success paths run too.
    const input = fc.oneof(
      { weight: 3, arbitrary: hostileString(PIECES) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('', 'docker://', 'oci:'), registryRef.map(formatReference), hostileString(PIECES, 3)).map(([a, ref, b]) => a + ref.replace(/^docker:\/\//, '') + b) },
    );
    const existing = fc.array(fc.tuple(hostileString(PIECES, 8), fc.constantFrom('file' as const, 'dir' as const)), { maxLength: 3 });
    fc.assert(
      fc.property(input, existing, fc.boolean(), (input, paths, ociLayout) => {
        const pathExists = fakeFs(paths);
        const r = outcome(() => parseReference(input, { pathExists, ociLayout }), CODES);
        if (!r.ok) {
          // One line: the CLI prints it after "ocikit: " (a raw newline would break that promise).
          expect(r.error.message).not.toMatch(/[\n\r]/);
          return;
        }
        const ref = r.value;
        expect(ref.original).toBe(input);
        if (ref.tag !== undefined) expect(isValidTag(ref.tag)).toBe(true);
        if (ref.kind === 'registry') {
          expect(isValidRegistryHost(ref.registry!)).toBe(true);
          expect(isValidRepositoryName(ref.repository!)).toBe(true);
        } else {
          expect(ref.path).toBeTruthy();
        }
        // The canonical string says the same thing (given the same filesystem), except for a layout path
        // holding ":" that does not exist: after oci: the path ends at the first ":" (skopeo's rule), so
        // "oci:a:b/c:1" is path "a" and name "b/c:1" (formatReference says so).
        if (ref.path === undefined || !ref.path.includes(':') || pathExists(ref.path)) {
          const again = parseReference(formatReference(ref), { pathExists });
          expect(comparable(again)).toEqual(comparable(ref));
        }
        // Without its selector, a path with ":" has a spelling only when it exists (formatReference says
        // so): "oci:[::1]" reads as path "[:" and tag "1]".
        if (ref.path === undefined || !ref.path.includes(':') || pathExists(ref.path)) {
          expect(comparable(parseReference(withoutSelector(ref).original, { pathExists }))).toEqual(comparable(withoutSelector(ref)));
        }
      }),
      fuzzParams(5000),
    );
  });

  it('parses generated registry references, with and without docker://, to their parts', () => {
    const nothingExists = () => undefined;
    fc.assert(
      fc.property(registryRef, fc.boolean(), (ref, explicit) => {
        const canonical = formatReference(ref);
        const written = explicit ? canonical : canonical.slice('docker://'.length);
        const parsed = parseReference(written, { pathExists: nothingExists });
        expect(comparable(parsed)).toEqual(comparable(ref));
        expect(formatReference(parsed)).toBe(canonical);
      }),
      fuzzParams(3000),
    );
  });

  it('parses generated layout references to their parts', () => {
    const segment = fc.string({ unit: fc.constantFrom(...'abc-_.xyz09 '.split('')), minLength: 1, maxLength: 8 }).filter((s) => s !== '.' && s !== '..');
    const layoutPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(layoutPath, fc.constantFrom('oci:', 'oci-archive:'), selector, (p, transport, sel) => {
        const written = transport + p + (sel.tag !== undefined ? `:${sel.tag}` : '') + (sel.digest !== undefined ? `@${sel.digest}` : '');
        const parsed = parseReference(written, { pathExists: () => undefined });
        expect(parsed).toEqual({ kind: transport === 'oci:' ? 'layout-dir' : 'layout-archive', path: p, ...definedOnly(sel), original: written });
      }),
      fuzzParams(2000),
    );
  });
});

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
