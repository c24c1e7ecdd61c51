// The report page of `net2vec report` (index.html beside report.json) in headless Chromium:
// it opens from the file system with no network, without console errors, and shows what
// report.json holds (a Table-1 row per space, a chart per space, Figure 5 and Figures 7-8 by
// category, the example strip of Figure 8 -- every image loaded, none wider than a phone -- and
// the Figure-10 matrices and permutation test).
// Env: NET2VEC_REPORT (the report folder), NET2VEC_CHROMIUM. Prints "N passed, N failed".

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const dir = process.env.NET2VEC_REPORT;
const CHROMIUM = process.env.NET2VEC_CHROMIUM || '/usr/bin/chromium';
let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL - ${name}: ${error.message}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const watchdog = setTimeout(() => {
  console.log('FAIL - timed out after 60 s');
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 60000);

const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`request ${r.url()}`); });
  await page.goto(`file://${path.resolve(dir, 'index.html')}`);

  await check('title and Table 1 with a row per analysed space', async () => {
    assert((await page.textContent('h1')) === 'net2vec report', 'no title');
    const rows = await page.$$eval('h2 + p + table tr', (trs) => trs.length);
    assert(rows === report.spaces.length + 1, `Table 1 has ${rows - 1} rows for ${report.spaces.length} spaces`);
  });
  await check('a section with a chart per space', async () => {
    for (const s of report.spaces) {
      const found = await page.$$eval('h2', (hs, id) => hs.some((h) => h.textContent === id), s.space);
      assert(found, `no section for ${s.space}`);
    }
    const charts = await page.$$eval('svg', (svgs) => svgs.length);
    assert(charts >= report.spaces.length, `${charts} charts for ${report.spaces.length} spaces`);
  });
  await check('Figure 10 matrices with a cell per pair of spaces', async () => {
    const cells = await page.$$eval('table.matrix td', (tds) => tds.length);
    const m = report.compare.spaces.length;
    assert(cells === 3 * m * m, `${cells} matrix cells for ${m} spaces (D_ij, linear and unbiased CKA)`);
  });
  await check('Figure 10 permutation test: a row per pair with its p-values from report.json', async () => {
    const rows = await page.$$eval('h3', (hs) => {
      const h = hs.find((x) => x.textContent.startsWith('Are two spaces more alike than chance?'));
      const table = h && h.nextElementSibling && h.nextElementSibling.nextElementSibling;
      return table ? [...table.querySelectorAll('tr')].slice(1).map((tr) => [...tr.children].map((c) => c.textContent)) : null;
    });
    assert(rows, 'no permutation test table');
    const pairs = report.compare.pairs;
    assert(rows.length === pairs.length, `${rows.length} rows for ${pairs.length} pairs`);
    pairs.forEach((p, k) => {
      assert(rows[k][0] === `${p.a} / ${p.b}`, `row ${k} is ${rows[k][0]}`);
      assert(rows[k][3] === p.permutation.p_distance.toFixed(3), `p of D for ${rows[k][0]}: ${rows[k][3]}`);
      const u = p.permutation.p_cka_unbiased;
      assert(rows[k][9] === (u === null ? '\u2013' : u.toFixed(3)), `p of unbiased CKA for ${rows[k][0]}: ${rows[k][9]}`);
    });
  });
  await check('Figure 5 per network space: filters by how many concepts pick them, as report.json counts', async () => {
    const tables = await page.$$eval('table.usage', (ts) => ts.map((t) => [...t.querySelectorAll('tr')].slice(1)
      .map((tr) => [...tr.children].slice(0, 2).map((c) => Number(c.textContent)))));
    const usages = report.spaces.filter((s) => s.filter_usage).map((s) => s.filter_usage);
    assert(tables.length === usages.length, `${tables.length} Figure 5 tables for ${usages.length} network spaces`);
    usages.forEach((u, k) => {
      const want = u.histogram.map((b) => [b.concepts, b.filters]);
      assert(JSON.stringify(tables[k]) === JSON.stringify(want), `table ${k}: ${JSON.stringify(tables[k])} vs ${JSON.stringify(want)}`);
    });
  });
  await check('Figures 7 and 8 per segmentation space: the non-zero part by category, as report.json has it', async () => {
    const tables = await page.$$eval('table.image-iou', (ts) => ts.map((t) => [...t.querySelectorAll('tr')].slice(1)
      .map((tr) => [...tr.children].map((c) => c.textContent))));
    const byCategory = report.spaces.filter((s) => s.image_iou_by_category).map((s) => s.image_iou_by_category);
    assert(byCategory.length > 0, 'no segmentation space in the report');
    assert(tables.length === byCategory.length, `${tables.length} tables for ${byCategory.length} segmentation spaces`);
    byCategory.forEach((rows, k) => {
      assert(tables[k].length === rows.length, `table ${k}: ${tables[k].length} rows for ${rows.length} categories`);
      rows.forEach((r, n) => {
        const cell = (v) => (v === null ? '\u2013' : v.toFixed(3));
        const want = [r.category, String(r.concept_count), String(r.with_nonzero), cell(r.learned_mean), cell(r.learned_sd),
          cell(r.single_mean), cell(r.single_sd)];
        assert(JSON.stringify(tables[k][n]) === JSON.stringify(want), `${JSON.stringify(tables[k][n])} vs ${JSON.stringify(want)}`);
      });
    });
  });
  await check('Figure 8 strip per segmentation space: its images from report.json, every one loaded', async () => {
    const strips = report.spaces.filter((s) => s.example_strip).map((s) => s.example_strip);
    assert(strips.length > 0, 'no example strip in report.json');
    const shown = await page.$$eval('.strip', (els) => els.map((el) => ({
      figures: [...el.querySelectorAll('figure')].map((f) => ({
        caption: f.querySelector('figcaption').textContent,
        photos: f.querySelectorAll('img.strip-photo').length,
        truths: f.querySelectorAll('img.strip-truth').length,
        masks: f.querySelectorAll('img.strip-learned, img.strip-single').length,
      })),
      broken: [...el.querySelectorAll('img')].filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.className),
    })));
    assert(shown.length === strips.length, `${shown.length} strips on the page for ${strips.length} in report.json`);
    strips.forEach((strip, k) => {
      assert(shown[k].broken.length === 0, `strip of ${strip.concept}: images not loaded: ${shown[k].broken.join(', ')}`);
      assert(shown[k].figures.length === strip.images.length, `strip of ${strip.concept}: ${shown[k].figures.length} figures`);
      strip.images.forEach((im, n) => {
        const f = shown[k].figures[n];
        const f2 = (v) => (v === null ? '\u2013' : v.toFixed(2));
        const want = `${im.file}IoU learned ${f2(im.learned_iou)} \u00b7 single ${f2(im.single_iou)}`;
        assert(f.caption === want, `caption ${JSON.stringify(f.caption)} vs ${JSON.stringify(want)}`);
        // Two panels (single filter, learned), each over the photo and the ground truth when embedded.
        assert(f.masks === 2, `${im.file}: ${f.masks} predicted masks`);
        assert(f.photos === (im.photo ? 2 : 0), `${im.file}: ${f.photos} photos, report.json ${im.photo ? 'has' : 'has none'}`);
        assert(f.truths === (im.truth ? 2 : 0), `${im.file}: ${f.truths} ground-truth outlines`);
      });
    });
  });
  await check('the strips and the page fit a 390 px wide phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    const over = await page.$$eval('.strip', (els) => els.map((el) => {
      const r = el.getBoundingClientRect();
      const wide = [...el.querySelectorAll('figure, img')].filter((x) => x.getBoundingClientRect().right > r.right + 0.5);
      return { right: r.right, scroll: el.scrollWidth, client: el.clientWidth, wide: wide.length };
    }));
    const width = await page.evaluate(() => document.documentElement.clientWidth);
    assert(over.length > 0, 'no strip');
    over.forEach((o, k) => {
      assert(o.right <= width && o.scroll <= o.client && o.wide === 0,
        `strip ${k}: right ${o.right} of ${width}, scroll ${o.scroll} > ${o.client}, ${o.wide} images past its edge`);
    });
    // Nor does anything else widen the page: wide tables scroll inside themselves, long space
    // names wrap.
    const page_width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(page_width <= width, `the page is ${page_width} px wide at ${width}`);
    await page.setViewportSize({ width: 1280, height: 720 });
  });
  await check('no console errors, page errors or network requests', async () => {
    assert(problems.length === 0, problems.join('; '));
  });
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
