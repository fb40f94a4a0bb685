/**
 * The signature flags `verify` and `inspect` share (cosign's names), and the
 * policy they make: read and checked before any content is, so that a wrong
 * key file is a usage error, not a report.
 */
import type { Argv } from 'yargs';
import { loadSignaturePolicy, UsageError, type SignaturePolicy } from '../index.js';

export interface SignatureArgs {
  key?: string[];
  'trusted-root'?: string;
  'certificate-identity'?: string;
  'certificate-identity-regexp'?: string;
  'certificate-oidc-issuer'?: string;
  'certificate-oidc-issuer-regexp'?: string;
}

export function signatureOptions(y: Argv): Argv {
  return y
    .option('key', { type: 'string', array: true, nargs: 1, describe: 'PEM public key (ECDSA, RSA, Ed25519) that checks cosign signatures and attestations; repeatable' })
    .option('trusted-root', { type: 'string', describe: 'Sigstore trusted_root.json that checks certificates and bundles (read from disk, never fetched)' })
    .option('certificate-identity', { type: 'string', describe: "the signing certificate's identity (SAN), with --trusted-root" })
    .option('certificate-identity-regexp', { type: 'string', describe: 'the same, as a regular expression' })
    .option('certificate-oidc-issuer', { type: 'string', describe: "the signing certificate's OIDC issuer, with --trusted-root" })
    .option('certificate-oidc-issuer-regexp', { type: 'string', describe: 'the same, as a regular expression' });
}

/** Whether any key or trusted root was given: without one, no signature can be found valid. */
export function checksSignatures(args: SignatureArgs): boolean {
  return (args.key?.length ?? 0) > 0 || args['trusted-root'] !== undefined;
}

export function signaturePolicyOf(args: SignatureArgs): Promise<SignaturePolicy> {
  return loadSignaturePolicy({
    keyFiles: args.key,
    trustedRootFile: once(args, 'trusted-root'),
    certificateIdentity: once(args, 'certificate-identity'),
    certificateIdentityRegexp: once(args, 'certificate-identity-regexp'),
    certificateOidcIssuer: once(args, 'certificate-oidc-issuer'),
    certificateOidcIssuerRegexp: once(args, 'certificate-oidc-issuer-regexp'),
  });
}

type SingleFlag = Exclude<keyof SignatureArgs, 'key'>;

/** A flag that takes one value: given twice, the parser makes a list of it, and which one was meant is not ours to guess. */
function once(args: SignatureArgs, flag: SingleFlag): string | undefined {
  const v: unknown = args[flag];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${flag} takes one value, given once`);
  return v;
}
