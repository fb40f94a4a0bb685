/**
 * `inspect`'s exit status and flags, coherent with `verify`: `--verify` and
 * `--html` (which verifies for the report) exit 1 when verification finds an
 * error, after the report is printed and written; warnings alone exit 0;
 * plain `inspect` reads without verifying and exits 0. `--allow-missing`
 * works as verify's. The HTML header's time honours SOURCE_DATE_EPOCH, so two
 * runs give the same bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { caseDirs, expectedDigests, isCleanError, jsonDocument, ocikit, run, tempDir, type JsonError } from '../helpers/cli.js';
import { addArtifact, blobFile, OCI_MANIFEST, sha256 } from '../helpers/audit-layouts.js';
import { makeDamagedLayout } from '../helpers/damaged-report.js';

interface Node {
  digest: string;
  status?: string;
  rollup?: { status: string; errors?: number; warnings?: number };
  findings?: number[];
  layers?: Array<{ digest: string; status?: string }>;
  children?: Node[];
  referrers?: Node[];
}
interface Report {
  roots: Array<{ tags: string[]; orphan?: true; node: Node }>;
  verification?: { ok: boolean; errors: number; warnings: number; findings: Array<{ code: string; object: string }> };
}

let work: { dir: string; cleanup: () => Promise<void> };
const { dir: caseDir, fixture } = caseDirs(() => work.dir);
const SDE = { SOURCE_DATE_EPOCH: '1700000000' };

beforeAll(async () => {
  work = await tempDir('ocikit-inspect-exit-');
});
afterAll(async () => work.cleanup());

const exists = (file: string) => stat(file).then(() => true, () => false);

describe('inspect exit status on a broken layout (a corrupt layer, a missing blob)', () => {
  it('--verify prints the whole report, then exits 1 with one clean line, as verify does', async () => {
    const { layout } = await makeDamagedLayout(await caseDir());
    const r = await ocikit(['inspect', layout, '--verify', '--json']);
    expect(r.code).toBe(1);
    const report = jsonDocument<Report>(r);
    expect(report.verification).toMatchObject({ ok: false, errors: 2 });
    expect(report.roots.map((x) => x.node.rollup?.status)).toEqual(['error', 'error']);
    expect(isCleanError(r.stderr)).toBe(true);
    expect((await ocikit(['verify', layout])).code).toBe(1);
    expect((await ocikit(['inspect', layout, '--verify'])).code).toBe(1);
  });

  it('--html writes the report, then exits 1', async () => {
    const dir = await caseDir();
    const { layout } = await makeDamagedLayout(dir);
    const file = path.join(dir, 'report.html');
    const r = await ocikit(['inspect', layout, '--html', file]);
    expect(r.code).toBe(1);
    expect(isCleanError(r.stderr.split('\n').filter((l) => !l.startsWith('wrote ')).join('\n'))).toBe(true);
    expect((await readFile(file, 'utf8')).startsWith('<!doctype html>')).toBe(true);
  });

  it('plain inspect does not verify and exits 0', async () => {
    const { layout } = await makeDamagedLayout(await caseDir());
    expect((await ocikit(['inspect', layout])).code).toBe(0);
    const r = await ocikit(['inspect', layout, '--json']);
    expect(r.code).toBe(0);
    expect(jsonDocument<Report>(r).verification).toBeUndefined();
  });
});

describe('inspect --verify: the rules of verify', () => {
  it('exits 0 on a clean layout, with --verify and with --html', async () => {
    const layout = await fixture('with-referrers');
    expect((await ocikit(['inspect', layout, '--verify'])).code).toBe(0);
    expect((await ocikit(['inspect', layout, '--html', path.join(path.dirname(layout), 'r.html')])).code).toBe(0);
  });

  it('exits 0 on warnings alone; the row they are about is marked and linked (a dangling subject: its referrer)', async () => {
    const layout = await fixture('with-referrers');
    const absent = { mediaType: OCI_MANIFEST, digest: sha256('a subject that is not here'), size: 123 };
    const referrer = await addArtifact(layout, { artifactType: 'application/vnd.example+json', subject: absent, layers: [{ bytes: '{}', mediaType: 'application/json' }] });
    const r = await ocikit(['inspect', layout, '--verify', '--json']);
    expect(r.code).toBe(0);
    const report = jsonDocument<Report>(r);
    expect(report.verification).toMatchObject({ ok: true, errors: 0, warnings: 1 });
    const orphan = report.roots.find((x) => x.orphan)!.node;
    expect(orphan.digest).toBe(referrer.digest);
    expect(orphan.rollup).toEqual({ status: 'warning', warnings: 1 });
    expect(orphan.findings!.map((i) => report.verification!.findings[i]!.code)).toEqual(['DANGLING_SUBJECT']);
  });

  it('--allow-missing excuses a missing blob as verify --allow-missing does, and needs --verify or --html', async () => {
    const expected = await expectedDigests();
    const layout = await fixture('with-referrers');
    await rm(blobFile(layout, expected['with-referrers']!['sbomBlob'] as string));
    expect((await ocikit(['inspect', layout, '--verify'])).code).toBe(1);
    const r = await ocikit(['inspect', layout, '--verify', '--allow-missing', '--json']);
    expect(r.code).toBe(0);
    expect(jsonDocument<Report>(r).roots[0]!.node.rollup).toEqual({ status: 'ok' });
    const usage = await ocikit(['inspect', layout, '--allow-missing', '--json']);
    expect(usage.code).toBe(2);
    expect(jsonDocument<JsonError>(usage).error.code).toBe('USAGE');
  });
});

describe('inspect --html header: time and digest', () => {
  it('with SOURCE_DATE_EPOCH, two runs write the same bytes, dated from it', async () => {
    const layout = await fixture('with-referrers');
    const [a, b] = [path.join(path.dirname(layout), 'a.html'), path.join(path.dirname(layout), 'b.html')];
    expect((await ocikit(['inspect', layout, '--html', a], { env: SDE })).code).toBe(0);
    expect((await ocikit(['inspect', layout, '--html', b], { env: SDE })).code).toBe(0);
    const html = await readFile(a, 'utf8');
    expect(html).toBe(await readFile(b, 'utf8'));
    expect(html).toContain('<time datetime="2023-11-14T22:13:20Z">');
  });

  it('without it, the time is now, in ISO 8601 UTC to the second', async () => {
    const layout = await fixture('with-referrers');
    const file = path.join(path.dirname(layout), 'now.html');
    const before = Math.floor(Date.now() / 1000) * 1000;
    expect((await ocikit(['inspect', layout, '--html', file], { env: { SOURCE_DATE_EPOCH: '' } })).code).toBe(0);
    const stamp = /<time datetime="([^"]+)">/.exec(await readFile(file, 'utf8'))![1]!;
    expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(stamp)).toBeLessThanOrEqual(Date.now());
  });

  it('a malformed SOURCE_DATE_EPOCH is refused before anything is read or written', async () => {
    const layout = await fixture('with-referrers');
    const file = path.join(path.dirname(layout), 'bad.html');
    const r = await ocikit(['inspect', layout, '--html', file, '--json'], { env: { SOURCE_DATE_EPOCH: 'yesterday' } });
    expect(r.code).toBe(2);
    expect(jsonDocument<JsonError>(r).error.code).toBe('USAGE');
    expect(await exists(file)).toBe(false);
  });

  it('a layout directory and an archive are pinned by the digest of their index.json', async () => {
    const layout = await fixture('with-referrers');
    const dir = path.dirname(layout);
    const archive = path.join(dir, 'packed.tar');
    expect((await ocikit(['pack', layout, archive])).code).toBe(0);
    const inside = (await run('tar', ['-xOf', archive, 'index.json'])).stdoutBytes;
    for (const [target, bytes] of [[layout, await readFile(path.join(layout, 'index.json'))], [archive, inside]] as const) {
      const file = path.join(dir, `${path.basename(target)}.html`);
      expect((await ocikit(['inspect', target, '--html', file])).code).toBe(0);
      expect(await readFile(file, 'utf8')).toContain(`<dt>index.json digest</dt><dd id="meta-digest">${sha256(bytes)}</dd>`);
    }
  });

  it('a reference with a tag is pinned by its manifest digest', async () => {
    const expected = await expectedDigests();
    const layout = await fixture('with-referrers');
    const file = path.join(path.dirname(layout), 'tag.html');
    expect((await ocikit(['inspect', `${layout}:v1`, '--html', file])).code).toBe(0);
    expect(await readFile(file, 'utf8')).toContain(`<dt>manifest digest</dt><dd id="meta-digest">${expected['with-referrers']!['image'] as string}</dd>`);
  });
});
