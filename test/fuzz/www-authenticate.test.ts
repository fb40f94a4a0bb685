/**
 * `WWW-Authenticate` parsing under generated headers: challenges built from
 * generated schemes, parameters (tokens and quoted strings with escapes,
 * commas and equals signs inside) and token68s, written with the optional
 * whitespace RFC 7235 allows, parse back to exactly what was written; any
 * string at all parses without throwing; and the authenticator that acts on
 * a 401 answers every challenge with a header to retry with or an
 * UNAUTHORIZED / REGISTRY_ERROR, never another exception.
 */
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/registry/auth.js';
import type { HttpRequest, HttpResponse, Transport } from '../../src/registry/http.js';
import { Secrets } from '../../src/registry/redact.js';
import { parseWwwAuthenticate, type Challenge } from '../../src/registry/www-authenticate.js';
import { fuzzParams, fuzzTimeout, hostileString, outcomeAsync } from '../helpers/fuzz.js';

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
const token = fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 12 });
/** Names registries send, names that are properties of every JS object, and anything else. */
const paramName = fc.oneof(fc.constantFrom('realm', 'service', 'scope', 'error', 'Realm', 'constructor', '__proto__', 'toString', 'hasOwnProperty'), token);
const token68 = fc
  .tuple(fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~+/'.split('')), minLength: 1, maxLength: 16 }), fc.constantFrom('', '=', '=='))
  .map(([body, pad]) => body + pad);
const ows = fc.constantFrom('', ' ', '  ', '\t', ' \t ');

interface Param {
  name: string;
  value: string;
  /** Written as a quoted string (always, when the value is not a token). */
  quoted: boolean;
  /** Which characters of a quoted value get a (needless but legal) backslash. */
  escapeAll: boolean;
}
const param: fc.Arbitrary<Param> = fc
  .record({ name: paramName, value: fc.oneof(token, fc.string({ maxLength: 20 }), fc.constantFrom('', 'a,b', 'x=y', '"', '\\', 'repository:a/b:pull,push repository:c:pull')), quoted: fc.boolean(), escapeAll: fc.boolean() })
  .map((p) => ({ ...p, quoted: p.quoted || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p.value) }));

interface Spec {
  scheme: string;
  params: Param[];
  token68?: string;
}
const challenge: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ scheme: token, params: fc.array(param, { maxLength: 5 }) }),
  fc.record({ scheme: token, params: fc.constant<Param[]>([]), token68 }),
);

function quote(value: string, escapeAll: boolean): string {
  return `"${[...value].map((c) => (escapeAll || c === '"' || c === '\\' ? `\\${c}` : c)).join('')}"`;
}

/** A header as a registry might write it: random optional whitespace around "=" and ",". */
const header = fc.array(fc.tuple(challenge, fc.array(ows, { minLength: 4, maxLength: 4 })), { minLength: 1, maxLength: 4 }).map((list) => {
  const text = list
    .map(([c, [a, b, d, e]]) => {
      if (c.token68 !== undefined) return `${c.scheme} ${c.token68}`;
      const params = c.params.map((p) => `${p.name}${a}=${b}${p.quoted ? quote(p.value, p.escapeAll) : p.value}`).join(`${d},${e}`);
      return params ? `${c.scheme} ${params}` : c.scheme;
    })
    .join(', ');
  return { text, specs: list.map(([c]) => c) };
});

/** What the parser must return for a spec: lowercased names, the first of repeated parameters. */
function expected(c: Spec): Challenge {
  const params: Record<string, string> = {};
  for (const p of c.params) {
    const name = p.name.toLowerCase();
    if (!Object.prototype.hasOwnProperty.call(params, name)) Object.defineProperty(params, name, { value: p.value, enumerable: true, writable: true, configurable: true });
  }
  const out: Challenge = { scheme: c.scheme.toLowerCase(), params };
  if (c.token68 !== undefined) out.token68 = c.token68;
  return out;
}

/** Own, enumerable entries only: `params` is compared as data, whatever its prototype. */
function plain(c: Challenge): unknown {
  return { scheme: c.scheme, params: Object.fromEntries(Object.entries(c.params)), token68: c.token68 };
}

describe('parseWwwAuthenticate (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('generated challenges parse back to what was written', () => {
    fc.assert(
      fc.property(header, ({ text, specs }) => {
        expect(parseWwwAuthenticate(text).map(plain)).toEqual(specs.map(expected).map(plain));
      }),
      fuzzParams(4000),
    );
  });

  it('parameters are own properties of params: "constructor" or "__proto__" is a value like any other', () => {
    fc.assert(
      fc.property(fc.constantFrom('constructor', '__proto__', 'toString', 'valueOf'), token, (name, value) => {
        const [c] = parseWwwAuthenticate(`Bearer ${name}=${value}`);
        expect(Object.prototype.hasOwnProperty.call(c!.params, name.toLowerCase())).toBe(true);
        expect(c!.params[name.toLowerCase()]).toBe(value);
      }),
      fuzzParams(200),
    );
  });

  it('any string parses without throwing, into well-formed challenges', () => {
    const noise = hostileString(['Bearer', 'Basic', 'realm', '="', '\\"', ', ', 'scope=', '==', 'constructor=x'], 40);
    fc.assert(
      fc.property(fc.oneof(noise, header.map((h) => h.text), fc.tuple(header, noise).map(([h, n]) => h.text + n)), (s) => {
        for (const c of parseWwwAuthenticate(s)) {
          expect(c.scheme).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
          for (const [k, v] of Object.entries(c.params)) {
            expect(k).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
            expect(typeof v).toBe('string');
          }
        }
      }),
      fuzzParams(4000),
    );
  });
});

/**
 * A transport that answers every token request with a generated response,
 * and records what was asked: enough for Authenticator, which only sends.
 */
function fakeTransport(status: number, body: string, plain = false): { transport: Transport; sent: HttpRequest[] } {
  const sent: HttpRequest[] = [];
  const transport = {
    secrets: new Secrets(),
    // The registry's own origin: plain HTTP decides whether a plain-HTTP token realm may get credentials.
    origin: (host: string) => `${plain ? 'http' : 'https'}://${host}`,
    async send(req: HttpRequest): Promise<HttpResponse> {
      sent.push(req);
      const stream = new PassThrough();
      stream.end(body);
      return { status, headers: {}, url: req.url, body: stream as unknown as IncomingMessage };
    },
  };
  return { transport: transport as unknown as Transport, sent };
}

describe('Authenticator.challenge (fuzz)', { timeout: fuzzTimeout() }, () => {
  it('answers any 401 challenge with a header to retry with, or UNAUTHORIZED / REGISTRY_ERROR', async () => {
    const tokenResponse = fc.oneof(
      fc.constant('{"token":"abc","expires_in":300}'),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 30 }),
    );
    const wwwAuthenticate = fc.oneof(header.map((h) => h.text), hostileString(['Bearer realm="http://127.0.0.1:1/token"', 'Basic realm=x', 'Bearer realm=', 'service=', 'scope='], 10));
    await fc.assert(
      fc.asyncProperty(wwwAuthenticate, fc.constantFrom(200, 401, 403, 500), tokenResponse, fc.boolean(), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), fc.boolean(), async (www, status, body, withCred, sentBefore, plain) => {
        const { transport } = fakeTransport(status, body, plain);
        // No docker config of this machine: an empty environment, and a user name and password only when generated.
        const auth = new Authenticator('registry.example', transport, { env: { HOME: '/nonexistent' }, ...(withCred ? { username: 'u', password: 'p' } : {}) });
        const r = await outcomeAsync(() => auth.challenge(www, ['repository:a/b:pull'], sentBefore, 'pulling a/b'), ['UNAUTHORIZED', 'REGISTRY_ERROR']);
        if (r.ok) expect(r.value).toMatch(/^(Basic|Bearer) \S/);
      }),
      fuzzParams(1500),
    );
  });
});
