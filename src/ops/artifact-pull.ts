/**
 * `artifact pull`: each layer of a manifest that has a title
 * (org.opencontainers.image.title) written to DIR/<title>, as oras pull does.
 *
 * Every title is checked before anything is written (spec/title-path.ts,
 * fs/contained-path.ts): a hostile manifest cannot write outside DIR, and an
 * existing file is not replaced without `overwrite`, for every layer, so the
 * refusal is all or nothing. Each file is then streamed from the target
 * (which verifies digest and size as it streams) into a temp file beside its
 * destination and renamed into place only when every byte checked out: a
 * corrupt layer leaves nothing under its title. Layers are written one after
 * another; when a later one fails, the files written before it stay (they
 * were verified).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { NotFoundError, OcikitError } from '../errors.js';
import { streamToFileAtomic } from '../fs/atomic.js';
import { containedState, makeContainedDirs } from '../fs/contained-path.js';
import { outputFileError } from '../fs/output-file.js';
import { fetchManifestOrEmbedded, fetchOrEmbedded } from '../graph/content.js';
import type { Fetcher } from '../graph/target.js';
import { Annotation } from '../spec/media-types.js';
import { titleConflict, titleFilePath, titlePathProblem } from '../spec/title-path.js';
import type { Descriptor, ImageManifest, LegacyArtifactManifest } from '../spec/types.js';

export interface ArtifactPullOptions {
  /** Glob patterns (micromatch syntax; `*` also matches names starting with a dot) matched against titles: only matching layers are written. */
  include?: string[];
  /** Replace files that exist (regular files only; never a link or a directory). */
  overwrite?: boolean;
  /** Called once per file written, in order. */
  onFile?: (file: PulledFile) => void;
}

export interface PulledFile {
  title: string;
  /** Where it was written: DIR joined with the title's path. */
  path: string;
  descriptor: Descriptor;
}

export interface ArtifactPullResult {
  manifest: Descriptor;
  files: PulledFile[];
  /** Layers without a title: nothing to name a file by (oras skips them too). */
  untitled: Descriptor[];
  /** Titled layers that --include did not select. */
  excluded: number;
}

/** Write the titled layers of the manifest `desc` (in `source`) into `dir`. */
export async function pullArtifactFiles(source: Fetcher, desc: Descriptor, dir: string, opts: ArtifactPullOptions = {}): Promise<ArtifactPullResult> {
  const layers = await layersOf(source, desc);
  const plan = selectLayers(layers, opts.include);
  if (opts.include && opts.include.length > 0 && plan.files.length === 0) {
    throw new NotFoundError(`no layer title of ${desc.digest} matches ${opts.include.join(', ')}`, { digest: desc.digest, hint: 'list the titles with ocikit manifest fetch REF --pretty' });
  }
  await checkDirectory(dir);
  // Every destination is looked at before the first byte is written: a refusal leaves DIR as it was.
  const existing: string[] = [];
  for (const f of plan.files) {
    if ((await containedState(dir, f.rel, `layer "${f.title}"`)) === 'file') existing.push(path.join(dir, f.rel));
  }
  if (existing.length > 0 && !opts.overwrite) {
    throw new OcikitError('ALREADY_EXISTS', `${existing.length} file(s) to pull exist already: ${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}`, {
      path: existing[0],
      hint: 'give --overwrite to replace them, or pull into another directory',
    });
  }

  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (err) {
    throw outputFileError(err, dir, 'the pulled files');
  }
  const files: PulledFile[] = [];
  for (const f of plan.files) {
    const what = `layer "${f.title}"`;
    const dest = await makeContainedDirs(dir, f.rel, what);
    // Looked at again right before the rename: a link or a file that appeared meanwhile is not written through or replaced.
    const recheck = async (): Promise<void> => {
      const now = await containedState(dir, f.rel, what);
      if (now === 'file' && !opts.overwrite) throw new OcikitError('ALREADY_EXISTS', `cannot write ${what}: ${dest} appeared while it was pulled`, { path: dest });
    };
    await recheck();
    const stream = await fetchOrEmbedded(source, f.layer);
    try {
      await streamToFileAtomic(stream, [], dest, { beforeRename: recheck });
    } catch (err) {
      throw outputFileError(err, dest, what);
    }
    const pulled = { title: f.title, path: dest, descriptor: f.layer };
    files.push(pulled);
    opts.onFile?.(pulled);
  }
  return { manifest: desc, files, untitled: plan.untitled, excluded: plan.excluded };
}

async function layersOf(source: Fetcher, desc: Descriptor): Promise<Descriptor[]> {
  const fetched = await fetchManifestOrEmbedded(source, desc);
  if (fetched.kind === 'index') {
    throw new OcikitError('UNSUPPORTED', `${desc.digest} is an image index; artifact pull writes the layers of one manifest`, {
      digest: desc.digest,
      hint: 'give --platform OS/ARCH, or name a manifest of the index by digest',
    });
  }
  // The pre-1.1 artifact manifest lists its files as `blobs`.
  return fetched.kind === 'legacy-artifact' ? ((fetched.doc as LegacyArtifactManifest).blobs ?? []) : (fetched.doc as ImageManifest).layers;
}

interface PlannedFile {
  title: string;
  /** The title's normalised path (titleFilePath). */
  rel: string;
  layer: Descriptor;
}

/** The layers to write, each title checked; two layers for one file (or a file and a directory of the same name) are refused. */
function selectLayers(layers: Descriptor[], include: string[] | undefined): { files: PlannedFile[]; untitled: Descriptor[]; excluded: number } {
  const matches = include && include.length > 0 ? picomatch(include, { dot: true }) : undefined;
  const files: PlannedFile[] = [];
  const untitled: Descriptor[] = [];
  let excluded = 0;
  for (const layer of layers) {
    const title = layer.annotations?.[Annotation.Title];
    if (title === undefined) {
      untitled.push(layer);
      continue;
    }
    const problem = titlePathProblem(title);
    if (problem) {
      throw new OcikitError('UNSAFE_PATH', `refusing to pull layer ${layer.digest}: its title ${JSON.stringify(title)} cannot name a file inside the output directory (${problem})`, {
        digest: layer.digest,
      });
    }
    const rel = titleFilePath(title);
    if (matches && !matches(rel)) {
      excluded++;
      continue;
    }
    files.push({ title, rel, layer });
  }
  const conflict = titleConflict(files.map((f) => f.rel));
  if (conflict) {
    const why = conflict.path === conflict.other ? `two layers are titled ${JSON.stringify(conflict.path)}` : `${JSON.stringify(conflict.other)} is both a file and the directory of ${JSON.stringify(conflict.path)}`;
    throw new OcikitError('AMBIGUOUS', `cannot pull: ${why}; each file needs a title of its own`, { hint: 'select layers with --include' });
  }
  return { files, untitled, excluded };
}

/** DIR, when it exists, must be a directory (a link to one is fine: the user named it). */
async function checkDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw outputFileError(err, dir, 'the pulled files');
  }
  if (!st.isDirectory()) throw new OcikitError('USAGE', `cannot pull into ${dir}: it is not a directory`, { path: dir, hint: '-o names a directory; it is created when missing' });
}
