import path from 'node:path';
import type { Writable } from 'node:stream';
import { formatBytes, openWholeSource, pack, UsageError, type ArchiveResult } from '../../index.js';
import { plural, someNames, withReferrers } from '../summary.js';
import { defineCommand } from './command.js';
import { mergeLine } from '../merge-line.js';
import { withProgress } from '../progress.js';

interface PackArgs {
  src: string;
  archive: string;
  tag?: string[];
  platform?: string;
  referrers?: boolean;
  'exclude-blobs-from'?: string;
}

export default defineCommand<PackArgs>({
  command: 'pack <src> <archive>',
  examples: [
    ['$0 pack ./layout image.tar.gz', 'the whole layout as a compressed archive'],
    ['$0 pack ./layout - --tag v1 | ssh host ocikit unpack - /srv/layout', 'one tag, streamed to another machine'],
  ],
  describe: 'write a layout archive (.tar, .tar.gz/.tgz, or - for stdout) from a layout, archive or docker archive',
  builder: (y) =>
    y
      .option('tag', { type: 'string', array: true, requiresArg: true, describe: 'pack only this tag (repeatable); default: everything' })
      .option('platform', { type: 'string', describe: 'through an index, pack only OS/ARCH[/VARIANT]' })
      .option('referrers', { type: 'boolean', default: true, describe: 'bring referrers of what is packed (--no-referrers leaves them out)' })
      .option('exclude-blobs-from', { type: 'string', requiresArg: true, describe: 'delta bundle: leave out blobs this layout or archive already holds' }),
  async handler(args, ctx) {
    const dest = archivePath(args.archive);
    if (dest === '-' && (ctx.out.stdout as NodeJS.WriteStream).isTTY) {
      throw new UsageError('refusing to write an archive to a terminal', { hint: 'redirect stdout to a file, or name the archive file' });
    }
    const near = dest === '-' ? undefined : path.dirname(path.resolve(dest));
    const srcRef = ctx.ref(args.src);
    const src = await openWholeSource(srcRef, near);
    const exclude = args['exclude-blobs-from'] ? await openWholeSource(ctx.ref(args['exclude-blobs-from']), near) : undefined;
    try {
      const result = await withProgress(ctx, 'packing', (onEvent) =>
        pack(src, srcRef, dest === '-' ? (ctx.out.stdout as Writable) : dest, {
          tags: args.tag,
          platform: ctx.platform(args.platform),
          referrers: args.referrers,
          exclude,
          onEvent,
        }),
      );
      // With the archive on stdout, the summary goes to stderr.
      if (dest === '-') ctx.out.info(summary(result));
      // Streamed: the JSON lists every entry (45,000 tags are megabytes), the text line only a few.
      else await ctx.out.stream(result, (r) => (ctx.out.quiet ? [] : [summary(r)]));
    } finally {
      await src.close?.();
      await exclude?.close?.();
    }
  },
});

/** ARCHIVE may be written as a plain path or as oci-archive:PATH. */
function archivePath(arg: string): string {
  const p = arg.startsWith('oci-archive:') ? arg.slice('oci-archive:'.length) : arg;
  if (p === '') throw new UsageError('the archive path is empty');
  return p;
}

function summary(r: ArchiveResult): string {
  const names = someNames(r.roots);
  const parts = [`packed ${plural(r.roots.length, 'entry', 'entries')}`];
  if (names) parts.push(`(${names})`);
  parts.push(`into ${r.archive}: ${plural(r.blobs, 'blob')}, ${formatBytes(r.bytes)}${withReferrers(r.referrers.length)}`);
  if (r.excluded > 0) parts.push(`(delta: ${plural(r.excluded, 'blob')} left out)`);
  return r.merged ? `${parts.join(' ')}\n${mergeLine(r.archive, r)}` : parts.join(' ');
}
