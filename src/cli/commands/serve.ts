import { defaultRepositoryName, isLoopbackHost, openReadTarget, parseByteSize, parseListenAddress, startServer, UsageError, type ReadTarget, type Reference } from '../../index.js';
import type { Context } from '../context.js';
import { defineCommand } from './command.js';

interface ServeArgs {
  target: string;
  addr: string;
  writable?: boolean;
  repo?: string;
  debug?: boolean;
  'stall-timeout': number;
  'max-blob-size': string;
  'max-uploads': number;
  'upload-idle-timeout': number;
}

export default defineCommand<ServeArgs>({
  command: 'serve <target>',
  examples: [
    ['$0 serve ./layout --addr 127.0.0.1:5000', 'serve a layout read-only on port 5000'],
    ['$0 serve ./layout --writable --addr 127.0.0.1:0', 'accept pushes, on a free port (printed)'],
  ],
  describe: 'serve a layout directory or archive as an OCI registry (distribution-spec v1.1, referrers API included)',
  handlesSignals: true,
  builder: (y) =>
    y
      .option('addr', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (port 0 picks a free one)' })
      .option('writable', { type: 'boolean', describe: 'accept pushes (layout directories only)' })
      .option('repo', { type: 'string', describe: 'repository name for entries without an io.containerd.image.name annotation (default: the layout name)' })
      .option('stall-timeout', { type: 'number', default: 30, describe: 'SECONDS: a download or upload that moves less than 16 KiB in this long is cut' })
      .option('max-blob-size', { type: 'string', default: '16GiB', describe: 'SIZE (bytes, or with KiB/MiB/GiB): largest blob --writable accepts; more gets 413' })
      .option('max-uploads', { type: 'number', default: 256, describe: 'uploads open at once with --writable; more get 429' })
      .option('upload-idle-timeout', { type: 'number', default: 600, describe: 'SECONDS: an upload with no request for this long is dropped with its temp file' }),
  async handler(args, ctx) {
    const { host, port } = parseListenAddress(args.addr);
    const limits = {
      stall: { windowMs: seconds(args['stall-timeout'], '--stall-timeout') },
      maxBlobSize: byteSizeFlag(args['max-blob-size'], '--max-blob-size'),
      maxUploads: args['max-uploads'],
      uploadIdleMs: seconds(args['upload-idle-timeout'], '--upload-idle-timeout'),
    };
    if (!Number.isInteger(limits.maxUploads) || limits.maxUploads < 1) throw new UsageError('--max-uploads must be a positive whole number');
    const { ref, target } = await open(args, ctx);
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new UsageError(`serve takes a whole layout, not one manifest: drop the ${ref.digest ? `@${ref.digest}` : `:${ref.tag}`} from ${ref.original}`);
    }
    const server = await startServer(target, {
      host,
      port,
      writable: args.writable === true,
      repository: args.repo ?? defaultRepositoryName(ref.path ?? 'layout'),
      ...limits,
      onRequest: (e) => {
        if (args.debug) ctx.out.info(`${e.method} ${e.path} ${e.clientClosed ? `${e.status}, connection closed before the response was complete` : e.status} ${e.ms}ms`);
        if (e.error) ctx.out.error(`${e.method} ${e.path} → ${e.status}: ${e.error.message}`);
      },
    });
    // One line on stdout, so scripts (and tests) can read the bound port; everything else goes to stderr.
    ctx.out.result({ url: server.url, address: server.address, repository: server.repository, writable: args.writable === true }, (v) => `listening on ${v.url}`);
    ctx.out.info(`serving ${target.description} as repository ${server.repository}${args.writable ? ' (writable)' : ' (read-only)'}; Ctrl-C stops`);
    if (!isLoopbackHost(host)) ctx.out.warn(`listening on ${host}, which other machines may reach: serve has no authentication`);
    const signal = await untilSignal();
    ctx.out.info(`${signal}: finishing in-flight requests`);
    await server.close();
    await target.close?.();
  },
});

/** A positive number of seconds (fractions allowed), in milliseconds. */
function seconds(v: number, flag: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag} must be a positive number of seconds`);
  return v * 1000;
}

/** A size such as 1048576, 512KiB, 100MiB or 16GiB (util/byte-size), at least one byte. */
function byteSizeFlag(v: string, flag: string): number {
  const bytes = parseByteSize(v);
  if (bytes === undefined || bytes < 1) throw new UsageError(`${flag} must be a size such as 1048576, 512KiB, 100MiB or 16GiB, got ${JSON.stringify(v)}`);
  return bytes;
}

async function open(args: ServeArgs, ctx: Context): Promise<{ ref: Reference; target: ReadTarget }> {
  if (!args.writable) {
    const ref = ctx.ref(args.target);
    // A compressed archive cannot be read at random offsets: it is decompressed once to a temp file (removed on close).
    return { ref, target: await openReadTarget(ref) };
  }
  const { ref, layout } = await ctx.openLayout(args.target);
  await layout.assertWritable(); // refuse at start, not at the first push
  return { ref, target: layout };
}

/** Resolves on the first SIGINT or SIGTERM; a second one gets Node's default (immediate exit). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}
