/**
 * verify --key: cosign signatures and DSSE attestations made by openssl
 * (test/helpers/cosign-fixtures.ts), good and tampered, under cosign's tags
 * and as OCI 1.1 referrers; on a layout directory, a .tar and .tar.gz read in
 * place, stdin, and a real registry on loopback. Every CLI run is offline:
 * a preload refuses and records any connect that is not loopback.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, isCleanError, ocikit, run, type RunOptions, type RunResult } from '../helpers/cli.js';
import { once, requireTool } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { offlineGuard, type OfflineGuard } from '../helpers/offline.js';
import { blobFile, editIndex, EMPTY, OCI_MANIFEST, storeBlob, storeJson, tagged, verifyJson, type Desc, type Finding } from '../helpers/audit-layouts.js';
import { addImage, addIndex, attestImage, emptyLayout, KEY_TYPES, makeKey, signImage, type KeyType, type TestKey } from '../helpers/cosign-fixtures.js';

const { tmp } = afterFile();

interface SignatureCheckJson {
  manifest: string;
  layer: number;
  placement: 'referrer' | 'tag';
  kind: string;
  verdict: string;
  signer?: { keyFingerprint?: string; keySource?: string };
  predicateType?: string;
  reason?: string;
}
interface Report {
  ok: boolean;
  findings: Finding[];
  signatures?: Array<{ subject: string; checks: SignatureCheckJson[] }>;
}

let guard: OfflineGuard | undefined;
/** How every ocikit of this file runs: under the no-network guard. */
async function offline(opts: { input?: Buffer } = {}): Promise<RunOptions> {
  guard ??= await offlineGuard(await tmp());
  return { env: guard.env, ...(opts.input ? { input: opts.input } : {}) };
}

async function cli(args: string[], opts: { input?: Buffer } = {}): Promise<RunResult> {
  return ocikit(args, await offline(opts));
}

async function verify(target: string, args: string[] = [], opts: { input?: Buffer } = {}): Promise<{ code: number; report: Report; stderr: string }> {
  return verifyJson<Report>([target, ...args], await offline(opts));
}

/** The signature findings of each subject, codes sorted: what every placement and form must agree on. */
function signatureCodes(report: Report): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of report.findings) {
    if (!/^SIGNATURE_|^UNSIGNED$/.test(f.code)) continue;
    (out[f.object] ??= []).push(f.code);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** Every finding that is not about signatures: the signed layouts are otherwise intact. */
function otherFindings(report: Report): Finding[] {
  return report.findings.filter((f) => !/^SIGNATURE_|^UNSIGNED$/.test(f.code));
}

const keys = once(async () => {
  requireTool('openssl');
  const dir = await tmp();
  const given = {} as Record<KeyType, TestKey>;
  const foreign = {} as Record<KeyType, TestKey>;
  await Promise.all(
    KEY_TYPES.map(async (t) => {
      given[t] = await makeKey(dir, t);
      foreign[t] = await makeKey(dir, t, `${t}-foreign`);
    }),
  );
  return { given, foreign, flags: KEY_TYPES.flatMap((t) => ['--key', given[t].publicFile]) };
});

type Case = 'tag' | 'referrer' | 'payload' | 'signature' | 'other-image' | 'wrong-key';
const EXPECTED: Record<Case, string[]> = {
  tag: ['SIGNATURE_VALID'],
  referrer: ['SIGNATURE_VALID'],
  // A signature that does not check out leaves the image unsigned (a note without --require-signature).
  payload: ['SIGNATURE_INVALID', 'UNSIGNED'],
  signature: ['SIGNATURE_INVALID', 'UNSIGNED'],
  'other-image': ['SIGNATURE_WRONG_SUBJECT', 'UNSIGNED'],
  'wrong-key': ['SIGNATURE_INVALID', 'UNSIGNED'],
};

/**
 * One layout, one image per key type and case, each signed its way: a
 * single verify run then answers for all of them, subject by subject.
 */
const matrix = once(async () => {
  const { given, foreign } = await keys();
  const dir = await emptyLayout(path.join(await tmp(), 'matrix'));
  const elsewhere = await addImage(dir, 'elsewhere');
  const subjects: Record<string, { key: KeyType; c: Case; image: Desc }> = {};
  for (const t of KEY_TYPES) {
    for (const c of Object.keys(EXPECTED) as Case[]) {
      const image = await addImage(dir, `${t}-${c}`);
      const placement = c === 'tag' || c === 'payload' || c === 'wrong-key' ? 'tag' : 'referrer';
      await signImage(dir, image, c === 'wrong-key' ? foreign[t] : given[t], {
        placement,
        ...(c === 'payload' || c === 'signature' ? { tamper: c } : {}),
        ...(c === 'other-image' ? { signedDigest: elsewhere.digest } : {}),
      });
      subjects[image.digest] = { key: t, c, image };
    }
  }
  const expected: Record<string, string[]> = { [elsewhere.digest]: ['UNSIGNED'] };
  for (const [digest, s] of Object.entries(subjects)) expected[digest] = EXPECTED[s.c];
  return { dir, subjects, expected, elsewhere };
});

/** The matrix image of a key type and case, by digest. */
function imageOf(subjects: Record<string, { key: KeyType; c: Case; image: Desc }>): (t: KeyType, c: Case) => string {
  return (t, c) => Object.values(subjects).find((s) => s.key === t && s.c === c)!.image.digest;
}

describe('verify --key: cosign signatures made by openssl', () => {
  it('checks each key type in both placements, and rejects every tampering with the right code', async () => {
    const { given, flags } = await keys();
    const { dir, subjects, expected } = await matrix();
    const { code, report } = await verify(dir, flags);
    expect(otherFindings(report)).toEqual([]);
    expect(signatureCodes(report)).toEqual(expected);
    expect(code).toBe(1);
    // Who signed: the key's fingerprint and file, in the report and in the finding's words.
    for (const s of report.signatures ?? []) {
      const subject = subjects[s.subject]!;
      const check = s.checks[0]!;
      expect(check.kind).toBe('cosign-signature');
      expect(check.placement).toBe(subject.c === 'tag' || subject.c === 'payload' || subject.c === 'wrong-key' ? 'tag' : 'referrer');
      if (check.verdict === 'valid' || check.verdict === 'wrong-subject') {
        expect(check.signer).toEqual({ keyFingerprint: given[subject.key].fingerprint, keySource: given[subject.key].publicFile });
      }
    }
    const valid = report.findings.filter((f) => f.code === 'SIGNATURE_VALID');
    expect(valid).toHaveLength(KEY_TYPES.length * 2);
    for (const f of valid) {
      expect(f.severity).toBe('note');
      expect(f.message).toContain(given[subjects[f.object]!.key].fingerprint);
    }
    expect(await guard!.attempts()).toEqual([]);
  });

  it('--require-signature turns UNSIGNED into an error; valid signatures alone pass', async () => {
    const { given } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'signed'));
    const a = await addImage(dir, 'a');
    const b = await addImage(dir, 'b');
    await signImage(dir, a, given['ecdsa-p256'], { placement: 'tag' });
    await signImage(dir, b, given['ed25519'], { placement: 'referrer' });
    const keyFlags = ['--key', given['ecdsa-p256'].publicFile, '--key', given['ed25519'].publicFile];

    // A tagged artifact (an SBOM pushed with a tag, as oras does) is not an image: never "unsigned".
    const sbomLayer = await storeBlob(dir, '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json');
    await storeJson(dir, {}, EMPTY.mediaType);
    const sbom = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: EMPTY, layers: [sbomLayer] }, OCI_MANIFEST);
    await editIndex(dir, (ix) => void ix.manifests.push(tagged(sbom, 'sbom')));

    const signed = await verify(dir, [...keyFlags, '--require-signature']);
    expect(signed.report.findings.map((f) => [f.code, f.object]).sort()).toEqual([['SIGNATURE_VALID', a.digest], ['SIGNATURE_VALID', b.digest]].sort());
    expect(signed.code).toBe(0);

    const c = await addImage(dir, 'c');
    const lenient = await verify(dir, keyFlags);
    expect(signatureCodes(lenient.report)[c.digest]).toEqual(['UNSIGNED']);
    expect(lenient.report.findings.find((f) => f.code === 'UNSIGNED')!.severity).toBe('note');
    expect(lenient.code).toBe(0);

    const strict = await verify(dir, [...keyFlags, '--require-signature']);
    expect(strict.report.findings.find((f) => f.code === 'UNSIGNED')).toMatchObject({ severity: 'error', object: c.digest });
    expect(strict.code).toBe(1);

    // Without a key nothing can be checked: each signature found is a warning, and no UNSIGNED notes at all.
    const plain = await verify(dir);
    expect(signatureCodes(plain.report)).toEqual({ [a.digest]: ['SIGNATURE_UNVERIFIED'], [b.digest]: ['SIGNATURE_UNVERIFIED'] });
    expect(plain.report.signatures?.flatMap((s) => s.checks.map((x) => x.verdict))).toEqual(['unverified', 'unverified']);
    expect(plain.code).toBe(0);
    expect(await guard!.attempts()).toEqual([]);
  });

  it('a signature of an index platform manifest is reported for that manifest; only the index needs one', async () => {
    const { given } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'index'));
    const { index, platforms } = await addIndex(dir, 'multi');
    await signImage(dir, index, given.rsa, { placement: 'tag' });
    await signImage(dir, platforms[1]!, given.rsa, { placement: 'referrer' });
    await signImage(dir, platforms[0]!, given.rsa, { placement: 'tag', signedDigest: platforms[1]!.digest });
    const { code, report } = await verify(dir, ['--key', given.rsa.publicFile, '--require-signature']);
    expect(otherFindings(report)).toEqual([]);
    expect(signatureCodes(report)).toEqual({
      [index.digest]: ['SIGNATURE_VALID'],
      [platforms[0]!.digest]: ['SIGNATURE_WRONG_SUBJECT'],
      [platforms[1]!.digest]: ['SIGNATURE_VALID'],
    });
    expect(report.signatures!.map((s) => s.subject).sort()).toEqual([index.digest, ...platforms.map((p) => p.digest)].sort());
    expect(code).toBe(1);
  });
});

describe('verify --key: signature bytes are read through the target, digests checked first', () => {
  it('a payload blob changed on disk is DIGEST_MISMATCH and SIGNATURE_INVALID, never valid', async () => {
    const { given } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'rotten'));
    const image = await addImage(dir, 'v1');
    const sig = await signImage(dir, image, given['ecdsa-p256'], { placement: 'tag' });
    const layer = (JSON.parse(await readFile(blobFile(dir, sig.digest), 'utf8')) as { layers: Desc[] }).layers[0]!;
    // Same length, one byte different: only the digest can tell.
    const bytes = await readFile(blobFile(dir, layer.digest));
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
    await writeFile(blobFile(dir, layer.digest), bytes);
    const { code, report } = await verify(dir, ['--key', given['ecdsa-p256'].publicFile]);
    expect(report.findings.map((f) => [f.code, f.object]).sort()).toEqual(
      [
        ['DIGEST_MISMATCH', layer.digest],
        ['SIGNATURE_INVALID', image.digest],
        ['UNSIGNED', image.digest],
      ].sort(),
    );
    expect(report.signatures![0]!.checks[0]).toMatchObject({ verdict: 'invalid', reason: expect.stringContaining('cannot read') });
    expect(code).toBe(1);
  });
});

describe('verify REF --key: only what the reference names', () => {
  it('a tag or a digest is the one subject; its signatures are found by resolving cosign tags and referrers', async () => {
    const { flags } = await keys();
    const { dir, subjects } = await matrix();
    const byCase = imageOf(subjects);
    const byTag = await verify(`${dir}:ecdsa-p256-tag`, flags);
    expect(signatureCodes(byTag.report)).toEqual({ [byCase('ecdsa-p256', 'tag')]: ['SIGNATURE_VALID'] });
    expect(byTag.code).toBe(0);
    const referred = await verify(`${dir}@${byCase('ed25519', 'referrer')}`, flags);
    expect(signatureCodes(referred.report)).toEqual({ [byCase('ed25519', 'referrer')]: ['SIGNATURE_VALID'] });
    const replayed = await verify(`${dir}:rsa-other-image`, flags);
    expect(signatureCodes(replayed.report)).toEqual({ [byCase('rsa', 'other-image')]: ['SIGNATURE_WRONG_SUBJECT', 'UNSIGNED'] });
    expect(replayed.code).toBe(1);
    expect(await guard!.attempts()).toEqual([]);
  });
});

describe('verify --key: DSSE attestations signed by openssl over PAE', () => {
  it('reports the predicate type of a valid attestation and rejects tampered or misdirected ones', async () => {
    const { given } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'attest'));
    const good = await addImage(dir, 'good');
    const payload = await addImage(dir, 'payload');
    const sig = await addImage(dir, 'sig');
    const other = await addImage(dir, 'other');
    await attestImage(dir, good, given['ecdsa-p384'], { placement: 'tag', predicateType: 'https://spdx.dev/Document' });
    await attestImage(dir, good, given['ecdsa-p384'], { placement: 'referrer' });
    await signImage(dir, good, given['ecdsa-p384'], { placement: 'tag' });
    await attestImage(dir, payload, given['ecdsa-p384'], { placement: 'tag', tamper: 'payload' });
    await attestImage(dir, sig, given['ecdsa-p384'], { placement: 'referrer', tamper: 'signature' });
    await attestImage(dir, other, given['ecdsa-p384'], { placement: 'tag', signedDigest: good.digest });
    const { code, report } = await verify(dir, ['--key', given['ecdsa-p384'].publicFile]);
    expect(otherFindings(report)).toEqual([]);
    expect(signatureCodes(report)).toEqual({
      [good.digest]: ['SIGNATURE_VALID', 'SIGNATURE_VALID', 'SIGNATURE_VALID'],
      // An attestation, even a valid one, does not sign the image (as cosign verify): these stay unsigned.
      [payload.digest]: ['SIGNATURE_INVALID', 'UNSIGNED'],
      [sig.digest]: ['SIGNATURE_INVALID', 'UNSIGNED'],
      [other.digest]: ['SIGNATURE_WRONG_SUBJECT', 'UNSIGNED'],
    });
    const goodChecks = report.signatures!.find((s) => s.subject === good.digest)!.checks;
    expect(goodChecks.filter((c) => c.kind === 'cosign-attestation').map((c) => [c.verdict, c.predicateType]).sort()).toEqual([
      ['valid', 'https://slsa.dev/provenance/v1'],
      ['valid', 'https://spdx.dev/Document'],
    ]);
    expect(code).toBe(1);

    const attestedOnly = await emptyLayout(path.join(await tmp(), 'attested-only'));
    const image = await addImage(attestedOnly, 'x');
    await attestImage(attestedOnly, image, given['ecdsa-p384'], { placement: 'tag' });
    const alone = await verify(attestedOnly, ['--key', given['ecdsa-p384'].publicFile, '--require-signature']);
    expect(signatureCodes(alone.report)).toEqual({ [image.digest]: ['SIGNATURE_VALID', 'UNSIGNED'] });
    expect(alone.code).toBe(1);
    expect(await guard!.attempts()).toEqual([]);
  });
});

describe('verify --key: the same codes on every form of the target', () => {
  it('a layout directory, a .tar and a .tar.gz read in place, and stdin', async () => {
    const { flags } = await keys();
    const { dir, expected } = await matrix();
    const work = await tmp();
    const tar = path.join(work, 'matrix.tar');
    const tgz = path.join(work, 'matrix.tar.gz');
    expect((await run('tar', ['-cf', tar, '-C', dir, '.'])).code).toBe(0);
    expect((await run('tar', ['-czf', tgz, '-C', dir, '.'])).code).toBe(0);
    for (const target of [tar, tgz]) {
      const { code, report } = await verify(target, flags);
      expect(otherFindings(report), target).toEqual([]);
      expect(signatureCodes(report), target).toEqual(expected);
      expect(code).toBe(1);
    }
    const piped = await verify('-', flags, { input: await readFile(tar) });
    expect(otherFindings(piped.report)).toEqual([]);
    expect(signatureCodes(piped.report)).toEqual(expected);
    expect(piped.code).toBe(1);
    expect(await guard!.attempts()).toEqual([]);
  });

  it('a distribution registry on loopback, the layout pushed to it', async () => {
    const { flags } = await keys();
    const { dir, expected, subjects } = await matrix();
    const registry = await startRegistry();
    try {
      const repo = `${registry.host}/signed/matrix`;
      const pushed = await cli(['push', dir, repo]);
      expect(pushed.code, pushed.stderr).toBe(0);
      const { code, report } = await verify(repo, flags);
      expect(otherFindings(report)).toEqual([]);
      expect(signatureCodes(report)).toEqual(expected);
      expect(code).toBe(1);
      // One tag: its signatures found by resolving cosign's tag and asking for referrers
      // (this registry has no referrers API: ocikit reads the fallback tag).
      const byCase = imageOf(subjects);
      for (const [t, c] of [['ecdsa-p256', 'tag'], ['ed25519', 'referrer']] as const) {
        const one = await verify(`${repo}:${t}-${c}`, flags);
        expect(signatureCodes(one.report)).toEqual({ [byCase(t, c)]: ['SIGNATURE_VALID'] });
        expect(one.code).toBe(0);
      }
    } finally {
      await registry.stop();
    }
    expect(await guard!.attempts()).toEqual([]);
  });
});

describe('cosign signature manifests are valid content (issue 17)', () => {
  it("the empty image config under cosign's .sig tag is not INVALID_MANIFEST", async () => {
    const { given } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'plain'));
    const image = await addImage(dir, 'v1');
    await signImage(dir, image, given['ecdsa-p256'], { placement: 'tag' });
    const plain = await verify(dir);
    expect(plain.report.findings.filter((f) => f.code === 'INVALID_MANIFEST')).toEqual([]);
    expect(plain.report.ok).toBe(true);
    expect(plain.report.findings.map((f) => f.code)).toEqual(['SIGNATURE_UNVERIFIED']);
    expect(plain.code).toBe(0);
    const keyed = await verify(dir, ['--key', given['ecdsa-p256'].publicFile]);
    expect(keyed.report.findings.map((f) => f.code)).toEqual(['SIGNATURE_VALID']);
    expect(keyed.code).toBe(0);
  });
});

describe('verify: signature options that cannot work are usage errors (exit 2)', () => {
  it.each([
    ['a private key as --key', async (d: string, k: TestKey) => ['--key', k.privateFile]],
    ['a --key file that does not exist', async (d: string) => ['--key', path.join(d, 'nope.pub')]],
    ['a --key file that is not PEM', async (d: string) => (await writeFile(path.join(d, 'x.pub'), 'hello\n'), ['--key', path.join(d, 'x.pub')])],
    ['a --trusted-root that is not JSON', async (d: string) => (await writeFile(path.join(d, 'root.json'), '{'), ['--trusted-root', path.join(d, 'root.json'), '--certificate-identity', 'a@b', '--certificate-oidc-issuer', 'https://i'])],
    ['--trusted-root without an identity', async (d: string) => (await writeFile(path.join(d, 'root2.json'), '{}'), ['--trusted-root', path.join(d, 'root2.json'), '--certificate-oidc-issuer', 'https://i'])],
    ['--trusted-root without an issuer', async (d: string) => (await writeFile(path.join(d, 'root3.json'), '{}'), ['--trusted-root', path.join(d, 'root3.json'), '--certificate-identity-regexp', '.*'])],
    ['an identity without --trusted-root', async () => ['--certificate-identity', 'a@b', '--certificate-oidc-issuer', 'https://i']],
    ['an invalid identity regexp', async (d: string) => (await writeFile(path.join(d, 'root4.json'), '{}'), ['--trusted-root', path.join(d, 'root4.json'), '--certificate-identity-regexp', '(', '--certificate-oidc-issuer', 'https://i'])],
    ['--require-signature with neither key nor root', async () => ['--require-signature']],
    ['--trusted-root given twice', async (d: string) => (await writeFile(path.join(d, 'r.json'), '{}'), ['--trusted-root', path.join(d, 'r.json'), '--trusted-root', path.join(d, 'r.json'), '--certificate-identity', 'a', '--certificate-oidc-issuer', 'b'])],
  ])('%s', async (_name, flags) => {
    const { given } = await keys();
    const { dir } = await matrix();
    const d = await tmp();
    const r = await cli(['verify', dir, ...(await flags(d, given['ecdsa-p256'])), '--format', 'json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{')) ?? r.stdout)).toMatchObject({ error: { code: 'USAGE' } });
  });

  it('the usage error names the file', async () => {
    const { given } = await keys();
    const { dir } = await matrix();
    const r = await cli(['verify', dir, '--key', given.rsa.privateFile]);
    expect(r.code).toBe(2);
    expect(isCleanError(r.stderr)).toBe(true);
    expect(r.stderr).toContain(given.rsa.privateFile);
  });
});

describe('the offline guard itself', () => {
  it('records a connect to a non-loopback address made by a process it is preloaded into', async () => {
    const g = await offlineGuard(await tmp());
    const script = "require('node:net').connect(9, '192.0.2.1').on('error', () => {})";
    const r = await run(process.execPath, ['-e', script], { env: g.env });
    expect(r.code).toBe(0);
    expect(await g.attempts()).toHaveLength(1);
  });
});

