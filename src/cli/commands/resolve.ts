import { resolveReference } from '../../index.js';
import { defineCommand } from './command.js';

export default defineCommand<{ ref: string; platform?: string }>({
  command: 'resolve <ref>',
  examples: [
    ['$0 resolve ./layout:v1', 'print the digest tag v1 points to'],
    ['$0 resolve ./layout:v1 --platform linux/arm64', 'the digest of the arm64 manifest of that index'],
  ],
  describe: 'print the digest a reference points to',
  builder: (y) => y.option('platform', { type: 'string', describe: 'resolve through an index: OS/ARCH[/VARIANT]' }),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const { ref, target } = await ctx.openRead(args.ref);
    const desc = await resolveReference(target, ref, { platform });
    ctx.out.result(desc, (d) => d.digest);
  },
});
