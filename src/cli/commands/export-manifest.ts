/**
 * `--export-manifest FILE` of attach and artifact push. The destination is
 * checked before anything is stored (a failure after the push would leave
 * the artifact stored, and a re-run would store it twice); should the write
 * still fail afterwards (the disk filled up, the directory went away), the
 * error says the artifact WAS stored, with its digest, so nobody re-runs the
 * command to get the file.
 */
import { checkOutputFile, OcikitError, writeOutputFile, type AttachResult, type Reference } from '../../index.js';

const WHAT = 'the artifact manifest';

export function checkExportManifest(file: string | undefined): Promise<void> {
  return file ? checkOutputFile(file, WHAT) : Promise.resolve();
}

export async function exportManifest(file: string | undefined, result: AttachResult, ref: Reference, verb: string): Promise<void> {
  if (!file) return;
  // Where the artifact now is, as a reference `manifest fetch` takes with @DIGEST.
  const where = ref.kind === 'registry' ? `${ref.registry}/${ref.repository}` : (ref.path ?? ref.original);
  try {
    await writeOutputFile(file, result.manifest, WHAT);
  } catch (err) {
    const digest = result.descriptor.digest;
    const reason = err instanceof Error ? err.message : String(err);
    throw new OcikitError('IO_ERROR', `the artifact was ${verb} (${digest} in ${where}), but writing it to ${file} failed: ${reason}`, {
      cause: err,
      digest,
      path: file,
      hint: `do not run the command again (that would store a second artifact); get the manifest with: ocikit manifest fetch ${where}@${digest} -o ${file}`,
    });
  }
}
