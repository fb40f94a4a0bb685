/**
 * `verify --trusted-root` on Sigstore bundles and keyless cosign signatures
 * attached as OCI 1.1 referrers, the way cosign v3 attaches them, in a
 * layout directory and in a `.tar` of it read in place. The signatures are
 * made by @sigstore/sign against @sigstore/mock in this process
 * (helpers/sigstore-fixtures.ts); the layouts are written with node:fs; the
 * CLI runs with the offline preload (helpers/offline.ts), and neither it
 * nor this process may connect anywhere but loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, ocikit, run } from '../helpers/cli.js';
import { offlineGuard, type OfflineGuard } from '../helpers/offline.js';
import { codes, editIndex, EMPTY, OCI_MANIFEST, storeBlob, storeJson, type Desc, type VerifyJson } from '../helpers/audit-layouts.js';
import { makeImageLayout } from '../helpers/image-layouts.js';
import {
  COSIGN_SIGN_PREDICATE,
  createSigstoreWorld,
  DEFAULT_IDENTITY,
  DEFAULT_ISSUER,
  flipSignatureByte,
  guardNetwork,
  simpleSigningPayload,
  SLSA_PREDICATE,
  type BundleJSON,
  type KeylessCosignSignature,
  type SigstoreWorld,
} from '../helpers/sigstore-fixtures.js';

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

const { tmp } = afterFile();
let guard: ReturnType<typeof guardNetwork>;
let world: SigstoreWorld;
let foreign: SigstoreWorld;
let rootFile: string;
let foreignRootFile: string;
let offline: OfflineGuard;

beforeAll(async () => {
  guard = guardNetwork();
  [world, foreign] = await Promise.all([createSigstoreWorld(), createSigstoreWorld()]);
  const dir = await tmp();
  rootFile = path.join(dir, 'trusted_root.json');
  foreignRootFile = path.join(dir, 'foreign_root.json');
  await writeFile(rootFile, JSON.stringify(world.trustedRoot));
  await writeFile(foreignRootFile, JSON.stringify(foreign.trustedRoot));
  // The CLI is another process: it gets the offline preload, which records any connection not to loopback.
  offline = await offlineGuard(dir);
});

afterAll(async () => {
  expect(await offline.attempts(), 'the CLI attempted connections other than loopback').toEqual([]);
  expect(guard.stop(), 'connections other than loopback were attempted').toEqual([]);
});

/** One image tagged `app`, and each `attach` as a referrer of it. */
async function layoutWith(attach: (image: Desc, dir: string) => Promise<Referrer[]>): Promise<{ dir: string; tar: string; image: Desc }> {
  const dir = path.join(await tmp(), 'layout');
  const { manifest: image } = await makeImageLayout(dir, { tag: 'app', seed: 'sigstore', layerBytes: 256 });
  const referrers: Desc[] = [];
  for (const r of await attach(image, dir)) referrers.push(await storeReferrer(dir, image, r));
  await editIndex(dir, (index) => {
    index.manifests.push(...referrers);
  });
  const tar = `${dir}.tar`;
  const packed = await run('tar', ['-C', dir, '-cf', tar, '.']);
  expect(packed.code, packed.stderr).toBe(0);
  return { dir, tar, image };
}

interface Referrer {
  artifactType: string;
  layer: { mediaType: string; bytes: Buffer; annotations?: Record<string, string> };
  annotations?: Record<string, string>;
}

/** A referrer manifest as cosign v3 writes one: empty config, one layer, the image as subject. */
async function storeReferrer(dir: string, subject: Desc, r: Referrer): Promise<Desc> {
  await storeBlob(dir, '{}', EMPTY.mediaType);
  const layer = await storeBlob(dir, r.layer.bytes, r.layer.mediaType);
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: r.artifactType,
    config: EMPTY,
    layers: [{ ...layer, ...(r.layer.annotations ? { annotations: r.layer.annotations } : {}) }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(r.annotations ? { annotations: r.annotations } : {}),
  };
  const desc = await storeJson(dir, doc, OCI_MANIFEST);
  return { ...desc, artifactType: r.artifactType };
}

function bundleReferrer(bundle: BundleJSON, predicateType: string): Referrer {
  return {
    artifactType: BUNDLE_V03,
    layer: { mediaType: BUNDLE_V03, bytes: Buffer.from(JSON.stringify(bundle)) },
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': predicateType },
  };
}

function keylessReferrer(sig: KeylessCosignSignature): Referrer {
  return {
    artifactType: COSIGN_SIG_ARTIFACT,
    layer: {
      mediaType: SIMPLE_SIGNING,
      bytes: sig.payload,
      annotations: {
        'dev.cosignproject.cosign/signature': sig.signature,
        'dev.sigstore.cosign/certificate': sig.certificate,
        'dev.sigstore.cosign/chain': sig.chain,
        'dev.sigstore.cosign/bundle': sig.rekorBundle,
      },
    },
  };
}

const identityFlags = ['--certificate-identity', DEFAULT_IDENTITY, '--certificate-oidc-issuer', DEFAULT_ISSUER];

async function verify(target: string, flags: string[]): Promise<{ code: number; report: VerifyJson }> {
  const r = await ocikit(['verify', target, ...flags, '--format', 'json'], { env: offline.env });
  return { code: r.code, report: JSON.parse(r.stdout) as VerifyJson };
}

const signatureCodes = (report: Parameters<typeof codes>[0]) => codes(report).filter((c) => c.startsWith('SIGNATURE_') || c === 'UNSIGNED');

describe('verify --trusted-root: Sigstore bundles and keyless signatures as referrers', () => {
  let good: { dir: string; tar: string; image: Desc };
  let tampered: { dir: string; tar: string };
  let misdirected: { dir: string; tar: string };

  beforeAll(async () => {
    good = await layoutWith(async (image) => [
      bundleReferrer(await world.dsseBundle(image.digest), COSIGN_SIGN_PREDICATE),
      bundleReferrer(await world.dsseBundle(image.digest, SLSA_PREDICATE), SLSA_PREDICATE),
      keylessReferrer(await world.keylessSignature(simpleSigningPayload(image.digest))),
    ]);
    tampered = await layoutWith(async (image) => [bundleReferrer(flipSignatureByte(await world.dsseBundle(image.digest)), COSIGN_SIGN_PREDICATE)]);
    misdirected = await layoutWith(async () => [
      bundleReferrer(await world.dsseBundle('sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'), COSIGN_SIGN_PREDICATE),
    ]);
  });

  for (const form of ['dir', 'tar'] as const) {
    describe(`on a layout ${form === 'dir' ? 'directory' : '.tar read in place'}`, () => {
      it('good bundles and a keyless signature: SIGNATURE_VALID for each, exit 0', async () => {
        const { code, report } = await verify(good[form], ['--trusted-root', rootFile, ...identityFlags]);
        expect(signatureCodes(report)).toEqual(['SIGNATURE_VALID', 'SIGNATURE_VALID', 'SIGNATURE_VALID']);
        expect(codes(report, 'error')).toEqual([]);
        expect(code).toBe(0);
      });

      it('a signature byte changed: SIGNATURE_INVALID, exit 1', async () => {
        const { code, report } = await verify(tampered[form], ['--trusted-root', rootFile, ...identityFlags]);
        expect(signatureCodes(report)).toContain('SIGNATURE_INVALID');
        expect(signatureCodes(report)).not.toContain('SIGNATURE_VALID');
        expect(code).toBe(1);
      });

      it('a good bundle about another image: SIGNATURE_WRONG_SUBJECT, exit 1', async () => {
        const { code, report } = await verify(misdirected[form], ['--trusted-root', rootFile, ...identityFlags]);
        expect(signatureCodes(report)).toContain('SIGNATURE_WRONG_SUBJECT');
        expect(signatureCodes(report)).not.toContain('SIGNATURE_VALID');
        expect(code).toBe(1);
      });

      it('another identity asked for, or a foreign root: SIGNATURE_INVALID for each, exit 1', async () => {
        for (const flags of [
          ['--trusted-root', rootFile, '--certificate-identity', 'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main', '--certificate-oidc-issuer', DEFAULT_ISSUER],
          ['--trusted-root', rootFile, '--certificate-identity-regexp', '^https://github\\.com/acme/', '--certificate-oidc-issuer-regexp', '^https://accounts\\.google\\.com$'],
          ['--trusted-root', foreignRootFile, ...identityFlags],
        ]) {
          const { code, report } = await verify(good[form], flags);
          // Only invalid signatures: the image counts as unsigned too.
          expect(signatureCodes(report)).toEqual(['SIGNATURE_INVALID', 'SIGNATURE_INVALID', 'SIGNATURE_INVALID', 'UNSIGNED']);
          expect(code).toBe(1);
        }
      });
    });
  }

  it('a cosign v3 signature alone (DSSE, predicate sigstore.dev/cosign/sign/v1) signs the image: no UNSIGNED, even with --require-signature', async () => {
    const signedByV3 = await layoutWith(async (image) => [bundleReferrer(await world.dsseBundle(image.digest), COSIGN_SIGN_PREDICATE)]);
    const { code, report } = await verify(signedByV3.dir, ['--trusted-root', rootFile, ...identityFlags, '--require-signature']);
    expect(signatureCodes(report)).toEqual(['SIGNATURE_VALID']);
    expect(code).toBe(0);
    // An attestation alone does not sign the image (cosign verify versus verify-attestation).
    const attestedOnly = await layoutWith(async (image) => [bundleReferrer(await world.dsseBundle(image.digest, SLSA_PREDICATE), SLSA_PREDICATE)]);
    const attested = await verify(attestedOnly.dir, ['--trusted-root', rootFile, ...identityFlags, '--require-signature']);
    expect(signatureCodes(attested.report)).toEqual(['SIGNATURE_VALID', 'UNSIGNED']);
    expect(attested.code).toBe(1);
  });

  // A message signature signs bytes it does not carry: the image manifest's, read from the target.
  it("a message-signature bundle over the image manifest's bytes is valid; over other bytes it is not", async () => {
    const messageReferrer = (bundle: BundleJSON): Referrer => ({ artifactType: BUNDLE_V03, layer: { mediaType: BUNDLE_V03, bytes: Buffer.from(JSON.stringify(bundle)) } });
    const manifestBytes = (dir: string, image: Desc) => readFile(path.join(dir, 'blobs', 'sha256', image.digest.slice('sha256:'.length)));
    const signed = await layoutWith(async (image, dir) => [messageReferrer(await world.messageBundle(await manifestBytes(dir, image)))]);
    for (const target of [signed.dir, signed.tar]) {
      const { code, report } = await verify(target, ['--trusted-root', rootFile, ...identityFlags, '--require-signature']);
      expect(signatureCodes(report)).toEqual(['SIGNATURE_VALID']);
      expect(code).toBe(0);
    }
    const other = await layoutWith(async () => [messageReferrer(await world.messageBundle(Buffer.from('{"not":"this image"}')))]);
    const { code, report } = await verify(other.dir, ['--trusted-root', rootFile, ...identityFlags]);
    expect(signatureCodes(report)).not.toContain('SIGNATURE_VALID');
    expect(signatureCodes(report).some((c) => c === 'SIGNATURE_WRONG_SUBJECT' || c === 'SIGNATURE_INVALID')).toBe(true);
    expect(code).toBe(1);
  });

  it('without --trusted-root the bundles are found but not checked (SIGNATURE_UNVERIFIED), never SIGNATURE_VALID', async () => {
    const { report } = await verify(good.dir, []);
    expect(signatureCodes(report)).toContain('SIGNATURE_UNVERIFIED');
    expect(signatureCodes(report)).not.toContain('SIGNATURE_VALID');
  });

  it('a trusted root that is not JSON, or JSON but no trusted root, is a usage error (exit 2), before anything is read', async () => {
    for (const text of ['not json', '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}', JSON.stringify({ tlogs: [{ publicKey: { rawBytes: 'AAAA' } }] })]) {
      const bad = path.join(await tmp(), 'root.json');
      await writeFile(bad, text);
      const r = await ocikit(['verify', good.dir, '--trusted-root', bad, ...identityFlags, '--format', 'json'], { env: offline.env });
      expect(r.code, r.stderr).toBe(2);
      expect(JSON.parse(r.stdout || r.stderr)).toMatchObject({ error: { code: 'USAGE' } });
    }
  });
});
