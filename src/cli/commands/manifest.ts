import {
  checkOutputFile,
  formatBytes,
  writeOutputFile,
  type Descriptor,
  fetchDocumentOrEmbedded,
  fetchManifestOrEmbedded,
  isIndexMediaType,
  layoutName,
  MAX_DOCUMENT_SIZE,
  pushManifest,
  resolveReference,
  UsageError,
  type ImageManifest,
} from '../../index.js';
import type { Context } from '../context.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';

const platformOption = { type: 'string', describe: 'resolve through an index: OS/ARCH[/VARIANT]' } as const;
const outputOption = { alias: 'o', type: 'string', requiresArg: true, describe: 'write to FILE instead of stdout (- for stdout)' } as const;

interface FetchArgs {
  ref: string;
  pretty?: boolean;
  platform?: string;
  descriptor?: boolean;
  output?: string;
}

const fetchCmd = defineCommand<FetchArgs>({
  command: 'fetch <ref>',
  examples: [
    ['$0 manifest fetch ./layout:v1 --pretty', 'print the manifest of v1, indented'],
    ['$0 manifest fetch localhost:5000/app:v1 --platform linux/arm64 -o m.json', 'write the arm64 manifest to m.json'],
  ],
  describe: 'print a manifest exactly as stored (--pretty to indent), or write it to a file (-o FILE)',
  outputIsPath: true,
  builder: (y) =>
    y
      .option('pretty', { type: 'boolean', describe: 'indent the JSON' })
      .option('platform', platformOption)
      .option('descriptor', { type: 'boolean', describe: 'print the descriptor instead of the content' })
      .option('output', outputOption),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const dest = await outputFile(args.output, 'the manifest');
    const { ref, target } = await ctx.openRead(args.ref);
    const desc = await resolveReference(target, ref, { platform });
    if (args.descriptor) {
      ctx.out.result(desc, (d) => JSON.stringify(d, null, args.pretty ? 2 : undefined));
      return;
    }
    const { bytes } = await fetchManifestOrEmbedded(target, desc);
    await printDocument(ctx, bytes, desc, { pretty: args.pretty, dest, what: 'the manifest' });
  },
});

const fetchConfigCmd = defineCommand<FetchArgs>({
  command: 'fetch-config <ref>',
  examples: [
    ['$0 manifest fetch-config ./layout:v1 --pretty', 'print the image config, indented'],
    ['$0 manifest fetch-config ./layout:v1 --platform linux/amd64 -o config.json', 'write the amd64 config to config.json'],
  ],
  describe: "print an image's config exactly as stored, or write it to a file (-o FILE)",
  outputIsPath: true,
  builder: (y) => y.option('pretty', { type: 'boolean', describe: 'indent the JSON' }).option('platform', platformOption).option('output', outputOption),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const dest = await outputFile(args.output, 'the config');
    const { ref, target } = await ctx.openRead(args.ref);
    const desc = await resolveReference(target, ref, { platform });
    if (isIndexMediaType(desc.mediaType)) {
      throw new UsageError(`${args.ref} is an image index, which has no config; choose a manifest with --platform OS/ARCH`);
    }
    const m = await fetchManifestOrEmbedded(target, desc);
    if (m.kind !== 'manifest') throw new UsageError(`${args.ref} is not an image manifest; it has no config`);
    const config = (m.doc as ImageManifest).config;
    const bytes = await fetchDocumentOrEmbedded(target, config);
    await printDocument(ctx, bytes, config, { pretty: args.pretty, dest, what: 'the config' });
  },
});

const pushCmd = defineCommand<{ ref: string; file: string; 'media-type'?: string }>({
  command: 'push <ref> <file>',
  examples: [
    ['$0 manifest push ./layout:v2 manifest.json', 'store manifest.json and tag it v2'],
    ['cat index.json | $0 manifest push localhost:5000/app:v2 -', 'push a manifest read from stdin'],
  ],
  describe: `store a manifest or index from FILE (or - for stdin) in a layout, an archive or a registry; tag it if REF has a tag; ${ARCHIVE_REWRITTEN} (a missing one is created)`,
  builder: (y) => y.option('media-type', { type: 'string', describe: "the manifest's media type (default: its mediaType field)" }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.ref);
    if (ref.digest) throw new UsageError('manifest push takes a tag or no selector, not a digest: the digest is computed');
    const bytes = await ctx.readInput(args.file, MAX_DOCUMENT_SIZE);
    const source = args.file === '-' ? 'from stdin' : `from ${args.file}`;
    const { editor } = await ctx.openEditor(args.ref, { createArchive: true });
    const desc = await pushManifest(editor, bytes, { mediaType: args['media-type'], tags: ref.tag ? [layoutName(ref)!] : [], source });
    await editor.commit();
    ctx.out.result(desc, (d) => d.digest);
  },
});

const deleteCmd = defineCommand<{ ref: string }>({
  command: 'delete <ref>',
  examples: [
    ['$0 manifest delete ./layout:old', 'drop the manifest tagged old (and its other tags)'],
    ['$0 manifest delete localhost:5000/app@sha256:<hex>', 'delete a manifest of a registry by digest'],
  ],
  describe:
    `delete the manifest REF names. A tag is resolved to its digest and the digest deleted, as oras does: on a registry that removes every tag of it; a layout drops every index.json entry of it (blobs stay until gc). A referrer also leaves its subject's sha256-<hex> fallback tag; ${ARCHIVE_REWRITTEN} (its blobs stay in it)`,
  async handler(args, ctx) {
    const { ref, editor } = await ctx.openEditor(args.ref);
    if (!ref.tag && !ref.digest && !ref.dockerName) throw new UsageError(`${args.ref} names no manifest; add :TAG or @DIGEST`);
    const desc = await resolveReference(editor, ref);
    await editor.deleteManifest(desc);
    await editor.commit();
    ctx.out.result({ digest: desc.digest, mediaType: desc.mediaType, size: desc.size }, (d) => `deleted ${d.digest}`);
  },
});

export default defineCommand({
  command: 'manifest',
  examples: [
    ['$0 manifest fetch ./layout:v1 --pretty', 'print a manifest'],
    ['$0 manifest delete ./layout:old', 'delete one'],
  ],
  describe: 'fetch, fetch-config, push and delete manifests',
  async handler() {},
  subcommands: [fetchCmd, fetchConfigCmd, pushCmd, deleteCmd],
});

/** `-o FILE` checked before anything is read (a directory or a missing parent is refused at once); `-` is stdout. */
async function outputFile(value: string | undefined, what: string): Promise<string | undefined> {
  if (value === undefined || value === '-') return undefined;
  if (value === '') throw new UsageError('-o needs a file name (or - for stdout)');
  await checkOutputFile(value, what);
  return value;
}

/**
 * JSON documents print as stored (exact bytes) unless --pretty; --format json
 * always prints one JSON document. With -o FILE the document goes to the
 * file (written atomically) and stdout gets, with --format json, its
 * descriptor and path, as `blob fetch -o` does.
 */
async function printDocument(ctx: Context, bytes: Buffer, desc: Descriptor, opts: { pretty?: boolean; dest?: string; what: string }): Promise<void> {
  if (opts.dest !== undefined) {
    await writeOutputFile(opts.dest, opts.pretty ? `${JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2)}\n` : bytes, opts.what);
    if (ctx.out.json) ctx.out.result({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, path: opts.dest }, () => '');
    else ctx.out.info(`wrote ${desc.digest} (${formatBytes(desc.size)}) to ${opts.dest}`);
    return;
  }
  if (ctx.out.json || opts.pretty) ctx.out.result(JSON.parse(bytes.toString('utf8')) as unknown, (d) => JSON.stringify(d, null, 2));
  else ctx.out.raw(bytes);
}
