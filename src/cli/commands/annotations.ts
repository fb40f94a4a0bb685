import { readFile } from 'node:fs/promises';
import { fromFsError, parseAnnotationFile, UsageError } from '../../index.js';

/**
 * `--annotation KEY=VALUE` flags as a map; a flag without `=` is a usage
 * error. The map has no prototype: a key such as `__proto__` is an
 * annotation like any other, not a way to change the object.
 */
export function parseAnnotations(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid annotation "${f}": write KEY=VALUE`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

/**
 * `--annotation` flags and an oras-style `--annotation-file` together (attach,
 * artifact push): the manifest's annotations (flags win over the file's
 * `$manifest`) and the per-file ones.
 */
export async function annotationsFromArgs(
  flags: string[] | undefined,
  file: string | undefined,
): Promise<{ annotations: Record<string, string>; fileAnnotations: Record<string, Record<string, string>> }> {
  const annotations = parseAnnotations(flags);
  if (!file) return { annotations, fileAnnotations: {} };
  const text = await readFile(file, 'utf8').catch((err) => {
    throw fromFsError(err, file, 'annotation file');
  });
  const parsed = parseAnnotationFile(text, file);
  return { annotations: Object.assign(annotations, { ...parsed.manifest, ...annotations }), fileAnnotations: parsed.files };
}

/** `FILE[:MEDIATYPE]`, split at the last `:` only when what follows looks like a media type (paths may hold `:`). */
export function parseFileArg(arg: string): { path: string; mediaType?: string } {
  const i = arg.lastIndexOf(':');
  if (i > 0 && arg.slice(i + 1).includes('/')) return { path: arg.slice(0, i), mediaType: arg.slice(i + 1) };
  if (arg.length === 0) throw new UsageError('empty file name');
  return { path: arg };
}
