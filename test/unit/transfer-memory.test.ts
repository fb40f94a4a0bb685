/**
 * The core of every copy (ops/transfer.ts over graph/copy.ts) on in-memory
 * targets: order of writes, skipping what the destination has, referrer
 * recursion, a failure while siblings are in flight, and naming. No disk,
 * no spawned CLI.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { transfer, type Root } from '../../src/ops/transfer.js';
import { MemoryTarget } from '../../src/targets/memory.js';
import { abilities, keepsIndex } from '../../src/graph/target.js';
import { applyNames, tagOf } from '../../src/spec/index-entries.js';
import type { CopyEvent } from '../../src/graph/copy.js';
import type { Descriptor } from '../../src/spec/types.js';
import { isOcikitError } from '../../src/errors.js';
import { limiter } from '../../src/util/limit.js';
import { MediaType } from '../../src/spec/media-types.js';
import { putBlob, putImage, putIndex } from '../helpers/memory-images.js';

const SBOM = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

function pushes(t: MemoryTarget): string[] {
  return t.journal.flatMap((e) => (e.type === 'push' ? [e.digest] : []));
}

async function entries(t: MemoryTarget): Promise<Array<[string, string | undefined]>> {
  return (await t.readIndex()).manifests.map((e) => [e.digest, tagOf(e)]);
}

/** A two-platform index whose images share a layer, tagged v1 in `src`. */
async function twoPlatformImage(src: MemoryTarget) {
  const a = await putImage(src, 'amd64', ['shared layer', 'amd64 layer']);
  const b = await putImage(src, 'arm64', ['shared layer', 'arm64 layer']);
  const index = await putIndex(src, [a.manifest, b.manifest]);
  await src.tag(index, 'v1');
  return { a, b, index };
}

describe('transfer on memory targets', () => {
  it('stores children before parents and names the destination once, last', async () => {
    const src = new MemoryTarget('src');
    const { a, b, index } = await twoPlatformImage(src);
    const dst = new MemoryTarget('dst');
    await transfer(src, dst, [{ descriptor: index, tags: ['v1'] }]);

    const order = pushes(dst);
    const at = (d: Descriptor) => order.indexOf(d.digest);
    for (const img of [a, b]) {
      for (const child of [img.config, ...img.layers]) expect(at(child)).toBeLessThan(at(img.manifest));
      expect(at(img.manifest)).toBeLessThan(at(index));
    }
    // The shared layer once; every blob of the graph there.
    expect(order.length).toBe(new Set(order).size);
    expect(order.length).toBe(8);
    // index.json edited exactly once, after the last push.
    const indexEvents = dst.journal.map((e, i) => (e.type === 'index' ? i : -1)).filter((i) => i >= 0);
    expect(indexEvents).toEqual([dst.journal.length - 1]);
    expect(await entries(dst)).toEqual([[index.digest, 'v1']]);
  });

  it('does not send again what the destination has: present blobs are skipped, a second copy stores nothing', async () => {
    const src = new MemoryTarget('src');
    const { a, index } = await twoPlatformImage(src);
    const dst = new MemoryTarget('dst');
    await dst.push(a.layers[0]!, Buffer.from('shared layer'));
    await dst.push(a.config, await src.fetchBytes(a.config));
    const before = pushes(dst).length;

    const events: CopyEvent[] = [];
    await transfer(src, dst, [{ descriptor: index, tags: ['v1'] }], { onEvent: (e) => events.push(e) });
    const stored = pushes(dst).slice(before);
    expect(stored).not.toContain(a.layers[0]!.digest);
    expect(stored).not.toContain(a.config.digest);
    expect(events.filter((e) => e.type === 'skip').map((e) => e.descriptor.digest)).toEqual(expect.arrayContaining([a.layers[0]!.digest, a.config.digest]));

    const again = pushes(dst).length;
    const r = await transfer(src, dst, [{ descriptor: index, tags: ['v1'] }]);
    expect(pushes(dst).length).toBe(again);
    expect(r.bytesCopied).toBe(0);
  });

  it('brings referrers along recursively with referrers: signatures of SBOMs too, listed untagged; nothing without', async () => {
    const src = new MemoryTarget('src');
    const img = await putImage(src, 'app', ['app layer']);
    const sbom = await putImage(src, 'sbom', ['{"spdx":1}'], { subject: img.manifest, artifactType: SBOM });
    const sig = await putImage(src, 'sig', ['signature'], { subject: sbom.manifest, artifactType: SIG });
    const other = await putImage(src, 'other', ['other layer']);
    const unrelated = await putImage(src, 'unrelated', ['x'], { subject: other.manifest, artifactType: SBOM });
    await src.editIndex((index) =>
      applyNames(index, [{ desc: img.manifest, tag: 'v1' }, { desc: other.manifest, tag: 'other' }, { desc: sbom.manifest }, { desc: sig.manifest }, { desc: unrelated.manifest }]),
    );

    const withReferrers = new MemoryTarget('dst');
    const r = await transfer(src, withReferrers, [{ descriptor: img.manifest, tags: ['v1'] }], { referrers: true });
    expect(r.referrers.map((d) => d.digest)).toEqual([sbom.manifest.digest, sig.manifest.digest]);
    expect(await entries(withReferrers)).toEqual([
      [img.manifest.digest, 'v1'],
      [sbom.manifest.digest, undefined],
      [sig.manifest.digest, undefined],
    ]);
    expect(await withReferrers.exists(unrelated.manifest)).toBe(false);
    // The destination answers referrers as a layout does, from what its index reaches.
    const found: string[] = [];
    for await (const d of withReferrers.referrers(sbom.manifest)) found.push(d.digest);
    expect(found).toEqual([sig.manifest.digest]);

    const without = new MemoryTarget('dst');
    await transfer(src, without, [{ descriptor: img.manifest, tags: ['v1'] }]);
    expect(await without.exists(sbom.manifest)).toBe(false);
    expect(await entries(without)).toEqual([[img.manifest.digest, 'v1']]);
  });

  it('one blob failing fails the copy only after its in-flight siblings settle; no manifest that needs it is stored, nothing is named', async () => {
    const src = new SlowAndBadSource();
    const img = await putImage(src, 'app', ['bad layer', 'slow layer', 'quick layer']);
    await src.tag(img.manifest, 'v1');
    const [bad, slow, quick] = img.layers as [Descriptor, Descriptor, Descriptor];
    src.tamper(bad);
    src.slow = slow.digest;
    const dst = new CountingTarget('dst');

    const err = await transfer(src, dst, [{ descriptor: img.manifest, tags: ['v1'] }], { concurrency: 5 }).catch((e: unknown) => e);
    // Taken at the moment the caller hears of the failure:
    const storedAtFailure = { slow: await dst.exists(slow), quick: await dst.exists(quick), inFlight: dst.inFlight };

    expect(isOcikitError(err, 'DIGEST_MISMATCH')).toBe(true);
    expect(storedAtFailure).toEqual({ slow: true, quick: true, inFlight: 0 });
    expect(await dst.exists(bad)).toBe(false);
    expect(await dst.exists(img.manifest)).toBe(false);
    expect(dst.journal.some((e) => e.type === 'index')).toBe(false);
    expect((await dst.readIndex()).manifests).toEqual([]);
  });

  it('transfers running side by side share one blob limit (push runs its roots this way)', async () => {
    const src = new MemoryTarget('src');
    const a = await putImage(src, 'a', ['a1', 'a2', 'a3', 'a4']);
    const b = await putImage(src, 'b', ['b1', 'b2', 'b3', 'b4']);
    const dst = new CountingTarget('dst');
    dst.delayMs = 5;
    const limit = limiter(2);
    await Promise.all([a, b].map((img) => transfer(src, dst, [{ descriptor: img.manifest, tags: [] }], { limit })));
    expect(dst.maxInFlight).toBe(2);
    expect(await dst.exists(a.manifest)).toBe(true);
    expect(await dst.exists(b.manifest)).toBe(true);
  });

  it('names entries through the one naming step: every tag of a root, untagged roots listed, a tag moved to a new root', async () => {
    const src = new MemoryTarget('src');
    const a = await putImage(src, 'a', ['a']);
    const b = await putImage(src, 'b', ['b']);
    const c = await putImage(src, 'c', ['c']);
    const dst = new MemoryTarget('dst');
    const roots: Root[] = [
      { descriptor: a.manifest, tags: ['v1', 'latest'] },
      { descriptor: b.manifest, tags: [] },
    ];
    await transfer(src, dst, roots);
    expect(await entries(dst)).toEqual([
      [a.manifest.digest, 'v1'],
      [a.manifest.digest, 'latest'],
      [b.manifest.digest, undefined],
    ]);
    await transfer(src, dst, [{ descriptor: c.manifest, tags: ['v1'] }]);
    expect(await entries(dst)).toEqual([
      [a.manifest.digest, 'latest'],
      [b.manifest.digest, undefined],
      [c.manifest.digest, 'v1'],
    ]);
  });

  it('a destination that keeps no index (declares no keep-index) gets its tags one by one and no untagged entries', async () => {
    const src = new MemoryTarget('src');
    const a = await putImage(src, 'a', ['a']);
    const b = await putImage(src, 'b', ['b']);
    const dst = new TagsOnlyTarget('tags only');
    expect(keepsIndex(dst)).toBe(false);
    await transfer(src, dst, [
      { descriptor: a.manifest, tags: ['v1'] },
      { descriptor: b.manifest, tags: [] },
    ]);
    expect(dst.tagged).toEqual([[a.manifest.digest, 'v1']]);
    expect(await dst.exists(b.manifest)).toBe(true);
  });
});

describe('MemoryTarget keeps a layout\'s promises', () => {
  it('refuses content that does not match its descriptor, and stores nothing', async () => {
    const t = new MemoryTarget();
    const good = Buffer.from('content');
    const desc = await putBlob(new MemoryTarget(), good);
    const wrongBytes = Buffer.from('contenT');
    expect(await t.push(desc, wrongBytes).catch((e: unknown) => (isOcikitError(e) ? e.code : e))).toBe('DIGEST_MISMATCH');
    expect(await t.push(desc, Buffer.from('content!')).catch((e: unknown) => (isOcikitError(e) ? e.code : e))).toBe('SIZE_MISMATCH');
    expect(await t.push(desc, Readable.from([Buffer.from('content and more')])).catch((e: unknown) => (isOcikitError(e) ? e.code : e))).toBe('SIZE_MISMATCH');
    expect(await t.exists(desc)).toBe(false);
    await t.push(desc, Readable.from([good]));
    expect((await t.fetchBytes(desc)).equals(good)).toBe(true);
  });

  it('never lists a manifest it does not hold', async () => {
    const t = new MemoryTarget();
    const elsewhere = await putImage(new MemoryTarget(), 'x', ['x']);
    const err = await t.tag(elsewhere.manifest, 'v1').catch((e: unknown) => e);
    expect(isOcikitError(err, 'NOT_FOUND')).toBe(true);
    expect((await t.readIndex()).manifests).toEqual([]);
  });
});

/** A source whose one tampered blob fails verification at once and whose slow blob arrives later. */
class SlowAndBadSource extends MemoryTarget {
  slow?: string;

  tamper(desc: Descriptor): void {
    const bytes = Buffer.from(this.blobs.get(desc.digest)!);
    bytes[0] = bytes[0]! ^ 0xff;
    this.blobs.set(desc.digest, bytes);
  }

  override async fetch(desc: Descriptor): Promise<Readable> {
    if (desc.digest === this.slow) await new Promise((r) => setTimeout(r, 100));
    return super.fetch(desc);
  }
}

/** Counts pushes still running, and the most blob pushes at once (manifests are pushed outside the blob limit); optionally slowed down. */
class CountingTarget extends MemoryTarget {
  inFlight = 0;
  blobsInFlight = 0;
  maxInFlight = 0;
  delayMs = 0;

  override async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    const blob = desc.mediaType !== MediaType.ImageManifest && desc.mediaType !== MediaType.ImageIndex;
    this.inFlight++;
    if (blob) this.maxInFlight = Math.max(this.maxInFlight, ++this.blobsInFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      await super.push(desc, content);
    } finally {
      this.inFlight--;
      if (blob) this.blobsInFlight--;
    }
  }
}

/** Stores content and tags, as a registry repository does: no index.json to keep. */
class TagsOnlyTarget extends MemoryTarget {
  override readonly abilities = abilities();
  readonly tagged: Array<[string, string]> = [];

  override async tag(desc: Descriptor, ref: string): Promise<void> {
    this.tagged.push([desc.digest, ref]);
    await super.tag(desc, ref);
  }
}
