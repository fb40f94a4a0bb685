import {
  checkOutputFile,
  inspectJson,
  inspectTextLines,
  layoutName,
  openInspection,
  outputFileError,
  reportTimestamp,
  resolveReference,
  targetDigest,
  UsageError,
  VerificationFailedError,
  verifyForInspection,
  writeInspectHtml,
} from '../../index.js';
import { defineCommand } from './command.js';
import { withAuditTarget } from './verify.js';
import { version } from '../version.js';
import { signatureOptions, signaturePolicyOf, type SignatureArgs } from '../signature-options.js';

interface Args extends SignatureArgs {
  target: string;
  html?: string;
  verify?: boolean;
  'allow-missing'?: boolean;
}

export default defineCommand<Args>({
  command: 'inspect <target>',
  examples: [
    ['$0 inspect ./layout', 'tags, platforms, sizes and referrers'],
    ['$0 inspect image.tar --html report.html', 'also a self-contained HTML report, every blob verified'],
    ['$0 inspect image.tar --key cosign.pub', "each image's signatures and attestations checked with a public key, offline"],
  ],
  describe: 'what is inside: tags, indexes, platforms, configs, sizes, referrers (SBOMs, signatures, attestations)',
  builder: (y) =>
    signatureOptions(y)
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report to FILE (verifies every blob, as --verify)' })
      .option('verify', { type: 'boolean', describe: 'verify every blob and show its status; exit 1 on any error, as verify does' })
      .option('allow-missing', { type: 'boolean', describe: 'with --verify/--html: missing blobs are expected elsewhere (delta bundles)' }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.target);
    // The HTML report is what an auditor keeps: it always says whether each blob checked out.
    const verify = args.verify === true || args.html !== undefined;
    if (args['allow-missing'] && !verify) throw new UsageError('--allow-missing applies to the verification: add --verify or --html FILE');
    // Both checked before the verification (which reads every blob), not after it: a malformed
    // SOURCE_DATE_EPOCH and an unwritable report path.
    const generatedAt = args.html !== undefined ? reportTimestamp() : undefined;
    // Signatures are always looked for; without a key or trusted root each one found is shown as not checked.
    const signatures = await signaturePolicyOf(args);
    if (args.html !== undefined) await checkOutputFile(args.html, 'the HTML report');
    const { inspection, digest } = await withAuditTarget(ctx, ref, async (target) => {
      const selected = ref.tag !== undefined || ref.digest !== undefined ? await resolveReference(target, ref) : undefined;
      const roots = selected ? [{ ...(ref.tag !== undefined ? { tag: layoutName(ref)! } : {}), descriptor: selected }] : undefined;
      // Taken first: the header pins what the report started from.
      const digest = args.html !== undefined ? await targetDigest(target, selected) : undefined;
      // Only the compact form comes back: the full report's per-blob records would sit beside the catalog.
      const verification = verify ? await verifyForInspection(target, { root: selected, allowMissing: args['allow-missing'] }) : undefined;
      return { inspection: await openInspection(target, { roots, verification, signatures }), digest };
    });
    if (args.html !== undefined) {
      try {
        await writeInspectHtml(args.html, inspection.source(), { input: args.target, version: version(), generatedAt, digest });
      } catch (err) {
        // The report is built while it is written: a failure of the content (a tree too deep to
        // draw) keeps its own code; only a failure of the file itself is an I/O error.
        throw outputFileError(err, args.html, 'the HTML report');
      }
      ctx.out.info(`wrote ${args.html}`);
    }
    // Printed root by root as each tree is built: a report of tens of thousands of manifests is never whole in memory.
    const source = inspection.source();
    await ctx.out.stream(inspectJson(source), () => inspectTextLines(source));
    // The same rule as verify: errors fail the command (after the report is out), warnings do not.
    const v = inspection.verification;
    if (v && !v.ok) throw new VerificationFailedError({ target: inspection.target, summary: v });
  },
});
