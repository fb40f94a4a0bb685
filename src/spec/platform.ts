/**
 * Platforms: parsing `--platform` strings, normalising architecture aliases,
 * and choosing a manifest from an index. Pure.
 *
 * Accepted syntax (the union of what oras and docker/containerd accept, minus
 * containerd's guessing of a lone OS or architecture, which depends on the
 * host and would make the same command mean different things on different
 * machines):
 *
 *   OS/ARCH                          linux/amd64
 *   OS/ARCH/VARIANT                  linux/arm/v7, linux/arm64/v8
 *   OS/ARCH[/VARIANT]:OSVERSION      windows/amd64:10.0.17763.1234   (oras)
 *   OS(OSVERSION)/ARCH[/VARIANT]     windows(10.0.17763.1234)/amd64  (containerd 2)
 *
 * Matching follows oras (exact OS and architecture; variant only when asked
 * for) after containerd's normalisation of aliases (x86_64 = amd64,
 * aarch64 = arm64, armhf = arm/v7, ...), so that the spellings people know from
 * `uname -m` and Debian architectures all work.
 */
import { UsageError } from '../errors.js';
import type { Platform } from './types.js';

const NAME = '[A-Za-z0-9][A-Za-z0-9._-]*';
const OS_VERSION = '[A-Za-z0-9][A-Za-z0-9._-]*';
const SYNTAX = new RegExp(`^(${NAME})(?:\\((${OS_VERSION})\\))?/(${NAME})(?:/(${NAME}))?(?::(${OS_VERSION}))?$`);

const HINT = 'write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7; add :OSVERSION for Windows, e.g. windows/amd64:10.0.17763';

export function parsePlatform(s: string): Platform {
  const text = typeof s === 'string' ? s.trim() : '';
  const m = SYNTAX.exec(text);
  if (!m) throw new UsageError(`invalid platform ${JSON.stringify(s)}`, { hint: HINT });
  const [, os, parenVersion, architecture, variant, colonVersion] = m;
  if (parenVersion !== undefined && colonVersion !== undefined) {
    throw new UsageError(`invalid platform ${JSON.stringify(s)}: the OS version is given twice`, { hint: HINT });
  }
  const p: Platform = { os: os!, architecture: architecture! };
  if (variant !== undefined) p.variant = variant;
  const osVersion = parenVersion ?? colonVersion;
  if (osVersion !== undefined) p['os.version'] = osVersion;
  return p;
}

/** The oras form, which parsePlatform reads back: `linux/arm/v7`, `windows/amd64:10.0.17763`. */
export function formatPlatform(p: Platform): string {
  let s = `${p.os}/${p.architecture}`;
  if (p.variant) s += `/${p.variant}`;
  if (p['os.version']) s += `:${p['os.version']}`;
  return s;
}

/** Architecture spellings from uname, dpkg and Go, and the variant each implies. */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  armv5l: { architecture: 'arm', variant: 'v5' },
  armv6l: { architecture: 'arm', variant: 'v6' },
  armv7l: { architecture: 'arm', variant: 'v7' },
  i386: { architecture: '386' },
  i486: { architecture: '386' },
  i586: { architecture: '386' },
  i686: { architecture: '386' },
  x86: { architecture: '386' },
  ppc64el: { architecture: 'ppc64le' },
};

/**
 * The variant an image without one is built for. Images for 32-bit ARM almost
 * always say their variant and mean v7 when they do not; 64-bit ARM images
 * mostly say nothing, or v8, and mean the same.
 */
const DEFAULT_VARIANT: Record<string, string> = { arm: 'v7', arm64: 'v8' };

function normalizeVariant(architecture: string, variant: string | undefined): string | undefined {
  let v = variant?.toLowerCase();
  if (v === '') v = undefined;
  if (v !== undefined && (architecture === 'arm' || architecture === 'arm64' || architecture === 'amd64')) {
    if (/^\d/.test(v)) v = `v${v}`;
    if (architecture === 'arm64') v = v.replace(/^(v\d+)\.0$/, '$1'); // v8.0 = v8
    if (architecture === 'amd64' && v === 'v1') v = undefined; // the x86-64 baseline
  }
  return v ?? DEFAULT_VARIANT[architecture];
}

interface Normalized {
  platform: Platform;
  /** The caller named a variant, directly or through an alias such as armhf. */
  explicitVariant: boolean;
}

function normalize(p: Platform): Normalized {
  // Index entries come from other people's files: tolerate missing fields here, validation reports them.
  const arch = String(p.architecture ?? '').toLowerCase();
  const alias = ARCH_ALIASES[arch];
  const architecture = alias?.architecture ?? arch;
  const given = alias?.variant ?? p.variant;
  const out: Platform = { ...p, os: String(p.os ?? '').toLowerCase(), architecture };
  const variant = normalizeVariant(architecture, given);
  if (variant === undefined) delete out.variant;
  else out.variant = variant;
  return { platform: out, explicitVariant: given !== undefined && given !== '' };
}

/**
 * Canonical spelling: lowercase OS and architecture, aliases resolved,
 * variants spelled `vN`, default variants filled in (arm -> v7, arm64 -> v8),
 * the amd64 baseline `v1` dropped. Other fields are kept as they are.
 */
export function normalizePlatform(p: Platform): Platform {
  return normalize(p).platform;
}

function osVersionMatches(want: string, have: string | undefined): boolean {
  if (have === undefined) return false;
  return have === want || have.startsWith(`${want}.`);
}

/**
 * Whether an image for `have` satisfies a request for `want`. OS and
 * architecture must be equal after normalisation; the variant only when `want`
 * names one; `os.version` only when `want` has one (a dotted prefix matches:
 * 10.0.17763 matches 10.0.17763.1234); `os.features` of `want` must all be
 * present in `have`.
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalize(want);
  const h = normalize(have).platform;
  if (w.platform.os !== h.os || w.platform.architecture !== h.architecture) return false;
  if (w.explicitVariant && w.platform.variant !== h.variant) return false;
  const wantVersion = want['os.version'];
  if (wantVersion && !osVersionMatches(wantVersion, have['os.version'])) return false;
  const wantFeatures = want['os.features'] ?? [];
  if (wantFeatures.length > 0) {
    const haveFeatures = new Set(have['os.features'] ?? []);
    if (!wantFeatures.every((f) => haveFeatures.has(f))) return false;
  }
  return true;
}

/**
 * Lower is better. A request without a variant prefers the architecture's
 * default variant (arm/v7 over arm/v5); a request with one prefers the entry
 * that spells it the same way; a request with an OS version prefers an exact
 * version over a longer one that it prefixes.
 */
function rank(want: Platform, have: Platform): [number, number] {
  const w = normalize(want);
  const h = normalize(have).platform;
  let variantRank: number;
  // Both already match here, so an entry that states its variant is the exact one.
  if (w.explicitVariant) variantRank = have.variant ? 0 : 1;
  else variantRank = h.variant === DEFAULT_VARIANT[h.architecture] ? 0 : 1;
  const wantVersion = want['os.version'];
  const versionRank = wantVersion && have['os.version'] !== wantVersion ? 1 : 0;
  return [variantRank, versionRank];
}

/**
 * The best candidate for `want`, or undefined. Candidates without a platform
 * never match. Among equally good candidates the first wins, as the
 * image-index spec asks.
 */
export function selectPlatform<T extends { platform?: Platform }>(want: Platform, candidates: T[]): T | undefined {
  let best: { c: T; r: [number, number] } | undefined;
  for (const c of candidates) {
    if (!c.platform || !platformMatches(want, c.platform)) continue;
    const r = rank(want, c.platform);
    if (!best || r[0] < best.r[0] || (r[0] === best.r[0] && r[1] < best.r[1])) best = { c, r };
  }
  return best?.c;
}

/** Node.js's `process.arch` names where they differ from the OCI architecture names. */
const NODE_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le' };

/**
 * The platform of the machine ocikit runs on, as skopeo and docker choose an
 * image from an index when none is asked for. The OS is `linux` everywhere
 * but Windows: Docker on macOS runs Linux images. (`ppc64` is Node.js's name
 * for little-endian POWER, the only one it runs on under Linux.)
 */
export function hostPlatform(arch: string = process.arch, osName: string = process.platform, armVersion: unknown = process.config.variables['arm_version' as keyof typeof process.config.variables]): Platform {
  const p: Platform = { os: osName === 'win32' ? 'windows' : 'linux', architecture: NODE_ARCH[arch] ?? arch };
  if (arch === 'arm' && (typeof armVersion === 'string' || typeof armVersion === 'number') && /^\d+$/.test(String(armVersion))) p.variant = `v${armVersion}`;
  return p;
}
