/**
 * The HTML report's facts, checked on the page ocikit writes (no browser:
 * the data the page's script draws from, and the static header):
 * - each row's rolled-up status (rollUp), worst wins, objects counted once;
 * - findings attached to the rows that show their object (the anchors' data);
 * - the header: target as given, its digest, time, version, all escaped;
 * - wording: "digest(s) verified", never a bare "verified"; signatures "not checked".
 * test/integration/inspect-html-audit.test.ts renders the same page in Chromium.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTarget, openInspection, openReadTarget, parseReference, renderInspectHtml, targetDigest, verifyForInspection, type InspectReport, type ReportHeader } from '../../src/index.js';
import { rollUp, type RollupNode } from '../../src/audit/rollup.js';
import type { Finding } from '../../src/audit/findings.js';
import type { InspectNode } from '../../src/audit/inspect.js';
import { tempDir } from '../helpers/cli.js';
import { makeDamagedLayout, type DamagedLayout } from '../helpers/damaged-report.js';

const d = (name: string) => `sha256:${createHash('sha256').update(name).digest('hex')}`;
const image = (name: string, layers: RollupNode['layers'] = [], extra: Partial<RollupNode> = {}): RollupNode => ({
  digest: d(name),
  status: 'ok',
  config: { digest: d(`${name}-config`), status: 'ok' },
  layers,
  ...extra,
});

describe('rollUp: one verdict per row, for the row and everything below it', () => {
  it('marks every row above a damaged blob as an error, however deep, and leaves clean siblings ok', () => {
    const bad = image('s390x', [{ digest: d('layer'), status: 'corrupt' }]);
    const good = image('amd64', [{ digest: d('ok-layer'), status: 'ok' }]);
    const index: RollupNode = { digest: d('index'), status: 'ok', children: [good, bad] };
    rollUp(index, []);
    expect(index.rollup).toEqual({ status: 'error', errors: 1 });
    expect(bad.rollup).toEqual({ status: 'error', errors: 1 });
    expect(good.rollup).toEqual({ status: 'ok' });
  });

  it('counts a blob shared by several rows once, and a finding about a blob with its status as one problem', () => {
    const shared = { digest: d('shared'), status: 'missing' as const };
    const a = image('a', [shared], { findings: [0] });
    const b = image('b', [shared], { findings: [0] });
    const findings: Finding[] = [{ severity: 'error', code: 'MISSING_BLOB', object: shared.digest, message: 'missing' }];
    const index: RollupNode = { digest: d('index'), status: 'ok', children: [a, b] };
    rollUp(index, findings);
    expect(index.rollup).toEqual({ status: 'error', errors: 1 });
  });

  it('lets the worst status win: error over warning over ok; excused absence and notes are ok', () => {
    const unchecked = image('sha512', [{ digest: d('odd'), status: 'unverifiable' }]);
    const excused = image('delta', [{ digest: d('elsewhere'), status: 'absent-ok' }], { findings: [1] });
    const noted = image('noted', [], { findings: [2] });
    const findings: Finding[] = [
      { severity: 'error', code: 'INVALID_MANIFEST', object: d('broken'), message: 'x' },
      { severity: 'note', code: 'EXPECTED_ELSEWHERE', object: d('elsewhere'), message: 'x' },
      { severity: 'note', code: 'STRAY_FILE', object: d('noted'), message: 'x' },
    ];
    const warnOnly: RollupNode = { digest: d('i1'), status: 'ok', children: [unchecked, excused, noted] };
    rollUp(warnOnly, findings);
    expect(warnOnly.rollup).toEqual({ status: 'warning', warnings: 1 });
    expect(excused.rollup).toEqual({ status: 'ok' });
    expect(noted.rollup).toEqual({ status: 'ok' });

    const broken = image('broken', [], { status: 'invalid', findings: [0] });
    const both: RollupNode = { digest: d('i2'), status: 'ok', children: [image('sha512', [{ digest: d('odd'), status: 'unverifiable' }]), broken] };
    rollUp(both, findings);
    expect(both.rollup).toEqual({ status: 'error', errors: 1, warnings: 1 });
  });

  it('rolls a referrer\'s damage up into its subject, and a row with no statuses (not verified) is ok', () => {
    const sbom = image('sbom', [{ digest: d('sbom-blob'), status: 'missing' }]);
    const subject = image('app', [], { referrers: [sbom] });
    rollUp(subject, []);
    expect(subject.rollup).toEqual({ status: 'error', errors: 1 });
    const plain: RollupNode = { digest: d('plain') };
    rollUp(plain, []);
    expect(plain.rollup).toEqual({ status: 'ok' });
  });
});

let work: { dir: string; cleanup: () => Promise<void> };
let damaged: DamagedLayout;
const HEADER: ReportHeader = { input: 'oci:./a<b>&"c"', version: '9.8.7', generatedAt: '2023-11-14T22:13:20Z' };

beforeAll(async () => {
  work = await tempDir('ocikit-inspect-report-');
  damaged = await makeDamagedLayout(path.join(work.dir, 'src'));
});
afterAll(async () => work.cleanup());

/** The page for the damaged layout, as `inspect --html` builds it, and the report embedded in it. */
async function page(header: ReportHeader = HEADER): Promise<{ html: string; report: InspectReport }> {
  const target = await openReadTarget(parseReference(damaged.layout));
  try {
    const verification = await verifyForInspection(target);
    const digest = await targetDigest(target);
    const inspection = await openInspection(target, { verification });
    const html = renderInspectHtml(inspection.report(), { ...header, ...(digest ? { digest } : {}) });
    const json = /<script id="report" type="application\/json">([\s\S]*?)<\/script>/.exec(html)![1]!;
    return { html, report: JSON.parse(json) as InspectReport };
  } finally {
    await target.close?.();
  }
}

function nodes(report: InspectReport): InspectNode[] {
  const out: InspectNode[] = [];
  const walk = (n: InspectNode) => (out.push(n), (n.children ?? []).forEach(walk), (n.referrers ?? []).forEach(walk));
  report.roots.forEach((r) => walk(r.node));
  return out;
}

describe('inspect --html on a corrupt layer and a missing blob', () => {
  it('marks both top-level tags, and every row on the way down, as damaged; clean rows stay ok', async () => {
    const { report } = await page();
    const byDigest = new Map(nodes(report).map((n) => [n.digest, n]));
    expect(report.roots.map((r) => [r.tags, r.node.rollup])).toEqual([
      [['v1'], { status: 'error', errors: 1 }],
      [['10', 'buster'], { status: 'error', errors: 1 }],
    ]);
    expect(byDigest.get(damaged.corruptImage)!.rollup).toEqual({ status: 'error', errors: 1 });
    expect(byDigest.get(damaged.sbom)!.rollup).toEqual({ status: 'error', errors: 1 });
    expect(byDigest.get(damaged.signature)!.rollup).toEqual({ status: 'ok' });
    const clean = nodes(report).filter((n) => n.rollup?.status === 'ok');
    expect(clean).toHaveLength(nodes(report).length - 4);
  });

  it('attaches each finding to the rows that show its object, so the page can link both ways', async () => {
    const { report } = await page();
    const findings = report.verification!.findings;
    const linked = nodes(report).filter((n) => n.findings).map((n) => [n.digest, n.findings!.map((i) => [findings[i]!.code, findings[i]!.object])]);
    expect(linked).toEqual([
      [damaged.sbom, [['MISSING_BLOB', damaged.missing]]],
      [damaged.corruptImage, [['SIZE_MISMATCH', damaged.corrupt]]],
    ]);
  });

  it('has a header with the target as given (escaped), the index.json digest, the time and the ocikit version', async () => {
    const { html } = await page();
    const indexDigest = `sha256:${createHash('sha256').update(await readFile(path.join(damaged.layout, 'index.json'))).digest('hex')}`;
    const header = html.slice(0, html.indexOf('<script'));
    expect(header).toContain('<dd id="meta-target">oci:./a&#60;b&#62;&#38;&#34;c&#34;</dd>');
    expect(header).toContain(`<dt>index.json digest</dt><dd id="meta-digest">${indexDigest}</dd>`);
    expect(header).toContain('<dd id="meta-time"><time datetime="2023-11-14T22:13:20Z">2023-11-14T22:13:20Z</time></dd>');
    expect(header).toContain('<dd id="meta-version">ocikit 9.8.7</dd>');
    expect(header).toContain('<meta name="generator" content="ocikit 9.8.7 inspect --html">');
  });

  it('pins a selected manifest by its own digest, and a target with no index.json file by nothing', async () => {
    const target = await openReadTarget(parseReference(damaged.layout));
    try {
      const selected = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: damaged.image, size: 1 };
      expect(await targetDigest(target, selected)).toEqual({ digest: damaged.image, of: 'manifest' });
    } finally {
      await target.close?.();
    }
    expect(await targetDigest(new MemoryTarget())).toBeUndefined();
  });

  it('says "digest verified" wherever only digests were checked, never a bare "verified", and that signatures are not checked', async () => {
    const { html } = await page();
    // Whole words: the signature verdict "unverified" is an identifier in the page's data and script, not prose.
    const uses = [...html.matchAll(/\b(\w+\s)?verified\b/gi)].map((m) => m[0]);
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) expect(use).toMatch(/^digests? verified$/);
    expect(html).toContain('signature not checked');
    expect(html).toContain('Signatures are not checked.');
  });
});
