import path from 'node:path';
import { formatBytes, openWholeSource, unpack, unpackStream, UsageError, type UnpackResult } from '../../index.js';
import { plural, someNames } from '../summary.js';
import { compressedArchiveInput, stdinArchive, STDIN } from '../archive-input.js';
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
  examples: [
    ['$0 unpack image.tar ./layout', 'an archive into a new (or existing) layout'],
    ['ocikit pack ./src - | ssh host ocikit unpack - ./layout', 'an archive on stdin, as it arrives'],
  ],
  describe: 'write an archive (a file, or - for stdin; tar or tar.gz) into a layout directory (a new one, or merged into an existing layout)',
  builder: (y) =>
    y
      .option('platform', { type: 'string', describe: 'through an index, unpack only OS/ARCH[/VARIANT]' })
      .option('concurrency', { type: 'number', default: 5, describe: 'blobs written at once' }),
  async handler(args, ctx) {
    const dir = args.dir.startsWith('oci:') ? args.dir.slice(4) : args.dir;
    if (dir === '') throw new UsageError('the directory path is empty');
    if (!Number.isInteger(args.concurrency) || args.concurrency! < 1) throw new UsageError('--concurrency must be a positive whole number');
    const platform = ctx.platform(args.platform);
    if (args.archive === STDIN && platform) {
      throw new UsageError('unpack - reads the whole archive from stdin; --platform needs an archive file', {
        hint: 'unpack it whole, then pick the platform: ocikit copy oci:DIR:TAG oci:OTHER --platform OS/ARCH',
      });
    }
    // An archive on stdin, or a compressed one read whole: one pass, no temp file (ops/unpack.ts unpackStream).
    const ref = args.archive === STDIN ? undefined : ctx.ref(args.archive);
    const stream = ref ? await compressedArchiveInput(ref, platform === undefined) : stdinArchive('unpack');
    if (stream) {
      try {
        const result = await withProgress(ctx, 'unpacking', (onEvent) => unpackStream(stream.input, dir, { source: stream.source, compressedSize: stream.compressedSize, onEvent }));
        await ctx.out.stream(result, (r) => (ctx.out.quiet ? [] : [summary(r)]));
      } finally {
        await stream.close();
      }
      return;
    }
    const src = await openWholeSource(ref!, path.dirname(path.resolve(dir)));
    try {
      const result = await withProgress(ctx, 'unpacking', (onEvent) => unpack(src, ref!, dir, { platform, concurrency: args.concurrency, onEvent }));
      // Streamed: the JSON lists every entry (45,000 tags are megabytes), the text line only a few.
      await ctx.out.stream(result, (r) => (ctx.out.quiet ? [] : [summary(r)]));
    } finally {
      await src.close?.();
    }
  },
});

function summary(r: UnpackResult): string {
  const names = someNames(r.roots);
  return `${r.created ? 'unpacked' : 'merged'} ${plural(r.roots.length, 'entry', 'entries')}${names ? ` (${names})` : ''} into ${r.dir}: ${formatBytes(r.bytesCopied)} copied`;
}
