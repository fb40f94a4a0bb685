import { arrivedBlobReporter, OcikitError, openReadTarget, type ProgressEvent, verifyTextLines, resolveReference, StreamedLayout, UsageError, VerificationFailedError, verifyTarget, type ReadTarget, type Reference, type VerifyOptions, type VerifyReport } from '../../index.js';
import { stdinArchive, STDIN } from '../archive-input.js';
import type { Context } from '../context.js';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';
import { withProgress } from '../progress.js';
import { checksSignatures, signatureOptions, signaturePolicyOf, type SignatureArgs } from '../signature-options.js';

interface Args extends SignatureArgs {
  target: string;
  'allow-missing'?: boolean;
  concurrency?: number;
  'require-signature'?: boolean;
}

/** Failures to reach the target at all stay errors; a target that is there but broken gets a report. */
const NOT_A_REPORT = new Set(['USAGE', 'INVALID_REFERENCE', 'NOT_FOUND', 'UNAUTHORIZED', 'REGISTRY_ERROR', 'UNSUPPORTED', 'IO_ERROR']);

export default defineCommand<Args>({
  command: 'verify <target>',
  examples: [
    ['$0 verify ./layout', 'check every digest, size, schema and reference'],
    ['$0 verify delta.tar --allow-missing --json', 'a delta bundle, as a JSON report'],
    ['ocikit pack ./layout - | ocikit verify -', 'an archive on stdin, read once as it arrives'],
    ['$0 verify images.tar --key cosign.pub --require-signature', 'also check cosign signatures with a public key; unsigned images fail'],
    ['$0 verify ./layout --trusted-root trusted_root.json --certificate-identity dev@example.com --certificate-oidc-issuer https://accounts.example.com', 'keyless signatures and Sigstore bundles, offline'],
  ],
  describe: 'check every digest, size, schema and reference (- reads an archive from stdin); exit 1 on any error (warnings alone exit 0)',
  builder: (y) =>
    signatureOptions(y)
      .option('allow-missing', { type: 'boolean', describe: 'missing blobs are expected elsewhere (delta bundles): notes, not errors' })
      .option('concurrency', { type: 'number', describe: 'blobs hashed at once (default 3)' })
      .option('require-signature', { type: 'boolean', describe: 'an image or index without a valid signature is an error (UNSIGNED)' }),
  async handler(args, ctx) {
    if (args.concurrency !== undefined && (!Number.isInteger(args.concurrency) || args.concurrency < 1)) {
      throw new UsageError('--concurrency takes a whole number, 1 or more');
    }
    if (args['require-signature'] && !checksSignatures(args)) {
      throw new UsageError('--require-signature needs --key FILE or --trusted-root FILE: without them no signature can be found valid');
    }
    // Read and checked before any content: a wrong key file is a usage error, not a report.
    const policy = await signaturePolicyOf(args);
    const signatures = { policy, requireSignature: args['require-signature'] === true };
    const ref = args.target === STDIN ? undefined : ctx.ref(args.target);
    let report: VerifyReport;
    try {
      report = ref
        ? await withAuditTarget(ctx, ref, async (target) => {
            const root = ref.tag !== undefined || ref.digest !== undefined ? await resolveReference(target, ref) : undefined;
            return withProgress(ctx, 'verifying', (onEvent) => verifyTarget(target, { allowMissing: args['allow-missing'], concurrency: args.concurrency, root, onEvent, signatures }));
          })
        : await withProgress(ctx, 'verifying', (onEvent) => verifyStdin({ allowMissing: args['allow-missing'], signatures }, onEvent));
    } catch (err) {
      if (!(err instanceof OcikitError) || NOT_A_REPORT.has(err.code)) throw err;
      report = openFailure(args.target === STDIN ? 'stdin' : args.target, err);
    }
    await ctx.out.stream(report, verifyTextLines);
    if (!report.ok) throw new VerificationFailedError(report);
  },
});

/**
 * `verify -` (an archive on stdin): read once as it streams, every blob
 * hashed on the way, and the graph checked from the documents kept
 * (targets/streamed-layout.ts). A .tar.gz file is not read this way but
 * decompressed once to a spool and read in place, which keeps outcomes, not
 * documents: at 50,000 manifests the stream took 210 MiB, the spool 140.
 */
async function verifyStdin(opts: VerifyOptions, onEvent?: (e: ProgressEvent) => void): Promise<VerifyReport> {
  const stream = stdinArchive('verify');
  try {
    const onBlob = onEvent ? arrivedBlobReporter(onEvent) : undefined;
    const target = await StreamedLayout.read(stream.input, { source: stream.source, compressedSize: stream.compressedSize, ...(onBlob ? { onBlob } : {}) });
    return await verifyTarget(target, opts);
  } finally {
    await stream.close();
  }
}

/**
 * Open a target for an audit command (verify, inspect, diff), run `fn`, close
 * it. A compressed archive is decompressed once to a temporary file and read
 * in place (archive/compression.ts).
 */
export async function withAuditTarget<T>(ctx: Context, ref: Reference, fn: (target: ReadTarget) => Promise<T>): Promise<T> {
  const target = await openAuditTarget(ctx, ref);
  try {
    return await fn(target);
  } finally {
    await target.close?.();
  }
}

/** A target opened for an audit (verify, inspect, diff); a compressed archive is decompressed once to a temporary file. */
export async function openAuditTarget(ctx: Context, ref: Reference): Promise<ReadTarget> {
  return openReadTarget(ref, { registry: ref.kind === 'registry' ? await registryOptions(ctx) : undefined });
}

/** A target that cannot even be opened (no oci-layout, index.json not JSON, unsafe archive): a report with that one error. */
function openFailure(input: string, err: OcikitError): VerifyReport {
  return {
    target: input,
    ok: false,
    allowMissing: false,
    summary: { errors: 1, warnings: 0, notes: 0, manifests: 0, blobs: 0, bytes: 0 },
    findings: [{ severity: 'error', code: err.code, object: err.path ?? err.digest ?? input, message: err.message }],
    blobs: [],
  };
}
