/**
 * The layout the HTML report's tests audit: two top-level tags (v1, an image
 * with an SBOM and signatures; "10, buster", a seven-platform index), one
 * corrupt layer deep under the index (linux/s390x, truncated) and one missing
 * blob under v1's SBOM. Collapsed, both tags must read as damaged.
 */
import { mkdir, readFile, rm, truncate, cp } from 'node:fs/promises';
import path from 'node:path';
import { copyFixture, expectedDigests, FIXTURES } from './cli.js';
import { blobFile, editIndex, type IndexJson } from './audit-layouts.js';

export interface DamagedLayout {
  layout: string;
  /** The truncated layer (SIZE_MISMATCH) and the image that holds it. */
  corrupt: string;
  corruptImage: string;
  /** The SBOM's missing blob (MISSING_BLOB) and the SBOM manifest. */
  missing: string;
  sbom: string;
  /** The top-level manifests: v1's image and the index. */
  image: string;
  index: string;
  /** The image's signature (a referrer whose digests all check out). */
  signature: string;
}

export async function makeDamagedLayout(dir: string): Promise<DamagedLayout> {
  const expected = await expectedDigests();
  await mkdir(dir, { recursive: true });
  const layout = await copyFixture('with-referrers', dir);
  await cp(path.join(FIXTURES, 'multi-platform', 'blobs'), path.join(layout, 'blobs'), { recursive: true });
  const multi = JSON.parse(await readFile(path.join(FIXTURES, 'multi-platform', 'index.json'), 'utf8')) as IndexJson;
  await editIndex(layout, (i) => void i.manifests.push(...multi.manifests));
  const platforms = expected['multi-platform']!['manifests'] as Record<string, { image: string; layers: string[] }>;
  const w = expected['with-referrers']!;
  const damaged: DamagedLayout = {
    layout,
    corrupt: platforms['linux/s390x']!.layers[0]!,
    corruptImage: platforms['linux/s390x']!.image,
    missing: w['sbomBlob'] as string,
    sbom: w['sbom'] as string,
    image: w['image'] as string,
    index: expected['multi-platform']!['index'] as string,
    signature: w['signature'] as string,
  };
  await truncate(blobFile(layout, damaged.corrupt), 7);
  await rm(blobFile(layout, damaged.missing));
  return damaged;
}
