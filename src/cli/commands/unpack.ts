import path from 'node:path';
import { openWholeSource, unpack, UsageError, type UnpackResult } from '../../index.js';
import { defineCommand } from './command.js';
import { withProgress } from '../progress.js';

interface UnpackArgs {
  archive: string;
  dir: string;
  platform?: string;
  concurrency?: number;
}

export default defineCommand<UnpackArgs>({
  command: 'unpack <archive> <dir>',
  describe: 'write an archive into a layout directory (a new one, or merged into an existing layout)',
  builder: (y) =>
    y
      .option('platform', { type: 'string', describe: 'through an index, unpack only OS/ARCH[/VARIANT]' })
      .option('concurrency', { type: 'number', default: 5, describe: 'blobs written at once' }),
  async handler(args, ctx) {
    const dir = args.dir.startsWith('oci:') ? args.dir.slice(4) : args.dir;
    if (dir === '') throw new UsageError('the directory path is empty');
    if (!Number.isInteger(args.concurrency) || args.concurrency! < 1) throw new UsageError('--concurrency must be a positive whole number');
    const ref = ctx.ref(args.archive);
    const src = await openWholeSource(ref, path.dirname(path.resolve(dir)));
    try {
      const result = await withProgress(ctx, 'unpacking', (onEvent) => unpack(src, ref, dir, { platform: ctx.platform(args.platform), concurrency: args.concurrency, onEvent }));
      ctx.out.result(result, summary);
    } finally {
      await src.close?.();
    }
  },
});

function summary(r: UnpackResult): string {
  const tags = r.roots.flatMap((root) => root.tags);
  return `${r.created ? 'unpacked' : 'merged'} ${r.roots.length} entr${r.roots.length === 1 ? 'y' : 'ies'}${tags.length > 0 ? ` (${tags.join(', ')})` : ''} into ${r.dir}: ${r.bytesCopied} bytes copied`;
}
