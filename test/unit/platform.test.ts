import { describe, expect, it } from 'vitest';
import { OcikitError, UsageError } from '../../src/errors.js';
import { formatPlatform, normalizePlatform, parsePlatform, platformMatches, selectPlatform } from '../../src/spec/platform.js';
import type { Platform } from '../../src/spec/types.js';

const p = (s: string): Platform => parsePlatform(s);

describe('parsePlatform', () => {
  it.each<[string, Platform]>([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/ppc64le', { os: 'linux', architecture: 'ppc64le' }],
    ['windows/amd64:10.0.17763.1234', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234' }],
    ['windows(10.0.17763.1234)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234' }],
    ['windows(10.0.17763)/arm64/v8', { os: 'windows', architecture: 'arm64', variant: 'v8', 'os.version': '10.0.17763' }],
    ['windows/arm64/v8:10.0.17763', { os: 'windows', architecture: 'arm64', variant: 'v8', 'os.version': '10.0.17763' }],
    ['Linux/X86_64', { os: 'Linux', architecture: 'X86_64' }],
    ['  linux/amd64  ', { os: 'linux', architecture: 'amd64' }],
    ['linux/riscv64/rva20u64', { os: 'linux', architecture: 'riscv64', variant: 'rva20u64' }],
  ])('parses %s', (s, expected) => {
    expect(parsePlatform(s)).toEqual(expected);
  });

  it.each([
    '',
    'linux',
    'amd64',
    'linux/',
    '/amd64',
    'linux//amd64',
    'linux/arm/v7/extra',
    'linux amd64',
    'linux/amd64:',
    'linux/amd64/',
    'windows()/amd64',
    'windows(10.0)/amd64:10.0',
    'linux/amd64:10 0',
    'linux/am*d64',
    'linux/amd64@sha256:abc',
  ])('rejects %j as a usage error with a hint', (s) => {
    let err: unknown;
    try {
      parsePlatform(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as OcikitError).code).toBe('USAGE');
    expect((err as OcikitError).hint).toBeTruthy();
  });

  it('rejects a non-string input as a usage error', () => {
    expect(() => parsePlatform(undefined as unknown as string)).toThrow(UsageError);
  });
});

describe('formatPlatform', () => {
  it.each(['linux/amd64', 'linux/arm/v7', 'linux/arm64/v8', 'windows/amd64:10.0.17763.1234', 'windows/arm64/v8:10.0.17763'])('round-trips %s', (s) => {
    expect(formatPlatform(parsePlatform(s))).toBe(s);
  });

  it('writes the oras form for the containerd form', () => {
    expect(formatPlatform(parsePlatform('windows(10.0.17763)/amd64'))).toBe('windows/amd64:10.0.17763');
  });

  it('ignores features it has no syntax for', () => {
    expect(formatPlatform({ os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] })).toBe('windows/amd64');
  });
});

describe('normalizePlatform', () => {
  it.each<[string, string]>([
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64/v8'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/arm64/v8.0', 'linux/arm64/v8'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/v5', 'linux/arm/v5'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/armv7l', 'linux/arm/v7'],
    ['linux/armv6l', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['linux/i686', 'linux/386'],
    ['linux/x86', 'linux/386'],
    ['linux/ppc64el', 'linux/ppc64le'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['Linux/ARM/V7', 'linux/arm/v7'],
    ['linux/s390x', 'linux/s390x'],
    ['linux/riscv64', 'linux/riscv64'],
    ['windows/amd64:10.0.17763.1234', 'windows/amd64:10.0.17763.1234'],
  ])('%s -> %s', (input, expected) => {
    expect(formatPlatform(normalizePlatform(parsePlatform(input)))).toBe(expected);
  });

  it('keeps other fields and does not modify its argument', () => {
    const input: Platform = { os: 'Windows', architecture: 'x86_64', 'os.features': ['win32k'], 'os.version': '10.0.1' };
    const copy = structuredClone(input);
    expect(normalizePlatform(input)).toEqual({ os: 'windows', architecture: 'amd64', 'os.features': ['win32k'], 'os.version': '10.0.1' });
    expect(input).toEqual(copy);
  });

  it('is idempotent', () => {
    for (const s of ['linux/armhf', 'linux/aarch64', 'linux/amd64/v1', 'linux/arm/5']) {
      const once = normalizePlatform(parsePlatform(s));
      expect(normalizePlatform(once)).toEqual(once);
    }
  });
});

describe('platformMatches', () => {
  it.each<[string, string, boolean]>([
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/x86_64', 'linux/amd64', true],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['LINUX/AMD64', 'linux/amd64', true],
    // want without a variant: any variant of the architecture
    ['linux/arm', 'linux/arm/v5', true],
    ['linux/arm', 'linux/arm/v7', true],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/amd64', 'linux/amd64/v3', true],
    // want with a variant: that variant, defaults filled in on both sides
    ['linux/arm/v7', 'linux/arm/v7', true],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v7', 'linux/arm/v5', false],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/7', 'linux/arm/v7', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/aarch64', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64/v8.2', false],
    ['linux/armhf', 'linux/arm/v7', true],
    ['linux/armhf', 'linux/arm/v6', false],
    ['linux/armel', 'linux/arm/v6', true],
    ['linux/amd64/v1', 'linux/amd64', true],
    ['linux/amd64/v3', 'linux/amd64', false],
    ['linux/i386', 'linux/386', true],
    // os.version only when wanted; a dotted prefix matches
    ['windows/amd64', 'windows/amd64:10.0.17763.1234', true],
    ['windows/amd64:10.0.17763', 'windows/amd64:10.0.17763.1234', true],
    ['windows/amd64:10.0.17763.1234', 'windows/amd64:10.0.17763.1234', true],
    ['windows/amd64:10.0.1776', 'windows/amd64:10.0.17763.1234', false],
    ['windows/amd64:10.0.20348', 'windows/amd64:10.0.17763.1234', false],
    ['windows/amd64:10.0.17763', 'windows/amd64', false],
    ['linux/amd64', 'linux/amd64:5.10', true],
  ])('want %s, have %s -> %s', (want, have, expected) => {
    expect(platformMatches(p(want), p(have))).toBe(expected);
  });

  it('requires every wanted os.feature', () => {
    const want: Platform = { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] };
    expect(platformMatches(want, { os: 'windows', architecture: 'amd64', 'os.features': ['win32k', 'x'] })).toBe(true);
    expect(platformMatches(want, { os: 'windows', architecture: 'amd64' })).toBe(false);
    expect(platformMatches({ os: 'windows', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] })).toBe(true);
  });
});

describe('selectPlatform', () => {
  interface Entry {
    name: string;
    platform?: Platform;
  }
  const entry = (name: string, platform?: string): Entry => (platform ? { name, platform: p(platform) } : { name });

  // The shape of debian:10's index, in its order.
  const debian: Entry[] = [
    entry('amd64', 'linux/amd64'),
    entry('arm-v5', 'linux/arm/v5'),
    entry('arm-v7', 'linux/arm/v7'),
    entry('arm64-v8', 'linux/arm64/v8'),
    entry('386', 'linux/386'),
    entry('ppc64le', 'linux/ppc64le'),
    entry('s390x', 'linux/s390x'),
  ];

  it.each<[string, string | undefined]>([
    ['linux/amd64', 'amd64'],
    ['linux/x86_64', 'amd64'],
    ['linux/arm', 'arm-v7'],
    ['linux/arm/v7', 'arm-v7'],
    ['linux/armhf', 'arm-v7'],
    ['linux/arm/v5', 'arm-v5'],
    ['linux/arm/v6', undefined],
    ['linux/armel', undefined],
    ['linux/arm64', 'arm64-v8'],
    ['linux/arm64/v8', 'arm64-v8'],
    ['linux/aarch64', 'arm64-v8'],
    ['linux/386', '386'],
    ['linux/i686', '386'],
    ['linux/ppc64le', 'ppc64le'],
    ['linux/ppc64el', 'ppc64le'],
    ['linux/s390x', 's390x'],
    ['linux/riscv64', undefined],
    ['windows/amd64', undefined],
  ])('debian:10, want %s -> %s', (want, expected) => {
    expect(selectPlatform(p(want), debian)?.name).toBe(expected);
  });

  it('prefers the default variant when none is asked for, whatever the order', () => {
    const arm = [entry('v5', 'linux/arm/v5'), entry('v6', 'linux/arm/v6'), entry('v7', 'linux/arm/v7')];
    expect(selectPlatform(p('linux/arm'), arm)?.name).toBe('v7');
    expect(selectPlatform(p('linux/arm'), arm.slice(0, 2))?.name).toBe('v5');
    const arm64 = [entry('v8.2', 'linux/arm64/v8.2'), entry('plain', 'linux/arm64')];
    expect(selectPlatform(p('linux/arm64'), arm64)?.name).toBe('plain');
    const amd64 = [entry('v3', 'linux/amd64/v3'), entry('plain', 'linux/amd64')];
    expect(selectPlatform(p('linux/amd64'), amd64)?.name).toBe('plain');
  });

  it('prefers an entry that states the asked-for variant over one that implies it', () => {
    const c = [entry('implied', 'linux/arm64'), entry('stated', 'linux/arm64/v8')];
    expect(selectPlatform(p('linux/arm64/v8'), c)?.name).toBe('stated');
    expect(selectPlatform(p('linux/arm64'), c)?.name).toBe('implied');
  });

  it('takes the first of equally good matches', () => {
    const c = [entry('first', 'linux/amd64'), entry('second', 'linux/amd64'), entry('third', 'linux/x86_64')];
    expect(selectPlatform(p('linux/amd64'), c)?.name).toBe('first');
  });

  it('prefers an exact os.version over a longer one it prefixes', () => {
    const c = [
      entry('ltsc2019-patch', 'windows/amd64:10.0.17763.1234'),
      entry('ltsc2019', 'windows/amd64:10.0.17763'),
      entry('ltsc2022', 'windows/amd64:10.0.20348.2113'),
    ];
    expect(selectPlatform(p('windows/amd64:10.0.17763'), c)?.name).toBe('ltsc2019');
    expect(selectPlatform(p('windows/amd64:10.0.20348'), c)?.name).toBe('ltsc2022');
    expect(selectPlatform(p('windows/amd64'), c)?.name).toBe('ltsc2019-patch');
    expect(selectPlatform(p('windows/amd64:6.3'), c)).toBeUndefined();
  });

  it('never selects an entry without a platform', () => {
    const c = [entry('attestation'), entry('unknown', 'unknown/unknown'), entry('amd64', 'linux/amd64')];
    expect(selectPlatform(p('linux/amd64'), c)?.name).toBe('amd64');
    expect(selectPlatform(p('linux/amd64'), [entry('none')])).toBeUndefined();
    expect(selectPlatform(p('linux/amd64'), [])).toBeUndefined();
  });
});
