import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcikitError, UsageError, type ErrorCode } from '../../src/errors.js';
import {
  formatReference,
  isValidRegistryHost,
  isValidRepositoryName,
  isValidTag,
  parseReference,
  withoutSelector,
  type ParseReferenceOptions,
  type Reference,
} from '../../src/reference.js';

const D256 = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

/** A fake filesystem, so that results do not depend on the machine's cwd. */
const FS: Record<string, 'file' | 'dir'> = {
  mydir: 'dir',
  'blob.bin': 'file',
  'a:b': 'dir',
  'weird:name': 'dir',
  'localhost:5000/foo': 'dir',
  './backup@2024.tar': 'file',
  'exists.d/app.tar': 'file',
};
const pathExists: ParseReferenceOptions['pathExists'] = (p) => FS[p];

function parse(input: string, opts: Omit<ParseReferenceOptions, 'pathExists'> = {}): Reference {
  return parseReference(input, { pathExists, ...opts });
}

type Expected = Omit<Reference, 'original'>;

const good: Array<[string, Expected, Omit<ParseReferenceOptions, 'pathExists'>?]> = [
  // oci:
  ['oci:./dir', { kind: 'layout-dir', path: './dir' }],
  ['oci:./dir:v1.2-rc_3', { kind: 'layout-dir', path: './dir', tag: 'v1.2-rc_3' }],
  [`oci:/abs/dir@${D256}`, { kind: 'layout-dir', path: '/abs/dir', digest: D256 }],
  [`oci:dir:tag@${D256}`, { kind: 'layout-dir', path: 'dir', tag: 'tag', digest: D256 }],
  [`oci:dir@${D512}`, { kind: 'layout-dir', path: 'dir', digest: D512 }],
  ['oci:weird:name', { kind: 'layout-dir', path: 'weird:name' }],
  ['oci:weird:name:v2', { kind: 'layout-dir', path: 'weird:name', tag: 'v2' }],
  ['oci:x.tar', { kind: 'layout-dir', path: 'x.tar' }],
  ['oci:.', { kind: 'layout-dir', path: '.' }],
  ['oci:/a/b:c/d', { kind: 'layout-dir', path: '/a/b:c/d' }],
  [`oci:dir:_under.score-${'x'.repeat(110)}`, { kind: 'layout-dir', path: 'dir', tag: `_under.score-${'x'.repeat(110)}` }],
  // oci-archive:
  ['oci-archive:x.tar.gz:latest', { kind: 'layout-archive', path: 'x.tar.gz', tag: 'latest' }],
  [`oci-archive:/tmp/img.tgz@${D256}`, { kind: 'layout-archive', path: '/tmp/img.tgz', digest: D256 }],
  ['oci-archive:some/dir', { kind: 'layout-archive', path: 'some/dir' }],
  // docker-archive:
  ['docker-archive:img.tar', { kind: 'docker-archive', path: 'img.tar' }],
  ['docker-archive:img.tar:debian:10', { kind: 'docker-archive', path: 'img.tar', dockerName: 'debian:10' }],
  [
    'docker-archive:img.tar:localhost:5000/foo/bar:1',
    { kind: 'docker-archive', path: 'img.tar', dockerName: 'localhost:5000/foo/bar:1' },
  ],
  [
    'docker-archive:/x/y.tar:docker.io/library/debian:12',
    { kind: 'docker-archive', path: '/x/y.tar', dockerName: 'docker.io/library/debian:12' },
  ],
  ['docker-archive:a:b', { kind: 'docker-archive', path: 'a:b' }], // whole string exists
  // A bare tag, as ls and the hints print an archive's images.
  ['docker-archive:img.tar:1', { kind: 'docker-archive', path: 'img.tar', tag: '1' }],
  ['docker-archive:img.tar:debian', { kind: 'docker-archive', path: 'img.tar', tag: 'debian' }],
  // docker://
  ['docker://localhost:5000/repo:tag', { kind: 'registry', registry: 'localhost:5000', repository: 'repo', tag: 'tag' }],
  [`docker://registry.example.com/a/b/c@${D256}`, { kind: 'registry', registry: 'registry.example.com', repository: 'a/b/c', digest: D256 }],
  ['docker://[::1]:5000/repo:tag', { kind: 'registry', registry: '[::1]:5000', repository: 'repo', tag: 'tag' }],
  ['docker://[::1]/repo', { kind: 'registry', registry: '[::1]', repository: 'repo' }],
  ['docker://localhost/repo', { kind: 'registry', registry: 'localhost', repository: 'repo' }],
  // bare registry
  ['[::1]:5000/repo:tag', { kind: 'registry', registry: '[::1]:5000', repository: 'repo', tag: 'tag' }],
  ['localhost/repo', { kind: 'registry', registry: 'localhost', repository: 'repo' }],
  [`localhost:5000/a/b@${D256}`, { kind: 'registry', registry: 'localhost:5000', repository: 'a/b', digest: D256 }],
  [`localhost:5000/a/b:v1@${D256}`, { kind: 'registry', registry: 'localhost:5000', repository: 'a/b', tag: 'v1', digest: D256 }],
  ['ghcr.io/org/app:1.0.0-rc.1', { kind: 'registry', registry: 'ghcr.io', repository: 'org/app', tag: '1.0.0-rc.1' }],
  ['127.0.0.1:5000/x/y:tag', { kind: 'registry', registry: '127.0.0.1:5000', repository: 'x/y', tag: 'tag' }],
  ['example.com/a__b/c-d--e.f_g:V', { kind: 'registry', registry: 'example.com', repository: 'a__b/c-d--e.f_g', tag: 'V' }],
  ['Registry.Example.com:65535/repo', { kind: 'registry', registry: 'Registry.Example.com:65535', repository: 'repo' }],
  ['my-host.local:1/r', { kind: 'registry', registry: 'my-host.local:1', repository: 'r' }],
  // bare paths
  ['./dir', { kind: 'layout-dir', path: './dir' }],
  ['../x.tar:v1', { kind: 'layout-archive', path: '../x.tar', tag: 'v1' }],
  ['/abs/layout', { kind: 'layout-dir', path: '/abs/layout' }],
  [`/abs/layout@${D256}`, { kind: 'layout-dir', path: '/abs/layout', digest: D256 }],
  ['x.tar', { kind: 'layout-archive', path: 'x.tar' }],
  ['X.TAR.GZ', { kind: 'layout-archive', path: 'X.TAR.GZ' }],
  ['out.tgz:latest', { kind: 'layout-archive', path: 'out.tgz', tag: 'latest' }],
  ['img.tar.zst', { kind: 'layout-archive', path: 'img.tar.zst' }],
  ['out/x.tar:v1', { kind: 'layout-archive', path: 'out/x.tar', tag: 'v1' }],
  ['mydir', { kind: 'layout-dir', path: 'mydir' }],
  ['mydir:v1', { kind: 'layout-dir', path: 'mydir', tag: 'v1' }],
  [`mydir@${D256}`, { kind: 'layout-dir', path: 'mydir', digest: D256 }],
  ['blob.bin', { kind: 'layout-archive', path: 'blob.bin' }], // an existing file is an archive
  ['blob.bin:t', { kind: 'layout-archive', path: 'blob.bin', tag: 't' }],
  ['a:b', { kind: 'layout-dir', path: 'a:b' }], // whole string exists: no tag split
  ['localhost:5000/foo', { kind: 'layout-dir', path: 'localhost:5000/foo' }], // exists locally: a path
  ['localhost:5000/foo:v1', { kind: 'layout-dir', path: 'localhost:5000/foo', tag: 'v1' }],
  ['./backup@2024.tar:v1', { kind: 'layout-archive', path: './backup@2024.tar', tag: 'v1' }],
  ['exists.d/app.tar', { kind: 'layout-archive', path: 'exists.d/app.tar' }],
  ['./build.d/app.tar', { kind: 'layout-archive', path: './build.d/app.tar' }],
  ['.:v1', { kind: 'layout-dir', path: '.', tag: 'v1' }],
  ['dir:/tmp/x', { kind: 'layout-dir', path: 'dir:/tmp/x' }, { ociLayout: true }],
  ['Out.D/X.tar', { kind: 'layout-archive', path: 'Out.D/X.tar' }], // not a valid registry reference, so a path
  // REPO:TAG in a layout: after oci: the path ends at the first ":" (skopeo), unless a longer path exists
  ['oci:recv:rc/a:1', { kind: 'layout-dir', path: 'recv', repository: 'rc/a', tag: '1' }],
  ['oci-archive:out.tar:rc/a:1', { kind: 'layout-archive', path: 'out.tar', repository: 'rc/a', tag: '1' }],
  [`oci:recv:rc/a:1@${D256}`, { kind: 'layout-dir', path: 'recv', repository: 'rc/a', tag: '1', digest: D256 }],
  ['oci:recv:docker.io/library/x:1', { kind: 'layout-dir', path: 'recv', repository: 'docker.io/library/x', tag: '1' }],
  ['oci:a:b:v1', { kind: 'layout-dir', path: 'a:b', tag: 'v1' }],
  ['oci:recv:Rc:1', { kind: 'layout-dir', path: 'recv:Rc', tag: '1' }], // no valid REPO: the plain split
  // a bare reference reads PATH:REPO:TAG only where PATH exists
  ['mydir:rc/a:1', { kind: 'layout-dir', path: 'mydir', repository: 'rc/a', tag: '1' }],
  ['./mydir:rc/a:1', { kind: 'layout-dir', path: './mydir:rc/a', tag: '1' }],
  // --oci-layout
  ['localhost:5000/bar:v1', { kind: 'layout-dir', path: 'localhost:5000/bar', tag: 'v1' }, { ociLayout: true }],
  ['x.tar', { kind: 'layout-dir', path: 'x.tar' }, { ociLayout: true }],
  ['blob.bin', { kind: 'layout-dir', path: 'blob.bin' }, { ociLayout: true }],
  [`plain@${D256}`, { kind: 'layout-dir', path: 'plain', digest: D256 }, { ociLayout: true }],
  ['oci-archive:x.tar', { kind: 'layout-archive', path: 'x.tar' }, { ociLayout: true }], // explicit transport wins
  ['docker://localhost/r', { kind: 'registry', registry: 'localhost', repository: 'r' }, { ociLayout: true }],
];

const bad: Array<[string, ErrorCode, Omit<ParseReferenceOptions, 'pathExists'>?]> = [
  ['', 'USAGE'],
  ['oci:', 'USAGE'],
  ['oci::tag', 'USAGE'],
  ['oci:dir:', 'USAGE'],
  ['oci:dir@', 'USAGE'],
  [`oci:@${D256}`, 'USAGE'],
  ['oci-archive:', 'USAGE'],
  ['oci-archive:x.tar:', 'USAGE'],
  ['oci:dir:bad tag', 'USAGE'],
  ['oci:dir:.hidden', 'USAGE'],
  ['oci:dir:-dash', 'USAGE'],
  ['oci:dir:\nnewline', 'USAGE'],
  [`oci:dir:${'t'.repeat(129)}`, 'USAGE'],
  ['docker://', 'USAGE'],
  ['docker://localhost:5000', 'USAGE'],
  ['docker://localhost:5000/', 'USAGE'],
  ['docker://library/ubuntu', 'USAGE'],
  ['docker://localhost/repo:', 'USAGE'],
  ['ubuntu:latest', 'USAGE'],
  ['ubuntu', 'USAGE'],
  ['library/ubuntu', 'USAGE'],
  ['localhost:5000', 'USAGE'],
  ['example.com', 'USAGE'],
  ['localhost/Repo', 'USAGE'],
  ['ghcr.io/Org/app:1', 'USAGE'],
  ['localhost/repo:ta!g', 'USAGE'],
  ['localhost/repo:.hidden', 'USAGE'],
  [`localhost/repo:${'a'.repeat(129)}`, 'USAGE'],
  ['localhost:99999/repo', 'USAGE'],
  ['localhost:0/repo', 'USAGE'],
  ['localhost:abc/repo', 'USAGE'],
  ['localhost:/repo', 'USAGE'],
  ['::1/repo', 'USAGE'],
  ['[::1/repo', 'USAGE'],
  ['[zz::1]:5000/repo', 'USAGE'],
  ['[::1]x/repo', 'USAGE'],
  ['999.1.1.1/repo', 'USAGE'],
  ['1.2.3/repo', 'USAGE'],
  ['exa_mple.com/repo', 'USAGE'],
  ['-bad.com/repo', 'USAGE'],
  ['localhost/a//b', 'USAGE'],
  ['localhost/a-/b', 'USAGE'],
  ['localhost/a..b', 'USAGE'],
  ['localhost/repo/', 'USAGE'],
  [`localhost/${'a'.repeat(300)}`, 'USAGE'],
  ['docker-archive:', 'USAGE'],
  ['docker-archive::debian:10', 'USAGE'],
  ['docker-archive:x.tar:', 'USAGE'],
  ['docker-archive:x.tar:example/debian', 'USAGE'],
  ['docker-archive:x.tar:.hidden', 'USAGE'],
  ['docker-archive:x.tar:Debian:10', 'USAGE'],
  ['docker-archive:x.tar:debian:', 'USAGE'],
  [`docker-archive:x.tar:debian@${D256}`, 'USAGE'],
  ['docker-archive:x.tar:localhost:99999/foo:1', 'USAGE'],
  ['https://ghcr.io/org/app', 'USAGE'],
  ['ocidir://./dir:tag', 'USAGE'],
  ['dir:/tmp/x', 'USAGE'],
  ['docker-daemon:alpine:3', 'USAGE'],
  ['build.d/app.tar', 'USAGE'], // archive file or registry repository: ambiguous
  ['localhost/img.tgz:v1', 'USAGE'],
  ['oci:a\0b', 'USAGE'],
  [':tag', 'USAGE'],
  [`@${D256}`, 'USAGE'],
  [':tag', 'USAGE', { ociLayout: true }],
  // digests keep their own codes
  ['oci:dir@md5:abc', 'UNSUPPORTED_DIGEST'],
  [`localhost/repo@sha1:${'b'.repeat(40)}`, 'UNSUPPORTED_DIGEST'],
  [`docker://localhost/repo:tag@blake3:${'c'.repeat(64)}`, 'UNSUPPORTED_DIGEST'],
  [`oci:dir@sha256:${'A'.repeat(64)}`, 'INVALID_DIGEST'],
  ['oci:dir@sha256:abc', 'INVALID_DIGEST'],
  [`oci:dir@sha512:${'a'.repeat(64)}`, 'INVALID_DIGEST'],
  [`oci:dir@SHA256:${'a'.repeat(64)}`, 'INVALID_DIGEST'],
  ['localhost/repo@latest', 'INVALID_DIGEST'],
  [`./x@sha256:${'g'.repeat(64)}`, 'INVALID_DIGEST'],
];

function caught(fn: () => unknown): OcikitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OcikitError);
    return err as OcikitError;
  }
  throw new Error('expected an error, got none');
}

describe('parseReference: good inputs', () => {
  it.each(good)('%j', (input, expected, opts) => {
    expect(parse(input, opts)).toStrictEqual({ ...expected, original: input });
  });
});

describe('parseReference: bad inputs', () => {
  it.each(bad)('%j -> %s', (input, code, opts) => {
    const err = caught(() => parse(input, opts));
    expect(err.code).toBe(code);
    if (code === 'USAGE') expect(err).toBeInstanceOf(UsageError);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(err.message.length).toBeGreaterThan(0);
  });

  it('rejects a non-string', () => {
    expect(caught(() => parseReference(42 as unknown as string)).code).toBe('USAGE');
  });
});

describe('parseReference with the real filesystem', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ocikit-ref-'));
    mkdirSync(join(root, 'lay:out'));
    writeFileSync(join(root, 'image'), 'x');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('takes an existing directory whose name has ":" as a path', () => {
    const p = join(root, 'lay:out');
    expect(parseReference(p)).toStrictEqual({ kind: 'layout-dir', path: p, original: p });
    expect(parseReference(`${p}:v1`)).toMatchObject({ kind: 'layout-dir', path: p, tag: 'v1' });
  });

  it('takes an existing file without an archive extension as an archive', () => {
    const p = join(root, 'image');
    expect(parseReference(`${p}:t`)).toMatchObject({ kind: 'layout-archive', path: p, tag: 't' });
  });

  it('treats a missing absolute path as a layout directory to be created', () => {
    const p = join(root, 'missing', 'deeper');
    expect(parseReference(p)).toMatchObject({ kind: 'layout-dir', path: p });
  });
});

describe('formatReference', () => {
  const canonical = [
    'oci:./dir:tag',
    'oci:./dir',
    `oci:/abs/dir@${D256}`,
    `oci:dir:t@${D512}`,
    'oci:weird:name:v1',
    'oci-archive:x.tar.gz:latest',
    'oci-archive:/tmp/img.tgz',
    'docker-archive:x.tar',
    'docker-archive:x.tar:localhost:5000/foo/bar:1',
    'docker-archive:x.tar:v1',
    `docker://host.example/repo@${D256}`,
    'docker://[::1]:5000/a/b:c',
    `docker://localhost/repo:t@${D256}`,
  ];
  it.each(canonical)('round-trips %s', (s) => {
    const ref = parse(s);
    expect(formatReference(ref)).toBe(s);
    expect(parse(formatReference(ref))).toStrictEqual(ref);
  });

  it.each([
    ['localhost:5000/a/b:v1', 'docker://localhost:5000/a/b:v1'],
    ['../x.tar:v1', 'oci-archive:../x.tar:v1'],
    ['mydir', 'oci:mydir'],
    ['./dir', 'oci:./dir'],
  ])('gives %s the canonical form %s, which parses to the same target', (input, expected) => {
    const ref = parse(input);
    expect(formatReference(ref)).toBe(expected);
    const again = parse(expected);
    expect({ ...again, original: '' }).toStrictEqual({ ...ref, original: '' });
  });

  it('refuses an incomplete reference object', () => {
    expect(caught(() => formatReference({ kind: 'registry', registry: 'localhost', original: '' })).code).toBe('INVALID_REFERENCE');
    expect(caught(() => formatReference({ kind: 'layout-dir', original: '' })).code).toBe('INVALID_REFERENCE');
  });
});

describe('withoutSelector', () => {
  it('drops tag and digest and keeps the target', () => {
    const ref = parse(`localhost:5000/a/b:v1@${D256}`);
    expect(withoutSelector(ref)).toStrictEqual({
      kind: 'registry',
      registry: 'localhost:5000',
      repository: 'a/b',
      original: 'docker://localhost:5000/a/b',
    });
    expect(ref.tag).toBe('v1'); // input not mutated
  });

  it('drops the docker NAME:TAG', () => {
    expect(withoutSelector(parse('docker-archive:x.tar:debian:10'))).toStrictEqual({
      kind: 'docker-archive',
      path: 'x.tar',
      original: 'docker-archive:x.tar',
    });
  });

  it('leaves a selector-free layout reference as it is', () => {
    expect(withoutSelector(parse('oci:./dir'))).toStrictEqual({ kind: 'layout-dir', path: './dir', original: 'oci:./dir' });
  });
});

describe('validators', () => {
  it.each([
    ['latest', true],
    ['v1.2.3-rc_1', true],
    ['_x', true],
    ['A', true],
    ['t'.repeat(128), true],
    ['t'.repeat(129), false],
    ['', false],
    ['.x', false],
    ['-x', false],
    ['a/b', false],
    ['a:b', false],
  ])('isValidTag(%j) is %s', (s, ok) => {
    expect(isValidTag(s)).toBe(ok);
  });

  it.each([
    ['library/alpine', true],
    ['a', true],
    ['a.b_c__d---e/f', true],
    ['a'.repeat(255), true],
    ['a'.repeat(256), false],
    ['Alpine', false],
    ['a/', false],
    ['/a', false],
    ['a___b', false],
    ['a_', false],
    ['', false],
  ])('isValidRepositoryName(%j) is %s', (s, ok) => {
    expect(isValidRepositoryName(s)).toBe(ok);
  });

  it.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['10.0.0.1:443', true],
    ['[::1]:5000', true],
    ['[fe80::1]', true],
    ['registry-1.docker.io', true],
    ['host:65536', false],
    ['host:', false],
    ['::1', false],
    ['a_b', false],
    ['256.0.0.1', false],
    ['', false],
  ])('isValidRegistryHost(%j) is %s', (s, ok) => {
    expect(isValidRegistryHost(s)).toBe(ok);
  });
});
