/**
 * `Link` header parsing (RFC 8288) for the pagination of tag lists and
 * referrers: `<url>; rel="next"`, possibly several links in one header, the
 * URL relative to the request's. Quoted parameter values may hold commas and
 * semicolons, so this walks the string instead of splitting it.
 */

export interface Link {
  /** The target as written between `<` and `>`. */
  target: string;
  /** Lowercased parameter names; `rel` values may list several space-separated relations. */
  params: Record<string, string>;
}

export function parseLinkHeader(header: string | string[] | undefined): Link[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseLinkHeader(h));
  const s = header;
  const links: Link[] = [];
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('<', i);
    if (open < 0) break;
    const close = s.indexOf('>', open + 1);
    if (close < 0) break;
    // Parameter names come from the server: a map without a prototype keeps `constructor` or `__proto__` as names.
    const link: Link = { target: s.slice(open + 1, close).trim(), params: Object.create(null) as Record<string, string> };
    i = close + 1;
    // Parameters: `; name=value` or `; name="value"` until a top-level comma.
    for (;;) {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      if (s[i] !== ';') break;
      i++;
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      const nameStart = i;
      while (i < s.length && /[^=;,\s]/.test(s[i]!)) i++;
      const name = s.slice(nameStart, i).toLowerCase();
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      let value = '';
      if (s[i] === '=') {
        i++;
        while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            value += s[i];
            i++;
          }
          i++;
        } else {
          const start = i;
          while (i < s.length && /[^;,]/.test(s[i]!)) i++;
          value = s.slice(start, i).trim();
        }
      }
      if (name && !Object.hasOwn(link.params, name)) link.params[name] = value;
    }
    links.push(link);
    // Skip to the next top-level comma.
    while (i < s.length && s[i] !== ',') i++;
    i++;
  }
  return links;
}

/** The `rel="next"` link resolved against the URL of the response that carried it, or undefined. */
export function nextLink(header: string | string[] | undefined, base: URL): URL | undefined {
  for (const link of parseLinkHeader(header)) {
    const rels = (link.params['rel'] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('next')) continue;
    try {
      return new URL(link.target, base);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
