/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1). One header may carry several
 * challenges ("Basic realm=x, Bearer realm=y"), parameters may be tokens or
 * quoted strings with backslash escapes and commas inside, and a scheme may be
 * followed by a token68 instead of parameters. Registries in the wild also
 * send extra spaces and mixed case, so the parser is lenient: it never throws,
 * it returns what it could read.
 */

export interface Challenge {
  /** Lowercased: "basic", "bearer"... */
  scheme: string;
  /** Parameter names are lowercased; values are unquoted. A prototype-less object: only what the header says is in it. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseWwwAuthenticate(h));
  const s = header;
  let i = 0;
  const out: Challenge[] = [];

  const skipSpaces = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const skipSeparators = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TOKEN_CHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // s[i] is the opening quote.
    i++;
    let value = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i];
      i++;
    }
    i++; // closing quote (or end of input for an unterminated string)
    return value;
  };
  /** At a name: is it `name = value` (a parameter) rather than a new scheme or a token68? */
  const paramAhead = (): boolean => {
    let j = i;
    while (j < s.length && TOKEN_CHAR.test(s[j]!)) j++;
    if (j === i) return false;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    if (s[j] !== '=') return false;
    j++;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    // "name=" followed by a value; "abc==" or "abc=," is a token68 ending in padding.
    return j < s.length && (s[j] === '"' || TOKEN_CHAR.test(s[j]!)) && s[j] !== '=';
  };

  while (i < s.length) {
    skipSeparators();
    if (i >= s.length) break;
    const scheme = readToken();
    if (scheme === '') {
      i++; // a stray character: skip it rather than loop forever
      continue;
    }
    // No prototype: a parameter named "constructor" or "__proto__" is data like any other, not
    // mistaken for one already read (`in` sees Object.prototype) and never silently dropped.
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(challenge);
    skipSpaces();
    if (i < s.length && s[i] !== ',' && !paramAhead()) {
      // token68: e.g. "Negotiate abc123==".
      const start = i;
      while (i < s.length && TOKEN68_CHAR.test(s[i]!)) i++;
      while (i < s.length && s[i] === '=') i++;
      if (i > start) challenge.token68 = s.slice(start, i);
      continue;
    }
    // Parameters, until something that is not `name=value` (the next challenge's scheme).
    for (;;) {
      skipSeparators();
      // Not `name=value`: the next challenge's scheme starts here.
      if (i >= s.length || !paramAhead()) break;
      const name = readToken().toLowerCase();
      skipSpaces();
      i++; // '='
      skipSpaces();
      const value = s[i] === '"' ? readQuoted() : readToken();
      if (!Object.hasOwn(challenge.params, name)) challenge.params[name] = value;
      skipSpaces();
    }
  }
  return out;
}

/** The scopes named in a Bearer challenge's `scope` parameter (space-separated). */
export function challengeScopes(c: Challenge): string[] {
  return (c.params['scope'] ?? '').split(' ').filter((x) => x.length > 0);
}
