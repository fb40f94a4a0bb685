/**
 * `inspect --html` in a real browser: headless Chromium (Debian package
 * `chromium`) driven by playwright-core opens the file offline and checks
 * that the tree renders with the expected images and referrers, that it
 * collapses and searches, that every blob shows its verification status,
 * that nothing is fetched, and that no console error appears. One screenshot
 * is kept in the temp directory for people to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessSync, constants } from 'node:fs';
import { cp, mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { copyFixture, expectedDigests, FIXTURES, ocikit, tempDir } from '../helpers/cli.js';
import { addArtifact, blobFile, editIndex, inTotoStatement, OCI_MANIFEST, sha256, type IndexJson } from '../helpers/audit-layouts.js';
import { renderInspectHtml } from '../../src/audit/html.js';
import type { InspectReport } from '../../src/audit/inspect.js';
import { makeDamagedLayout } from '../helpers/damaged-report.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const INSTALL = 'install Chromium with `apt-get install -y chromium` and playwright-core with `npm install --save-dev playwright-core`';
/** Where the screenshot is kept (not removed with the test's temp directory). */
const SCREENSHOT = path.join(tmpdir(), 'ocikit-inspect-html.png');

let expected: Awaited<ReturnType<typeof expectedDigests>>;
let work: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  expected = await expectedDigests();
  work = await tempDir('ocikit-inspect-html-');
});
afterAll(async () => work.cleanup());

/** The with-referrers image and its referrers, the multi-platform index, an attestation, and one damaged layer. */
async function buildLayout(): Promise<{ layout: string; attestation: string; damaged: string }> {
  await mkdir(path.join(work.dir, 'src'));
  const layout = await copyFixture('with-referrers', path.join(work.dir, 'src'));
  await cp(path.join(FIXTURES, 'multi-platform', 'blobs'), path.join(layout, 'blobs'), { recursive: true });
  const multi = JSON.parse(await readFile(path.join(FIXTURES, 'multi-platform', 'index.json'), 'utf8')) as IndexJson;
  await editIndex(layout, (i) => void i.manifests.push(...multi.manifests));
  const subject = { mediaType: OCI_MANIFEST, digest: expected['with-referrers']!['image'] as string, size: expected['single-image']!['imageSize'] as number };
  const attestation = await addArtifact(layout, {
    artifactType: 'application/vnd.in-toto+json',
    subject,
    layers: [{ bytes: inTotoStatement('https://slsa.dev/provenance/v1', subject), mediaType: 'application/vnd.in-toto+json' }],
  });
  const damaged = (expected['multi-platform']!['manifests'] as Record<string, { layers: string[] }>)['linux/s390x']!.layers[0]!;
  await truncate(blobFile(layout, damaged), 7);
  return { layout, attestation: attestation.digest, damaged };
}

type Playwright = typeof import('playwright-core');

async function loadPlaywright(): Promise<Playwright> {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`Chromium not found at ${CHROMIUM}: ${INSTALL}`);
  }
  try {
    return await import('playwright-core');
  } catch {
    throw new Error(`playwright-core is not installed: ${INSTALL}`);
  }
}

/** Headless Chromium with its own profile under the test's temp dir, no network helpers. */
async function launch(chromium: Playwright['chromium'], name: string) {
  return chromium.launchPersistentContext(path.join(work.dir, name), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
}

describe('inspect --html in headless Chromium', () => {
  it('renders the tree with images, platforms, referrers and statuses; collapses; searches; makes no request and logs no error', async () => {
    const { chromium } = await loadPlaywright();
    const { layout, attestation, damaged } = await buildLayout();
    const file = path.join(work.dir, 'report.html');
    const r = await ocikit(['inspect', layout, '--html', file]);
    // The report is written, and the damaged layer fails the command as it fails verify.
    expect(r.code).toBe(1);

    const context = await launch(chromium, 'chromium-profile');
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`request: ${req.url()}`);
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-ready="true"]');

      // The tree: the image with 4 referrers (+1 nested), the index with its 7 platforms.
      const nodeDigests = await page.locator('li.node').evaluateAll((els) => els.map((el) => el.getAttribute('data-digest')));
      const w = expected['with-referrers']!;
      for (const d of [w['image'], w['sbom'], w['signature'], w['sbomSignature'], attestation, expected['multi-platform']!['index']] as string[]) {
        expect(nodeDigests).toContain(d);
      }
      const platforms = expected['multi-platform']!['platforms'] as string[];
      expect(nodeDigests).toHaveLength(1 + 4 + 1 + platforms.length);
      const labels = await page.locator('summary .label').allTextContents();
      expect(labels).toEqual(expect.arrayContaining(['v1', '10, buster', ...platforms]));
      const tree = (await page.textContent('#tree')) ?? '';
      expect(tree).toContain('SBOM SPDX-2.3');
      expect(tree).toContain('signature (cosign)');
      expect(tree).toContain('attestation https://slsa.dev/provenance/v1');
      expect(tree).toContain('referrers: application/spdx+json');

      // Verification status per blob: the damaged layer is marked, the rest verified.
      expect(await page.locator('[data-status="corrupt"]').count()).toBe(1);
      const corruptRow = page.locator('tr', { has: page.locator('[data-status="corrupt"]') });
      expect(await corruptRow.textContent()).toContain(damaged);
      expect(await page.locator('[data-status="ok"]').count()).toBeGreaterThan(20);
      expect(await page.textContent('#verdict')).toContain('verification failed');
      expect(await page.locator('#findings tbody tr').count()).toBeGreaterThan(0);

      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Collapsible: closing the image hides its referrers.
      const imageItem = page.locator(`li.node[data-digest="${w['image']}"]`);
      const sbomSummary = page.locator(`li.node[data-digest="${w['sbom']}"] > details > summary`);
      expect(await sbomSummary.isVisible()).toBe(true);
      await imageItem.locator(':scope > details > summary').click();
      expect(await sbomSummary.isVisible()).toBe(false);
      await imageItem.locator(':scope > details > summary').click();
      expect(await sbomSummary.isVisible()).toBe(true);

      // No row is a list item: Chromium renumbers list items one at a time as rows are hidden,
      // which made the search quadratic (2,000 manifests: 26 s to the first match; bench/html-search.mjs).
      const listItems = await page.locator('li.node, summary').evaluateAll((els) => els.filter((el) => getComputedStyle(el).display === 'list-item').length);
      expect(listItems).toBe(0);

      // Search: only matching nodes and their ancestors stay.
      await page.fill('#search', 'spdx');
      const visible = () => page.locator('li.node:visible').evaluateAll((els) => els.map((el) => el.getAttribute('data-digest')));
      expect((await visible()).sort()).toEqual([w['image'], w['sbom']].sort());
      expect(await page.textContent('#matches')).toBe('1 match');
      await page.fill('#search', 'linux/arm64');
      expect(await visible()).toEqual([expected['multi-platform']!['index'], (expected['multi-platform']!['manifests'] as Record<string, { image: string }>)['linux/arm64/v8']!.image]);
      await page.fill('#search', 'no such thing anywhere');
      expect(await visible()).toEqual([]);
      expect(await page.textContent('#matches')).toBe('0 matches');
      await page.fill('#search', '');
      expect(await visible()).toHaveLength(nodeDigests.length);

      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(10_000);
  }, 180_000);
});

describe('inspect --html with referrer types named like Object.prototype members', () => {
  // Layouts cannot carry such types (their documents are validated), a registry's referrers API can:
  // the page is given such a report directly, and must show it whole.
  it('groups and renders referrers whose artifactType is "constructor" or "__proto__" without a page error', async () => {
    const { chromium } = await loadPlaywright();
    const node = (digest: string, kind: 'image' | 'artifact', artifactType?: string) => ({ digest, mediaType: OCI_MANIFEST, size: 100, kind, ...(artifactType ? { artifactType } : {}) });
    const odd = ['constructor', '__proto__'].map((t) => node(sha256(t), 'artifact', t));
    const report: InspectReport = {
      target: 'registry example.test/app',
      roots: [{ tags: ['v1'], node: { ...node(sha256('image'), 'image'), referrers: odd } }],
      summary: { roots: 1, tags: 1, manifests: 3, images: 1, indexes: 0, artifacts: 2, blobs: 3, totalSize: 300 },
    };
    const file = path.join(work.dir, 'proto.html');
    await writeFile(file, renderInspectHtml(report));

    const context = await launch(chromium, 'chromium-profile-proto');
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-ready="true"]');
      expect(errors).toEqual([]);
      const nodeDigests = await page.locator('li.node').evaluateAll((els) => els.map((el) => el.getAttribute('data-digest')));
      expect(nodeDigests.sort()).toEqual([sha256('image'), ...odd.map((d) => d.digest)].sort());
      const titles = await page.locator('.group-title').allTextContents();
      expect(titles).toEqual(expect.arrayContaining(['referrers: constructor', 'referrers: __proto__']));
    } finally {
      await context.close();
    }
  }, 120_000);
});

describe('inspect --html: an auditor reads a damaged layout (a corrupt layer, a missing blob)', () => {
  it('marks both collapsed tags damaged, never beside a pass; links findings and rows both ways; finds a finding by its code', async () => {
    const { chromium } = await loadPlaywright();
    const damaged = await makeDamagedLayout(path.join(work.dir, 'auditor'));
    const file = path.join(work.dir, 'auditor.html');
    const r = await ocikit(['inspect', damaged.layout, '--html', file], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    expect(r.code).toBe(1);

    const context = await launch(chromium, 'chromium-profile-auditor');
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-ready="true"]');

      // The header says what, when, by whom.
      expect(await page.textContent('#meta-target')).toBe(damaged.layout);
      expect(await page.textContent('#meta-time')).toBe('2023-11-14T22:13:20Z');
      expect(await page.textContent('#meta-version')).toMatch(/^ocikit \d+\.\d+\.\d+/);
      expect(await page.textContent('#meta-digest')).toMatch(/^sha256:[0-9a-f]{64}$/);

      // Collapsed: the two top-level tags, each with one badge, and it says damaged.
      await page.click('#collapse');
      const top = page.locator('#tree > li.node');
      expect(await top.count()).toBe(2);
      const badges = top.locator(':scope > details > summary .status');
      expect(await badges.evaluateAll((els) => els.map((e) => [e.getAttribute('data-rollup'), e.checkVisibility()]))).toEqual([
        ['error', true],
        ['error', true],
      ]);
      expect(await top.evaluateAll((els) => els.map((e) => e.getAttribute('data-rollup')))).toEqual(['error', 'error']);
      expect(await page.locator(`li.node[data-digest="${damaged.sbom}"] > details > summary`).isVisible()).toBe(false);
      // No row anywhere shows a pass and a failure side by side.
      const mixed = await page.locator('li.node > details > summary').evaluateAll((els) =>
        els.filter((s) => /\u2713/.test(s.textContent ?? '') && /\u2717/.test(s.textContent ?? '')).length,
      );
      expect(mixed).toBe(0);
      // A signature whose digests check out says its signature was not checked.
      expect(await page.textContent(`li.node[data-digest="${damaged.signature}"] > details > summary .status`)).toContain('signature not checked');

      // A finding links to its row: following it opens the path down to the corrupt layer's image.
      const sizeFinding = page.locator('#findings tr[data-code="SIZE_MISMATCH"]');
      await sizeFinding.locator('a.to-row').first().click();
      const corruptRow = page.locator(`li.node[data-digest="${damaged.corruptImage}"]`);
      expect(await corruptRow.locator(':scope > details > summary').isVisible()).toBe(true);
      expect(await corruptRow.locator('[data-status="corrupt"]').isVisible()).toBe(true);
      expect(await corruptRow.getAttribute('class')).toContain('focus');
      // ...and the row links back to the finding.
      await corruptRow.locator('.row-findings a').click();
      expect(await sizeFinding.getAttribute('class')).toContain('focus');

      // The search finds findings by code (and the rows they are about), in the same pass as the rows.
      await page.fill('#search', 'missing_blob');
      expect(await page.locator('#findings tr[data-code="MISSING_BLOB"]').isVisible()).toBe(true);
      expect(await sizeFinding.isVisible()).toBe(false);
      const visibleRows = await page.locator('li.node:visible').evaluateAll((els) => els.map((el) => el.getAttribute('data-digest')));
      expect(visibleRows).toEqual([damaged.image, damaged.sbom]);
      expect(await page.textContent('#matches')).toBe('2 matches');

      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
