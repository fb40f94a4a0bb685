/**
 * Sigstore bundles and keyless cosign signatures, made by @sigstore/sign
 * against @sigstore/mock in this process and checked offline by
 * checkSigstoreBundle / checkCertificateSignature: good ones are valid and
 * name their signer; every tampered, misdirected or foreign one is rejected
 * with the verdict that says why. No socket other than loopback may open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { checkCertificateSignature, checkSigstoreBundle, checkSigstorePolicy } from '../../src/signatures/sigstore.js';
import type { SignaturePolicy } from '../../src/signatures/types.js';
import {
  asBundleVersion,
  COSIGN_SIGN_PREDICATE,
  createSigstoreWorld,
  DEFAULT_IDENTITY,
  DEFAULT_ISSUER,
  editDssePayload,
  flipBase64,
  flipSignatureByte,
  guardNetwork,
  signingKey,
  simpleSigningPayload,
  SLSA_PREDICATE,
  type BundleJSON,
  type KeylessCosignSignature,
  type SigstoreWorld,
} from '../helpers/sigstore-fixtures.js';

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
const subject = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
const otherManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [], annotations: { a: 'b' } }));
const other = `sha256:${createHash('sha256').update(otherManifest).digest('hex')}`;

let guard: ReturnType<typeof guardNetwork>;
let world: SigstoreWorld;
let foreign: SigstoreWorld;
let expired: SigstoreWorld;
let policy: SignaturePolicy;
const made: Record<string, BundleJSON> = {};
let keyless: KeylessCosignSignature;

beforeAll(async () => {
  guard = guardNetwork();
  [world, foreign, expired] = await Promise.all([
    createSigstoreWorld(),
    createSigstoreWorld(),
    // Certificates valid for ten minutes from an hour ago: expired when the log records the signature.
    createSigstoreWorld({ expiredCertificates: true }),
  ]);
  policy = { trustedRoot: world.trustedRoot, certificateIdentity: DEFAULT_IDENTITY, certificateOidcIssuer: DEFAULT_ISSUER };
  [made.message, made.sign, made.attest, made.otherSubject, made.otherMessage, made.foreign, made.expired, keyless] = await Promise.all([
    world.messageBundle(manifest),
    world.dsseBundle(subject),
    world.dsseBundle(subject, SLSA_PREDICATE),
    world.dsseBundle(other),
    world.messageBundle(otherManifest),
    foreign.dsseBundle(subject),
    expired.dsseBundle(subject),
    world.keylessSignature(simpleSigningPayload(subject)),
  ]);
});

afterAll(() => {
  const attempts = guard.stop();
  expect(attempts, 'connections other than loopback were attempted').toEqual([]);
});

describe('the network guard', () => {
  it('catches a connection that is not to loopback, by socket and by fetch', async () => {
    expect(() => net.connect({ host: '192.0.2.1', port: 9 })).toThrow();
    await expect(fetch('http://192.0.2.1:8000/')).rejects.toThrow();
    expect(guard.attempts).toEqual(['192.0.2.1', '192.0.2.1']);
    guard.attempts.length = 0;
  });
});

describe('checkSigstoreBundle: good bundles', () => {
  it('a DSSE bundle as cosign sign --new-bundle-format writes is valid and names its signer and predicate', async () => {
    const out = await checkSigstoreBundle(made.sign, subject, policy);
    expect(out).toMatchObject({ kind: 'sigstore-bundle', verdict: 'valid', predicateType: COSIGN_SIGN_PREDICATE });
    expect(out.signer).toEqual({ identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER });
  });

  it('an attestation (DSSE, SLSA predicate) is valid and reports its predicate type', async () => {
    expect(await checkSigstoreBundle(made.attest, subject, policy)).toMatchObject({ verdict: 'valid', predicateType: SLSA_PREDICATE });
  });

  it('a message-signature bundle over the subject manifest is valid when given its bytes', async () => {
    expect(await checkSigstoreBundle(made.message, subject, policy, manifest)).toMatchObject({ verdict: 'valid', signer: { identity: DEFAULT_IDENTITY } });
  });

  it.each(['0.1', '0.2'] as const)('the same bundles read as v%s are valid', async (version) => {
    expect(await checkSigstoreBundle(asBundleVersion(made.sign!, version), subject, policy)).toMatchObject({ verdict: 'valid' });
    expect(await checkSigstoreBundle(asBundleVersion(made.message!, version), subject, policy, manifest)).toMatchObject({ verdict: 'valid' });
  });

  it('identity and issuer regexps match as cosign matches them (unanchored)', async () => {
    const byRegexp = { trustedRoot: world.trustedRoot, certificateIdentityRegexp: '^https://github\\.com/acme/', certificateOidcIssuerRegexp: 'actions\\.github' };
    expect(await checkSigstoreBundle(made.sign, subject, byRegexp)).toMatchObject({ verdict: 'valid' });
  });
});

describe('checkSigstoreBundle: rejected', () => {
  it('without a trusted root: unverified, predicate still reported', async () => {
    expect(await checkSigstoreBundle(made.attest, subject, { certificateIdentity: DEFAULT_IDENTITY })).toMatchObject({
      verdict: 'unverified',
      predicateType: SLSA_PREDICATE,
    });
  });

  it('without an identity or issuer to accept: unverified (cosign refuses keyless verification without them)', async () => {
    expect(await checkSigstoreBundle(made.sign, subject, { trustedRoot: world.trustedRoot })).toMatchObject({ verdict: 'unverified' });
    expect(await checkSigstoreBundle(made.sign, subject, { trustedRoot: world.trustedRoot, certificateIdentity: DEFAULT_IDENTITY })).toMatchObject({ verdict: 'unverified' });
  });

  it('a message signature without the manifest bytes: unverified', async () => {
    expect(await checkSigstoreBundle(made.message, subject, policy)).toMatchObject({ verdict: 'unverified' });
  });

  it('a payload byte changed: invalid', async () => {
    const tampered = editDssePayload(made.attest!, (s) => s.replace('"buildType":"test"', '"buildType":"tesT"'));
    expect(await checkSigstoreBundle(tampered, subject, policy)).toMatchObject({ verdict: 'invalid', predicateType: SLSA_PREDICATE });
  });

  it('a statement about another image edited to name this one: invalid, not wrong-subject', async () => {
    const tampered = editDssePayload(made.otherSubject!, (s) => s.replace(other.slice(7), subject.slice(7)));
    expect(await checkSigstoreBundle(tampered, subject, policy)).toMatchObject({ verdict: 'invalid' });
  });

  it('a signature byte changed: invalid (DSSE and message signature)', async () => {
    expect(await checkSigstoreBundle(flipSignatureByte(made.sign!), subject, policy)).toMatchObject({ verdict: 'invalid' });
    expect(await checkSigstoreBundle(flipSignatureByte(made.message!), subject, policy, manifest)).toMatchObject({ verdict: 'invalid' });
  });

  it('a good signature of another image: wrong-subject (DSSE and message signature)', async () => {
    const dsse = await checkSigstoreBundle(made.otherSubject, subject, policy);
    expect(dsse).toMatchObject({ verdict: 'wrong-subject', signer: { identity: DEFAULT_IDENTITY } });
    expect(await checkSigstoreBundle(made.otherMessage, subject, policy, manifest)).toMatchObject({ verdict: 'wrong-subject' });
    // Sanity: each is valid for the image it does sign.
    expect(await checkSigstoreBundle(made.otherSubject, other, policy)).toMatchObject({ verdict: 'valid' });
    expect(await checkSigstoreBundle(made.otherMessage, other, policy, otherManifest)).toMatchObject({ verdict: 'valid' });
  });

  it('another identity or issuer than asked: invalid', async () => {
    for (const asked of [
      { ...policy, certificateIdentity: 'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main' },
      { ...policy, certificateOidcIssuer: 'https://accounts.google.com' },
      { trustedRoot: world.trustedRoot, certificateIdentityRegexp: '^https://github\\.com/evil/', certificateOidcIssuer: DEFAULT_ISSUER },
      { trustedRoot: world.trustedRoot, certificateIdentity: DEFAULT_IDENTITY, certificateOidcIssuerRegexp: '^https://accounts\\.google\\.com$' },
    ]) {
      expect(await checkSigstoreBundle(made.sign, subject, asked)).toMatchObject({ verdict: 'invalid' });
    }
  });

  it('a bundle from another Sigstore instance (foreign root): invalid', async () => {
    expect(await checkSigstoreBundle(made.foreign, subject, policy)).toMatchObject({ verdict: 'invalid' });
    expect(await checkSigstoreBundle(made.sign, subject, { ...policy, trustedRoot: foreign.trustedRoot })).toMatchObject({ verdict: 'invalid' });
  });

  it('signed while the certificate was not valid (expired at signing time): invalid', async () => {
    expect(await checkSigstoreBundle(made.expired, subject, { ...policy, trustedRoot: expired.trustedRoot })).toMatchObject({ verdict: 'invalid' });
  });

  it('the transparency log entry removed or its promise altered: invalid', async () => {
    const noLog = structuredClone(made.sign!) as { verificationMaterial: { tlogEntries: unknown[]; timestampVerificationData?: unknown } };
    noLog.verificationMaterial.tlogEntries = [];
    expect(await checkSigstoreBundle(noLog, subject, policy)).toMatchObject({ verdict: 'invalid' });
    const v01 = asBundleVersion(made.sign!, '0.1') as { verificationMaterial: { tlogEntries: Array<{ inclusionPromise: { signedEntryTimestamp: string }; inclusionProof?: unknown }> } };
    const entry = v01.verificationMaterial.tlogEntries[0]!;
    delete entry.inclusionProof;
    entry.inclusionPromise.signedEntryTimestamp = flipBase64(entry.inclusionPromise.signedEntryTimestamp, 20);
    expect(await checkSigstoreBundle(v01, subject, policy)).toMatchObject({ verdict: 'invalid' });
  });

  it('not a bundle, or a DSSE payload that is not an in-toto statement: invalid, never a throw', async () => {
    for (const junk of [null, 'text', {}, { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }, { ...made.sign, dsseEnvelope: { payload: '!!', payloadType: 'x', signatures: [] } }]) {
      const out = await checkSigstoreBundle(junk, subject, policy);
      expect(out.verdict).toBe('invalid');
      expect(out.reason).toMatch(/\S/);
      expect(out.reason).not.toContain('\n');
    }
    const notInToto = structuredClone(made.sign!) as { dsseEnvelope: { payloadType: string } };
    notInToto.dsseEnvelope.payloadType = 'application/json';
    expect(await checkSigstoreBundle(notInToto, subject, policy)).toMatchObject({ verdict: 'invalid' });
  });

  it('a trusted root that is not one: refused up front with a usage error, and invalid if it reaches a check', async () => {
    expect(() => checkSigstorePolicy({ trustedRoot: { mediaType: 'x' } })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => checkSigstorePolicy({ trustedRoot: world.trustedRoot, certificateIdentityRegexp: '(' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => checkSigstorePolicy(policy)).not.toThrow();
    expect(await checkSigstoreBundle(made.sign, subject, { ...policy, trustedRoot: { tlogs: 'no' } })).toMatchObject({ verdict: 'invalid' });
  });
});

describe('checkSigstoreBundle: bundles signed with a key (cosign sign --key, new bundle format)', () => {
  let key: ReturnType<typeof signingKey>;
  let bundle: BundleJSON;
  beforeAll(async () => {
    key = signingKey();
    bundle = await world.keySignedBundle(subject, key.pair);
  });
  const keys = () => [{ pem: key.publicPem, source: 'cosign.pub' }];

  it('checked with --key alone (signature only, the log not checked) or with the root too: valid, by its fingerprint', async () => {
    for (const p of [{ keys: keys() }, { keys: keys(), trustedRoot: world.trustedRoot }]) {
      const out = await checkSigstoreBundle(bundle, subject, p);
      expect(out).toMatchObject({ verdict: 'valid', signer: { keySource: 'cosign.pub' } });
      expect(out.signer?.keyFingerprint).toMatch(/^SHA256:/);
    }
  });

  it('another key, a signature byte changed, a foreign root, another subject: rejected', async () => {
    expect(await checkSigstoreBundle(bundle, subject, { keys: [{ pem: signingKey().publicPem }] })).toMatchObject({ verdict: 'invalid' });
    expect(await checkSigstoreBundle(flipSignatureByte(bundle), subject, { keys: keys() })).toMatchObject({ verdict: 'invalid' });
    expect(await checkSigstoreBundle(bundle, subject, { keys: keys(), trustedRoot: foreign.trustedRoot })).toMatchObject({ verdict: 'invalid' });
    expect(await checkSigstoreBundle(bundle, other, { keys: keys() })).toMatchObject({ verdict: 'wrong-subject' });
  });

  it('without --key: unverified, even with a root', async () => {
    expect(await checkSigstoreBundle(bundle, subject, policy)).toMatchObject({ verdict: 'unverified' });
  });
});

describe('checkCertificateSignature: cosign keyless annotations', () => {
  it('signature, certificate, chain and Rekor bundle check out: valid, with the signer', async () => {
    const out = await checkCertificateSignature(keyless, policy);
    expect(out).toMatchObject({ kind: 'cosign-signature', verdict: 'valid', signer: { identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER } });
    expect(await checkCertificateSignature({ ...keyless, chain: undefined }, policy)).toMatchObject({ verdict: 'valid' });
  });

  it('without a trusted root: unverified', async () => {
    expect(await checkCertificateSignature(keyless, { certificateIdentity: DEFAULT_IDENTITY })).toMatchObject({ verdict: 'unverified' });
  });

  it('payload byte, signature byte, Rekor promise changed, or no Rekor bundle: invalid', async () => {
    const payload = Buffer.from(keyless.payload);
    payload[payload.length - 3] = (payload[payload.length - 3] ?? 0) ^ 0x01;
    const rekor = JSON.parse(keyless.rekorBundle) as { SignedEntryTimestamp: string; Payload: { integratedTime: number } };
    const laterTime = { ...rekor, Payload: { ...rekor.Payload, integratedTime: rekor.Payload.integratedTime + 1 } };
    const badSet = { ...rekor, SignedEntryTimestamp: flipBase64(rekor.SignedEntryTimestamp, 20) };
    for (const tampered of [
      { ...keyless, payload },
      { ...keyless, signature: flipBase64(keyless.signature) },
      { ...keyless, rekorBundle: JSON.stringify(laterTime) },
      { ...keyless, rekorBundle: JSON.stringify(badSet) },
      { ...keyless, rekorBundle: undefined },
      { ...keyless, rekorBundle: '{' },
      { ...keyless, certificate: 'not a certificate' },
    ]) {
      expect(await checkCertificateSignature(tampered, policy)).toMatchObject({ verdict: 'invalid' });
    }
  });

  it('wrong identity, wrong issuer, foreign root: invalid', async () => {
    expect(await checkCertificateSignature(keyless, { ...policy, certificateIdentity: 'mailto:someone@example.com' })).toMatchObject({ verdict: 'invalid' });
    expect(await checkCertificateSignature(keyless, { ...policy, certificateOidcIssuer: 'https://accounts.google.com' })).toMatchObject({ verdict: 'invalid' });
    expect(await checkCertificateSignature(keyless, { ...policy, trustedRoot: foreign.trustedRoot })).toMatchObject({ verdict: 'invalid' });
  });
});
