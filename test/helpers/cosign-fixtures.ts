/**
 * cosign-style signatures and attestations made without ocikit: keys and
 * signatures from `openssl`, manifests and index.json written with node:fs
 * (audit-layouts' storeBlob), in the formats cosign writes:
 *
 * - a signature is a layer `application/vnd.dev.cosign.simplesigning.v1+json`
 *   whose bytes are the simple-signing payload, with the base64 signature
 *   over those bytes in its `dev.cosignproject.cosign/signature` annotation;
 * - an attestation is a layer `application/vnd.dsse.envelope.v1+json` whose
 *   bytes are a DSSE envelope (in-toto statement inside, signed over PAE);
 * - placed under cosign's tag `sha256-<hex>.sig` / `.att` (a manifest whose
 *   config is go-containerregistry's empty image config, as cosign writes), or
 *   as an OCI 1.1 referrer (artifactType, `subject`, the empty config).
 *
 * Signing follows what cosign verifies: SHA-256 for every key type (also
 * P-384), RSA PKCS #1 v1.5, Ed25519 pure. Shared with the lead's and the
 * sigstore helper's tests.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './cli.js';
import { requireTool } from './peers.js';
import { editIndex, EMPTY, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, readJson, storeBlob, storeJson, tagged, type Desc } from './audit-layouts.js';

export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const IN_TOTO = 'application/vnd.in-toto+json';

export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa' | 'ed25519';
export const KEY_TYPES: KeyType[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa', 'ed25519'];

export interface TestKey {
  type: KeyType;
  privateFile: string;
  /** PEM SubjectPublicKeyInfo, what `--key` takes. */
  publicFile: string;
  /** `SHA256:` + unpadded base64 of SHA-256 over the DER SPKI, computed from openssl's DER output. */
  fingerprint: string;
}

async function openssl(args: string[]): Promise<void> {
  const r = await run(requireTool('openssl'), args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

const GENPKEY: Record<KeyType, string[]> = {
  'ecdsa-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ecdsa-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ed25519: ['-algorithm', 'ED25519'],
};

/** A key pair made by openssl in `dir` (`<name>.key`, `<name>.pub`). */
export async function makeKey(dir: string, type: KeyType, name: string = type): Promise<TestKey> {
  const privateFile = path.join(dir, `${name}.key`);
  const publicFile = path.join(dir, `${name}.pub`);
  const derFile = path.join(dir, `${name}.pub.der`);
  await openssl(['genpkey', ...GENPKEY[type], '-out', privateFile]);
  await openssl(['pkey', '-in', privateFile, '-pubout', '-out', publicFile]);
  await openssl(['pkey', '-in', privateFile, '-pubout', '-outform', 'DER', '-out', derFile]);
  const fingerprint = `SHA256:${createHash('sha256').update(await readFile(derFile)).digest('base64').replace(/=+$/, '')}`;
  return { type, privateFile, publicFile, fingerprint };
}

/** openssl's signature of `data` with `key`, as cosign would verify it. */
export async function opensslSign(key: TestKey, data: Buffer): Promise<Buffer> {
  const work = await mkdtemp(path.join(tmpdir(), 'ocikit-sign-'));
  try {
    const input = path.join(work, 'data');
    const output = path.join(work, 'sig');
    await writeFile(input, data);
    if (key.type === 'ed25519') await openssl(['pkeyutl', '-sign', '-inkey', key.privateFile, '-rawin', '-in', input, '-out', output]);
    else await openssl(['dgst', '-sha256', '-sign', key.privateFile, '-out', output, input]);
    return await readFile(output);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** cosign's simple-signing payload for `digest` (what `cosign generate` prints). */
export function simpleSigningPayload(digest: string, repository = 'registry.example/app'): Buffer {
  return Buffer.from(
    JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }),
  );
}

/** DSSE v1 pre-authentication encoding (the bytes an envelope's signature covers). */
export function pae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `), payload]);
}

export function inTotoStatement(digest: string, predicateType = 'https://slsa.dev/provenance/v1'): Buffer {
  const [alg, hex] = digest.split(':') as [string, string];
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'registry.example/app', digest: { [alg]: hex } }], predicateType, predicate: { buildType: 'test' } }));
}

export type Placement = 'tag' | 'referrer';
export type Tamper = 'payload' | 'signature';

export interface SignOptions {
  placement: Placement;
  /** What the signature says it signs (default: the subject): another digest makes a wrong-subject signature. */
  signedDigest?: string;
  /** Change one byte of the payload (after signing) or of the signature. */
  tamper?: Tamper;
}

function flipLast(b: Buffer): Buffer {
  const copy = Buffer.from(b);
  copy[copy.length - 1] = copy[copy.length - 1]! ^ 0x01;
  return copy;
}

function refName(d: Desc): string | undefined {
  return (d['annotations'] as Record<string, string> | undefined)?.['org.opencontainers.image.ref.name'];
}

/** go-containerregistry's empty image config with these layers: the config of cosign's tag manifests. */
function emptyImageConfig(layers: Desc[]): unknown {
  return {
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  };
}

/**
 * Attach `layer` to `subject` in the layout: appended to the manifest under
 * cosign's tag (cosign adds each new signature as a layer), or as a new
 * referrer listed in index.json. Returns the signature manifest.
 */
async function attach(layoutDir: string, subject: Desc, layer: Desc, placement: Placement, suffix: 'sig' | 'att', artifactType: string): Promise<Desc> {
  if (placement === 'referrer') {
    await storeJson(layoutDir, {}, EMPTY.mediaType);
    const manifest = await storeJson(
      layoutDir,
      { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: EMPTY, layers: [layer], subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } },
      OCI_MANIFEST,
    );
    const entry = { ...manifest, artifactType };
    await editIndex(layoutDir, (index) => void index.manifests.push(entry));
    return manifest;
  }
  const tag = `${subject.digest.replace(':', '-')}.${suffix}`;
  let layers: Desc[] = [layer];
  const index = JSON.parse(await readFile(path.join(layoutDir, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const existing = index.manifests.find((m) => refName(m) === tag);
  if (existing) layers = [...(await readJson<{ layers: Desc[] }>(layoutDir, existing.digest)).layers, layer];
  const config = await storeJson(layoutDir, emptyImageConfig(layers), OCI_CONFIG);
  const manifest = await storeJson(layoutDir, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }, OCI_MANIFEST);
  await editIndex(layoutDir, (ix) => {
    ix.manifests = ix.manifests.filter((m) => refName(m) !== tag);
    ix.manifests.push(tagged(manifest, tag));
  });
  return manifest;
}

/** A cosign signature of `subject` made with `key` (openssl), placed in the layout. Returns the signature manifest. */
export async function signImage(layoutDir: string, subject: Desc, key: TestKey, opts: SignOptions): Promise<Desc> {
  const signed = simpleSigningPayload(opts.signedDigest ?? subject.digest);
  let signature = await opensslSign(key, signed);
  let payload = signed;
  if (opts.tamper === 'payload') payload = Buffer.from(signed.toString('utf8').replace('"optional":null', '"optional":{}'));
  if (opts.tamper === 'signature') signature = flipLast(signature);
  const layer = { ...(await storeBlob(layoutDir, payload, SIMPLE_SIGNING)), annotations: { [SIGNATURE_ANNOTATION]: signature.toString('base64') } };
  return attach(layoutDir, subject, layer, opts.placement, 'sig', COSIGN_SIG_ARTIFACT);
}

export interface AttestOptions extends SignOptions {
  predicateType?: string;
}

/** A DSSE attestation (in-toto statement about `subject`) signed over PAE with `key` (openssl), placed in the layout. */
export async function attestImage(layoutDir: string, subject: Desc, key: TestKey, opts: AttestOptions): Promise<Desc> {
  const predicateType = opts.predicateType ?? 'https://slsa.dev/provenance/v1';
  const statement = inTotoStatement(opts.signedDigest ?? subject.digest, predicateType);
  let signature = await opensslSign(key, pae(IN_TOTO, statement));
  let payload = statement;
  if (opts.tamper === 'payload') payload = Buffer.from(statement.toString('utf8').replace('"buildType":"test"', '"buildType":"tesT"'));
  if (opts.tamper === 'signature') signature = flipLast(signature);
  const envelope = JSON.stringify({ payloadType: IN_TOTO, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: signature.toString('base64') }] });
  const layer = { ...(await storeBlob(layoutDir, envelope, DSSE_ENVELOPE)), annotations: { predicateType } };
  return attach(layoutDir, subject, layer, opts.placement, 'att', DSSE_ENVELOPE);
}

/** An empty layout (oci-layout, index.json with no entries). */
export async function emptyLayout(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
  return dir;
}

/** A small image (config, one layer made from `seed`) tagged `tag` in the layout. */
export async function addImage(layoutDir: string, tag: string, seed: string = tag): Promise<Desc> {
  const layer = await storeBlob(layoutDir, `layer of ${seed}\n`, 'application/vnd.oci.image.layer.v1.tar');
  const config = await storeJson(layoutDir, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }, OCI_CONFIG);
  const manifest = await storeJson(layoutDir, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, OCI_MANIFEST);
  await editIndex(layoutDir, (index) => void index.manifests.push(tagged(manifest, tag)));
  return manifest;
}

/** An index of two platform images tagged `tag`; returns the index and its manifests. */
export async function addIndex(layoutDir: string, tag: string): Promise<{ index: Desc; platforms: Desc[] }> {
  const platforms: Desc[] = [];
  for (const arch of ['amd64', 'arm64']) {
    const layer = await storeBlob(layoutDir, `layer of ${tag} ${arch}\n`, 'application/vnd.oci.image.layer.v1.tar');
    const config = await storeJson(layoutDir, { architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }, OCI_CONFIG);
    platforms.push(await storeJson(layoutDir, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }, OCI_MANIFEST));
  }
  const index = await storeJson(
    layoutDir,
    { schemaVersion: 2, mediaType: OCI_INDEX, manifests: platforms.map((p, i) => ({ ...p, platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' } })) },
    OCI_INDEX,
  );
  await editIndex(layoutDir, (ix) => void ix.manifests.push(tagged(index, tag)));
  return { index, platforms };
}
