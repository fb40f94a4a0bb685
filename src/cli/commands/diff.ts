import { diffTargets, renderDiffText } from '../../index.js';
import { defineCommand } from './command.js';
import { openAuditTarget } from './verify.js';

export default defineCommand<{ a: string; b: string }>({
  command: 'diff <a> <b>',
  describe: 'what changed from A to B: tags, manifests, platforms, layers, referrers, configs (any two targets)',
  async handler(args, ctx) {
    const refA = ctx.ref(args.a);
    const refB = ctx.ref(args.b);
    // Each side is opened only while it is read (and again if configs are compared), never both
    // at once: two targets' own state (parsed index.json, an archive's table) do not add up.
    const report = await diffTargets(
      () => openAuditTarget(ctx, refA),
      () => openAuditTarget(ctx, refB),
    );
    ctx.out.result(report, renderDiffText);
  },
});
