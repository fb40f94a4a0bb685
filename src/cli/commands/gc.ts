import { formatBytes, gc, UsageError, type GcResult } from '../../index.js';
import { defineCommand } from './command.js';

export default defineCommand<{ dir: string; 'dry-run'?: boolean }>({
  command: 'gc <dir>',
  examples: [
    ['$0 gc ./layout --dry-run', 'list the blobs nothing reachable uses'],
    ['$0 gc ./layout', 'delete them'],
  ],
  describe: 'delete blobs nothing reachable uses; referrers of live manifests are live',
  builder: (y) => y.option('dry-run', { type: 'boolean', describe: 'list what would go; free nothing' }),
  async handler(args, ctx) {
    // gc works on the whole layout; a tag or digest would suggest it could collect one image only.
    const ref = ctx.ref(args.dir);
    if (ref.tag || ref.digest) throw new UsageError(`gc takes a layout directory, not ${ref.original}: drop the :TAG or @DIGEST`);
    const { layout } = await ctx.openLayout(args.dir);
    const result = await gc(layout, { dryRun: args['dry-run'] });
    ctx.out.result(result, (r) => render(r, ctx.out.quiet));
  },
});

/** What was (or would be) removed, one line each, then a summary line that -q leaves out. */
function render(r: GcResult, quiet: boolean): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const lines: string[] = [];
  for (const e of r.removedEntries) {
    lines.push(`${verb} orphaned ${e.artifactType ?? 'manifest'} ${e.digest} from index.json (its subject is gone)`);
  }
  for (const b of r.removedBlobs) lines.push(`${verb} blob ${b.digest} (${formatBytes(b.size)})`);
  for (const f of r.removedTempFiles) lines.push(`${verb} stale temp file ${f}`);
  for (const f of r.removedPartials) lines.push(`${verb} partial download ${f.name} (${formatBytes(f.size)}; the next pull downloads that blob whole)`);
  if (!quiet) lines.push(`${r.dryRun ? 'dry run: ' : ''}${verb} ${r.removedBlobs.length} blob(s), ${formatBytes(r.freedBytes)}; ${r.keptBlobs} blob(s) in use`);
  return lines.join('\n');
}
