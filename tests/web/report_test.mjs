// The report page of `net2vec report` (index.html beside report.json) in headless Chromium:
// it opens from the file system with no network, without console errors, and shows what
// report.json holds (a Table-1 row per space, a chart per space, the Figure-10 matrices).
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
    assert(cells === 2 * m * m, `${cells} matrix cells for ${m} spaces`);
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
