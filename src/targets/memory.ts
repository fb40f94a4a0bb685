/**
 * A target held in memory: blobs by digest, and an index.json with the same
 * rules as a layout directory's (tags, untagged entries, referrers computed
 * from what the index reaches). For tests of the core (copy, naming, gc
 * roots) without a disk or a spawned CLI, and for library users who want to
 * assemble or inspect content before writing it anywhere.
 *
 * It keeps a layout's promises: every read is verified against its
 * descriptor, every push is checked for digest and size before it is
 * stored, and index.json never lists a manifest the target does not hold.
 * Content is buffered whole, so it suits small content only.
 */
import { Readable } from 'node:stream';
import { NotFoundError } from '../errors.js';
import { parseDigest } from '../digest/digest.js';
import { sizeMismatch, verifiesFor, verifyBytes } from '../digest/verify-stream.js';
import { MediaType } from '../spec/media-types.js';
import type { Descriptor, ImageIndex } from '../spec/types.js';
import { setTag } from '../spec/index-entries.js';
import { buildReferrersMap, filterReferrers, lookupReferrers } from '../graph/referrers.js';
import { abilities, type DefaultResolver, type IndexKeeper, type LayoutReadTarget, type ReferrersFilter, type WriteTarget } from '../graph/target.js';
import { defaultInIndex, resolveInIndex, tagsOf } from './index-resolve.js';

/** What happened to a MemoryTarget, in order: content stored, and index.json replaced. */
export type MemoryEvent = { type: 'push'; digest: string } | { type: 'index'; entries: number };

export class MemoryTarget implements WriteTarget, LayoutReadTarget, IndexKeeper, DefaultResolver {
  readonly description: string;
  readonly abilities = abilities('read-index', 'keep-index', 'default-image');
  /** Every push stored and every index.json edit, in order (a copy's order is part of its contract). */
  readonly journal: MemoryEvent[] = [];
  /** Blobs by digest; protected so a test double can corrupt or withhold one. */
  protected readonly blobs = new Map<string, Buffer>();
  private index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] };
  private referrersCache?: { index: ImageIndex; map: Promise<Map<string, Descriptor[]>> };

  constructor(description = 'memory') {
    this.description = description;
  }

  // ---- reading ----

  async readIndex(): Promise<ImageIndex> {
    return this.index;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    return Readable.from([this.fetchVerified(desc)]);
  }

  async fetchBytes(desc: Descriptor): Promise<Buffer> {
    return this.fetchVerified(desc);
  }

  fetchBytesSync(desc: Descriptor): Buffer | undefined {
    return this.fetchVerified(desc);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobs.get(desc.digest)?.length === desc.size;
  }

  async statBlob(digest: string): Promise<Descriptor> {
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest });
    return { mediaType: MediaType.OctetStream, digest, size: bytes.length };
  }

  async resolve(ref: string): Promise<Descriptor> {
    return resolveInIndex(this, this.index, ref);
  }

  async resolveDefault(): Promise<Descriptor> {
    return defaultInIndex(this.description, this.index);
  }

  async *tags(): AsyncIterable<string> {
    yield* tagsOf(this.index);
  }

  async *referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor> {
    // As a layout: the manifests with a subject that index.json reaches, one walk per index version.
    if (this.referrersCache?.index !== this.index) this.referrersCache = { index: this.index, map: buildReferrersMap(this, this.index) };
    yield* filterReferrers(lookupReferrers(await this.referrersCache.map, subject.digest), filter);
  }

  // ---- writing ----

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    parseDigest(desc.digest);
    if (await this.exists(desc)) {
      if (content instanceof Readable) content.destroy();
      return;
    }
    const bytes = content instanceof Readable ? await readAtMost(content, desc) : Buffer.from(content);
    // A stream another target already verifies for this descriptor fails by itself; everything else is checked here.
    if (!(content instanceof Readable && verifiesFor(content, desc))) verifyBytes(bytes, { digest: desc.digest, size: desc.size, source: `content for ${desc.digest}` });
    this.blobs.set(desc.digest, bytes);
    this.journal.push({ type: 'push', digest: desc.digest });
  }

  async tag(desc: Descriptor, ref: string): Promise<void> {
    await this.editIndex((index) => setTag(index, desc, ref));
  }

  /** IndexKeeper: replace index.json by an edit of it; refused (nothing changes) when it would list a manifest not stored. */
  async editIndex(edit: (index: ImageIndex) => ImageIndex): Promise<void> {
    const next = edit(this.index);
    for (const e of next.manifests) {
      if (!(await this.exists(e))) throw new NotFoundError(`cannot list ${e.digest}: it is not stored in ${this.description}`, { digest: e.digest });
    }
    this.index = next;
    this.journal.push({ type: 'index', entries: next.manifests.length });
  }

  private fetchVerified(desc: Descriptor): Buffer {
    const bytes = this.blobs.get(desc.digest);
    if (!bytes) throw new NotFoundError(`blob ${desc.digest} not found in ${this.description}`, { digest: desc.digest });
    verifyBytes(bytes, { digest: desc.digest, size: desc.size, source: `${this.description} ${desc.digest}` });
    return bytes;
  }
}

/** The stream's bytes, or a size mismatch as soon as it runs past `desc.size` (a longer stream is not buffered whole). */
async function readAtMost(stream: Readable, desc: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > desc.size) {
      stream.destroy();
      throw sizeMismatch({ digest: desc.digest, size: desc.size, source: `content for ${desc.digest}` }, total);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}
