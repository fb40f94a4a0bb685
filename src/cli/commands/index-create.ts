import { buildIndex, layoutName, pushManifest, resolveReference, UsageError, type Descriptor, type Reference } from '../../index.js';
import type { Context } from '../context.js';
import { parseAnnotations } from './annotations.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';

interface Args {
  ref: string;
  sources: string[];
  annotation?: string[];
  'artifact-type'?: string;
}

const createCmd = defineCommand<Args>({
  command: 'create <ref> <sources..>',
  examples: [
    ['$0 index create ./layout:multi amd64 arm64', 'an index of the manifests tagged amd64 and arm64, tagged multi'],
    ['$0 index create ./layout:multi @sha256:<hex> --annotation org.example.note=x', 'an index of a manifest given by digest, with an annotation'],
  ],
  describe: `build an image index from manifests in the same layout, archive or registry repository (each SOURCE a TAG or @DIGEST); ${ARCHIVE_REWRITTEN}`,
  builder: (y) =>
    y
      .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation on the index' })
      .option('artifact-type', { type: 'string', describe: 'artifactType of the index' }),
  async handler(args, ctx) {
    const { ref, editor } = await ctx.openEditor(args.ref);
    if (ref.digest) throw new UsageError('index create takes a tag or no selector for the new index, not a digest');
    const sources: Descriptor[] = [];
    for (const s of args.sources) sources.push(await resolveReference(editor, sourceReference(ctx, ref, String(s))));
    const bytes = await buildIndex(editor, sources, { annotations: parseAnnotations(args.annotation), artifactType: args['artifact-type'] });
    const desc = await pushManifest(editor, bytes, { tags: ref.tag ? [layoutName(ref)!] : [] });
    await editor.commit();
    ctx.out.result(desc, (d) => d.digest);
  },
});

/**
 * A source is written as a tag, `@digest` or a bare digest, relative to the
 * target (or, in a layout, as `oci:PATH...` of that same layout): it must
 * name a manifest the new index's target holds.
 */
function sourceReference(ctx: Context, target: Reference, s: string): Reference {
  const where = target.kind === 'registry' ? `${target.registry}/${target.repository}` : target.path!;
  const selector = s.startsWith('@') ? s : /^sha(256|512):/.test(s) ? `@${s}` : `:${s}`;
  const written = target.kind === 'registry' ? `${where}${selector}` : s.startsWith('oci:') ? s : `oci:${where}${selector}`;
  const ref = ctx.ref(written);
  const same = target.kind === 'registry' ? ref.kind === 'registry' && ref.registry === target.registry && ref.repository === target.repository : ref.kind === 'layout-dir' && ref.path === target.path;
  if (!same || (!ref.tag && !ref.digest)) throw new UsageError(`source ${s} must be a TAG or @DIGEST in ${where}`);
  return ref;
}

export default defineCommand({
  command: 'index',
  examples: [
    ['$0 index create ./layout:multi amd64 arm64', 'an index of two manifests'],
    ['$0 index create --help', 'its options'],
  ],
  describe: 'create image indexes',
  async handler() {},
  subcommands: [createCmd],
});
