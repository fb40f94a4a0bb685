/**
 * The signature library without the CLI: loadSignaturePolicy, verifySignatures
 * on a layout opened as a library user would, the key rules cosign follows
 * (SHA-256 for every key, PKCS #1 v1.5 for RSA), DSSE's PAE, and what happens
 * to Sigstore bundles (handed to sigstore.ts).
 */
import { describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isOcikitError, LayoutDir, loadSignaturePolicy, verifySignatures } from '../../src/index.js';
import { keyVerifier } from '../../src/signatures/keys.js';
import { pae } from '../../src/signatures/dsse.js';
import { checkSimpleSigning } from '../../src/signatures/cosign.js';
import { MAX_SIGNATURE_LAYER } from '../../src/signatures/verify-signatures.js';
import { afterFile } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { editIndex, EMPTY, OCI_MANIFEST, storeBlob, storeJson } from '../helpers/audit-layouts.js';
import { addImage, attestImage, emptyLayout, makeKey, signImage, simpleSigningPayload } from '../helpers/cosign-fixtures.js';

const { tmp } = afterFile();
const keys = once(async () => {
  const dir = await tmp();
  return { p256: await makeKey(dir, 'ecdsa-p256'), other: await makeKey(dir, 'ecdsa-p256', 'other') };
});

describe('loadSignaturePolicy', () => {
  it('reads key files and a trusted root; refuses what cannot work with USAGE', async () => {
    const { p256 } = await keys();
    const dir = await tmp();
    const root = path.join(dir, 'trusted_root.json');
    // The smallest root that is one: a transparency log and its key (an empty root is refused, below).
    const logKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    const tlog = { baseUrl: 'https://rekor.example', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: logKey.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2024-01-01T00:00:00Z' } }, logId: { keyId: createHash('sha256').update(logKey).digest('base64') } };
    await writeFile(root, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [tlog] }));
    const emptyRoot = path.join(dir, 'empty_root.json');
    await writeFile(emptyRoot, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }));
    const policy = await loadSignaturePolicy({ keyFiles: [p256.publicFile], trustedRootFile: root, certificateIdentity: 'a@example.com', certificateOidcIssuerRegexp: '^https://' });
    expect(policy.keys).toEqual([{ pem: expect.stringContaining('BEGIN PUBLIC KEY'), source: p256.publicFile }]);
    expect(policy.trustedRoot).toMatchObject({ mediaType: expect.any(String) });
    expect(policy).toMatchObject({ certificateIdentity: 'a@example.com', certificateOidcIssuerRegexp: '^https://' });
    expect(await loadSignaturePolicy({})).toEqual({});

    const usage = async (p: Promise<unknown>) => expect(await p.then(() => 'ok', (e) => (isOcikitError(e) ? e.code : e))).toBe('USAGE');
    await usage(loadSignaturePolicy({ keyFiles: [p256.privateFile] }));
    await usage(loadSignaturePolicy({ keyFiles: [root] }));
    await usage(loadSignaturePolicy({ trustedRootFile: root }));
    await usage(loadSignaturePolicy({ trustedRootFile: p256.publicFile, certificateIdentity: 'a', certificateOidcIssuer: 'b' }));
    await usage(loadSignaturePolicy({ trustedRootFile: emptyRoot, certificateIdentity: 'a', certificateOidcIssuer: 'b' }));
    await usage(loadSignaturePolicy({ certificateIdentity: 'a', certificateOidcIssuer: 'b' }));
  });
});

describe('keys: as cosign verifies', () => {
  const message = simpleSigningPayload('sha256:' + 'a'.repeat(64));

  it('P-384 signs SHA-256 of the message, not SHA-384', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const k = keyVerifier({ pem: publicKey.export({ type: 'spki', format: 'pem' }) as string });
    expect(k.algorithm).toBe('ecdsa-p384');
    expect(k.verify(message, sign('sha256', message, privateKey))).toBe(true);
    expect(k.verify(message, sign('sha384', message, privateKey))).toBe(false);
  });

  it('RSA is PKCS #1 v1.5 with SHA-256; a PSS signature is not valid', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = keyVerifier({ pem: publicKey.export({ type: 'spki', format: 'pem' }) as string });
    expect(k.verify(message, sign('sha256', message, privateKey))).toBe(true);
    expect(k.verify(message, sign('sha256', message, { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */ }))).toBe(false);
  });

  it('refuses small RSA keys and curves cosign does not use; never throws on a malformed signature', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => keyVerifier({ pem: small, source: 'small.pub' })).toThrow(/small\.pub/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => keyVerifier({ pem: k1 })).toThrow(/secp256k1/);
    const ed = keyVerifier({ pem: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string });
    expect(ed.verify(message, Buffer.from('short'))).toBe(false);
  });

  it("fingerprints are SHA256: + unpadded base64 of the DER SPKI (openssl's DER, hashed independently)", async () => {
    const { p256 } = await keys();
    const { readFile } = await import('node:fs/promises');
    expect(keyVerifier({ pem: await readFile(p256.publicFile, 'utf8') }).fingerprint).toBe(p256.fingerprint);
  });
});

describe('DSSE PAE', () => {
  it("matches the DSSE specification's example", () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });
});

describe('verifySignatures on a layout opened by a library user', () => {
  it('finds signatures and attestations in both placements and checks them', async () => {
    const { p256, other } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'lib'));
    const image = await addImage(dir, 'v1');
    const sigTag = await signImage(dir, image, p256, { placement: 'tag' });
    const sigRef = await signImage(dir, image, other, { placement: 'referrer' });
    const att = await attestImage(dir, image, p256, { placement: 'tag' });
    const policy = await loadSignaturePolicy({ keyFiles: [p256.publicFile] });
    const target = await LayoutDir.open(dir);
    try {
      const result = await verifySignatures(target, image as never, policy);
      expect(result.subject).toBe(image.digest);
      const byManifest = new Map(result.checks.map((c) => [c.manifest, c]));
      expect(byManifest.get(sigTag.digest)).toMatchObject({ placement: 'tag', kind: 'cosign-signature', verdict: 'valid', signer: { keyFingerprint: p256.fingerprint } });
      expect(byManifest.get(sigRef.digest)).toMatchObject({ placement: 'referrer', kind: 'cosign-signature', verdict: 'invalid' });
      expect(byManifest.get(att.digest)).toMatchObject({ placement: 'tag', kind: 'cosign-attestation', verdict: 'valid', predicateType: 'https://slsa.dev/provenance/v1' });
      // Without keys or a root: found, and unverified.
      const none = await verifySignatures(target, image as never, {});
      expect(none.checks.map((c) => c.verdict)).toEqual(['unverified', 'unverified', 'unverified']);
    } finally {
      await target.close?.();
    }
  });

  it('a signature layer whose blob is missing is invalid, with a reason; an SBOM referrer is not a signature', async () => {
    const { p256 } = await keys();
    const dir = await emptyLayout(path.join(await tmp(), 'missing'));
    const image = await addImage(dir, 'v1');
    const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: 'sha256:' + 'd'.repeat(64), size: 10, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } };
    await storeJson(dir, {}, EMPTY.mediaType);
    const sig = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', config: EMPTY, layers: [layer], subject: image }, OCI_MANIFEST);
    const sbomLayer = await storeBlob(dir, '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json');
    const sbom = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: EMPTY, layers: [sbomLayer], subject: image }, OCI_MANIFEST);
    await editIndex(dir, (ix) => void ix.manifests.push({ ...sig, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }, { ...sbom, artifactType: 'application/spdx+json' }));
    const target = await LayoutDir.open(dir);
    try {
      const result = await verifySignatures(target, image as never, await loadSignaturePolicy({ keyFiles: [p256.publicFile] }));
      expect(result.checks).toEqual([expect.objectContaining({ manifest: sig.digest, layer: 0, verdict: 'invalid', reason: expect.stringContaining('cannot read') })]);
    } finally {
      await target.close?.();
    }
  });

  it('a Sigstore bundle referrer is found and handed to the bundle checker; a bundle that is not JSON is invalid', async () => {
    const dir = await emptyLayout(path.join(await tmp(), 'bundle'));
    const image = await addImage(dir, 'v1');
    const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    await storeJson(dir, {}, EMPTY.mediaType);
    const layer = await storeBlob(dir, 'not json', BUNDLE);
    const m = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE, config: EMPTY, layers: [layer], subject: image }, OCI_MANIFEST);
    await editIndex(dir, (ix) => void ix.manifests.push({ ...m, artifactType: BUNDLE }));
    const target = await LayoutDir.open(dir);
    try {
      expect((await verifySignatures(target, image as never, {})).checks).toEqual([expect.objectContaining({ kind: 'sigstore-bundle', verdict: 'unverified' })]);
      const rooted = await verifySignatures(target, image as never, { trustedRoot: {}, certificateIdentity: 'a', certificateOidcIssuer: 'b' });
      expect(rooted.checks).toEqual([expect.objectContaining({ kind: 'sigstore-bundle', verdict: 'invalid' })]);
    } finally {
      await target.close?.();
    }
  });
});

describe('verifySignatures: limits', () => {
  it('a signature layer over MAX_SIGNATURE_LAYER is not read, and is invalid with that reason', async () => {
    const dir = await emptyLayout(path.join(await tmp(), 'big'));
    const image = await addImage(dir, 'v1');
    const big = { mediaType: 'application/vnd.dsse.envelope.v1+json', digest: 'sha256:' + 'e'.repeat(64), size: MAX_SIGNATURE_LAYER + 1 };
    await storeJson(dir, {}, EMPTY.mediaType);
    const m = await storeJson(dir, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.dsse.envelope.v1+json', config: EMPTY, layers: [big], subject: image }, OCI_MANIFEST);
    await editIndex(dir, (ix) => void ix.manifests.push({ ...m, artifactType: 'application/vnd.dsse.envelope.v1+json' }));
    const target = await LayoutDir.open(dir);
    try {
      const { checks } = await verifySignatures(target, image as never, {});
      expect(checks).toEqual([expect.objectContaining({ kind: 'cosign-attestation', verdict: 'invalid', reason: expect.stringContaining(String(MAX_SIGNATURE_LAYER)) })]);
    } finally {
      await target.close?.();
    }
  });
});

describe('checkSimpleSigning', () => {
  it('a good signature over a payload that is not cosign simple signing is invalid, not valid', async () => {
    const { generateKeyPairSync: gen } = await import('node:crypto');
    const { publicKey, privateKey } = gen('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const payload = Buffer.from(JSON.stringify({ critical: { type: 'something else', image: { 'docker-manifest-digest': 'sha256:' + 'a'.repeat(64) } } }));
    const annotations = { 'dev.cosignproject.cosign/signature': sign(null, payload, privateKey).toString('base64') };
    expect(await checkSimpleSigning(payload, annotations, 'sha256:' + 'a'.repeat(64), { keys: [{ pem }] })).toMatchObject({ verdict: 'invalid' });
    expect(await checkSimpleSigning(payload, { 'dev.cosignproject.cosign/signature': '!!' }, 'sha256:' + 'a'.repeat(64), { keys: [{ pem }] })).toMatchObject({ verdict: 'invalid' });
  });
});
