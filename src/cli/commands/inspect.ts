import { checkOutputFile, inspectTarget, renderInspectHtml, renderInspectText, resolveReference, verifyTarget, writeOutputFile, type VerifyReport } from '../../index.js';
import { defineCommand } from './command.js';
import { withAuditTarget } from './verify.js';

interface Args {
  target: string;
  html?: string;
  verify?: boolean;
}

export default defineCommand<Args>({
  command: 'inspect <target>',
  describe: 'what is inside: tags, indexes, platforms, configs, sizes, referrers (SBOMs, signatures, attestations)',
  builder: (y) =>
    y
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report to FILE (verifies every blob)' })
      .option('verify', { type: 'boolean', describe: 'verify every blob and show its status' }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.target);
    // Checked before the verification (which reads every blob), not after it.
    if (args.html !== undefined) await checkOutputFile(args.html, 'the HTML report');
    const report = await withAuditTarget(ctx, ref, async (target) => {
      const selected = ref.tag !== undefined || ref.digest !== undefined ? await resolveReference(target, ref) : undefined;
      const roots = selected ? [{ ...(ref.tag !== undefined ? { tag: ref.tag } : {}), descriptor: selected }] : undefined;
      // The HTML report is what an auditor keeps: it always says whether each blob checked out.
      let verification: VerifyReport | undefined;
      if (args.verify || args.html !== undefined) verification = await verifyTarget(target, { root: selected });
      return inspectTarget(target, { roots, verification });
    });
    if (args.html !== undefined) {
      await writeOutputFile(args.html, renderInspectHtml(report), 'the HTML report');
      ctx.out.info(`wrote ${args.html}`);
    }
    ctx.out.result(report, renderInspectText);
  },
});
