import { referrersIndex, resolveReference } from '../../index.js';
import { defineCommand } from './command.js';

export default defineCommand<{ ref: string; 'artifact-type'?: string; platform?: string }>({
  command: 'referrers <ref>',
  examples: [
    ['$0 referrers ./layout:v1', 'the referrers index of the image tagged v1'],
    ['$0 referrers ./layout:v1 --artifact-type application/spdx+json', 'only its SBOMs'],
  ],
  describe: 'print the image index the registry referrers API would return for REF',
  builder: (y) =>
    y
      .option('artifact-type', { type: 'string', describe: 'only referrers of this artifact type' })
      .option('platform', { type: 'string', describe: 'resolve through an index: OS/ARCH[/VARIANT]' }),
  async handler(args, ctx) {
    const { ref, target } = await ctx.openRead(args.ref);
    const subject = await resolveReference(target, ref, { platform: ctx.platform(args.platform) });
    const index = await referrersIndex(target, subject, { artifactType: args['artifact-type'] });
    ctx.out.result(index, (i) => JSON.stringify(i, null, 2));
  },
});
