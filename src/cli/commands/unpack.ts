import path from 'node:path';
import { openWholeSource, unpack, unpackStream, UsageError, type UnpackResult } from '../../index.js';
import { compressedArchiveInput, stdinArchive, STDIN } from '../archive-input.js';
import { defineCommand } from './command.js';

interface UnpackArgs {
  archive: string;
  dir: string;
  platform?: string;
  concurrency?: number;
}

export default defineCommand<UnpackArgs>({
  command: 'unpack <archive> <dir>',
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
        ctx.out.result(await unpackStream(stream.input, dir, { source: stream.source, compressedSize: stream.compressedSize }), summary);
      } finally {
        await stream.close();
      }
      return;
    }
    const src = await openWholeSource(ref!, path.dirname(path.resolve(dir)));
    try {
      const result = await unpack(src, ref!, dir, { platform, concurrency: args.concurrency });
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
