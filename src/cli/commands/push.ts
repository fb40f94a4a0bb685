/**
 * `ocikit push SRC REGISTRY[/REPO]`: a whole layout or archive into a
 * registry (see registry/push-layout.ts). Also home, for now, of the CLI
 * glue every registry-aware command shares: global flags -> RegistryOptions,
 * and the progress line.
 */
import { readFile } from 'node:fs/promises';
import {
  formatBytes,
  isLayoutTarget,
  isValidRegistryHost,
  openReadTarget,
  pushLayout,
  summaryLine,
  UsageError,
  type CopyEvent,
  type PushLayoutResult,
  type RegistryOptions,
} from '../../index.js';
import { networkFlags, type Context } from '../context.js';
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
    const src = await openReadTarget({ ...srcRef, tag: undefined }, { wholeArchive: true, registry: registryOpts });
    try {
      if (!isLayoutTarget(src)) throw new UsageError(`${args.src} is not a layout directory or archive`);
      const progress = startProgress(ctx, 'pushing');
      let result: PushLayoutResult;
      try {
        result = await pushLayout(src, registry, repository, { tags, referrers: args.referrers !== false, concurrency, registry: registryOpts, onEvent: progress.onEvent });
      } finally {
        progress.stop();
      }
      ctx.out.result(result, (r) => [...r.images.map((i) => `${i.reference} ${i.digest}`), summaryLine('pushed', r)].join('\n'));
    } finally {
      await src.close?.();
    }
  },
});

/** `HOST[:PORT]` alone (mirror mode) or `HOST[:PORT]/REPO`, optionally with `docker://`. */
export function parsePushDestination(dest: string): { registry: string; repository?: string } {
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

export function checkConcurrency(n: number | undefined): number {
  const v = n ?? 5;
  if (!Number.isInteger(v) || v < 1 || v > 64) throw new UsageError('--concurrency must be a whole number from 1 to 64');
  return v;
}

const optionsCache = new WeakMap<Context, Promise<RegistryOptions>>();

/**
 * Registry options from the global flags, built once per command (the
 * password is read from stdin once, and every target of the command shares
 * connections and tokens).
 */
export function registryOptions(ctx: Context): Promise<RegistryOptions> {
  let p = optionsCache.get(ctx);
  if (!p) {
    p = buildRegistryOptions(ctx);
    optionsCache.set(ctx, p);
  }
  return p;
}

async function buildRegistryOptions(ctx: Context): Promise<RegistryOptions> {
  const a = ctx.args;
  const opts: RegistryOptions = { ...networkFlags(a) };
  if (a['plain-http']) opts.plainHttp = true;
  if (a.insecure) opts.insecure = true;
  if (a['ca-file']) {
    try {
      opts.ca = await readFile(a['ca-file']);
    } catch (err) {
      throw new UsageError(`cannot read --ca-file ${a['ca-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (a['registry-config']) opts.configFile = a['registry-config'];
  if (a['password-stdin']) {
    if (a.username === undefined) throw new UsageError('--password-stdin needs --username');
    opts.username = a.username;
    opts.password = await readPasswordFromStdin();
  } else if (a.username !== undefined) {
    throw new UsageError('--username needs --password-stdin (passwords are never taken on the command line)');
  }
  if (a.debug) opts.log = (line) => ctx.out.stderr.write(`ocikit: debug: ${line}\n`);
  return opts;
}

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new UsageError('--password-stdin read an empty password from standard input');
  return text;
}

/** A one-line progress display on a TTY stderr (bytes, blobs, rate); nothing otherwise. */
export function startProgress(ctx: Context, verb: string): { onEvent: (e: CopyEvent) => void; stop: () => void } {
  const stderr = ctx.out.stderr as NodeJS.WriteStream;
  const enabled = stderr.isTTY === true && ctx.args.progress !== false && !ctx.out.quiet && !ctx.out.json;
  let blobs = 0;
  let skipped = 0;
  let bytes = 0;
  const started = Date.now();
  const onEvent = (e: CopyEvent) => {
    if (e.type === 'skip') skipped++;
    if (e.type === 'done') {
      blobs++;
      bytes += e.descriptor.size;
    }
  };
  if (!enabled) return { onEvent, stop: () => undefined };
  const draw = () => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    stderr.write(`\r\x1b[K${verb} ${blobs} blobs, ${formatBytes(bytes)} (${formatBytes(Math.round(bytes / secs))}/s), ${skipped} skipped`);
  };
  const timer = setInterval(draw, 250);
  return {
    onEvent,
    stop: () => {
      clearInterval(timer);
      stderr.write('\r\x1b[K');
    },
  };
}
