import { discover, flattenTree, renderTree, resolveReference, UsageError } from '../../index.js';
import { table } from '../output.js';
import { defineCommand } from './command.js';

interface Args {
  ref: string;
  'artifact-type'?: string;
  depth?: number;
  platform?: string;
}

export default defineCommand<Args>({
  command: 'discover <ref>',
  examples: [
    ['$0 discover ./layout:v1', 'the referrers graph of v1 as a tree'],
    ['$0 discover localhost:5000/app:v1 --format table --depth 1', 'direct referrers only, as a table'],
  ],
  // text is the tree; `-o tree|table|json` still works, deprecated (as in oras 1.2): cli/format.ts.
  formats: ['tree', 'table', 'json', 'text'],
  describe: 'show the referrers graph of REF, recursively (--format tree|table|json)',
  builder: (y) =>
    y
      .option('artifact-type', { type: 'string', describe: 'only referrers of this artifact type' })
      .option('depth', { type: 'number', describe: 'levels to follow (default: all)' })
      .option('platform', { type: 'string', describe: 'resolve through an index: OS/ARCH[/VARIANT]' })
      .option('output', { alias: 'o', type: 'string', requiresArg: true, deprecated: 'use --format', describe: 'tree, table or json' }),
  async handler(args, ctx) {
    const format = ctx.out.format === 'text' ? 'tree' : ctx.out.format;
    if (args.depth !== undefined && (!Number.isInteger(args.depth) || args.depth < 1)) throw new UsageError('--depth takes a whole number of levels, 1 or more');
    const { ref, target } = await ctx.openRead(args.ref);
    const subject = await resolveReference(target, ref, { platform: ctx.platform(args.platform) });
    const nodes = await discover(target, subject, {
      artifactType: args['artifact-type'],
      depth: args.depth,
      onCycle: (path) => ctx.out.warn(`referrers cycle: ${path.join(' -> ')}; not followed`),
    });
    if (format === 'json') {
      ctx.out.result({ subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, referrers: nodes }, () => '');
      return;
    }
    if (format === 'table') {
      const rows = flattenTree(subject.digest, nodes).map((r) => [String(r.depth), r.node.digest, r.node.artifactType ?? r.node.mediaType, r.subject]);
      ctx.out.result(rows, () => (rows.length === 0 ? `no referrers of ${subject.digest}` : table(['DEPTH', 'DIGEST', 'ARTIFACT TYPE', 'SUBJECT'], rows)));
      return;
    }
    ctx.out.result(nodes, (n) => renderTree(`${ref.original} (${subject.digest})`, n));
  },
});
