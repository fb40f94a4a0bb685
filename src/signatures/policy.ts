/**
 * A SignaturePolicy from what a user names: key files, a trusted root file,
 * and cosign's certificate identity flags. Files are read here and checked
 * at once, so that a wrong file is a usage error before any content is read.
 */
import { readFile } from 'node:fs/promises';
import { isOcikitError, UsageError } from '../errors.js';
import { trustMaterialOf } from './sigstore-trust.js';
import { keyVerifier } from './keys.js';
import type { SignaturePolicy, TrustedKey } from './types.js';

export interface SignaturePolicyFiles {
  /** PEM public keys (`--key`, repeatable). */
  keyFiles?: string[];
  /** A Sigstore trusted_root.json (`--trusted-root`), read from disk, never fetched. */
  trustedRootFile?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
}

/** A trusted root is at most this large (the public good instance's is about 10 KiB). */
const TRUSTED_ROOT_LIMIT = 4 * 1024 * 1024;

export async function loadSignaturePolicy(files: SignaturePolicyFiles): Promise<SignaturePolicy> {
  const identity = files.certificateIdentity ?? files.certificateIdentityRegexp;
  const issuer = files.certificateOidcIssuer ?? files.certificateOidcIssuerRegexp;
  if (files.trustedRootFile === undefined && (identity !== undefined || issuer !== undefined)) {
    throw new UsageError('--certificate-identity and --certificate-oidc-issuer (and their -regexp forms) need --trusted-root FILE: certificates are checked against a trusted root');
  }
  if (files.trustedRootFile !== undefined && (identity === undefined || issuer === undefined)) {
    // As cosign: a certificate proves who signed only when both who and which issuer vouched are pinned.
    throw new UsageError('--trusted-root needs one of --certificate-identity/--certificate-identity-regexp and one of --certificate-oidc-issuer/--certificate-oidc-issuer-regexp');
  }
  for (const [flag, value] of [
    ['--certificate-identity-regexp', files.certificateIdentityRegexp],
    ['--certificate-oidc-issuer-regexp', files.certificateOidcIssuerRegexp],
  ] as const) {
    if (value === undefined) continue;
    try {
      new RegExp(value);
    } catch (err) {
      throw new UsageError(`${flag} ${JSON.stringify(value)} is not a valid regular expression: ${(err as Error).message}`);
    }
  }

  const keys: TrustedKey[] = [];
  for (const file of files.keyFiles ?? []) {
    const key: TrustedKey = { pem: await readText(file, '--key', 64 * 1024), source: file };
    keyVerifier(key); // a usage error naming the file when it is not a usable public key
    keys.push(key);
  }

  const policy: SignaturePolicy = {};
  if (keys.length > 0) policy.keys = keys;
  if (files.trustedRootFile !== undefined) policy.trustedRoot = parseTrustedRoot(files.trustedRootFile, await readText(files.trustedRootFile, '--trusted-root', TRUSTED_ROOT_LIMIT));
  if (files.certificateIdentity !== undefined) policy.certificateIdentity = files.certificateIdentity;
  if (files.certificateIdentityRegexp !== undefined) policy.certificateIdentityRegexp = files.certificateIdentityRegexp;
  if (files.certificateOidcIssuer !== undefined) policy.certificateOidcIssuer = files.certificateOidcIssuer;
  if (files.certificateOidcIssuerRegexp !== undefined) policy.certificateOidcIssuerRegexp = files.certificateOidcIssuerRegexp;
  return policy;
}

/** True when the policy can check anything: a key or a trusted root. */
export function canCheckSignatures(policy: SignaturePolicy): boolean {
  return (policy.keys?.length ?? 0) > 0 || policy.trustedRoot !== undefined;
}

async function readText(file: string, flag: string, limit: number): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${file}: cannot read it (${code ?? (err as Error).message})`, { path: file, cause: err });
  }
  if (bytes.length > limit) throw new UsageError(`${flag} ${file}: ${bytes.length} bytes is too large for what it should hold (limit ${limit})`, { path: file });
  return bytes.toString('utf8');
}

function parseTrustedRoot(file: string, text: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--trusted-root ${file} is not JSON (${(err as Error).message}): give a Sigstore trusted_root.json`, { path: file });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new UsageError(`--trusted-root ${file} is not a JSON object: give a Sigstore trusted_root.json`, { path: file });
  }
  // Read as trust material now (it is kept for the checks): a file that is JSON but no trusted root
  // is the user's mistake, said once, not a reason to call every signature invalid.
  try {
    trustMaterialOf({ trustedRoot: doc });
  } catch (err) {
    throw new UsageError(`--trusted-root ${file}: ${(err as Error).message}`, { path: file, cause: err, ...(isOcikitError(err) && err.hint ? { hint: err.hint } : {}) });
  }
  return doc;
}
