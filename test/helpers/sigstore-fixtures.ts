/**
 * Real Sigstore signatures for the tests, made by Sigstore's own signing
 * library (@sigstore/sign) against Sigstore's own mock services
 * (@sigstore/mock: a Fulcio CA with a CT log, a Rekor log, a timestamp
 * authority), all in this process. Each "world" is one such instance with
 * fresh keys; its `trustedRoot` is the trusted_root.json that names them, so
 * another world's root is a foreign root.
 *
 * The mock services are reached through nock, which answers the signing
 * library's HTTPS requests in-process; the hosts are under `.invalid` so a
 * request nock did not catch could not resolve anyway. `guardNetwork` makes
 * a test fail if any socket other than loopback is opened.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import net from 'node:net';
import nock from 'nock';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler, type HandlerFn } from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type BundleBuilder } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { inTotoStatement, simpleSigningPayload } from './cosign-fixtures.js';

export const DEFAULT_IDENTITY = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
export const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const SLSA_PREDICATE = 'https://slsa.dev/provenance/v1';

/** A bundle as JSON, the way it is stored in a layer. */
export type BundleJSON = Record<string, unknown>;

export interface WorldOptions {
  /** The identity (URI SAN) and OIDC issuer the certificates are issued to. */
  identity?: string;
  issuer?: string;
  /** Issue certificates that expired (ten minutes after an hour before) by the time the log and TSA record the signature. */
  expiredCertificates?: boolean;
  /** Also get an RFC 3161 timestamp from the mock TSA (default true). */
  timestamp?: boolean;
}

export interface KeylessCosignSignature {
  payload: Buffer;
  signature: string;
  certificate: string;
  chain: string;
  rekorBundle: string;
}

export interface SigstoreWorld {
  trustedRoot: Record<string, unknown>;
  /** A message-signature bundle (v0.3, as cosign writes them) over `artifact` (e.g. an image manifest's bytes). */
  messageBundle(artifact: Uint8Array): Promise<BundleJSON>;
  /** A DSSE bundle (v0.3) holding an in-toto statement about `subjectDigest`, as `cosign sign --new-bundle-format` / `cosign attest` write. */
  dsseBundle(subjectDigest: string, predicateType?: string): Promise<BundleJSON>;
  /** cosign's keyless annotations for a simple-signing `payload`: signature, certificate, chain, Rekor bundle. */
  keylessSignature(payload: Uint8Array): Promise<KeylessCosignSignature>;
  /** A DSSE bundle signed with `key` (a public key hint, no certificate), as `cosign sign --key` writes in the new format; logged in this world's Rekor. */
  keySignedBundle(subjectDigest: string, key: KeyObjectPair): Promise<BundleJSON>;
}

export type KeyObjectPair = ReturnType<typeof keyPair>;

/** A P-256 key pair, and its public key as the PEM `--key` takes. */
export function signingKey(): { pair: KeyObjectPair; publicPem: string } {
  const pair = keyPair();
  return { pair, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

let worlds = 0;

export async function createSigstoreWorld(options: WorldOptions = {}): Promise<SigstoreWorld> {
  const n = ++worlds;
  const urls = {
    fulcio: `https://fulcio-${n}.sigstore-mock.invalid`,
    rekor: `https://rekor-${n}.sigstore-mock.invalid`,
    tsa: `https://tsa-${n}.sigstore-mock.invalid`,
  };
  // One signing time for the log, the TSA and the certificates, so that the tests are deterministic:
  // a whole second (the TSA's genTime then has no fraction, which @sigstore/core 4.0.1 misreads when
  // DER trims its trailing zeros), after every mock certificate's notBefore (they are made "now").
  const signingTime = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000);
  const caClock = options.expiredCertificates ? new Date(signingTime.getTime() - 3_600_000) : signingTime;
  const ctlog = await initializeCTLog(keyPair());
  const ca = await initializeCA(keyPair(), ctlog, caClock);
  const tlog = await initializeTLog(urls.rekor, keyPair(), signingTime);
  const tsa = await initializeTSA(keyPair(), signingTime);
  serve(urls.fulcio, fulcioHandler(ca));
  serve(urls.rekor, rekorHandler(tlog));
  serve(urls.tsa, tsaHandler(tsa));

  const identity = options.identity ?? DEFAULT_IDENTITY;
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const fetchOptions = { retry: 0, timeout: 10_000 };
  const signer = new FulcioSigner({
    fulcioBaseURL: urls.fulcio,
    identityProvider: { getToken: async () => unsignedJwt({ iss: issuer, sub: identity, aud: 'sigstore' }) },
    ...fetchOptions,
  });
  // Rekor's intoto entries for DSSE: the mock log stores a proposed entry as its body, which for
  // intoto is what the real log keeps; its dsse entries would need Rekor's server-side rewrite.
  const witnesses = [
    new RekorWitness({ rekorBaseURL: urls.rekor, entryType: 'intoto', ...fetchOptions }),
    ...(options.timestamp === false ? [] : [new TSAWitness({ tsaBaseURL: urls.tsa, ...fetchOptions })]),
  ];
  const make = async (builder: BundleBuilder, data: Uint8Array, type?: string) =>
    bundleToJSON(await builder.create({ data: Buffer.from(data), type })) as unknown as BundleJSON;

  // Valid from a day before, as a real root's entries are valid from their creation.
  const start = new Date(caClock.getTime() - 86_400_000).toISOString();
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [transparencyLog(urls.rekor, tlog.publicKey, createHash('sha256').update(tlog.publicKey).digest(), start)],
    certificateAuthorities: [authority(urls.fulcio, [bytes(ca.rootCertificate)], start)],
    ctlogs: [transparencyLog(`https://ctfe-${n}.sigstore-mock.invalid`, ctlog.publicKey, bytes(ctlog.logID), start)],
    timestampAuthorities: [authority(urls.tsa, [bytes(tsa.intCertificate), bytes(tsa.rootCertificate)], start)],
  };

  return {
    trustedRoot,
    messageBundle: async (artifact) => asBundleVersion(await make(new MessageSignatureBundleBuilder({ signer, witnesses }), artifact), '0.3'),
    dsseBundle: (subjectDigest, predicateType = COSIGN_SIGN_PREDICATE) =>
      make(new DSSEBundleBuilder({ signer, witnesses }), inTotoStatement(subjectDigest, predicateType), IN_TOTO_PAYLOAD_TYPE),
    keySignedBundle: (subjectDigest, key) => {
      const publicKey = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const keySigner = {
        sign: async (data: Buffer) => ({
          signature: sign('sha256', data, key.privateKey),
          key: { $case: 'publicKey' as const, publicKey, hint: createHash('sha256').update(publicKey).digest('hex') },
        }),
      };
      return make(new DSSEBundleBuilder({ signer: keySigner, witnesses: witnesses.slice(0, 1) }), inTotoStatement(subjectDigest, COSIGN_SIGN_PREDICATE), IN_TOTO_PAYLOAD_TYPE);
    },
    async keylessSignature(payload) {
      // Rekor's hashedrekord entry, as cosign makes it for a keyless signature: no TSA, the log's promise is the timestamp.
      const bundle = asBundleVersion(
        await make(new MessageSignatureBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: urls.rekor, ...fetchOptions })] }), payload),
        '0.3',
      ) as unknown as SerializedMessageBundle;
      const entry = bundle.verificationMaterial.tlogEntries[0]!;
      const rekorBundle = {
        SignedEntryTimestamp: entry.inclusionPromise!.signedEntryTimestamp,
        Payload: {
          body: entry.canonicalizedBody,
          integratedTime: Number(entry.integratedTime),
          logIndex: Number(entry.logIndex),
          logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
        },
      };
      return {
        payload: Buffer.from(payload),
        signature: bundle.messageSignature.signature,
        certificate: pem(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64')),
        chain: pem(bytes(ca.rootCertificate)),
        rekorBundle: JSON.stringify(rekorBundle),
      };
    },
  };
}

interface SerializedMessageBundle {
  verificationMaterial: {
    certificate: { rawBytes: string };
    tlogEntries: Array<{
      logIndex: string;
      logId: { keyId: string };
      integratedTime: string;
      inclusionPromise?: { signedEntryTimestamp: string };
      canonicalizedBody: string;
    }>;
  };
  messageSignature: { signature: string };
}

// The payloads themselves are cosign's formats, shared with the by-key fixtures.
export { inTotoStatement, simpleSigningPayload };

// --- Tampering: each returns a changed copy. ---

/**
 * The same signed content as another bundle version: v0.3 carries the leaf
 * certificate alone, v0.1 and v0.2 a certificate chain (v0.1 also needs the
 * log's promise, v0.2 its inclusion proof; the mock log gives both).
 * Nothing signed changes. @sigstore/sign writes message signatures as v0.2.
 */
export function asBundleVersion(bundle: BundleJSON, version: '0.1' | '0.2' | '0.3'): BundleJSON {
  const copy = structuredClone(bundle) as { mediaType: string; verificationMaterial: Record<string, unknown> };
  const vm = copy.verificationMaterial;
  const chain = vm.x509CertificateChain as { certificates: unknown[] } | undefined;
  const leaf = vm.certificate ?? chain?.certificates[0];
  delete vm.certificate;
  delete vm.x509CertificateChain;
  if (version === '0.3') {
    copy.mediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    vm.certificate = leaf;
  } else {
    copy.mediaType = `application/vnd.dev.sigstore.bundle+json;version=${version}`;
    vm.x509CertificateChain = { certificates: [leaf] };
  }
  return copy as unknown as BundleJSON;
}

/** One byte of the signature flipped. */
export function flipSignatureByte(bundle: BundleJSON): BundleJSON {
  const copy = structuredClone(bundle) as { messageSignature?: { signature: string }; dsseEnvelope?: { signatures: Array<{ sig: string }> } };
  if (copy.messageSignature) copy.messageSignature.signature = flipBase64(copy.messageSignature.signature);
  else copy.dsseEnvelope!.signatures[0]!.sig = flipBase64(copy.dsseEnvelope!.signatures[0]!.sig);
  return copy as unknown as BundleJSON;
}

/** The DSSE payload (the in-toto statement) edited: `edit` gets and returns its text. */
export function editDssePayload(bundle: BundleJSON, edit: (statement: string) => string): BundleJSON {
  const copy = structuredClone(bundle) as { dsseEnvelope: { payload: string } };
  const text = Buffer.from(copy.dsseEnvelope.payload, 'base64').toString('utf8');
  const changed = edit(text);
  if (changed === text) throw new Error('editDssePayload: the edit changed nothing');
  copy.dsseEnvelope.payload = Buffer.from(changed).toString('base64');
  return copy as unknown as BundleJSON;
}

export function flipBase64(b64: string, at = 8): string {
  const bytes = Buffer.from(b64, 'base64');
  const i = at % bytes.length;
  bytes[i] = (bytes[i] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

// --- No network: every socket must go to loopback. ---

/**
 * Records every outgoing TCP connection that is not to loopback, and tells
 * nock to refuse any request it has no mock for. `stop()` returns the hosts
 * that were attempted (the test asserts it is empty) and undoes both.
 */
export function guardNetwork(): { attempts: string[]; stop(): string[] } {
  const attempts: string[] = [];
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.connect() passes its normalized arguments as one array: [options, callback].
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const opts = (typeof first === 'object' && first !== null ? first : { port: first, host: args[1] }) as { host?: unknown; path?: unknown };
    const host = typeof opts.host === 'string' ? opts.host : opts.path === undefined ? 'localhost' : undefined;
    if (host !== undefined && !isLoopback(host)) {
      attempts.push(host);
      throw new Error(`test network guard: a connection to ${host} was attempted`);
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  nock.disableNetConnect();
  nock.enableNetConnect((host: string) => isLoopback(host.replace(/:\d+$/, '')));
  return {
    attempts,
    stop() {
      net.Socket.prototype.connect = original;
      nock.cleanAll();
      nock.enableNetConnect();
      return attempts;
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

function serve(base: string, handler: { path: string; fn: HandlerFn }): void {
  nock(base)
    .persist()
    .post(handler.path)
    .reply(async (_uri: string, body: unknown) => {
      const { statusCode, response, contentType } = await handler.fn(typeof body === 'string' ? body : JSON.stringify(body));
      return [statusCode, response, { 'Content-Type': contentType ?? 'text/plain' }];
    });
}

function bytes(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function keyPair() {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // The mock Fulcio reads the claims without checking the token's signature.
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.c2ln`;
}

function transparencyLog(baseUrl: string, publicKey: Buffer, keyId: Buffer, start: string) {
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: publicKey.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
    logId: { keyId: keyId.toString('base64') },
  };
}

function authority(uri: string, chain: Buffer[], start: string) {
  return {
    subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
    uri,
    certChain: { certificates: chain.map((der) => ({ rawBytes: der.toString('base64') })) },
    validFor: { start },
  };
}

function pem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
