/**
 * applyNames (one pass over index.json) against the step-by-step setTag and
 * addEntry it replaces: the same entries in the same order, on random raw
 * indexes (duplicates, untagged twins, the same tag on several digests) and
 * random edit sequences, plus a size where the step-by-step way is quadratic.
 */
import { describe, expect, it } from 'vitest';
import { addEntry, applyNames, entryName, namesOf, removeTag, selectNamed, setTag, type NameEdit } from '../../src/spec/index-entries.js';
import { OcikitError } from '../../src/errors.js';
import type { Descriptor, ImageIndex } from '../../src/spec/types.js';
import { seededRandom } from '../helpers/crash.js';

const REF = 'org.opencontainers.image.ref.name';
const NAME = 'io.containerd.image.name';
const REPOS = ['rc/a', 'rc/b'];
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digest(n: number): string {
  return `sha256:${n.toString(16).padStart(64, '0')}`;
}

function descriptor(random: () => number, digests: number, tags: number): Descriptor {
  const d: Descriptor = { mediaType: MANIFEST, digest: digest(Math.floor(random() * digests)), size: 100 + Math.floor(random() * 5) };
  const annotations: Record<string, string> = {};
  const tag = random() < 0.7 ? `t${Math.floor(random() * tags)}` : undefined;
  if (tag !== undefined) annotations[REF] = tag;
  // Repositories as containerd writes them (with or without a tag), and skopeo's full name in ref.name.
  const r = random();
  if (r < 0.2) annotations[NAME] = `example.com/${REPOS[Math.floor(random() * 2)]}${tag !== undefined ? `:${tag}` : ''}`;
  else if (r < 0.3 && tag !== undefined) annotations[REF] = `${REPOS[Math.floor(random() * 2)]}:${tag}`;
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
    const repository = random() < 0.4 ? { repository: REPOS[Math.floor(random() * 2)] } : {};
    return random() < 0.3 ? { desc, ...repository } : { desc, tag: `t${Math.floor(random() * tags)}`, ...repository };
  });
  return { index, edits };
}

function stepByStep(index: ImageIndex, edits: NameEdit[]): ImageIndex {
  let next = index;
  for (const e of edits) next = e.tag === undefined ? addEntry(next, e.desc, e) : setTag(next, e.desc, e.tag, e);
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

describe('names are (repository, tag) pairs', () => {
  const a: Descriptor = { mediaType: MANIFEST, digest: digest(1), size: 100 };
  const b: Descriptor = { mediaType: MANIFEST, digest: digest(2), size: 100 };
  const c: Descriptor = { mediaType: MANIFEST, digest: digest(3), size: 100 };
  const empty: ImageIndex = { schemaVersion: 2, manifests: [] };

  it('setting a tag in one repository leaves the same tag of another repository (and of none) alone', () => {
    const index = applyNames(empty, [
      { desc: a, tag: '1', repository: 'rc/a' },
      { desc: b, tag: '1', repository: 'rc/b' },
      { desc: c, tag: '1' },
      { desc: c, tag: '1', repository: 'rc/a' },
    ]);
    expect(index.manifests.map((e) => [e.digest, entryName(e)])).toEqual([
      [digest(2), { repository: 'rc/b', tag: '1' }],
      [digest(3), { tag: '1' }],
      [digest(3), { repository: 'rc/a', tag: '1' }],
    ]);
    expect(index.manifests[2]!.annotations).toEqual({ [REF]: '1', [NAME]: 'rc/a:1' });
  });

  it('writes the name given, never the one the descriptor carried from its source', () => {
    const carried = { ...a, annotations: { [NAME]: 'docker.io/old/name:0', [REF]: '0', 'x.note': 'kept' } };
    const [renamed] = applyNames(empty, [{ desc: carried, tag: '2', repository: 'team/app', imageName: 'registry.example/team/app:2' }]).manifests;
    expect(renamed!.annotations).toEqual({ 'x.note': 'kept', [REF]: '2', [NAME]: 'registry.example/team/app:2' });
    const [plain] = applyNames(empty, [{ desc: carried, tag: '2' }]).manifests;
    expect(plain!.annotations).toEqual({ 'x.note': 'kept', [REF]: '2' });
  });

  it('records an untagged manifest of a repository, listed once and named by it', () => {
    const index = applyNames(empty, [{ desc: a, repository: 'rc/a' }, { desc: a, repository: 'rc/a' }]);
    expect(index.manifests).toEqual([{ ...a, annotations: { [NAME]: 'rc/a' } }]);
    expect(entryName(index.manifests[0]!)).toEqual({ repository: 'rc/a' });
    // Tagging it later turns that entry into the tagged one.
    expect(applyNames(index, [{ desc: a, tag: 'v1', repository: 'rc/a' }]).manifests).toEqual([{ ...a, annotations: { [NAME]: 'rc/a:v1', [REF]: 'v1' } }]);
  });

  it('reads skopeo\'s full name in ref.name and containerd\'s name without a registry host', () => {
    expect(entryName({ ...a, annotations: { [REF]: 'rc/a:1' } })).toEqual({ repository: 'rc/a', tag: '1' });
    expect(entryName({ ...a, annotations: { [REF]: '1', [NAME]: 'localhost:5000/rc/a:1' } })).toEqual({ repository: 'rc/a', tag: '1' });
    expect(entryName({ ...a, annotations: { [REF]: '1' } })).toEqual({ tag: '1' });
  });

  it('selects a tag when one repository holds it, by REPO:TAG otherwise, and says AMBIGUOUS with the full names', () => {
    const index = applyNames(empty, [
      { desc: a, tag: '1', repository: 'rc/a' },
      { desc: b, tag: '1', repository: 'rc/b' },
      { desc: c, tag: '2', repository: 'rc/b' },
    ]);
    expect(selectNamed(index, '2').map((e) => e.digest)).toEqual([digest(3)]);
    expect(selectNamed(index, 'rc/b:1').map((e) => e.digest)).toEqual([digest(2)]);
    expect(selectNamed(index, 'rc/a:1').map((e) => e.digest)).toEqual([digest(1)]);
    expect(selectNamed(index, 'rc/c:1')).toEqual([]);
    let thrown: unknown;
    try {
      selectNamed(index, '1');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(OcikitError);
    expect((thrown as OcikitError).code).toBe('AMBIGUOUS');
    expect(namesOf(index)).toEqual(['rc/a:1', 'rc/b:1', '2']);
    expect(removeTag(index, 'rc/b:1').index.manifests.map((e) => e.digest)).toEqual([digest(1), digest(3)]);
  });
});
