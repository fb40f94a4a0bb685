import { isValidTag, layoutName, parseNameRef, resolveReference, UsageError } from '../../index.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';

export const tagCommand = defineCommand<{ ref: string; tags: string[] }>({
  command: 'tag <ref> <tags..>',
  examples: [
    ['$0 tag ./layout:v1 latest stable', 'tag the manifest of v1 as latest and stable too'],
    ['$0 tag localhost:5000/app@sha256:<hex> v2', 'tag a manifest of a registry by digest'],
  ],
  describe: `add tags to the manifest REF names (on a registry: the manifest PUT again under each tag, no blob traffic); ${ARCHIVE_REWRITTEN}`,
  async handler(args, ctx) {
    const ref = ctx.ref(args.ref);
    for (const t of args.tags) {
      // TAG, or REPO:TAG to tag in one repository of a layout; a registry repository takes plain tags.
      if (isValidTag(String(t))) continue;
      if (ref.kind === 'registry') throw new UsageError(`invalid tag "${t}": use letters, digits, _ . - (up to 128, not starting with . or -)`);
      if (parseNameRef(String(t)) === undefined) {
        throw new UsageError(`invalid tag "${t}": use letters, digits, _ . - (up to 128, not starting with . or -), or REPO:TAG`);
      }
    }
    const { editor } = await ctx.openEditor(args.ref);
    const desc = await resolveReference(editor, ref);
    for (const t of args.tags) await editor.tag(desc, String(t));
    await editor.commit();
    ctx.out.result({ digest: desc.digest, tags: args.tags.map(String) }, (r) => r.tags.map((t) => `tagged ${r.digest} as ${t}`).join('\n'));
  },
});

export const untagCommand = defineCommand<{ ref: string }>({
  command: 'untag <ref>',
  examples: [
    ['$0 untag ./layout:old', 'remove the tag old (gc frees what nothing uses any more)'],
    ['$0 untag image.tar:old', 'the same in an archive (rewritten)'],
  ],
  describe: `remove a tag; in a layout its content and referrers stay until gc; a registry deletes the tag where it allows that (DELETE by tag), and its refusal is an error; ${ARCHIVE_REWRITTEN} (the image stays in it, unlisted)`,
  async handler(args, ctx) {
    const ref = ctx.ref(args.ref);
    if (!ref.tag || ref.digest) throw new UsageError('untag needs REF:TAG');
    const { editor } = await ctx.openEditor(args.ref);
    const name = layoutName(ref)!;
    const removed = await editor.untag(name);
    await editor.commit();
    ctx.out.result({ tag: name, digests: removed.map((d) => d.digest) }, (r) => `untagged ${r.tag}`);
  },
});
