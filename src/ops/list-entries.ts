/** `ls`: what a target lists at its top level, with the facts people look for. */
import { OcikitError, type ErrorCode } from '../errors.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../spec/types.js';
import { MediaType } from '../spec/media-types.js';
import { formatPlatform } from '../spec/platform.js';
import { effectiveArtifactType } from '../spec/validate.js';
import { fetchDocument, fetchManifest } from '../graph/content.js';
import { isWalkable } from '../graph/successors.js';
import { mapBounded } from '../util/limit.js';
import { entryName } from '../spec/index-entries.js';
import { isLayoutTarget, type ReadTarget } from '../graph/target.js';

const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.ImageConfig, MediaType.DockerConfig]);

export interface EntryRow {
  /** The repository of the entry's name (index-entries' entryName), when it has one. */
  repository?: string;
  tag?: string;
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  platforms: string[];
  subject?: string;
  annotations?: Record<string, string>;
  /** Set when the manifest could not be read; the row is still listed. */
  problem?: string;
  /** The error code behind `problem`. */
  problemCode?: ErrorCode;
}

export async function listEntries(target: ReadTarget): Promise<EntryRow[]> {
  const entries: Descriptor[] = [];
  if (isLayoutTarget(target)) {
    entries.push(...(await target.readIndex()).manifests);
  } else {
    for await (const tag of target.tags()) {
      const d = await target.resolve(tag);
      entries.push({ ...d, annotations: { ...(d.annotations ?? {}), 'org.opencontainers.image.ref.name': tag } });
    }
  }
  // A bounded number at once: an index.json with thousands of entries must not exhaust file descriptors.
  return mapBounded(entries, 16, (e) => describeEntry(target, e));
}

async function describeEntry(target: ReadTarget, entry: Descriptor): Promise<EntryRow> {
  const row: EntryRow = { digest: entry.digest, mediaType: entry.mediaType, size: entry.size, platforms: [] };
  const { repository, tag } = entryName(entry);
  if (repository !== undefined) row.repository = repository;
  if (tag !== undefined) row.tag = tag;
  if (entry.artifactType) row.artifactType = entry.artifactType;
  if (entry.platform) row.platforms.push(formatPlatform(entry.platform));
  const { [`org.opencontainers.image.ref.name`]: _t, ...annotations } = entry.annotations ?? {};
  if (Object.keys(annotations).length > 0) row.annotations = annotations;
  // Entries of media types ocikit does not know are listed as they are: their content is someone else's business.
  if (!isWalkable(entry)) return row;
  try {
    const m = await fetchManifest(target, entry);
    if (m.doc.subject?.digest) row.subject = m.doc.subject.digest;
    // Images show no artifact type; an artifact's is its artifactType, else a non-image config media type.
    const artifactType = effectiveArtifactType(m.doc);
    if (!row.artifactType && artifactType && !IMAGE_CONFIG_TYPES.has(artifactType)) row.artifactType = artifactType;
    if (m.kind === 'index') {
      for (const child of (m.doc as ImageIndex).manifests) if (child.platform) row.platforms.push(formatPlatform(child.platform));
    } else if (m.kind === 'manifest' && row.platforms.length === 0 && !row.artifactType) {
      const config = JSON.parse((await fetchDocument(target, (m.doc as ImageManifest).config)).toString('utf8')) as ImageConfig;
      if (config.os && config.architecture) row.platforms.push(formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }));
    }
  } catch (err) {
    row.problem = (err as Error).message;
    row.problemCode = err instanceof OcikitError ? err.code : 'IO_ERROR';
  }
  row.platforms = [...new Set(row.platforms)];
  return row;
}
