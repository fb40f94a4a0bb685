import path from 'node:path';
import {
  attach,
  checkOutputFile,
  collectArtifactFiles,
  isValidDigest,
  isValidTag,
  layoutName,
  openWholeSource,
  pullArtifactFiles,
  resolveReference,
  UsageError,
  writeOutputFile,
  type Descriptor,
  type ReadTarget,
  type Reference,
} from '../../index.js';
import type { Context } from '../context.js';
import { annotationsFromArgs, parseFileArg } from './annotations.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';
import { checkExportManifest, exportManifest } from './export-manifest.js';

interface PushArgs {
  ref: string;
  files?: string[];
  'artifact-type': string;
  subject?: string;
  annotation?: string[];
  'annotation-file'?: string;
  config?: string;
  'export-manifest'?: string;
}

const pushCmd = defineCommand<PushArgs>({
  command: 'push <ref> [files..]',
  examples: [
    ['$0 artifact push ./layout:docs --artifact-type application/vnd.example.docs README.md docs/', 'store files as an artifact tagged docs'],
    ['$0 artifact push ./layout --artifact-type application/vnd.example.note note.txt --subject v1', 'an artifact that refers to the image tagged v1'],
  ],
  describe: `store files as an artifact (oras push) in a layout, an archive or a registry repository: each FILE[:MEDIATYPE] a layer titled by its path as given; a directory adds each file under it (one layer per file, not a tar as oras makes), a quoted glob its matching files in sorted order; ${ARCHIVE_REWRITTEN}`,
  builder: (y) =>
    y
      .option('artifact-type', { type: 'string', demandOption: true, describe: 'artifact type, e.g. application/vnd.example.docs' })
      .option('subject', { type: 'string', describe: 'the manifest the artifact refers to: a TAG or DIGEST of REF\'s repository, or a full reference to it' })
      .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation on the manifest' })
      .option('annotation-file', { type: 'string', describe: 'oras-style JSON: {"$manifest": {...}, "<title>": {...}}' })
      .option('config', { type: 'string', describe: 'FILE[:MEDIATYPE] as the config blob (default: the empty descriptor)' })
      .option('export-manifest', { type: 'string', describe: 'also write the artifact manifest to FILE' }),
  async handler(args, ctx) {
    // Like blob push and manifest push, it may start a new archive (oras push creates its --oci-layout too).
    const { ref, editor } = await ctx.openEditor(args.ref, { createArchive: true });
    if (ref.digest) throw new UsageError('artifact push takes REF with a tag or none, not a digest: the digest is computed');
    const subject = args.subject === undefined ? undefined : await resolveSubject(ctx, ref, editor, args.subject);
    const { annotations, fileAnnotations } = await annotationsFromArgs(args.annotation, args['annotation-file']);
    const files = await collectArtifactFiles((args.files ?? []).map(String).map(parseFileArg));
    const config = args.config === undefined ? undefined : parseFileArg(args.config);
    const exportTo = args['export-manifest'];
    // Checked before pushing: failing after it would leave the artifact stored and a re-run would store it again.
    await checkExportManifest(exportTo);
    const tags = ref.tag ? [layoutName(ref)!] : [];
    const result = await attach(editor, subject, { artifactType: args['artifact-type'], files, config, annotations, fileAnnotations, tags });
    await editor.commit();
    await exportManifest(exportTo, result, ref, 'pushed');
    ctx.out.result(result.descriptor, (d) => d.digest);
  },
});

/**
 * `--subject`: a tag or digest is looked up in REF's repository; a full
 * reference must name that same repository (a manifest's subject is in the
 * repository of the manifest, as the referrers API sees it).
 */
async function resolveSubject(ctx: Context, ref: Reference, target: ReadTarget, value: string): Promise<Descriptor> {
  if (isValidDigest(value) || isValidTag(value)) {
    const digest = isValidDigest(value) ? value : undefined;
    return resolveReference(target, { ...ref, tag: digest ? undefined : value, digest, original: value });
  }
  const subject = ctx.ref(value);
  if (!sameRepository(ref, subject)) {
    throw new UsageError(`--subject ${value} names another repository than ${ref.original}; the subject must be stored where the artifact is`, {
      hint: 'give the subject as a TAG or DIGEST of REF, or copy it there first',
    });
  }
  return resolveReference(target, subject);
}

function sameRepository(a: Reference, b: Reference): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'registry') return a.registry === b.registry && a.repository === b.repository;
  return a.path !== undefined && b.path !== undefined && path.resolve(a.path) === path.resolve(b.path);
}

interface PullArgs {
  ref: string;
  output: string;
  include?: string[];
  overwrite?: boolean;
  platform?: string;
}

const pullCmd = defineCommand<PullArgs>({
  command: 'pull <ref>',
  examples: [
    ['$0 artifact pull ./layout:docs -o out', 'write each titled file of the artifact under out/'],
    ['$0 artifact pull localhost:5000/app:docs -o out --include \'*.md\' --overwrite', 'only the Markdown files, replacing those that exist'],
  ],
  describe: 'write each layer of an artifact that has a title to DIR/<title> (oras pull), every byte verified before it is renamed into place',
  outputIsPath: true,
  builder: (y) =>
    y
      .option('output', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'directory to write the files into (created when missing)' })
      .option('include', { type: 'string', array: true, describe: 'only layers whose title matches this glob (repeatable; * also matches dot files)' })
      .option('overwrite', { type: 'boolean', describe: 'replace files that exist (never a directory or a symbolic link)' })
      .option('platform', { type: 'string', describe: 'when REF is an index, pull its manifest for OS/ARCH[/VARIANT]' }),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform);
    if (args.output === '') throw new UsageError('-o needs a directory');
    const ref = ctx.ref(args.ref);
    // A compressed archive is read whole, spooled beside the output directory (the disk the user chose for the data).
    const target = ref.kind === 'layout-archive' ? await openWholeSource(ref, path.dirname(path.resolve(args.output))) : (await ctx.openRead(args.ref)).target;
    let result;
    try {
      const desc = await resolveReference(target, ref, { platform });
      result = await pullArtifactFiles(target, desc, args.output, { include: args.include?.map(String), overwrite: args.overwrite === true });
    } finally {
      await target.close?.();
    }
    for (const layer of result.untitled) ctx.out.warn(`skipped layer ${layer.digest}: it has no title (org.opencontainers.image.title) to name a file by`);
    const files = result.files.map((f) => ({ title: f.title, path: f.path, mediaType: f.descriptor.mediaType, digest: f.descriptor.digest, size: f.descriptor.size }));
    ctx.out.result({ manifest: result.manifest, files, untitled: result.untitled, excluded: result.excluded }, (r) => r.files.map((f) => f.path).join('\n'));
  },
});

export default defineCommand({
  command: 'artifact',
  examples: [
    ['$0 artifact push ./layout:docs --artifact-type application/vnd.example.docs README.md', 'store files as an artifact'],
    ['$0 artifact pull ./layout:docs -o out', 'write them back'],
  ],
  describe: 'push files as an artifact and pull them back by title (oras push/pull)',
  async handler() {},
  subcommands: [pushCmd, pullCmd],
});
