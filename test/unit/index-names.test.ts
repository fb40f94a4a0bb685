/**
 * applyNames (one pass over index.json) against the step-by-step setTag and
 * addEntry it replaces: the same entries in the same order, on random raw
 * indexes (duplicates, untagged twins, the same tag on several digests) and
 * random edit sequences, plus a size where the step-by-step way is quadratic.
 */
import { describe, expect, it } from 'vitest';
import { addEntry, applyNames, setTag, type NameEdit } from '../../src/spec/index-entries.js';
import type { Descriptor, ImageIndex } from '../../src/spec/types.js';
import { seededRandom } from '../helpers/crash.js';

const REF = 'org.opencontainers.image.ref.name';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digest(n: number): string {
  return `sha256:${n.toString(16).padStart(64, '0')}`;
}

function descriptor(random: () => number, digests: number, tags: number): Descriptor {
  const d: Descriptor = { mediaType: MANIFEST, digest: digest(Math.floor(random() * digests)), size: 100 + Math.floor(random() * 5) };
  const annotations: Record<string, string> = {};
  if (random() < 0.7) annotations[REF] = `t${Math.floor(random() * tags)}`;
  if (random() < 0.2) annotations['x.note'] = `n${Math.floor(random() * 3)}`;
  if (Object.keys(annotations).length > 0) d.annotations = annotations;
  return d;
}

function randomCase(random: () => number): { index: ImageIndex; edits: NameEdit[] } {
  const digests = 1 + Math.floor(random() * 12);
  const tags = 1 + Math.floor(random() * 10);
  const index: ImageIndex = { schemaVersion: 2, manifests: Array.from({ length: Math.floor(random() * 15) }, () => descriptor(random, digests, tags)) };
  if (random() < 0.3) (index as ImageIndex & { extra?: string }).extra = 'kept';
  const edits: NameEdit[] = Array.from({ length: Math.floor(random() * 20) }, () => {
    const desc = descriptor(random, digests, tags);
    return random() < 0.3 ? { desc } : { desc, tag: `t${Math.floor(random() * tags)}` };
  });
  return { index, edits };
}

function stepByStep(index: ImageIndex, edits: NameEdit[]): ImageIndex {
  let next = index;
  for (const e of edits) next = e.tag === undefined ? addEntry(next, e.desc) : setTag(next, e.desc, e.tag);
  return next;
}

describe('applyNames', () => {
  it('gives exactly what setTag and addEntry give one by one, on 5,000 random indexes and edit sequences', () => {
    const random = seededRandom(16_003);
    for (let n = 0; n < 5_000; n++) {
      const { index, edits } = randomCase(random);
      const expected = stepByStep(index, edits);
      const actual = applyNames(index, edits);
      expect(actual, `case ${n}`).toEqual(expected);
      // No edit that changes nothing: the very same object, so updateIndex skips the write.
      if (expected === index) expect(actual).toBe(index);
    }
  });

  it('does not change its input', () => {
    const random = seededRandom(7);
    for (let n = 0; n < 200; n++) {
      const { index, edits } = randomCase(random);
      const before = structuredClone(index);
      applyNames(index, edits);
      expect(index).toEqual(before);
    }
  });

  it('names 100,000 tags of one image in well under a second (step by step: minutes)', () => {
    const desc: Descriptor = { mediaType: MANIFEST, digest: digest(1), size: 100 };
    const edits = Array.from({ length: 100_000 }, (_, i) => ({ desc, tag: `t${i}` }));
    const started = performance.now();
    const index = applyNames({ schemaVersion: 2, manifests: [] }, edits);
    expect(index.manifests).toHaveLength(100_000);
    expect(index.manifests[99_999]!.annotations?.[REF]).toBe('t99999');
    // Generous on a busy machine: linear is ~0.1 s, quadratic would be far beyond.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
