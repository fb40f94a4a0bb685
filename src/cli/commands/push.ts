/** `ocikit push SRC REGISTRY[/REPO]`: a whole layout or archive into a registry (see ops/push-layout.ts). */
import {
  isLayoutTarget,
  isValidRegistryHost,
  openReadTarget,
  pushLayout,
  summaryLine,
  UsageError,
  type PushLayoutResult,
} from '../../index.js';
import { startProgress } from '../progress.js';
import { checkConcurrency, registryOptions } from '../registry-options.js';
import { defineCommand } from './command.js';

interface PushArgs {
  src: string;
  dest: string;
  tag?: string[];
  referrers?: boolean;
  concurrency?: number;
}

export default defineCommand<PushArgs>({
  command: 'push <src> <dest>',
  examples: [
    ['$0 push ./layout localhost:5000/app', 'every entry of a layout to one repository'],
    ['$0 push image.tar registry.example.com --tag v1', 'entries tagged v1 to the repositories their names say'],
  ],
  describe: 'push every entry of a layout or archive (and their referrers) to REGISTRY/REPO, or to REGISTRY by io.containerd.image.name',
  builder: (y) =>
    y
      .option('tag', { type: 'string', array: true, describe: 'push only entries with this tag (repeatable)' })
      .option('referrers', { type: 'boolean', default: true, describe: 'push referrers too, recursively (--no-referrers turns it off)' })
      .option('concurrency', { type: 'number', default: 5, describe: 'blobs transferred at once' }),
  async handler(args, ctx) {
    const concurrency = checkConcurrency(args.concurrency);
    const { registry, repository } = parsePushDestination(args.dest);
    const srcRef = ctx.ref(args.src);
    if (srcRef.kind === 'registry') throw new UsageError(`${args.src} is a registry; push sends a layout or archive (use ocikit copy between registries)`);
    if (srcRef.digest) throw new UsageError(`${args.src}: push selects entries by tag; drop @DIGEST or use ocikit copy`);
    const tags = [...(args.tag ?? []), ...(srcRef.tag ? [srcRef.tag] : [])];
    const registryOpts = await registryOptions(ctx);
    const src = await openReadTarget({ ...srcRef, tag: undefined }, { registry: registryOpts });
    try {
      if (!isLayoutTarget(src)) throw new UsageError(`${args.src} is not a layout directory or archive`);
      const progress = startProgress(ctx, 'pushing');
      let result: PushLayoutResult;
      try {
        result = await pushLayout(src, registry, repository, { tags, referrers: args.referrers !== false, concurrency, registry: registryOpts, onEvent: progress.onEvent });
      } finally {
        progress.stop();
      }
      // A line per image pushed, then the summary (not with -q); streamed, as 50,000 images are megabytes.
      await ctx.out.stream(result, function* (r) {
        for (const i of r.images) yield `${i.reference} ${i.digest}`;
        if (!ctx.out.quiet) yield summaryLine('pushed', r);
      });
    } finally {
      await src.close?.();
    }
  },
});

/** `HOST[:PORT]` alone (mirror mode) or `HOST[:PORT]/REPO`, optionally with `docker://`. */
function parsePushDestination(dest: string): { registry: string; repository?: string } {
  const body = dest.startsWith('docker://') ? dest.slice(9) : dest;
  const how = 'write REGISTRY[:PORT] or REGISTRY[:PORT]/REPO, e.g. localhost:5000/library/debian';
  const slash = body.indexOf('/');
  if (slash < 0 || slash === body.length - 1) {
    const host = slash < 0 ? body : body.slice(0, -1);
    if (!isValidRegistryHost(host)) throw new UsageError(`invalid push destination "${dest}": not a registry host; ${how}`);
    return { registry: host };
  }
  const host = body.slice(0, slash);
  const repository = body.slice(slash + 1);
  if (!isValidRegistryHost(host)) throw new UsageError(`invalid push destination "${dest}": "${host}" is not a registry host; ${how}`);
  if (/[:@]/.test(repository)) {
    throw new UsageError(`invalid push destination "${dest}": name a repository without :TAG or @DIGEST; tags come from the source (select them with --tag)`);
  }
  return { registry: host, repository };
}
