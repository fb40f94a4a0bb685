/**
 * `attach` (and `artifact push`): an OCI 1.1 artifact (image manifest with
 * artifactType, the empty config or a given one, one layer per file, and
 * `subject` when there is one) stored through an Editor: in a layout it is
 * listed in index.json (untagged, with artifactType and annotations on the
 * entry so that other tools, oras and zot, see it); in a registry the
 * manifest PUT carries the subject, and the referrers fallback tag is kept
 * where the registry does not process subjects. File content streams; it
 * never sits in memory.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { OcikitError, UsageError, fromFsError } from '../errors.js';
import { Annotation, EMPTY_DESCRIPTOR, EMPTY_JSON_BYTES, MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageManifest } from '../spec/types.js';
import { titlePathProblem } from '../spec/title-path.js';
import { isMediaTypeGrammar } from '../spec/validate.js';
import type { Editor } from '../graph/editor.js';
import { pushManifest } from './manifest-push.js';

export interface AttachFile {
  path: string;
  /** Layer media type; default application/octet-stream. */
  mediaType?: string;
  /** The layer's org.opencontainers.image.title: default the file's base name (attach); artifact push gives the path as written. */
  title?: string;
}

export interface AttachOptions {
  artifactType: string;
  files?: AttachFile[];
  /** Annotations on the manifest. */
  annotations?: Record<string, string>;
  /** Per-file annotations, keyed by the file's title (base name) or by the path as given. */
  fileAnnotations?: Record<string, Record<string, string>>;
  /** Fixed creation time; default SOURCE_DATE_EPOCH, else now. */
  created?: Date;
  /**
   * A config file instead of the empty config (artifact push --config). Its
   * media type defaults to oras's application/vnd.unknown.config.v1+json: an
   * artifact's config is not an image config, and calling it one would have
   * verify check it as one.
   */
  config?: AttachFile;
  /** Tag the artifact (artifact push REF:TAG); untagged, a layout lists it in index.json without a tag. */
  tags?: string[];
}

export interface AttachResult {
  descriptor: Descriptor;
  manifest: Buffer;
}

/** The config media type oras writes for a config file given without one. */
const UNKNOWN_CONFIG = 'application/vnd.unknown.config.v1+json';

export async function attach(editor: Editor, subject: Descriptor | undefined, opts: AttachOptions): Promise<AttachResult> {
  if (!isMediaTypeGrammar(opts.artifactType)) {
    throw new UsageError(`invalid artifact type "${opts.artifactType}": it must be a media type such as application/spdx+json`);
  }
  const files = opts.files ?? [];
  for (const f of opts.config ? [...files, opts.config] : files) {
    if (f.mediaType !== undefined && !isMediaTypeGrammar(f.mediaType)) {
      throw new UsageError(`invalid media type "${f.mediaType}" for ${f.path}: write FILE:TYPE/SUBTYPE`);
    }
    await assertRegularFile(f.path);
  }
  const titles = new Set<string>();
  for (const f of files) {
    const title = titleOf(f);
    // What ocikit writes, its artifact pull must be able to read back: a base name with a backslash would not be.
    const problem = titlePathProblem(title);
    if (problem) throw new UsageError(`cannot use ${JSON.stringify(title)} as the title of ${f.path}: ${problem}`, { path: f.path });
    if (titles.has(title)) throw new UsageError(`two files are named ${title}; each layer's title must be unique`);
    titles.add(title);
  }

  // Blobs first (config, layers), the manifest next, index.json last (design rule 2).
  const empty: Descriptor = { mediaType: EMPTY_DESCRIPTOR.mediaType, digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size };
  let config = empty;
  if (opts.config) config = await editor.pushStream(createReadStream(opts.config.path), opts.config.mediaType ?? UNKNOWN_CONFIG);
  else await editor.push(empty, EMPTY_JSON_BYTES);
  const layers: Descriptor[] = [];
  for (const f of files) {
    const stored = await editor.pushStream(createReadStream(f.path), f.mediaType ?? MediaType.OctetStream);
    const title = titleOf(f);
    const annotations = { ...(opts.fileAnnotations?.[f.path] ?? opts.fileAnnotations?.[title] ?? {}), [Annotation.Title]: title };
    layers.push({ ...stored, annotations });
  }
  if (layers.length === 0) {
    if (opts.config) await editor.push(empty, EMPTY_JSON_BYTES);
    layers.push({ ...empty });
  }

  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    artifactType: opts.artifactType,
    config,
    layers,
    ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } } : {}),
    annotations: { [Annotation.Created]: rfc3339(opts.created ?? defaultCreated()), ...(opts.annotations ?? {}) },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const descriptor = await pushManifest(editor, bytes, { tags: opts.tags ?? [] });
  return { descriptor, manifest: bytes };
}

function titleOf(f: AttachFile): string {
  return f.title ?? path.basename(f.path);
}

/** SOURCE_DATE_EPOCH (reproducible builds) when set, else now. */
function defaultCreated(env: NodeJS.ProcessEnv = process.env): Date {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch)) throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${epoch}"`);
    return new Date(Number(epoch) * 1000);
  }
  return new Date();
}

/** RFC 3339 in UTC without fractional seconds, as oras writes it. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function assertRegularFile(file: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    throw fromFsError(err, file, 'file to attach');
  }
  if (!st.isFile()) throw new OcikitError('USAGE', `cannot attach ${file}: it is not a regular file`, { path: file });
}

/**
 * Parse an oras-style annotation file: `{"$manifest": {...}, "<file>": {...}}`,
 * every value a string map.
 */
export function parseAnnotationFile(text: string, source: string): { manifest: Record<string, string>; files: Record<string, Record<string, string>> } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`annotation file ${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(doc)) throw new UsageError(`annotation file ${source} must be a JSON object like {"$manifest": {"key": "value"}}`);
  // Keyed by file names from the file: without a prototype, `__proto__` or `constructor` is just a name.
  const files: Record<string, Record<string, string>> = Object.create(null) as Record<string, Record<string, string>>;
  let manifest: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
      throw new UsageError(`annotation file ${source}: "${key}" must map to an object of string values`);
    }
    if (key === '$manifest') manifest = value as Record<string, string>;
    else if (key === '$config') throw new UsageError(`annotation file ${source}: "$config" annotations are not supported (the config of an artifact is the empty descriptor)`);
    else files[key] = value as Record<string, string>;
  }
  return { manifest, files };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
