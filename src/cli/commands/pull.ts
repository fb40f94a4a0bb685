/** `ocikit pull REGISTRY/REPO[:TAG|@DIGEST]... DST`: images and their referrers into a layout directory or archive. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  isOcikitError,
  parseReference,
  pullImages,
  pullIntoLayout,
  summaryLine,
  UsageError,
  writeArchiveFile,
  type ArchiveMergeResult,
  type PullResult,
  type Reference,
} from '../../index.js';
import type { Context } from '../context.js';
import { mergeLine } from '../merge-line.js';
import { startProgress } from '../progress.js';
import { checkConcurrency, registryOptions } from '../registry-options.js';
import { defineCommand } from './command.js';

interface PullArgs {
  refs: string[];
  platform?: string;
  referrers?: boolean;
  concurrency?: number;
  'images-file'?: string;
}

export default defineCommand<PullArgs>({
  command: 'pull <refs..>',
  examples: [
    ['$0 pull localhost:5000/app:v1 ./layout', 'an image and its referrers into a layout'],
    ['$0 pull localhost:5000/app:v1 localhost:5000/db:v2 images.tar --platform linux/amd64', 'two images, amd64 only, into an archive'],
  ],
  describe: 'pull images (all platforms, or --platform) and their referrers into a layout directory or archive (the last argument)',
  builder: (y) =>
    y
      .option('platform', { type: 'string', describe: 'only this platform: OS/ARCH[/VARIANT]' })
      .option('referrers', { type: 'boolean', default: true, describe: 'pull referrers too, recursively (--no-referrers turns it off)' })
      .option('images-file', { type: 'string', describe: 'read more references from FILE, one a line (# comments)' })
      .option('concurrency', { type: 'number', default: 5, describe: 'blobs transferred at once' }),
  async handler(args, ctx) {
    const concurrency = checkConcurrency(args.concurrency);
    const all = [...args.refs];
    if (all.length < 1) throw new UsageError('pull needs a destination: ocikit pull REGISTRY/REPO[:TAG]... DST');
    const dstInput = all.pop()!;
    const inputs = [...all, ...(args['images-file'] ? await readImagesFile(args['images-file']) : [])];
    if (inputs.length === 0) throw new UsageError('pull needs at least one REGISTRY/REPO[:TAG|@DIGEST] before the destination (or --images-file)');
    const refs: Reference[] = inputs.map((s) => {
      const ref = ctx.ref(s);
      if (ref.kind !== 'registry') throw new UsageError(`${s} is not a registry reference; write HOST[:PORT]/REPO[:TAG|@DIGEST]`);
      return ref;
    });
    const dstRef = destinationRef(ctx, dstInput);
    if (dstRef.kind === 'registry') throw new UsageError(`${dstInput} is a registry; pull writes a layout directory or archive (use ocikit copy between registries)`);
    if (dstRef.tag || dstRef.digest) throw new UsageError(`${dstInput}: the destination takes no :TAG or @DIGEST; entries are named after what is pulled`);
    const opts = { platform: ctx.platform(args.platform), referrers: args.referrers !== false, concurrency, registry: await registryOptions(ctx) };
    const progress = startProgress(ctx, 'pulling');
    let result: PullResult & Partial<ArchiveMergeResult>;
    try {
      if (dstRef.kind === 'layout-archive') {
        // An archive already there is merged with, never replaced (ops/archive-merge.ts).
        const w = await writeArchiveFile(dstRef.path!, { onEvent: progress.onEvent }, (writer) => pullImages(refs, writer, { ...opts, onEvent: progress.onEvent }));
        result = { ...w.result, merged: w.merged, earlierEntries: w.earlierEntries, movedTags: w.movedTags };
      } else if (dstRef.kind === 'layout-dir') {
        // A failed pull takes back the directory it created (ops/pull-images.ts).
        result = await pullIntoLayout(refs, dstRef.path!, { ...opts, onEvent: progress.onEvent });
      } else {
        throw new UsageError(`${dstInput} is a ${dstRef.kind}; pull writes a layout directory or a layout archive`);
      }
    } finally {
      progress.stop();
    }
    // -q: the images pulled, without the transfer summary.
    const quiet = ctx.out.quiet;
    ctx.out.result(result, (r) => [...r.images.map((i) => `${i.reference} ${i.digest}`), ...(quiet ? [] : [summaryLine('pulled', r)]), ...(r.merged && !quiet ? [mergeLine(dstRef.path!, r as ArchiveMergeResult)] : [])].join('\n'));
  },
});

async function readImagesFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path.resolve(file), 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --images-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0);
}

/**
 * The destination: any reference form, and also a bare name that does not
 * exist yet (`pull HOST/REPO:TAG out`): pull creates it, so a new directory
 * (or a new file with an archive extension) is what a bare name means here.
 */
function destinationRef(ctx: Context, input: string): Reference {
  try {
    return ctx.ref(input);
  } catch (err) {
    if (!isOcikitError(err, 'USAGE')) throw err;
    const ref = parseReference(input, { ociLayout: true });
    return /\.(tar|tar\.gz|tgz|tar\.zst)$/i.test(ref.path ?? '') ? { ...ref, kind: 'layout-archive' } : ref;
  }
}
