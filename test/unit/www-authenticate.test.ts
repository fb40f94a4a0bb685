import { describe, expect, it } from 'vitest';
import { challengeScopes, parseWwwAuthenticate } from '../../src/registry/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('reads a distribution Bearer challenge', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:library/debian:pull"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:library/debian:pull' } });
    expect(challengeScopes(c!)).toEqual(['repository:library/debian:pull']);
  });

  it('is case-insensitive for scheme and parameter names, tolerant of spaces', () => {
    const [c] = parseWwwAuthenticate('  bEaReR   Realm = "r" ,  SERVICE=svc ');
    expect(c!.scheme).toBe('bearer');
    expect(c!.params).toEqual({ realm: 'r', service: 'svc' });
  });

  it('keeps commas, equals signs and escaped quotes inside quoted strings', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="https://a/t?x=1,y=2",scope="repository:a:pull,push repository:b:pull",error="say \\"hi\\""');
    expect(c!.params['realm']).toBe('https://a/t?x=1,y=2');
    expect(challengeScopes(c!)).toEqual(['repository:a:pull,push', 'repository:b:pull']);
    expect(c!.params['error']).toBe('say "hi"');
  });

  it('splits several challenges in one header, and several headers', () => {
    const cs = parseWwwAuthenticate('Basic realm="reg", Bearer realm="https://t", service="s"');
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(cs[1]!.params).toEqual({ realm: 'https://t', service: 's' });
    expect(parseWwwAuthenticate(['Basic realm="a"', 'Bearer realm="b"']).map((c) => c.params['realm'])).toEqual(['a', 'b']);
  });

  it('reads token68 forms and bare schemes', () => {
    expect(parseWwwAuthenticate('Negotiate abc+/def==')).toEqual([{ scheme: 'negotiate', params: {}, token68: 'abc+/def==' }]);
    expect(parseWwwAuthenticate('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
    expect(parseWwwAuthenticate('Negotiate abc==, Basic realm="x"').map((c) => c.scheme)).toEqual(['negotiate', 'basic']);
  });

  it('never throws on garbage, and keeps the first of repeated parameters', () => {
    for (const s of ['', ',,,', '=', '"', 'Bearer realm="unterminated', 'Bearer ,,realm=x', '@@@ Basic realm=x']) {
      expect(() => parseWwwAuthenticate(s)).not.toThrow();
    }
    expect(parseWwwAuthenticate('Bearer realm="unterminated')[0]!.params['realm']).toBe('unterminated');
    expect(parseWwwAuthenticate('Bearer realm=a, realm=b')[0]!.params['realm']).toBe('a');
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
  });

  // Found by test/fuzz/www-authenticate.test.ts: `name in params` saw Object.prototype, so these were dropped.
  it('keeps parameters named like Object.prototype members, and invents none', () => {
    const [c] = parseWwwAuthenticate('! constructor="", __proto__=x, realm=r');
    expect(Object.keys(c!.params)).toEqual(['constructor', '__proto__', 'realm']);
    expect(c!.params['constructor']).toBe('');
    expect(c!.params['__proto__']).toBe('x');
    expect(parseWwwAuthenticate('Bearer realm=r')[0]!.params['constructor']).toBeUndefined();
  });
});
