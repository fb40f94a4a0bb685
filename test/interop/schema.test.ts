/**
 * The image-spec's JSON Schemas as an oracle: every `oci-layout`, index.json,
 * image manifest, image index and image config that ocikit writes (and every
 * one in the fixtures) validates against them. Documents are found by walking
 * the layout from index.json, so each is checked against the schema its
 * descriptor's media type names; every blob must be reached by that walk, so
 * no JSON document in a layout escapes the check.
 *
 * The schemas live outside the repository (test/helpers/schema.ts). Where
 * they are absent this suite is skipped and says why in its title; that is
 * the one skip the project allows (design.md).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFixture, FIXTURES, tempDir } from '../helpers/cli.js';
import { buildOcikitLayout, ocikitOk, once, readBlob } from '../helpers/peers.js';
import { schemaAvailable, schemaSkipReason, validateAgainstSchema, type SchemaKind } from '../helpers/schema.js';

// Spelled out here rather than imported from src/: the oracle must not share ocikit's tables.
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const LEGACY_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';

/** Which schema a blob of this media type must satisfy. */
const SCHEMA_FOR: Record<string, SchemaKind> = { [OCI_MANIFEST]: 'manifest', [OCI_INDEX]: 'index', [OCI_CONFIG]: 'config' };

interface Descriptor {
  mediaType: string;
  digest: string;
}

interface Checked {
  /** `oci-layout`, `index.json` or `<digest> (<media type>)`. */
  what: string;
  kind: SchemaKind;
  errors: string[];
}

interface LayoutReport {
  checked: Checked[];
  /** Documents that were parsed to find their children but have no schema (Docker, legacy artifact). */
  withoutSchema: string[];
  /** Blob files that no descriptor reachable from index.json names. */
  unreached: string[];
}

const parse = (bytes: Buffer): Record<string, unknown> => JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
const descriptors = (v: unknown): Descriptor[] => (Array.isArray(v) ? (v as Descriptor[]) : v ? [v as Descriptor] : []);

/** Validate `oci-layout`, `index.json` and every document reachable from it. */
async function checkLayout(dir: string): Promise<LayoutReport> {
  const report: LayoutReport = { checked: [], withoutSchema: [], unreached: [] };
  const check = (what: string, kind: SchemaKind, doc: unknown): void => {
    report.checked.push({ what, kind, errors: validateAgainstSchema(kind, doc) });
  };
  check('oci-layout', 'layout', parse(await readFile(path.join(dir, 'oci-layout'))));
  const index = parse(await readFile(path.join(dir, 'index.json')));
  check('index.json', 'index', index);

  const seen = new Set<string>();
  const queue: Descriptor[] = descriptors(index['manifests']);
  while (queue.length > 0) {
    const desc = queue.shift()!;
    const key = `${desc.digest} (${desc.mediaType})`;
    if (seen.has(key)) continue;
    seen.add(key);
    const kind = SCHEMA_FOR[desc.mediaType];
    const isContainer = kind === 'manifest' || kind === 'index' || [DOCKER_MANIFEST, DOCKER_LIST, LEGACY_ARTIFACT].includes(desc.mediaType);
    if (!kind && !isContainer) {
      await readBlob(dir, desc.digest); // a leaf (layer, payload): it must be there, nothing to validate
      continue;
    }
    const doc = parse(await readBlob(dir, desc.digest));
    // A document whose own mediaType contradicts its descriptor would be checked against the wrong schema.
    if (doc['mediaType'] !== undefined) expect(doc['mediaType'], key).toBe(desc.mediaType);
    if (kind) check(key, kind, doc);
    else report.withoutSchema.push(key);
    if (isContainer) {
      queue.push(...descriptors(doc['config']), ...descriptors(doc['layers']), ...descriptors(doc['manifests']));
      queue.push(...descriptors(doc['blobs']), ...descriptors(doc['subject']));
    }
  }
  const reached = new Set([...seen].map((k) => k.split(' ')[0]));
  for (const alg of await readdir(path.join(dir, 'blobs'))) {
    for (const hex of await readdir(path.join(dir, 'blobs', alg))) {
      if (!reached.has(`${alg}:${hex}`)) report.unreached.push(`${alg}:${hex}`);
    }
  }
  return report;
}

/** Every checked document is valid; the failure message names each invalid one with its errors. */
function expectAllValid(report: LayoutReport): void {
  const invalid = report.checked.filter((c) => c.errors.length > 0).map((c) => `${c.what} against ${c.kind}: ${c.errors.join('; ')}`);
  expect(invalid).toEqual([]);
  expect(report.unreached).toEqual([]);
}

const kinds = (report: LayoutReport): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const c of report.checked) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
  return counts;
};

const title = 'the image-spec JSON Schemas accept every document ocikit writes and every fixture';
// The default reporter hides the titles of skipped suites; say it on stderr as well.
if (!schemaAvailable) console.warn(`${title}: ${schemaSkipReason}`);

describe.skipIf(!schemaAvailable)(schemaAvailable ? title : `${title} (${schemaSkipReason})`, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir('ocikit-schema-');
  });
  afterAll(async () => tmp?.cleanup());

  it('the walk reports a document the schemas reject (the oracle bites)', async () => {
    const dir = await copyFixture('single-image', tmp.dir);
    const index = parse(await readFile(path.join(dir, 'index.json')));
    await writeFile(path.join(dir, 'index.json'), JSON.stringify({ ...index, schemaVersion: 3 }));
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":1}');
    const report = await checkLayout(dir);
    expect(report.checked.filter((c) => c.errors.length > 0).map((c) => c.what)).toEqual(['oci-layout', 'index.json']);
  });

  describe('fixtures', () => {
    // Expected counts of validated documents, so that a walker that silently finds nothing fails.
    const fixtures: Record<string, Record<string, number>> = {
      'single-image': { layout: 1, index: 1, manifest: 1, config: 1 },
      'multi-platform': { layout: 1, index: 2, manifest: 7, config: 7 },
      // Docker documents have no schema in the image-spec; only the layout files are checked.
      'docker-v2': { layout: 1, index: 1 },
      'with-referrers': { layout: 1, index: 1, manifest: 4, config: 1 },
      'referrers-fallback': { layout: 1, index: 2, manifest: 2, config: 1 },
      'legacy-artifact': { layout: 1, index: 1, manifest: 1, config: 1 },
    };
    it.each(Object.entries(fixtures))('%s', async (name, counts) => {
      const report = await checkLayout(path.join(FIXTURES, name));
      expectAllValid(report);
      expect(kinds(report)).toEqual(counts);
    });
  });

  describe('layouts ocikit writes', () => {
    const layoutPath = (name: string): string => path.join(tmp.dir, name);

    /** The layout peers.ts builds, checked after every command that changed it. */
    const written = once(async () => {
      const dir = layoutPath('written');
      const stages: Array<{ step: string; report: LayoutReport }> = [];
      const layout = await buildOcikitLayout(dir, async (step) => {
        stages.push({ step, report: await checkLayout(dir) });
      });
      return { ...layout, stages };
    });

    it('every stage is valid: init, manifest push, tag, index create', async () => {
      const { stages } = await written();
      for (const { step, report } of stages) {
        try {
          expectAllValid(report);
        } catch (err) {
          throw new Error(`after ${step}: ${(err as Error).message}`);
        }
      }
      // What each stage adds: index.json and oci-layout from init; an image and
      // its config per manifest push; the index made by index create.
      expect(stages.map((s) => [s.step, kinds(s.report)])).toEqual([
        ['init', { layout: 1, index: 1 }],
        ['manifest push', { layout: 1, index: 1, manifest: 1, config: 1 }],
        ['tag', { layout: 1, index: 1, manifest: 1, config: 1 }],
        ['second manifest push', { layout: 1, index: 1, manifest: 2, config: 2 }],
        ['index create', { layout: 1, index: 2, manifest: 2, config: 2 }],
      ]);
    });

    it('index create with annotations and an artifactType, and an index of indexes', async () => {
      const { dir, multi } = await written();
      const annotated = (
        await ocikitOk([
          'index',
          'create',
          `oci:${dir}:annotated`,
          'v1',
          'armv7',
          '--annotation',
          'org.opencontainers.image.created=2024-01-01T00:00:00Z',
          '--annotation',
          'org.example.note=made by the schema test',
          '--artifact-type',
          'application/vnd.example.bundle.v1',
        ])
      ).stdout.trim();
      const nested = (await ocikitOk(['index', 'create', `oci:${dir}:nested`, 'multi', 'v1'])).stdout.trim();
      const report = await checkLayout(dir);
      expectAllValid(report);
      expect(report.checked.map((c) => c.what)).toEqual(expect.arrayContaining([`${annotated} (${OCI_INDEX})`, `${nested} (${OCI_INDEX})`]));
      const nestedDoc = parse(await readBlob(dir, nested));
      expect(descriptors(nestedDoc['manifests']).map((d) => d.digest)).toContain(multi);
    });

    it('descriptors ocikit prints validate as content descriptors', async () => {
      const { dir } = await written();
      const printed = await Promise.all([
        ocikitOk(['resolve', `oci:${dir}:v1`, '--format', 'json']),
        ocikitOk(['resolve', `oci:${dir}:multi`, '--format', 'json']),
        ocikitOk(['manifest', 'fetch', `oci:${dir}:multi`, '--descriptor', '--platform', 'linux/arm/v7']),
      ]);
      for (const res of printed) expect(validateAgainstSchema('descriptor', JSON.parse(res.stdout)), res.stdout).toEqual([]);
    });
  });
});
