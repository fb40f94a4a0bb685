/**
 * Which index.json entries and blobs gc keeps (ops/gc.ts liveContent over
 * entryClosures), on a MemoryTarget: the decision without a disk, a lock or
 * leases.
 */
import { describe, expect, it } from 'vitest';
import { entryClosures, liveContent } from '../../src/ops/gc.js';
import { MemoryTarget } from '../../src/targets/memory.js';
import { applyNames } from '../../src/spec/index-entries.js';
import type { Descriptor } from '../../src/spec/types.js';
import { putBlob, putImage, putIndex } from '../helpers/memory-images.js';

const SBOM = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

describe('gc roots', () => {
  it('keeps tagged and untagged roots, referrers of live content recursively; drops orphaned referrers and what nothing reaches', async () => {
    const t = new MemoryTarget();
    const tagged = await putImage(t, 'tagged', ['t1', 'shared']);
    const arm = await putImage(t, 'arm', ['arm', 'shared']);
    const multi = await putIndex(t, [arm.manifest]);
    const untagged = await putImage(t, 'untagged', ['u1']);
    const sbom = await putImage(t, 'sbom', ['sbom'], { subject: tagged.manifest, artifactType: SBOM });
    const sigOfSbom = await putImage(t, 'sig', ['sig'], { subject: sbom.manifest, artifactType: SIG });
    const sigOfArm = await putImage(t, 'armsig', ['armsig'], { subject: arm.manifest, artifactType: SIG });
    // A referrer whose subject is no longer listed (its image was untagged): it goes, and so does its own signature.
    const gone = await putImage(t, 'gone', ['gone layer']);
    const orphan = await putImage(t, 'orphan', ['orphan'], { subject: gone.manifest, artifactType: SBOM });
    const sigOfOrphan = await putImage(t, 'orphansig', ['orphansig'], { subject: orphan.manifest, artifactType: SIG });
    const stray = await putBlob(t, 'stray blob');
    await t.editIndex((index) =>
      applyNames(index, [
        { desc: tagged.manifest, tag: 'v1' },
        { desc: multi, tag: 'multi' },
        { desc: untagged.manifest },
        { desc: sigOfSbom.manifest },
        { desc: sbom.manifest },
        { desc: sigOfArm.manifest },
        { desc: orphan.manifest },
        { desc: sigOfOrphan.manifest },
      ]),
    );

    const index = await t.readIndex();
    const { live, liveEntries, removedEntries } = liveContent(index.manifests, await entryClosures(t, index.manifests));

    const digests = (ds: Descriptor[]) => ds.map((d) => d.digest).sort();
    expect([...liveEntries].sort()).toEqual(digests([tagged.manifest, multi, untagged.manifest, sbom.manifest, sigOfSbom.manifest, sigOfArm.manifest]));
    expect(digests(removedEntries)).toEqual(digests([orphan.manifest, sigOfOrphan.manifest]));
    const kept = [tagged, arm, untagged, sbom, sigOfSbom, sigOfArm].flatMap((i) => [i.manifest, i.config, ...i.layers]);
    for (const d of [...kept, multi]) expect(live.has(d.digest)).toBe(true);
    for (const d of [gone.manifest, ...gone.layers, orphan.manifest, ...orphan.layers, sigOfOrphan.manifest, stray]) expect(live.has(d.digest)).toBe(false);
  });

  it('an entry whose children are missing (a delta layout) keeps what it lists, and nothing fails', async () => {
    const base = new MemoryTarget();
    const img = await putImage(base, 'img', ['layer']);
    const delta = new MemoryTarget();
    await delta.push(img.manifest, await base.fetchBytes(img.manifest));
    await delta.tag(img.manifest, 'v1');
    const index = await delta.readIndex();
    const { live } = liveContent(index.manifests, await entryClosures(delta, index.manifests));
    expect(live.has(img.manifest.digest)).toBe(true);
    expect(live.has(img.layers[0]!.digest)).toBe(true);
  });
});
