import { attach, resolveReference } from '../../index.js';
import { annotationsFromArgs, parseFileArg } from './annotations.js';
import { ARCHIVE_REWRITTEN, defineCommand } from './command.js';
import { checkExportManifest, exportManifest } from './export-manifest.js';

interface Args {
  ref: string;
  files?: string[];
  'artifact-type': string;
  annotation?: string[];
  'annotation-file'?: string;
  'export-manifest'?: string;
  platform?: string;
}

export default defineCommand<Args>({
  command: 'attach <ref> [files..]',
  examples: [
    ['$0 attach ./layout:v1 --artifact-type application/spdx+json sbom.json', 'attach an SBOM to the image tagged v1'],
    ['$0 attach localhost:5000/app:v1 --artifact-type application/vnd.example.sig sig.bin:application/octet-stream', 'attach a file with its own media type in a registry'],
  ],
  describe:
    `attach an artifact (SBOM, signature, attestation...) to the manifest REF names, in a layout or a registry; each FILE[:MEDIATYPE] becomes a layer titled by its base name. A registry without the referrers API gets the sha256-<hex> fallback tag; ${ARCHIVE_REWRITTEN}`,
  builder: (y) =>
    y
      .option('artifact-type', { type: 'string', demandOption: true, describe: 'artifact type, e.g. application/spdx+json' })
      .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'KEY=VALUE annotation on the manifest' })
      .option('annotation-file', { type: 'string', describe: 'oras-style JSON: {"$manifest": {...}, "<file>": {...}}' })
      .option('export-manifest', { type: 'string', describe: 'also write the artifact manifest to FILE' })
      .option('platform', { type: 'string', describe: 'when REF is an index, attach to its manifest for OS/ARCH[/VARIANT]' }),
  async handler(args, ctx) {
    const platform = ctx.platform(args.platform); // a bad --platform is a usage error before anything is opened
    const { ref, editor } = await ctx.openEditor(args.ref);
    const subject = await resolveReference(editor, ref, { platform });
    const { annotations, fileAnnotations } = await annotationsFromArgs(args.annotation, args['annotation-file']);
    const files = (args.files ?? []).map(String).map(parseFileArg);
    const exportTo = args['export-manifest'];
    // Checked before attaching: failing after it would leave the artifact attached, and a re-run would attach it twice.
    await checkExportManifest(exportTo);
    const result = await attach(editor, subject, { artifactType: args['artifact-type'], files, annotations, fileAnnotations });
    await editor.commit();
    await exportManifest(exportTo, result, ref, 'attached');
    ctx.out.result(result.descriptor, (d) => d.digest);
  },
});
