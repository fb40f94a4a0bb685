import { isValidTag, layoutName, parseNameRef, resolveReference, UsageError } from '../../index.js';
import { defineCommand } from './command.js';

export const tagCommand = defineCommand<{ ref: string; tags: string[] }>({
  command: 'tag <ref> <tags..>',
  describe: 'add tags to the manifest REF names',
  async handler(args, ctx) {
    const { ref, layout } = await ctx.openLayout(args.ref);
    for (const t of args.tags) {
      // TAG, or REPO:TAG to tag in one repository of the layout.
      if (!isValidTag(String(t)) && parseNameRef(String(t)) === undefined) {
        throw new UsageError(`invalid tag "${t}": use letters, digits, _ . - (up to 128, not starting with . or -), or REPO:TAG`);
      }
    }
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
    const name = layoutName(ref)!;
    const removed = await layout.untag(name);
    ctx.out.result({ tag: name, digests: removed.map((d) => d.digest) }, (r) => `untagged ${r.tag}`);
  },
});
