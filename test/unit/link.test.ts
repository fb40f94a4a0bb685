import { describe, expect, it } from 'vitest';
import { nextLink, parseLinkHeader } from '../../src/registry/link.js';

describe('Link header', () => {
  const base = new URL('https://reg.example.com/v2/a/b/tags/list?n=2');

  it('resolves a relative next link against the request URL (distribution style)', () => {
    expect(nextLink('</v2/a/b/tags/list?last=t2&n=2>; rel="next"', base)?.href).toBe('https://reg.example.com/v2/a/b/tags/list?last=t2&n=2');
  });

  it('accepts absolute links, unquoted rel, several relations and several links', () => {
    expect(nextLink('<https://other.example/v2/x?page=2>; rel=next', base)?.href).toBe('https://other.example/v2/x?page=2');
    expect(nextLink('<https://x/prev>; rel="prev", <https://x/next>; rel="next"', base)?.href).toBe('https://x/next');
    expect(nextLink('<https://x/n>; rel="last next"', base)?.href).toBe('https://x/n');
    expect(nextLink(['<https://x/a>; rel="prev"', '<https://x/b>; rel="next"'], base)?.href).toBe('https://x/b');
  });

  it('keeps commas and semicolons inside URLs and quoted values', () => {
    const links = parseLinkHeader('<https://x/a?x=1,2;3>; title="a, b; c"; rel="next"');
    expect(links).toEqual([{ target: 'https://x/a?x=1,2;3', params: { title: 'a, b; c', rel: 'next' } }]);
  });

  it('keeps parameters named like Object.prototype members as parameters', () => {
    const [link] = parseLinkHeader('<https://x/a>; constructor="c"; __proto__="p"; toString=t; rel="next"');
    expect(Object.entries(link!.params).sort()).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['rel', 'next'],
      ['tostring', 't'], // names are case-insensitive: kept lowercased
    ]);
  });

  it('has no next link when there is none or the header is malformed', () => {
    expect(nextLink(undefined, base)).toBeUndefined();
    expect(nextLink('<https://x/a>; rel="prev"', base)).toBeUndefined();
    expect(nextLink('garbage', base)).toBeUndefined();
    expect(nextLink('<https://x/a; rel="next"', base)).toBeUndefined();
  });
});
