// Page speed on loopback (docs/PERFORMANCE.md, "Web page"): cold first content and the time
// to draw a 768-filter concept's charts, in Debian's Chromium against a real `net2vec serve`.
// A benchmark, not a test: it prints figures and asserts nothing.
//
//   NET2VEC_BIN=build/src/apps/net2vec NET2VEC_CATALOG=/tmp/n2v-web.db NET2VEC_WEB=web \
//     node tests/web/bench_page.mjs [runs=10]
//   NET2VEC_BENCH_RTT=50: every request delayed 50 ms (counts round trips on a busy machine)
//
// Cold: a fresh browser context per run (empty cache), navigation to the neighbours view;
// first contentful paint (the Paint Timing API) and "content" = when the view's start chips
// are in the DOM (performance.now() from navigation start). Charts: in the loaded page, the
// weight-vector bars (charts.js filterBars) and the weights vs single-filter IoU scatter
// (charts.js scatter) of 768 filters built, inserted and laid out, until the next frame.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const env = process.env;
const BIN = env.NET2VEC_BIN || path.join(repo, 'build/src/apps/net2vec');
const CATALOG = env.NET2VEC_CATALOG;
const WEB = env.NET2VEC_WEB || path.join(repo, 'web');
const SPACE = env.NET2VEC_TEST_SPACE || 'toynet.conv.seg';
const RUNS = Number(process.argv[2] || 10);
const RTT = Number(env.NET2VEC_BENCH_RTT || 0); // ms added to every request (0: loopback as is)
if (!CATALOG) throw new Error('set NET2VEC_CATALOG');

const server = spawn(BIN, ['serve', '--db', CATALOG, '--host', '127.0.0.1', '--port', '0', '--web', WEB, '--quiet'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const m = /net2vec: serving (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1].endsWith('/') ? m[1] : `${m[1]}/`);
  });
  server.on('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
});
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const browser = await chromium.launch({ executablePath: env.NET2VEC_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const fcp = [];
  const content = [];
  for (let i = 0; i < RUNS + 1; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    if (RTT > 0) {
      // Each request waits RTT ms (Chromium's network emulation), as over a real network: the
      // number of round trips in a row shows, whatever the CPU load of the machine.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: RTT, downloadThroughput: -1, uploadThroughput: -1 });
    }
    await page.goto(`${base}#/neighbors?space=${encodeURIComponent(SPACE)}`);
    await page.locator('#view .state.empty .chip').first().waitFor();
    const t = await page.evaluate(() => ({
      content: performance.now(),
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    }));
    if (i > 0) { // the first run warms the server's and the OS's caches
      fcp.push(t.fcp);
      content.push(t.content);
    }
    await context.close();
  }
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}#/neighbors?space=${encodeURIComponent(SPACE)}`);
  await page.locator('#view .state.empty .chip').first().waitFor();
  const draw = await page.evaluate(async (runs) => {
    const charts = await import('./js/charts.js');
    const n = 768;
    const times = [];
    for (let r = 0; r < runs + 1; r += 1) {
      const weights = Array.from({ length: n }, (_, k) => Math.sin(k * 12.9898 + r) * 0.5);
      const iou = Array.from({ length: n }, (_, k) => Math.abs(Math.cos(k * 78.233 + r)) * 0.2);
      const box = document.createElement('div');
      document.body.append(box);
      const t0 = performance.now();
      box.append(charts.filterBars(weights, { highlight: new Set([1, 2, 3]), best: 5, onSelect: () => {} }));
      box.append(charts.scatter(weights.map((w, k) => ({ x: iou[k], y: w, index: k, tooltip: `filter ${k}` })), { onSelect: () => {} }));
      box.getBoundingClientRect(); // layout
      await new Promise((resolve) => requestAnimationFrame(() => resolve()));
      const t = performance.now() - t0;
      if (r > 0) times.push(t);
      box.remove();
    }
    return times;
  }, RUNS);
  await context.close();
  const f = (x) => x.toFixed(0);
  console.log(`web ${WEB}, ${RUNS} cold loads of #/neighbors${RTT ? `, ${RTT} ms added per request` : ''} (median, min-max):`);
  console.log(`  first contentful paint ${f(median(fcp))} ms (${f(Math.min(...fcp))}-${f(Math.max(...fcp))})`);
  console.log(`  view content           ${f(median(content))} ms (${f(Math.min(...content))}-${f(Math.max(...content))})`);
  console.log(`  768-filter bars + scatter drawn, to the next frame: ${f(median(draw))} ms (${f(Math.min(...draw))}-${f(Math.max(...draw))})`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
