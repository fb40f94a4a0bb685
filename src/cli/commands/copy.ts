import { copyReference, formatBytes, UsageError, type ArchiveMergeResult, type CopyReferenceResult } from '../../index.js';
import { defineCommand } from './command.js';
import { registryOptions } from '../registry-options.js';
import { mergeLine } from '../merge-line.js';
import { plural, someNames, withReferrers } from '../summary.js';
import { withProgress } from '../progress.js';

interface CopyArgs {
  src: string;
  dst: string;
  recursive?: boolean;
  platform?: string;
  'all-tags'?: boolean;
  concurrency?: number;
  overwrite?: boolean;
}

export default defineCommand<CopyArgs>({
  command: 'copy <src> <dst>',
  examples: [
    ['$0 copy ./layout:v1 localhost:5000/app:v1 -r', 'copy an image and its referrers to a registry'],
    ['$0 copy docker-archive:saved.tar oci:./layout:v1', 'a docker save archive into a layout, tagged v1'],
  ],
  describe: 'copy an image (or --all-tags) between layouts, archives and registries, or into a docker save archive (docker-archive:FILE[:NAME:TAG]); -r brings referrers along',
  builder: (y) =>
    y
      .option('recursive', { alias: 'r', type: 'boolean', describe: 'copy referrers too, recursively' })
      .option('platform', { type: 'string', describe: 'through an index, copy only OS/ARCH[/VARIANT]' })
      .option('all-tags', { type: 'boolean', describe: 'copy every tag of the source' })
      .option('concurrency', { type: 'number', default: 5, describe: 'blobs copied at once (archives are written one entry at a time)' })
      .option('overwrite', { type: 'boolean', describe: 'docker-archive:FILE only: replace FILE if it exists' }),
  async handler(args, ctx) {
    if (!Number.isInteger(args.concurrency) || args.concurrency! < 1) throw new UsageError('--concurrency must be a positive whole number');
    const srcRef = ctx.ref(args.src);
    const dstRef = ctx.ref(args.dst);
    const common = { referrers: args.recursive === true, allTags: args['all-tags'] === true, platform: ctx.platform(args.platform), concurrency: args.concurrency };
    // Registries at either end need the registry flags (TLS, credentials); reading them is only worth it then.
    const registry = srcRef.kind === 'registry' || dstRef.kind === 'registry' ? await registryOptions(ctx) : undefined;
    const result = await withProgress(ctx, 'copying', (onEvent) => copyReference(srcRef, dstRef, { ...common, overwrite: args.overwrite === true, registry, onEvent }));
    // -q: results only, the digest of each image copied; otherwise the one summary line.
    ctx.out.result(result, (r) => (ctx.out.quiet ? r.roots.map((root) => root.digest).join('\n') : summary(r)));
  },
});

/** One line (`copied sha256:... as v1 to DST with 2 referrers`), and a second only when an archive was merged into. */
function summary(r: CopyReferenceResult): string {
  const only = r.roots.length === 1 ? r.roots[0]! : undefined;
  const what = only
    ? `${only.digest}${only.tags.length > 0 ? ` as ${someNames([only])}` : ''}`
    : `${plural(r.roots.length, 'entry', 'entries')}${r.roots.some((root) => root.tags.length > 0) ? ` (${someNames(r.roots)})` : ''}`;
  const resumed = r.resumedBytes > 0 ? ` (${formatBytes(r.resumedBytes)} resumed from an earlier run)` : '';
  const lines = [`copied ${what} to ${r.destination}${withReferrers(r.referrers.length)}${resumed}`];
  // A docker archive: say which platform an index gave, and when an image goes without a name (docker load shows <none>).
  for (const image of r.images ?? []) {
    if (image.hostPlatform) lines.push(`${image.digest} is the ${image.platform} image of the source index (this machine's platform; --platform chooses another)`);
    if (image.repoTags.length === 0) lines.push(`${image.digest} has no name in the archive; name it with docker-archive:FILE:NAME:TAG`);
  }
  if (r.merged) lines.push(mergeLine(r.archive ?? r.destination, r as ArchiveMergeResult));
  return lines.join('\n');
}
