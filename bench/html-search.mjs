#!/usr/bin/env node
/**
 * Benchmark: the search box of `ocikit inspect --html` in headless Chromium
 * (playwright-core), on a report of 12,500 manifests (bench/many-manifests.mjs).
 * Reported: the time from loading the page to its tree being ready, and the
 * time from typing a query to the first match being shown (the search must
 * be linear in the number of rows: seconds, not minutes). Not a test: run it
 * by hand.
 *
 *   npm run build && node bench/html-search.mjs [--manifests 12500] [--keep] [--json]
 *
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium) and playwright-core.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, emit, hasFlag, measure, numberOption, row, say } from './measure.mjs';
import { imagesFor, makeManyManifestLayout } from './many-manifests.mjs';

const manifestsWanted = numberOption('--manifests', 12500);
const keep = hasFlag('--keep');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const root = await mkdtemp(path.join(tmpdir(), 'ocikit-bench-html-'));
try {
  const layout = path.join(root, 'layout');
  const manifests = makeManyManifestLayout(layout, imagesFor(manifestsWanted));
  const file = path.join(root, 'report.html');
  await measure(process.execPath, [BIN, 'inspect', layout, '--html', file]);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    let t = Date.now();
    await page.goto(pathToFileURL(file).href, { timeout: 0 });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 0 });
    const ready = (Date.now() - t) / 1000;
    // A query that matches one image near the end of the tree, as people search for a tag.
    const last = imagesFor(manifestsWanted) - 1;
    const times = [];
    for (const query of [`t${last}`, 'spdx', `n=${Math.floor(last / 2)}`]) {
      t = Date.now();
      await page.fill('#search', query);
      await page.waitForFunction(() => /match/.test(document.getElementById('matches').textContent), undefined, { timeout: 0, polling: 50 });
      const seconds = (Date.now() - t) / 1000;
      times.push(seconds);
      say(`query "${query}": ${seconds.toFixed(2)} s to "${await page.textContent('#matches')}"`);
      await page.fill('#search', '');
      await page.waitForFunction(() => document.getElementById('matches').textContent === '', undefined, { timeout: 0, polling: 50 });
    }
    const worst = Math.max(...times);
    say(`${manifests} manifests: page ready in ${ready.toFixed(2)} s; search to first match at most ${worst.toFixed(2)} s`);
    emit([
      row({ name: `inspect --html search to first match, ${manifests} manifests`, ocikit_s: worst, target_s: 2, note: `Chromium; page ready in ${ready.toFixed(1)} s` }),
    ]);
  } finally {
    await browser.close();
  }
} finally {
  if (keep) say(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
