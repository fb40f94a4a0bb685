import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fromFsError, UsageError } from '../../index.js';
import { defineCommand } from './command.js';

const fetchCmd = defineCommand<{ ref: string; output?: string; o?: string }>({
  command: 'fetch <ref>',
  describe: 'write a blob (REF@DIGEST), verified, to a file or stdout',
  builder: (y) => y.option('o', { type: 'string', describe: 'write to FILE (default: stdout; - for stdout)', requiresArg: true }),
  async handler(args, ctx) {
    const { ref, target } = await ctx.openRead(args.ref);
    if (!ref.digest) throw new UsageError('blob fetch needs a digest: write REF@sha256:<hex>');
    const desc = await target.statBlob(ref.digest);
    const stream = await target.fetch(desc);
    const dest = args.o;
    if (dest === undefined || dest === '-') {
      await pipeline(stream, ctx.out.stdout);
      return;
    }
    // Write next to the destination and rename only once every byte has been verified.
    const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.ocikit-partial-${process.pid}`);
    try {
      await pipeline(stream, createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    ctx.out.info(`wrote ${desc.digest} (${desc.size} bytes) to ${dest}`);
  },
});

const pushCmd = defineCommand<{ target: string; file: string; 'media-type'?: string }>({
  command: 'push <target> <file>',
  describe: 'store FILE (or - for stdin) as a blob; prints its digest and size',
  builder: (y) => y.option('media-type', { type: 'string', describe: 'media type for the printed descriptor' }),
  async handler(args, ctx) {
    const { ref, layout } = await ctx.openLayout(args.target);
    if (ref.tag || ref.digest) throw new UsageError('blob push takes a layout without :TAG or @DIGEST: the digest is computed');
    let input: NodeJS.ReadableStream;
    if (args.file === '-') input = process.stdin;
    else {
      input = createReadStream(args.file);
      await new Promise<void>((resolve, reject) => {
        (input as ReturnType<typeof createReadStream>).once('open', () => resolve()).once('error', (e) => reject(fromFsError(e, args.file, 'file')));
      });
    }
    const desc = await layout.pushStream(input as never, args['media-type']);
    ctx.out.result(desc, (d) => `${d.digest} ${d.size}`);
  },
});

export default defineCommand({
  command: 'blob',
  describe: 'fetch and push blobs',
  async handler() {},
  subcommands: [fetchCmd, pushCmd],
});
