import { checkOutputFile, inspectJson, inspectTextLines, layoutName, openInspection, outputFileError, resolveReference, verifyForInspection, writeInspectHtml } from '../../index.js';
import { defineCommand } from './command.js';
import { withAuditTarget } from './verify.js';

interface Args {
  target: string;
  html?: string;
  verify?: boolean;
}

export default defineCommand<Args>({
  command: 'inspect <target>',
  examples: [
    ['$0 inspect ./layout', 'tags, platforms, sizes and referrers'],
    ['$0 inspect image.tar --html report.html', 'also a self-contained HTML report, every blob verified'],
  ],
  describe: 'what is inside: tags, indexes, platforms, configs, sizes, referrers (SBOMs, signatures, attestations)',
  builder: (y) =>
    y
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report to FILE (verifies every blob)' })
      .option('verify', { type: 'boolean', describe: 'verify every blob and show its status' }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.target);
    // Checked before the verification (which reads every blob), not after it.
    if (args.html !== undefined) await checkOutputFile(args.html, 'the HTML report');
    const inspection = await withAuditTarget(ctx, ref, async (target) => {
      const selected = ref.tag !== undefined || ref.digest !== undefined ? await resolveReference(target, ref) : undefined;
      const roots = selected ? [{ ...(ref.tag !== undefined ? { tag: layoutName(ref)! } : {}), descriptor: selected }] : undefined;
      // The HTML report is what an auditor keeps: it always says whether each blob checked out.
      // Only the compact form comes back: the full report's per-blob records would sit beside the catalog.
      const verification = args.verify || args.html !== undefined ? await verifyForInspection(target, { root: selected }) : undefined;
      return openInspection(target, { roots, verification });
    });
    if (args.html !== undefined) {
      try {
        await writeInspectHtml(args.html, inspection.source());
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
  },
});
