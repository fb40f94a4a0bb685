import { diffTargets, renderDiffText } from '../../index.js';
import { defineCommand } from './command.js';
import { openAuditTarget } from './verify.js';

export default defineCommand<{ a: string; b: string; 'exit-code'?: boolean }>({
  command: 'diff <a> <b>',
  examples: [
    ['$0 diff ./old ./new', 'what changed from one layout to the other'],
    ['$0 diff old.tar ./layout:v1 --exit-code', 'exit 1 if they differ, as git diff --exit-code'],
  ],
  describe: 'what changed from A to B: tags, manifests, platforms, layers, referrers, configs (any two targets)',
  builder: (y) => y.option('exit-code', { type: 'boolean', describe: 'exit 1 when A and B differ, 0 when they are the same (as git diff --exit-code); without it, 0 either way' }),
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
    if (args['exit-code'] && !report.identical) ctx.exitStatus = 1;
  },
});
