import { pipeline } from 'node:stream/promises';
import { checkOutputFile, formatBytes, outputFileError, streamToFileAtomic, UsageError } from '../../index.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';

const fetchCmd = defineCommand<{ ref: string; output?: string }>({
  command: 'fetch <ref>',
  examples: [
    ['$0 blob fetch ./layout@sha256:<hex> -o layer.tar', 'write a blob, verified, to layer.tar'],
    ['$0 blob fetch localhost:5000/app@sha256:<hex> | tar -tz', 'stream a layer to stdout'],
  ],
  describe: 'write a blob (REF@DIGEST), verified, to a file or stdout',
  outputIsPath: true,
  builder: (y) => y.option('output', { alias: 'o', type: 'string', describe: 'write to FILE (default: stdout; - for stdout)', requiresArg: true }),
  async handler(args, ctx) {
    const dest = args.output;
    const toStdout = dest === undefined || dest === '-';
    if (toStdout && ctx.out.json) {
      throw new UsageError('blob fetch --format json needs -o FILE: the blob and the JSON document cannot both go to stdout');
    }
    const { ref, target } = await ctx.openRead(args.ref);
    if (!ref.digest) throw new UsageError('blob fetch needs a digest: write REF@sha256:<hex>');
    if (!toStdout) await checkOutputFile(dest, 'the blob');
    const desc = await target.statBlob(ref.digest);
    const stream = await target.fetch(desc);
    if (toStdout) {
      // The digest is known only at the end: a corrupt blob has been written by then, and the exit status says so.
      await pipeline(stream, ctx.out.stdout);
      return;
    }
    // Written next to the destination and renamed only once every byte has been verified (the
    // fetch stream verifies); the temp file is removed on failure, Ctrl-C or SIGTERM.
    try {
      await streamToFileAtomic(stream, [], dest);
    } catch (err) {
      throw outputFileError(err, dest, 'the blob');
    }
    if (ctx.out.json) ctx.out.result({ ...desc, path: dest }, () => '');
    else ctx.out.info(`wrote ${desc.digest} (${formatBytes(desc.size)}) to ${dest}`);
  },
});

const pushCmd = defineCommand<{ target: string; file: string; 'media-type'?: string }>({
  command: 'push <target> <file>',
  examples: [
    ['$0 blob push ./layout data.bin', 'store data.bin as a blob; prints its digest and size'],
    ['tar -c dir | $0 blob push localhost:5000/app -', 'store stdin as a blob in a registry repository'],
  ],
  describe: `store FILE (or - for stdin) as a blob in a layout, an archive or a registry repository, hashed as it streams; prints its digest and size; ${ARCHIVE_REWRITTEN} (a missing one is created)`,
  builder: (y) => y.option('media-type', { type: 'string', describe: 'media type for the printed descriptor' }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.target);
    if (ref.tag || ref.digest) throw new UsageError('blob push takes a layout or repository without :TAG or @DIGEST: the digest is computed');
    const { editor } = await ctx.openEditor(args.target, { createArchive: true });
    const desc = await editor.pushStream(await ctx.openInput(args.file), args['media-type']);
    await editor.commit();
    ctx.out.result(desc, (d) => `${d.digest} ${d.size}`);
  },
});

const deleteCmd = defineCommand<{ ref: string; force?: boolean }>({
  command: 'delete <ref>',
  examples: [
    ['$0 blob delete ./layout@sha256:<hex>', 'delete a blob no listed manifest uses'],
    ['$0 blob delete ./layout@sha256:<hex> --force', 'delete it even if one does'],
  ],
  describe:
    `delete a blob (REF@DIGEST) from a layout, an archive or a registry. A layout or an archive refuses while a manifest listed in index.json uses it (--force to delete anyway); registries often refuse blob deletes, and the error says what they answered; ${ARCHIVE_REWRITTEN}, without the blob`,
  builder: (y) => y.option('force', { type: 'boolean', describe: 'layouts and archives: delete even when a listed manifest still uses the blob' }),
  async handler(args, ctx) {
    const ref = ctx.ref(args.ref);
    if (!ref.digest) throw new UsageError('blob delete needs a digest: write REF@sha256:<hex>');
    const { editor } = await ctx.openEditor(args.ref);
    const desc = await editor.statBlob(ref.digest);
    await editor.deleteBlob(desc, { force: args.force === true });
    await editor.commit();
    ctx.out.result({ digest: desc.digest, size: desc.size }, (d) => `deleted ${d.digest}`);
  },
});

export default defineCommand({
  command: 'blob',
  examples: [
    ['$0 blob fetch ./layout@sha256:<hex> -o layer.tar', 'write a blob to a file'],
    ['$0 blob push ./layout data.bin', 'store a file as a blob'],
  ],
  describe: 'fetch, push and delete blobs',
  async handler() {},
  subcommands: [fetchCmd, pushCmd, deleteCmd],
});
