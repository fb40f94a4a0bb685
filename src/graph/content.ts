/** Reading whole (small) documents from a target: manifests, indexes, configs. */
import { Readable } from 'node:stream';
import { isOcikitError, OcikitError } from '../errors.js';
import type { Descriptor } from '../spec/types.js';
import type { Fetcher } from './target.js';
import { parseManifestBytes, verifyDescriptorData, type ParsedManifest } from '../spec/validate.js';

/** Manifests, indexes and configs above this size are refused (design rule 3; registries use the same cap). */
export const MAX_DOCUMENT_SIZE = 4 * 1024 * 1024;

export async function readAll(stream: Readable, limit = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new OcikitError('MANIFEST_TOO_LARGE', `document exceeds ${limit} bytes`, { expected: limit, actual: total });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Fetch a document (verified by the target) whose size must stay under the document cap. */
export async function fetchDocument(target: Fetcher, desc: Descriptor, limit = MAX_DOCUMENT_SIZE): Promise<Buffer> {
  checkDocumentSize(target, desc, limit);
  if (target.fetchBytes) return target.fetchBytes(desc);
  return readAll(await target.fetch(desc), limit);
}

export interface FetchedManifest extends ParsedManifest {
  bytes: Buffer;
  descriptor: Descriptor;
}

function checkDocumentSize(target: Fetcher, desc: Descriptor, limit: number): void {
  if (desc.size > limit) {
    throw new OcikitError('MANIFEST_TOO_LARGE', `${desc.digest} is ${desc.size} bytes; documents over ${limit} bytes are refused (${target.description})`, {
      digest: desc.digest,
      expected: limit,
      actual: desc.size,
    });
  }
}

/** Fetch, verify and parse a manifest or index. */
export async function fetchManifest(target: Fetcher, desc: Descriptor): Promise<FetchedManifest> {
  return toFetchedManifest(target, desc, await fetchDocument(target, desc));
}

/** The same without waiting, when the target reads this one synchronously (a local layout); else undefined. */
export function fetchManifestSync(target: Fetcher, desc: Descriptor): FetchedManifest | undefined {
  checkDocumentSize(target, desc, MAX_DOCUMENT_SIZE);
  const bytes = target.fetchBytesSync?.(desc);
  return bytes === undefined ? undefined : toFetchedManifest(target, desc, bytes);
}

function toFetchedManifest(target: Fetcher, desc: Descriptor, bytes: Buffer): FetchedManifest {
  const parsed = parseManifestBytes(bytes, desc.mediaType, `${desc.digest} in ${target.description}`);
  return { ...parsed, bytes, descriptor: desc };
}

/**
 * The content a descriptor embeds in its `data` field, checked against its
 * digest and size (a typed error when it does not match); undefined when it
 * embeds none. The image-spec makes `data` an exact copy of the content, and
 * lets a layout lack a blob, so a blob that exists only as `data` is content
 * ocikit has: verify notes it (EMBEDDED_ONLY), and every copy writes it out
 * from here, so that tools which never read `data` find a complete result.
 */
export function embeddedContent(desc: Descriptor): Buffer | undefined {
  if (typeof desc.data !== 'string') return undefined;
  verifyDescriptorData(desc);
  return Buffer.from(desc.data, 'base64');
}

/** `read()`, or, when the target has no such blob, the content the descriptor embeds. */
async function orEmbedded<T>(desc: Descriptor, read: () => Promise<T>, fromBytes: (bytes: Buffer) => T): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const embedded = isOcikitError(err, 'NOT_FOUND') ? embeddedContent(desc) : undefined;
    if (embedded === undefined) throw err;
    return fromBytes(embedded);
  }
}

/** A blob's verified stream from the target, or from the descriptor's `data` when the target lacks it. */
export function fetchOrEmbedded(target: Fetcher, desc: Descriptor): Promise<Readable> {
  return orEmbedded(desc, () => target.fetch(desc), (bytes) => Readable.from([bytes], { objectMode: false }));
}

/** fetchDocument, or the document the descriptor embeds in `data` when the target lacks it. */
export function fetchDocumentOrEmbedded(target: Fetcher, desc: Descriptor, limit = MAX_DOCUMENT_SIZE): Promise<Buffer> {
  return orEmbedded(desc, () => fetchDocument(target, desc, limit), (bytes) => bytes);
}

/** fetchManifest, or the manifest the descriptor embeds in `data` when the target lacks it. */
export function fetchManifestOrEmbedded(target: Fetcher, desc: Descriptor): Promise<FetchedManifest> {
  return orEmbedded(desc, () => fetchManifest(target, desc), (bytes) => toFetchedManifest(target, desc, bytes));
}
