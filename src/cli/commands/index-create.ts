import { buildIndex, layoutName, pushManifest, resolveReference, UsageError, type Descriptor } from '../../index.js';
import { parseAnnotations } from './annotations.js';
import { defineCommand } from './command.js';

interface Args {
  ref: string;
  sources: string[];
  annotation?: string[];
  'artifact-type'?: string;
}

const createCmd = defineCommand<Args>({
  command: 'create <ref> <sources..>',
  describe: 'build an image index from manifests in the same layout (each SOURCE a TAG or @DIGEST)',
  builder: (y) =>
    y
      .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation on the index' })
      .option('artifact-type', { type: 'string', describe: 'artifactType of the index' }),
  async handler(args, ctx) {
    const { ref, layout } = await ctx.openLayout(args.ref);
    if (ref.digest) throw new UsageError('index create takes a tag or no selector for the new index, not a digest');
    const sources: Descriptor[] = [];
    for (const s of args.sources) {
      const sourceRef = ctx.ref(sourceToReference(ref.path!, s));
      if (sourceRef.kind !== 'layout-dir' || sourceRef.path !== ref.path) {
        throw new UsageError(`source ${s} must be a TAG or @DIGEST in ${ref.path}`);
      }
      sources.push(await resolveReference(layout, sourceRef));
    }
    const bytes = await buildIndex(layout, sources, { annotations: parseAnnotations(args.annotation), artifactType: args['artifact-type'] });
    const desc = await pushManifest(layout, bytes, { tags: ref.tag ? [layoutName(ref)!] : [] });
    ctx.out.result(desc, (d) => d.digest);
  },
});

/** Sources are written as a tag, `@digest` or a bare digest, relative to the layout. */
function sourceToReference(layoutPath: string, s: string): string {
  if (s.startsWith('oci:')) return s;
  if (s.startsWith('@')) return `oci:${layoutPath}${s}`;
  if (/^sha(256|512):/.test(s)) return `oci:${layoutPath}@${s}`;
  return `oci:${layoutPath}:${s}`;
}

export default defineCommand({
  command: 'index',
  describe: 'create image indexes',
  async handler() {},
  subcommands: [createCmd],
});
