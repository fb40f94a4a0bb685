/**
 * Digest parsing under generated input. The oracle is the spec text, written
 * out independently of src/digest: a supported digest is exactly
 * `sha256:` + 64 or `sha512:` + 128 lowercase hex digits; everything else is
 * INVALID_DIGEST or, when it fits the generic grammar with another
 * algorithm, UNSUPPORTED_DIGEST.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDigestGrammar, isValidDigest, parseDigest } from '../../src/digest/digest.js';
import { fuzzParams, fuzzTimeout, hexString, hostileString, outcome, validDigest } from '../helpers/fuzz.js';

const SUPPORTED = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const CODES = ['INVALID_DIGEST', 'UNSUPPORTED_DIGEST'] as const;

/** `algorithm` of the image-spec grammar: components of [a-z0-9] joined by one of + . _ - */
const algorithm = fc
  .array(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')), minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 })
  .chain((parts) => fc.array(fc.constantFrom('+', '.', '_', '-'), { minLength: parts.length - 1, maxLength: parts.length - 1 }).map((seps) => parts.map((p, i) => (i === 0 ? p : seps[i - 1]! + p)).join('')));
const encoded = fc.string({ unit: fc.constantFrom(...'abcdefABCDEF0123456789=_-xyz'.split('')), minLength: 1, maxLength: 140 });

describe('parseDigest (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('accepts exactly the supported digests and throws only INVALID_DIGEST / UNSUPPORTED_DIGEST', () => {
    const input = fc.oneof(hostileString(['sha256', 'sha512', 'SHA256']), validDigest, fc.tuple(algorithm, encoded).map(([a, e]) => `${a}:${e}`));
    fc.assert(
      fc.property(input, (s) => {
        const r = outcome(() => parseDigest(s), CODES);
        expect(r.ok).toBe(SUPPORTED.test(s));
        expect(isValidDigest(s)).toBe(r.ok);
        if (r.ok) expect(r.value).toEqual({ algorithm: s.slice(0, 6), encoded: s.slice(7), digest: s });
        // Outside the generic grammar it is always INVALID, never "unsupported".
        else if (!isDigestGrammar(s)) expect(r.error.code).toBe('INVALID_DIGEST');
        else expect(r.error.digest).toBe(s);
      }),
      fuzzParams(5000),
    );
  });

  it('reports a grammatical digest of another algorithm as UNSUPPORTED_DIGEST', () => {
    fc.assert(
      fc.property(algorithm.filter((a) => a !== 'sha256' && a !== 'sha512'), encoded, (a, e) => {
        expect(outcome(() => parseDigest(`${a}:${e}`), CODES)).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_DIGEST' } });
      }),
      fuzzParams(2000),
    );
  });

  it('rejects a supported digest with one character changed, added or removed as INVALID_DIGEST', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), ch: fc.constantFrom(...'ABCDEFg:/ @\0\n'.split('')) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), ch: hexString(1) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
    );
    fc.assert(
      fc.property(validDigest, edit, (d, { kind, at, ch }) => {
        const colon = d.indexOf(':');
        // Edit the encoded part only: an edited algorithm may well be another valid (unsupported) one.
        const i = colon + 1 + (at % (d.length - colon - 1));
        const changed = kind === 'replace' ? d.slice(0, i) + ch + d.slice(i + 1) : kind === 'insert' ? d.slice(0, i) + ch + d.slice(i) : d.slice(0, i) + d.slice(i + 1);
        expect(outcome(() => parseDigest(changed), CODES)).toMatchObject({ ok: false, error: { code: 'INVALID_DIGEST' } });
      }),
      fuzzParams(2000),
    );
  });
});
