import { defaultRepositoryName, isLoopbackHost, openReadTarget, parseListenAddress, startServer, UsageError, type ReadTarget, type Reference } from '../../index.js';
import type { Context } from '../context.js';
import { defineCommand } from './command.js';

interface ServeArgs {
  target: string;
  addr: string;
  writable?: boolean;
  repo?: string;
  debug?: boolean;
}

export default defineCommand<ServeArgs>({
  command: 'serve <target>',
  describe: 'serve a layout directory or archive as an OCI registry (distribution-spec v1.1, referrers API included)',
  handlesSignals: true,
  builder: (y) =>
    y
      .option('addr', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (port 0 picks a free one)' })
      .option('writable', { type: 'boolean', describe: 'accept pushes (layout directories only)' })
      .option('repo', { type: 'string', describe: 'repository name for entries without an io.containerd.image.name annotation (default: the layout name)' }),
  async handler(args, ctx) {
    const { host, port } = parseListenAddress(args.addr);
    const { ref, target } = await open(args, ctx);
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new UsageError(`serve takes a whole layout, not one manifest: drop the ${ref.digest ? `@${ref.digest}` : `:${ref.tag}`} from ${ref.original}`);
    }
    const server = await startServer(target, {
      host,
      port,
      writable: args.writable === true,
      repository: args.repo ?? defaultRepositoryName(ref.path ?? 'layout'),
      onRequest: (e) => {
        if (args.debug) ctx.out.info(`${e.method} ${e.path} ${e.clientClosed ? `${e.status}, connection closed before the response was complete` : e.status} ${e.ms}ms`);
        if (e.error) ctx.out.warn(`${e.method} ${e.path} → ${e.status}: ${e.error.message}`);
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

async function open(args: ServeArgs, ctx: Context): Promise<{ ref: Reference; target: ReadTarget }> {
  if (!args.writable) {
    const ref = ctx.ref(args.target);
    // A compressed archive cannot be read at random offsets: it is decompressed once to a temp file (removed on close).
    return { ref, target: await openReadTarget(ref, { wholeArchive: true }) };
  }
  const { ref, layout } = await ctx.openLayout(args.target);
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
