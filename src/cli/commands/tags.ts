import { defineCommand } from './command.js';

export default defineCommand<{ target: string }>({
  command: 'tags <target>',
  describe: 'list tag names, one per line',
  async handler(args, ctx) {
    const { target } = await ctx.openRead(args.target);
    const tags: string[] = [];
    for await (const t of target.tags()) tags.push(t);
    ctx.out.result(tags, (t) => t.join('\n'));
  },
});
