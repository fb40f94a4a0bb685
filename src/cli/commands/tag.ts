import { isValidTag, resolveReference, UsageError } from '../../index.js';
import { defineCommand } from './command.js';

export const tagCommand = defineCommand<{ ref: string; tags: string[] }>({
  command: 'tag <ref> <tags..>',
  describe: 'add tags to the manifest REF names',
  async handler(args, ctx) {
    const { ref, layout } = await ctx.openLayout(args.ref);
    for (const t of args.tags) if (!isValidTag(String(t))) throw new UsageError(`invalid tag "${t}": use letters, digits, _ . - (up to 128, not starting with . or -)`);
    const desc = await resolveReference(layout, ref);
    for (const t of args.tags) await layout.tag(desc, String(t));
    ctx.out.result({ digest: desc.digest, tags: args.tags.map(String) }, (r) => r.tags.map((t) => `tagged ${r.digest} as ${t}`).join('\n'));
  },
});

export const untagCommand = defineCommand<{ ref: string }>({
  command: 'untag <ref>',
  describe: 'remove a tag; its content and referrers stay until gc',
  async handler(args, ctx) {
    const { ref, layout } = await ctx.openLayout(args.ref);
    if (!ref.tag || ref.digest) throw new UsageError('untag needs REF:TAG');
    const removed = await layout.untag(ref.tag);
    ctx.out.result({ tag: ref.tag, digests: removed.map((d) => d.digest) }, (r) => `untagged ${r.tag}`);
  },
});
