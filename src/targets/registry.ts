/**
 * One repository of a registry as a target, and the Editor of the write
 * verbs there. Reads verify every byte; writes go blob by blob (uploads,
 * mounts, streams of unknown digest) and manifest by manifest, and a
 * manifest with a subject also updates the referrers fallback tag when the
 * registry does not process subjects itself (a deleted one leaves it). What
 * is known to be present is remembered, so a push of many images sharing
 * base layers asks once.
 */
import { Readable } from 'node:stream';
import { NotFoundError } from '../errors.js';
import { digestBytes } from '../digest/digest.js';
import { IntegrityError } from '../errors.js';
import { isManifestMediaType, MediaType } from '../spec/media-types.js';
import type { Descriptor } from '../spec/types.js';
import { effectiveArtifactType, parseManifestBytes } from '../spec/validate.js';
import { MAX_DOCUMENT_SIZE, readAll } from '../graph/content.js';
import { repositoryScope } from '../registry/auth.js';
import { fetchBlob, fetchBlobFrom, headBlob, statBlob, type RepoAccess } from '../registry/blobs.js';
import { registryClient, type RegistryClient, type RegistryOptions } from '../registry/client.js';
import { getManifest, headManifest, putManifest } from '../registry/manifests.js';
import { addToFallbackTag, hasReferrersApi, listReferrers, removeFromFallbackTag, type ReferrersState } from '../registry/referrers.js';
import { deleteBlobDigest, deleteManifestRef } from '../registry/delete.js';
import { listTags } from '../registry/tags.js';
import type { NamePage } from '../registry/name-list.js';
import { rememberBlob, uploadBlob, uploadStream } from '../registry/upload.js';
import { abilities, type ReferrersFilter, type RestOfBlob } from '../graph/target.js';
import type { Editor } from '../graph/editor.js';
import { DigestSet } from '../util/digest-index.js';

export interface RegistryTargetOptions {
  /** Ask for push access too (a destination). Reads on a writable target use the same token. */
  writable?: boolean;
  registry?: RegistryOptions;
}

/**
 * Manifests kept in memory for tag() and repeated reads, the oldest
 * dropped first; capped by total size. A push tags each root right
 * after pushing it, so a few MiB cover every root in flight; 32 MiB kept
 * nearly every manifest of a 50,000-image push.
 */
const MANIFEST_CACHE_BYTES = 4 * 1024 * 1024;

export class RegistryTarget implements Editor {
  readonly description: string;
  /** A repository keeps no index.json: names are tags only, set one by one. Blobs can be read from an offset (Range). */
  readonly abilities = abilities('fetch-from', 'push-tagged');
  readonly client: RegistryClient;
  readonly repository: string;
  private readonly access: RepoAccess;
  private readonly referrersState: ReferrersState = {};
  /** Digests the registry is known to hold (compact: a push of 50,000 images knows 100,000). */
  private readonly present = new DigestSet();
  /** Tags this target set by pushTagged, and to what: the tag() that follows has nothing to do. */
  private readonly pushedTags = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  private manifestBytes = 0;

  constructor(client: RegistryClient, repository: string, writable: boolean) {
    this.client = client;
    this.repository = repository;
    this.description = `registry ${client.host}/${repository}`;
    this.access = { client, repository, scopes: [repositoryScope(repository, writable)], description: `${client.host}/${repository}` };
  }

  static open(host: string, repository: string, opts: RegistryTargetOptions = {}): RegistryTarget {
    return new RegistryTarget(registryClient(host, opts.registry), repository, opts.writable === true);
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (!isManifestMediaType(desc.mediaType)) return fetchBlob(this.access, desc);
    const cached = this.manifests.get(desc.digest);
    if (cached && cached.bytes.length === desc.size) return Readable.from([cached.bytes]);
    const got = await getManifest(this.access, desc.digest, desc);
    if (!got) throw new NotFoundError(`manifest ${desc.digest} not found in ${this.description}`, { digest: desc.digest, status: 404 });
    this.cacheManifest(desc.digest, got.bytes, got.mediaType);
    return Readable.from([got.bytes]);
  }

  /** A blob from byte `offset` on (HTTP Range), unverified: for a download that resumes a partial file. */
  fetchFrom(desc: Descriptor, offset: number): Promise<RestOfBlob> {
    return fetchBlobFrom(this.access, desc, offset);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (this.present.has(desc.digest)) return true;
    let found: boolean;
    if (isManifestMediaType(desc.mediaType)) {
      found = (await headManifest(this.access, desc.digest)) !== undefined;
    } else {
      const size = await headBlob(this.access, desc.digest);
      found = size !== undefined && size === desc.size;
      if (found) rememberBlob(this.access, desc.digest);
    }
    if (found) this.present.add(desc.digest);
    return found;
  }

  async statBlob(digest: string): Promise<Descriptor> {
    const blob = await statBlob(this.access, digest);
    if (blob) return blob;
    // `blob fetch REF@DIGEST` of a manifest: registries need not serve those from /blobs/.
    const manifest = await headManifest(this.access, digest);
    if (manifest) return manifest;
    throw new NotFoundError(`blob ${digest} not found in ${this.description}`, { digest, status: 404 });
  }

  async resolve(ref: string): Promise<Descriptor> {
    const desc = await headManifest(this.access, ref);
    if (!desc) {
      const what = ref.includes(':') ? `manifest ${ref}` : `tag "${ref}"`;
      throw new NotFoundError(`${what} not found in ${this.description}`, { status: 404, ...(ref.includes(':') ? { digest: ref } : {}) });
    }
    return desc;
  }

  /** `page`: start after a tag and ask for pages of a size (`repo tags --last T -n N`); the default is every tag. */
  tags(page: NamePage = {}): AsyncIterable<string> {
    return listTags(this.access, { last: page.last, pageSize: page.pageSize ?? this.client.opts.pageSize });
  }

  referrers(subject: Descriptor, filter?: ReferrersFilter): AsyncIterable<Descriptor> {
    return listReferrers(this.access, subject, filter, this.referrersState);
  }

  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    // Pushed (or seen) since the caller's exists() asked: images over shared base layers ask at
    // the same time, and a second upload of a blob rewrites the registry's link to it while
    // other manifests are being checked against it (distribution 2.8 then answers DIGEST_INVALID).
    if (this.present.has(desc.digest)) {
      if (content instanceof Readable) content.destroy();
      return;
    }
    let p = this.inflight.get(desc.digest);
    if (!p) {
      p = (isManifestMediaType(desc.mediaType) ? this.pushManifest(desc, content) : uploadBlob(this.access, desc, content)).then(() => {
        this.present.add(desc.digest);
      });
      this.inflight.set(desc.digest, p);
      p.catch(() => undefined).finally(() => this.inflight.delete(desc.digest));
    } else if (content instanceof Readable) {
      content.destroy();
    }
    return p;
  }

  /**
   * TaggedPusher: store a root manifest with one PUT by tag, instead of one
   * by digest and another by tag. sha256 only: a registry files a manifest
   * PUT by tag under its sha256 digest.
   */
  async pushTagged(desc: Descriptor, bytes: Uint8Array, tag: string): Promise<void> {
    if (!desc.digest.startsWith('sha256:')) return this.push(desc, bytes);
    await this.pushManifest(desc, bytes, tag);
    this.present.add(desc.digest);
    this.pushedTags.set(tag, desc.digest);
  }

  private async pushManifest(desc: Descriptor, content: Readable | Uint8Array, reference: string = desc.digest): Promise<void> {
    const bytes = content instanceof Uint8Array ? Buffer.from(content) : await readAll(content, MAX_DOCUMENT_SIZE);
    const actual = digestBytes(bytes, desc.digest.startsWith('sha512:') ? 'sha512' : 'sha256');
    if (bytes.length !== desc.size) {
      throw new IntegrityError('SIZE_MISMATCH', `manifest ${desc.digest}: expected ${desc.size} bytes, got ${bytes.length}`, { digest: desc.digest, expected: desc.size, actual: bytes.length });
    }
    if (actual !== desc.digest) {
      throw new IntegrityError('DIGEST_MISMATCH', `manifest ${desc.digest}: the content hashes to ${actual}`, { digest: desc.digest, expected: desc.digest, actual });
    }
    const parsed = parseManifestBytes(bytes, desc.mediaType, `${desc.digest}`);
    const { subjectAccepted } = await putManifest(this.access, reference, parsed.mediaType, bytes);
    this.cacheManifest(desc.digest, bytes, parsed.mediaType);
    const subject = parsed.doc.subject;
    if (subject && typeof subject.digest === 'string' && !subjectAccepted) {
      // The registry ignored the subject: keep its referrers tag up to date ourselves.
      const listed: Descriptor = { mediaType: parsed.mediaType, digest: desc.digest, size: desc.size };
      const artifactType = effectiveArtifactType(parsed.doc);
      if (artifactType) listed.artifactType = artifactType;
      if (parsed.doc.annotations && Object.keys(parsed.doc.annotations).length > 0) listed.annotations = { ...parsed.doc.annotations };
      await addToFallbackTag(this.access, subject.digest, listed);
    }
  }

  async tag(desc: Descriptor, ref: string): Promise<void> {
    // Stored under this very tag by pushTagged a moment ago (forgotten now: the map stays small).
    if (this.pushedTags.get(ref) === desc.digest) {
      this.pushedTags.delete(ref);
      return;
    }
    let entry = this.manifests.get(desc.digest);
    if (!entry) {
      const got = await getManifest(this.access, desc.digest, desc);
      if (!got) throw new NotFoundError(`cannot tag ${desc.digest}: it is not stored in ${this.description}`, { digest: desc.digest, status: 404 });
      entry = { bytes: got.bytes, mediaType: got.mediaType };
    }
    await putManifest(this.access, ref, entry.mediaType, entry.bytes, { what: `tagging ${desc.digest} as ${ref} in ${this.access.description}` });
  }

  /** A blob of unknown digest, hashed while it streams to the registry (registry/upload.ts uploadStream). */
  async pushStream(content: Readable, mediaType: string = MediaType.OctetStream): Promise<Descriptor> {
    const desc = await uploadStream(this.access, content, mediaType);
    this.present.add(desc.digest);
    return desc;
  }

  /** A registry keeps what it stores for as long as nobody deletes it: nothing to hold beyond asking. */
  retain(desc: Descriptor): Promise<boolean> {
    return this.exists(desc);
  }

  /** A manifest pushed by digest is listed by the registry itself. */
  async addEntry(): Promise<void> {}

  /** DELETE of the tag (registries that allow it); returns what it named. */
  async untag(name: string): Promise<Descriptor[]> {
    const desc = await this.resolve(name);
    await deleteManifestRef(this.access, name);
    return [desc];
  }

  /**
   * DELETE by digest (the registry drops every tag of it). A referrer is also
   * taken out of its subject's fallback tag when the registry has no
   * referrers API. The manifest goes first: registries often refuse deletes,
   * and a refusal must leave the listing of a referrer that stays; if the
   * listing update then fails, the error says so and a listed digest that
   * answers 404 is what clients see, not a referrer silently unlisted.
   */
  async deleteManifest(desc: Descriptor): Promise<void> {
    const got = await getManifest(this.access, desc.digest);
    if (!got) throw new NotFoundError(`manifest ${desc.digest} not found in ${this.description}`, { digest: desc.digest, status: 404 });
    const subject = subjectOf(got.bytes);
    await deleteManifestRef(this.access, desc.digest);
    this.forget(desc.digest);
    if (subject && !(await hasReferrersApi(this.access, subject, this.referrersState))) {
      await removeFromFallbackTag(this.access, subject.digest, desc.digest);
    }
  }

  /** DELETE of the blob; the registry decides whether it allows that (many do not). */
  async deleteBlob(desc: Descriptor): Promise<void> {
    await deleteBlobDigest(this.access, desc.digest);
    this.forget(desc.digest);
  }

  /** Every change went to the registry as it was made. */
  async commit(): Promise<void> {}

  private forget(digest: string): void {
    this.present.delete(digest);
    const cached = this.manifests.get(digest);
    if (cached) {
      this.manifests.delete(digest);
      this.manifestBytes -= cached.bytes.length;
    }
  }

  async close(): Promise<void> {
    // Connections are shared by every target on this registry and idle ones do not keep the process alive.
  }

  private cacheManifest(digest: string, bytes: Buffer, mediaType: string): void {
    if (this.manifests.has(digest)) return;
    while (this.manifestBytes + bytes.length > MANIFEST_CACHE_BYTES && this.manifests.size > 0) {
      const [oldest, entry] = this.manifests.entries().next().value as [string, { bytes: Buffer }];
      this.manifests.delete(oldest);
      this.manifestBytes -= entry.bytes.length;
    }
    // A copy of its own: a small Buffer is a slice of an 8 KiB pool slab that it would keep alive whole.
    const own = Buffer.allocUnsafeSlow(bytes.length);
    bytes.copy(own);
    this.manifests.set(digest, { bytes: own, mediaType });
    this.manifestBytes += own.length;
  }
}

/** The subject a manifest names, if it is JSON with one; anything else has no referrers listing to keep. */
function subjectOf(bytes: Buffer): Descriptor | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { subject?: Descriptor };
    const s = doc?.subject;
    return s && typeof s.digest === 'string' && typeof s.mediaType === 'string' && typeof s.size === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}
