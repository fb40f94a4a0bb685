import {
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

interface FetchArgs {
  ref: string;
  pretty?: boolean;
  platform?: string;
  descriptor?: boolean;
}

const fetchCmd = defineCommand<FetchArgs>({
  command: 'fetch <ref>',
  describe: 'print a manifest exactly as stored (--pretty to indent)',
  builder: (y) =>
    y
      .option('pretty', { type: 'boolean', describe: 'indent the JSON' })
      .option('platform', platformOption)
      .option('descriptor', { type: 'boolean', describe: 'print the descriptor instead of the content' }),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const { ref, target } = await ctx.openRead(args.ref);
    const desc = await resolveReference(target, ref, { platform });
    if (args.descriptor) {
      ctx.out.result(desc, (d) => JSON.stringify(d, null, args.pretty ? 2 : undefined));
      return;
    }
    const { bytes } = await fetchManifestOrEmbedded(target, desc);
    printDocument(ctx, bytes, args.pretty);
  },
});

const fetchConfigCmd = defineCommand<FetchArgs>({
  command: 'fetch-config <ref>',
  describe: "print an image's config exactly as stored",
  builder: (y) => y.option('pretty', { type: 'boolean', describe: 'indent the JSON' }).option('platform', platformOption),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const { ref, target } = await ctx.openRead(args.ref);
    const desc = await resolveReference(target, ref, { platform });
    if (isIndexMediaType(desc.mediaType)) {
      throw new UsageError(`${args.ref} is an image index, which has no config; choose a manifest with --platform OS/ARCH`);
    }
    const m = await fetchManifestOrEmbedded(target, desc);
    if (m.kind !== 'manifest') throw new UsageError(`${args.ref} is not an image manifest; it has no config`);
    const bytes = await fetchDocumentOrEmbedded(target, (m.doc as ImageManifest).config);
    printDocument(ctx, bytes, args.pretty);
  },
});

const pushCmd = defineCommand<{ ref: string; file: string; 'media-type'?: string }>({
  command: 'push <ref> <file>',
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
  describe: 'fetch, fetch-config, push and delete manifests',
  async handler() {},
  subcommands: [fetchCmd, fetchConfigCmd, pushCmd, deleteCmd],
});

/** JSON documents print as stored (exact bytes) unless --pretty; --output json always prints one JSON document. */
function printDocument(ctx: Context, bytes: Buffer, pretty?: boolean): void {
  if (ctx.out.json || pretty) ctx.out.result(JSON.parse(bytes.toString('utf8')) as unknown, (d) => JSON.stringify(d, null, 2));
  else ctx.out.raw(bytes);
}
