// Headless-browser test of the web page (web/) against a real `net2vec serve`.
//
// Starts the server on a free loopback port, drives Debian's Chromium through playwright-core
// over every view, compares what the page shows with what the API answers, saves a screenshot
// of each main view, and fails on any console error, page error or failed request (except the
// deliberate 404 of the unknown-concept check). Prints "N passed, N failed" last; exits 1 on any
// failure. See README.md for the environment variables.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const env = process.env;

const BIN = env.NET2VEC_BIN || path.join(repo, 'build/src/apps/net2vec');
const CATALOG = env.NET2VEC_CATALOG || '';
const WEB = env.NET2VEC_WEB || path.join(repo, 'web');
const SHOTS = env.NET2VEC_SCREENSHOTS || path.join(repo, 'build/tests/web/screenshots');
const CHROMIUM = env.NET2VEC_CHROMIUM || '/usr/bin/chromium';
// Probe-set folders for `serve --probe` (comma-separated; optional): the concept page's images.
const PROBES = (env.NET2VEC_PROBE || '').split(',').map((s) => s.trim()).filter(Boolean);
// Below ctest's 180 s (tests/web/CMakeLists.txt); about 70 s on an idle 2-core machine, 120 s loaded.
const TIMEOUT_S = Number(env.NET2VEC_TEST_TIMEOUT || 170);
// Names from the test catalog (tests' toy catalog); every one can be overridden.
const SPACE = env.NET2VEC_TEST_SPACE || 'toynet.conv.seg';
const CONCEPT = env.NET2VEC_TEST_CONCEPT || 'dog';
const [POSITIVE, NEGATIVE] = (env.NET2VEC_TEST_ANALOGY || 'car,red-c|blue-c').split('|')
  .map((part) => (part || '').split(',').map((s) => s.trim()).filter(Boolean));
// The default drops spaces the catalog lacks (wordnet needs Debian's wordnet-base at catalog time).
let COMPARE = (env.NET2VEC_TEST_COMPARE || 'toynet.conv.seg,toynet.conv.cls,othernet.fc.seg,wordnet')
  .split(',').map((s) => s.trim()).filter(Boolean);
// A misspelling the server answers with "did you mean '<CONCEPT>'?" (one inserted letter).
const TYPO = env.NET2VEC_TEST_TYPO || `${CONCEPT}z`;

// ---- results ------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
let finishing = false; // set by the watchdog: checks still in flight are no longer counted
const log = (line) => process.stdout.write(`${line}\n`);

async function check(name, fn) {
  if (finishing) return;
  try {
    await fn();
    if (finishing) return;
    passed += 1;
    log(`ok   - ${name}`);
  } catch (error) {
    if (finishing) return;
    failed += 1;
    const [first, ...rest] = String(error?.message || error).replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    log(`FAIL - ${name}: ${first}`);
    for (const line of rest) log(`#   ${line.trim()}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** Polls fn() until it returns a truthy value (returned) or `ms` pass (throws `message`). */
async function until(fn, message, ms = 8000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`${message} (timed out; last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The page prints numbers like this (web/js/dom.js fmt), to compare text with API values.
function fmt(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 1e4) return x.toExponential(2);
  return x.toFixed(digits);
}

// ---- server -------------------------------------------------------------------------------------

let server = null;
let serverLog = '';

function startServer() {
  return new Promise((resolve, reject) => {
    const args = ['serve', '--db', CATALOG, '--host', '127.0.0.1', '--port', '0', '--web', WEB,
      ...PROBES.flatMap((dir) => ['--probe', dir])];
    server = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "net2vec: serving" line within 15 s; output:\n${out}${serverLog}`)), 15000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /net2vec: serving (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].endsWith('/') ? m[1] : `${m[1]}/`);
      }
    });
    server.stderr.on('data', (chunk) => {
      serverLog = (serverLog + chunk).slice(-20000); // the access log, for failures
    });
    server.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out}${serverLog}`));
    });
  });
}

// A further server for one check (another catalog, a probe folder): resolves with its base
// URL once it prints its "serving" line; stop it with child.kill('SIGTERM').
function spawnServer(db, extra, label) {
  const child = spawn(BIN, ['serve', '--db', db, '--host', '127.0.0.1', '--port', '0', '--web', WEB, '--quiet', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const base = new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${label}: no "serving" line: ${out}`)), 15000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /net2vec: serving (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].endsWith('/') ? m[1] : `${m[1]}/`);
      }
    });
    child.on('exit', (code) => reject(new Error(`${label} exited (${code}): ${out}`)));
  });
  base.catch(() => {});  // awaited by the caller; an early exit must not be an unhandled rejection
  return { child, base };
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const s = server;
    setTimeout(() => s.exitCode === null && s.signalCode === null && s.kill('SIGKILL'), 2000).unref();
  }
}
process.on('exit', () => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
});

// ---- the test -----------------------------------------------------------------------------------

let browser = null;

async function main() {
  assert(CATALOG, 'set NET2VEC_CATALOG to a catalog .db (see tests/web/README.md)');
  assert(fs.existsSync(BIN), `no net2vec binary at ${BIN} (set NET2VEC_BIN)`);
  assert(fs.existsSync(path.join(WEB, 'index.html')), `no index.html in ${WEB} (set NET2VEC_WEB)`);
  fs.mkdirSync(SHOTS, { recursive: true });

  const base = await startServer();
  log(`# server at ${base}, catalog ${CATALOG}`);
  const apiGet = async (route) => {
    const response = await fetch(new URL(`api/${route}`, base));
    const data = await response.json();
    if (!response.ok) throw new Error(`API ${route}: ${data?.error?.message}`);
    return data;
  };
  const apiPost = async (route, body) => {
    const response = await fetch(new URL(`api/${route}`, base), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(`API ${route}: ${data?.error?.message}`);
    return data;
  };
  const q = encodeURIComponent;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);

  // Everything the browser reports that is not expected is a failure.
  const problems = [];
  // The one deliberate error: the unknown-concept search (404 from /api/neighbors).
  const deliberate = (url) => {
    const u = new URL(url);
    return u.pathname.endsWith('/api/neighbors') && u.searchParams.get('concept') === TYPO;
  };
  const watch = (page) => {
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const at = msg.location()?.url || '';
    if (msg.text().includes('status of 404') && at && deliberate(at)) return;
    problems.push(`console ${msg.type()}: ${msg.text()} (${at})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    // blob: URLs of this origin are the page's own downloads (exports, issue 19 item 7).
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith(`blob:${new URL(base).origin}/`)) problems.push(`request outside the server: ${url}`);
  });
  page.on('requestfailed', (request) => {
    const why = request.failure()?.errorText || '';
    // The page aborts its own superseded API requests (a newer navigation wins).
    if (why === 'net::ERR_ABORTED' && new URL(request.url()).pathname.includes('/api/')) return;
    problems.push(`request failed: ${request.url()} ${why}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !deliberate(response.url())) {
      problems.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  };
  watch(page);

  const goto = async (hash) => {
    await page.goto(`${base}${hash}`);
  };
  const hashParams = async () => new URLSearchParams((await page.evaluate(() => location.hash)).split('?')[1] || '');
  const texts = (selector) => page.locator(selector).allInnerTexts();
  const shot = async (name) => {
    // From the top: a full-page capture of a scrolled page draws the sticky header mid-page.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  const spaces = (await apiGet('spaces')).spaces;
  const spaceInfo = spaces.find((s) => s.id === SPACE);
  if (!env.NET2VEC_TEST_COMPARE) COMPARE = COMPARE.filter((id) => spaces.some((s) => s.id === id));

  await check('the page loads and lists the catalog\'s spaces, grouped by kind', async () => {
    assert(spaceInfo, `space ${SPACE} is not in the catalog (set NET2VEC_TEST_SPACE)`);
    await goto(`#/neighbors?space=${q(SPACE)}`);
    await page.locator('#space-select option').first().waitFor({ state: 'attached' });
    const options = await page.locator('#space-select option').evaluateAll((els) => els.map((e) => e.value));
    assertEqual(options.slice().sort(), spaces.map((s) => s.id).sort(), 'space options');
    const groups = await page.locator('#space-select optgroup').evaluateAll((els) => els.map((e) => e.label));
    const kinds = new Set(spaces.map((s) => s.kind));
    assertEqual(groups.length, kinds.size, 'number of option groups');
    assertEqual(await page.locator('#space-select').inputValue(), SPACE, 'selected space');
    assert((await page.title()).includes('net2vec'), 'title names net2vec');
    // No query yet: an empty state offering the space's concepts.
    await page.locator('#view .state.empty .chip').first().waitFor();
    assert(await page.locator('#view .state.empty .chip').count() > 0, 'start chips');
  });

  await check('a slow answer shows the loading state, then the results', async () => {
    const slow = async (route) => {
      await new Promise((r) => setTimeout(r, 800));
      await route.continue();
    };
    await page.route((url) => url.pathname.endsWith('/api/neighbors'), slow);
    try {
      await goto(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=3`);
      await page.locator('#view .state.loading[role=status]').waitFor({ timeout: 3000 });
      assert((await page.locator('#view .results').getAttribute('aria-busy')) === 'true', 'results aria-busy while loading');
      await page.locator('table.hits tbody tr').first().waitFor();
      assertEqual(await page.locator('table.hits tbody tr').count(), 3, 'k=3 hits');
      assert(!(await page.locator('#view .state.loading').count()), 'loading state gone');
    } finally {
      await page.unroute((url) => url.pathname.endsWith('/api/neighbors'), slow);
    }
    await goto(`#/neighbors?space=${q(SPACE)}`);
    await page.locator('#view .state.empty').first().waitFor();
  });

  await check('concept search: autocomplete listbox, picked with the keyboard', async () => {
    const input = page.locator('#view input[role=combobox]');
    await input.click();
    await input.pressSequentially(CONCEPT.slice(0, Math.max(1, Math.min(2, CONCEPT.length - 1))), { delay: 30 });
    await until(async () => (await input.getAttribute('aria-expanded')) === 'true', 'listbox opens');
    const listbox = page.locator(`#${await input.getAttribute('aria-controls')}`);
    assert(await listbox.isVisible(), 'listbox visible');
    assertEqual(await listbox.getAttribute('role'), 'listbox', 'listbox role');
    // Arrow down until the wanted option is highlighted (aria-activedescendant), then Enter.
    let found = false;
    for (let n = 0; n < 12 && !found; n += 1) {
      await input.press('ArrowDown');
      const active = await input.getAttribute('aria-activedescendant');
      assert(active, 'aria-activedescendant set');
      const option = page.locator(`[id="${active}"]`);
      assertEqual(await option.getAttribute('aria-selected'), 'true', 'active option aria-selected');
      found = (await option.locator('.option-name').innerText()) === CONCEPT;
    }
    assert(found, `${CONCEPT} among the suggestions`);
    await input.press('Enter');
    await until(async () => (await hashParams()).get('concept') === CONCEPT, 'URL names the concept');
    assertEqual(await input.getAttribute('aria-expanded'), 'false', 'listbox closed after picking');
  });

  await check('neighbours: the API\'s hits, in order, with bars and links', async () => {
    const expected = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`);
    assert(expected.hits.length > 0, 'the API returns hits');
    await page.locator('table.hits tbody tr').first().waitFor();
    const names = await texts('table.hits tbody td.name');
    assertEqual(names, expected.hits.map((x) => x.name), 'hit names');
    assert(!names.includes(CONCEPT), 'the query is not its own neighbour');
    assertEqual(await page.locator('table.hits tbody svg.inline-bar').count(), expected.hits.length, 'one bar per hit');
    assertEqual((await texts('table.hits tbody td.score .value'))[0], fmt(expected.hits[0].score, 4), 'first score');
    // Each cosine placed among the space's concept pairs, and how those are spread.
    assert(expected.baseline && expected.baseline.pairs > 0, 'the API gives the space\'s pair cosines');
    assertEqual(await texts('table.hits tbody td.percentile'), expected.hits.map((x) => fmt(x.percentile, 1)), 'percentiles');
    const baseline = await page.locator('.results-head .baseline').innerText();
    assert(baseline.includes(`median cosine ${fmt(expected.baseline.p50, 3)}`) && baseline.includes(`95th percentile ${fmt(expected.baseline.p95, 3)}`),
      `baseline line: ${baseline}`);
    assert((await page.locator('.results-head h2').innerText()).includes(CONCEPT), 'heading names the query');
    const link = page.locator('table.hits tbody td.name a').first();
    assert((await link.getAttribute('href')).startsWith('#/concept/'), 'hit links to its concept page');
    await shot('neighbors');
  });

  await check('neighbours: a category filter, submitted with Enter', async () => {
    const categories = await page.locator('#view select[name=category] option').evaluateAll((els) => els.map((e) => e.value).filter(Boolean));
    assert(categories.length > 1, `categories offered: ${categories}`);
    const concepts = (await apiGet(`spaces/${q(SPACE)}/concepts`)).concepts;
    const own = concepts.find((c) => c.name === CONCEPT)?.category;
    const category = categories.find((c) => c !== own) || categories[0];
    await page.locator('#view select[name=category]').selectOption(category);
    await page.locator('#view input[name=k]').fill('5');
    await page.locator('#view input[name=k]').press('Enter');
    await until(async () => (await hashParams()).get('category') === category, 'URL has the category');
    const expected = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=5&category=${q(category)}`);
    await until(async () => JSON.stringify(await texts('table.hits tbody td.name')) === JSON.stringify(expected.hits.map((x) => x.name)),
      `the ${category} neighbours`);
    const shown = await texts('table.hits tbody .cat');
    assert(shown.length > 0 && shown.every((c) => c === category), `every hit is ${category}: ${shown}`);
    await page.goBack();
    await until(async () => !(await hashParams()).get('category'), 'back to the unfiltered search');
    const unfiltered = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`);
    await until(async () => JSON.stringify(await texts('table.hits tbody td.name')) === JSON.stringify(unfiltered.hits.map((x) => x.name)),
      'the unfiltered neighbours again');
    assertEqual(await page.locator('#view select[name=category]').inputValue(), '', 'category select reset');
  });

  await check('Escape closes the suggestions', async () => {
    const input = page.locator('#view input[role=combobox]');
    await input.fill('');
    await input.pressSequentially(CONCEPT.slice(0, 1));
    await until(async () => (await input.getAttribute('aria-expanded')) === 'true', 'listbox opens');
    await input.press('Escape');
    assertEqual(await input.getAttribute('aria-expanded'), 'false', 'aria-expanded after Escape');
    assert(!(await page.locator('.listbox').first().isVisible()), 'listbox hidden');
  });

  await check('a hit\'s own neighbours, then the back button returns to the previous search', async () => {
    const first = (await texts('table.hits tbody td.name'))[0];
    await page.locator('table.hits tbody a.row-action').first().click();
    await until(async () => (await hashParams()).get('concept') === first, 'URL names the hit');
    await until(async () => (await page.locator('.results-head h2').innerText()).includes(first), 'results of the hit');
    await page.goBack();
    await until(async () => (await hashParams()).get('concept') === CONCEPT, 'URL back to the query');
    await until(async () => (await page.locator('.results-head h2').innerText()).includes(CONCEPT), 'results of the query again');
    assertEqual(await page.locator('#view input[role=combobox]').inputValue(), CONCEPT, 'search box shows the query');
  });

  await check('the space selector keeps the view and puts the space in the URL', async () => {
    const other = spaces.find((s) => s.id !== SPACE && s.kind === 'network') || spaces.find((s) => s.id !== SPACE);
    assert(other, 'a second space');
    await page.locator('#space-select').selectOption(other.id);
    await until(async () => (await hashParams()).get('space') === other.id, 'URL has the new space');
    await until(async () => (await page.locator('.results-head p:not(.baseline)').innerText()).includes(other.id), 'results from the new space');
    await page.goBack();
    await until(async () => (await page.locator('#space-select').inputValue()) === SPACE, 'back restores the space');
  });

  await check('an unknown concept shows the server\'s error with a clickable suggestion', async () => {
    await goto(`#/neighbors?space=${q(SPACE)}&concept=${q(TYPO)}`);
    const alert = page.locator('#view .results [role=alert]');
    await alert.waitFor();
    const text = await alert.innerText();
    assert(text.includes(`no concept '${TYPO}'`) && text.includes('did you mean'), `alert text: ${text}`);
    const suggestion = alert.locator('a.suggestion', { hasText: CONCEPT }).first();
    assert(await suggestion.count(), `a suggestion link for ${CONCEPT}`);
    // The page's first link is the API's structured error.suggestions[0], not a guess from the text.
    const answer = await fetch(new URL(`api/neighbors?space=${q(SPACE)}&concept=${q(TYPO)}`, base));
    const apiError = (await answer.json())?.error;
    assert(answer.status === 404 && Array.isArray(apiError?.suggestions), `API error with suggestions: ${JSON.stringify(apiError)}`);
    const first = (await alert.locator('a.suggestion').first().innerText()).trim();
    assert(first === apiError.suggestions[0], `first suggestion ${first} = API suggestions[0] ${apiError.suggestions[0]}`);
    await suggestion.click();
    await until(async () => (await hashParams()).get('concept') === CONCEPT, 'suggestion searches the concept');
    await page.locator('table.hits tbody tr').first().waitFor();
  });

  await check('analogy: terms via autocomplete, results match the API', async () => {
    assert(POSITIVE.length + NEGATIVE.length > 0, 'NET2VEC_TEST_ANALOGY names terms');
    await goto(`#/analogy?space=${q(SPACE)}`);
    const [plus, minus] = [page.locator('#view input[role=combobox]').nth(0), page.locator('#view input[role=combobox]').nth(1)];
    await plus.waitFor();
    const addTerm = async (input, name) => {
      await input.click();
      await input.pressSequentially(name, { delay: 10 });
      await until(async () => (await input.getAttribute('aria-expanded')) === 'true', `suggestions for ${name}`);
      await input.press('ArrowDown');
      await input.press('Enter');
    };
    for (const name of POSITIVE) await addTerm(plus, name);
    for (const name of NEGATIVE) await addTerm(minus, name);
    const chips = await texts('#view .term');
    assertEqual(chips.map((c) => c.replace('×', '').trim()), [...POSITIVE, ...NEGATIVE], 'chips');
    const expression = [POSITIVE.join(' + '), ...NEGATIVE.map((n) => `− ${n}`)].filter(Boolean).join(' ');
    assert((await page.locator('.expression-preview').innerText()).includes(expression), `preview shows "${expression}"`);
    // Enter in an empty term input submits the form.
    await minus.press('Enter');
    const expected = await apiPost('analogy', { space: SPACE, positive: POSITIVE, negative: NEGATIVE, k: 10, method: 'add', category: null });
    await page.locator('table.hits tbody tr').first().waitFor();
    assertEqual(await texts('table.hits tbody td.name'), expected.hits.map((x) => x.name), 'hit names');
    assert((await page.locator('.results-head h2').innerText()).includes(expression), 'heading shows the expression');
    const params = await hashParams();
    assertEqual([params.getAll('positive'), params.getAll('negative')], [POSITIVE, NEGATIVE], 'terms in the URL');
    await shot('analogy');
  });

  await check('analogy: 3CosMul from the form', async () => {
    await page.locator('#view input[name=method][value=mul]').check();
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await hashParams()).get('method') === 'mul', 'URL has method=mul');
    const expected = await apiPost('analogy', { space: SPACE, positive: POSITIVE, negative: NEGATIVE, k: 10, method: 'mul', category: null });
    await until(async () => (await page.locator('.results-head p').innerText()).includes('3CosMul'), 'results say 3CosMul');
    assertEqual(await texts('table.hits tbody td.name'), expected.hits.map((x) => x.name), '3CosMul hit names');
  });

  let compared = null;
  let order = null; // the compared spaces in the page's order (the catalog's listing order)
  await check('compare: two heatmaps with every cell', async () => {
    const m = COMPARE.length;
    await goto(`#/compare?space=${q(SPACE)}`);
    await page.locator('#view input[type=checkbox]').first().waitFor();
    for (const box of await page.locator('#view input[type=checkbox]').all()) {
      await box.setChecked(COMPARE.includes(await box.getAttribute('value')));
    }
    await page.locator('#view input[name=per_concept]').fill('10');
    await page.locator('#view button[type=submit]').click();
    await until(async () => {
      order = ((await hashParams()).get('spaces') || '').split(',');
      return order.slice().sort().join() === COMPARE.slice().sort().join();
    }, 'URL names the chosen spaces');
    compared = await apiGet(`compare?spaces=${order.map(q).join(',')}&per_concept=10`);
    const maps = page.locator('.heatmaps svg.chart');
    // The previous comparison stays on screen (dimmed) until the new one arrives.
    await until(async () => (await maps.count()) === 2 && (await maps.nth(1).locator('g.cell').count()) === m * m
      && !(await page.locator('#view .results[aria-busy]').count()), 'two heatmaps of the chosen spaces');
    for (let n = 0; n < 2; n += 1) {
      assertEqual(await maps.nth(n).locator('g.cell').count(), m * m, `cells of heatmap ${n + 1}`);
      assertEqual(await maps.nth(n).locator('g.cell[tabindex]').count(), m * (m - 1), `focusable cells of heatmap ${n + 1}`);
      // One tab stop per heatmap (roving tabindex; issue 19 item 9): arrows move between cells.
      assertEqual(await maps.nth(n).locator('g.cell[tabindex="0"]').count(), 1, `tab stops of heatmap ${n + 1}`);
      assertEqual(await maps.nth(n).locator('.row-label').count(), m, `row labels of heatmap ${n + 1}`);
      assert(await maps.nth(n).locator('linearGradient').count(), `colour legend of heatmap ${n + 1}`);
    }
    const cell01 = maps.nth(0).locator('g.cell[data-i="0"][data-j="1"] text');
    assertEqual(await cell01.textContent(), fmt(compared.distance[0][1], 2), 'D cell (0, 1)');
    const cka01 = maps.nth(1).locator('g.cell[data-i="0"][data-j="1"] text');
    assertEqual(await cka01.textContent(), fmt(compared.cka[0][1], m <= 8 ? 3 : 2), 'CKA cell (0, 1)');
  });

  await check('compare: clicking a cell shows per-category bars and the concepts that differ most', async () => {
    const pair = compared.pairs.find((p) => p.i === 0 && p.j === 1);
    await page.locator('.heatmaps svg.chart').nth(0).locator('g.cell[data-i="1"][data-j="0"]').click();
    await until(async () => (await hashParams()).get('pair') === '0,1', 'URL has the pair');
    const detail = page.locator('.pair-detail');
    await detail.waitFor();
    const heading = await detail.locator('h2').innerText();
    assert(heading.includes(pair.a) && heading.includes(pair.b), `pair heading: ${heading}`);
    assertEqual(await detail.locator('svg.chart g.hbar').count(), pair.categories.length, 'category bars');
    assertEqual(await detail.locator('table.per-concept tbody td.name').allInnerTexts(), pair.per_concept.map((c) => c.name), 'concepts that differ most');
    assert(pair.per_concept.length > 0, 'per_concept not empty');
    assert(['double', 'float'].includes(compared.precision), `the answer names its precision: ${compared.precision}`);
    assert((await detail.locator('p.stats:not(.significance)').innerText()).includes(`Gram matrices in ${compared.precision}`), 'the pair says the precision');
    await shot('compare');
  });

  await check('compare: a cell selected with the keyboard; back returns to the previous pair', async () => {
    const m = COMPARE.length;
    assert(m >= 3, 'NET2VEC_TEST_COMPARE names at least 3 spaces for this check');
    const cell = page.locator('.heatmaps svg.chart').nth(1).locator('g.cell[data-i="1"][data-j="2"]');
    await cell.focus();
    await page.keyboard.press('Enter');
    await until(async () => (await hashParams()).get('pair') === '1,2', 'URL has pair 1,2');
    const pair = compared.pairs.find((p) => p.i === 1 && p.j === 2);
    await until(async () => (await page.locator('.pair-detail h2').innerText()).includes(pair.b), 'detail of pair 1,2');
    assert(await page.evaluate(() => document.activeElement?.matches('g.cell[data-i="1"][data-j="2"]')), 'focus stays on the cell');
    await page.goBack();
    await until(async () => (await hashParams()).get('pair') === '0,1', 'back to pair 0,1');
    await until(async () => (await page.locator('.pair-detail h2').innerText()).includes(order[1]), 'detail of pair 0,1 again');
  });

  let conceptData = null;
  await check('concept page: scores, weight bars, F sweep, IoU histogram, top filters', async () => {
    conceptData = await apiGet(`concepts/${q(CONCEPT)}?space=${q(SPACE)}&top=10`);
    await goto(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
    await page.locator('.results-head h2 a').click(); // the query's name links to its page
    await until(async () => (await page.locator('#view h1').innerText()).includes(CONCEPT), 'h1 names the concept');
    await page.locator('.concept-body .card').first().waitFor();
    assert((await page.locator('#view h1 .cat').innerText()) === conceptData.category, 'category chip');
    if (conceptData.metric) {
      const scores = await texts('table.scores tbody td.strong');
      assertEqual(scores, [fmt(conceptData.learned.val, 3), fmt(conceptData.best_single.val, 3)], 'val scores');
      // Issue 21: each val score's 95 % interval and p beside it, "not computed" where the
      // catalog has none (the service catalog leaves every seventh concept without).
      // ... and q, the p corrected over the space's concepts.
      const small = (x) => (x < 0.0005 ? x.toExponential(1) : fmt(x, 3));
      const stats = (sc) => (Array.isArray(sc.val_interval)
        ? `[${fmt(sc.val_interval[0], 3)}, ${fmt(sc.val_interval[1], 3)}]${Number.isFinite(sc.val_p) ? `, p = ${small(sc.val_p)}` : ''}`
          + `${Number.isFinite(sc.val_q) ? `, q = ${small(sc.val_q)}` : ''}`
        : 'not computed');
      assert(Number.isFinite(conceptData.learned.val_q) || conceptData.learned.val_p === null, 'the answer has q beside p');
      assertEqual(await texts('table.scores tbody td.val-stats'), [stats(conceptData.learned), stats(conceptData.best_single)], 'val intervals and p');
    } else {
      assert((await page.locator('.note').first().innerText()).includes('no scores'), 'reference space note');
    }
    const weights = page.locator('.card.wide svg.chart');
    assertEqual(await weights.locator('.bars rect').count(), conceptData.dim, 'one weight bar per filter');
    assertEqual(await weights.locator('.bars rect.top, .bars rect.best').count(),
      new Set([...conceptData.top_filters.map((f) => f.filter), ...(conceptData.best_filter >= 0 ? [conceptData.best_filter] : [])]).size,
      'highlighted bars');
    if (conceptData.subsets.length) {
      assertEqual(await page.locator('svg.chart circle.point').count(), conceptData.subsets.filter((s) => Number.isFinite(s.score)).length, 'F-sweep points');
      assert(await page.locator('svg.chart .reference line').count(), 'learned-weights reference line');
    }
    if (conceptData.image_iou?.learned?.length) {
      const bars = conceptData.image_iou.learned.length;
      assertEqual(await page.locator('svg.chart rect.bar.learned').count(), bars, 'IoU histogram learned bars');
      assertEqual(await page.locator('svg.chart rect.bar.single').count(), bars, 'IoU histogram single bars');
    }
    const filterLinks = page.locator('table.top-filters tbody tr');
    assertEqual(await filterLinks.count(), conceptData.top_filters.length, 'top filter rows');
    if (conceptData.task === 'segmentation' && conceptData.image_count > 0) {
      // The val images (with --probe) or a note saying how to get them.
      const images = await apiGet(`concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&limit=12`);
      const card = page.locator('.card.images');
      await card.waitFor();
      if (images.served && images.images.length) {
        const photos = card.locator('.thumb img:not(.mask)');
        await until(async () => (await photos.count()) === images.images.length, 'one thumbnail per image');
        await until(() => photos.evaluateAll((els) => els.every((e) => e.complete && e.naturalWidth > 0)), 'thumbnails loaded');
        await until(() => card.locator('img.mask').evaluateAll((els) => els.every((e) => e.complete && e.naturalWidth > 0)), 'masks loaded');
      } else if (images.images.length) {
        await until(async () => (await card.locator('.note').innerText()).includes('--probe'), 'a note on serve --probe');
      }
    }
    if (conceptData.image_iou?.nonzero && conceptData.image_iou?.deciles) {
      // Figures 7 and 8: the non-zero mean as printed, and one entry per learned-weights decile
      // (thumbnails with --probe, else a table cell each).
      const card = page.locator('.card.deciles');
      await card.waitFor();
      const { nonzero, deciles } = conceptData.image_iou;
      assertEqual(await card.locator('.nonzero-learned .nz-mean').innerText(), fmt(nonzero.learned.mean, 3), 'non-zero mean (learned)');
      assertEqual(await card.locator('.nonzero-single .nz-mean').innerText(), fmt(nonzero.single.mean, 3), 'non-zero mean (single)');
      const entries = card.locator('.decile[data-set="learned"]');
      await until(async () => (await entries.count()) === deciles.learned.length, `${deciles.learned.length} learned deciles shown`);
      if (nonzero.learned.nonzero > 0) assert(deciles.learned.length === 10, 'ten deciles when some IoU is non-zero');
      if (deciles.learned.length) {
        const last = deciles.learned[deciles.learned.length - 1];
        assert((await entries.last().innerText()).includes(fmt(last.iou, 2)), 'best decile last');
      }
      const radio = card.locator('input[type=radio][value=single]');
      const predicted = (set) => deciles[set].filter((e) => e.predicted).length;
      if (await radio.count()) {
        // Thumbnails (photos with --probe; Figure 8's predicted masks whenever ingest stored
        // them): every image loads, and the keyboard switches to the single filter's.
        const pictures = card.locator('.thumb img');
        await until(() => pictures.evaluateAll((els) => els.length > 0 && els.every((e) => e.complete && e.naturalWidth > 0)), 'decile thumbnails loaded');
        assertEqual(await card.locator('img.mask.prediction').count(), predicted('learned'), 'one predicted mask per stored learned decile');
        const images = await apiGet(`concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&limit=1`);
        if (!images.served) assertEqual(await card.locator('img.photo').count(), 0, 'no photo requested when not served');
        await card.locator('input[type=radio][value=learned]').focus();
        await page.keyboard.press('ArrowRight');
        await until(async () => (await card.locator('.decile[data-set="single"]').count()) === deciles.single.length, 'single-filter deciles after the keyboard switch');
        assertEqual(await card.locator('.decile[data-set="learned"]').count(), 0, 'learned deciles replaced');
        await until(() => pictures.evaluateAll((els) => els.every((e) => e.complete && e.naturalWidth > 0)), 'single-filter decile thumbnails loaded');
        const srcs = await card.locator('img.mask.prediction').evaluateAll((els) => els.map((e) => e.getAttribute('src')));
        assertEqual(srcs.length, predicted('single'), 'one predicted mask per stored single-filter decile');
        assert(srcs.every((src) => src.includes('method=single')), 'the single filter\'s masks after the switch');
        await page.keyboard.press('ArrowLeft');
        await until(async () => (await entries.count()) === deciles.learned.length, 'back to the learned deciles');
      } else {
        assertEqual(predicted('learned') + predicted('single'), 0, 'the table only when no predicted mask is stored');
        assertEqual(await card.locator('img').count(), 0, 'no probe image requested when not served');
      }
    }
    if (conceptData.filter_iou_val && conceptData.weights?.length) {
      // Paper 5.2: one dot per filter (with a defined single-filter IoU) and Pearson's r.
      const dots = conceptData.filter_iou_val.filter(Number.isFinite).length;
      assertEqual(await page.locator('svg.chart .dots circle.dot').count(), dots, 'weights-vs-IoU scatter dots');
      if (dots === conceptData.filter_iou_val.length) assertEqual(dots, spaceInfo.dim, 'one dot per filter of the space');
      assert((await page.locator('.pearson-r').innerText()).startsWith('r = '), 'Pearson r printed');
    }
    await shot('concept');
  });

  await check('filter page from the concept page; back returns to the concept', async () => {
    const network = spaceInfo?.kind === 'network';
    assert(network, `${SPACE} is a network space (filter pages)`);
    const k = conceptData.top_filters[0].filter;
    const expected = await apiGet(`filters?space=${q(SPACE)}&filter=${k}&top=10`);
    await page.locator('table.top-filters tbody a').first().click();
    await until(async () => (await page.locator('#view h1').innerText()) === `Filter ${k}`, 'h1 names the filter');
    await page.locator('#view .card').first().waitFor();
    const tables = page.locator('table.filter-concepts');
    const bestFor = expected.best_for.length ? await tables.first().locator('td.name').allInnerTexts() : [];
    assertEqual(bestFor, expected.best_for.map((c) => c.name), 'best single filter of');
    assertEqual(await tables.last().locator('td.name').allInnerTexts(), expected.top_weighted.map((c) => c.name), 'weighted most by');
    if (expected.selected_by > 0) {
      assert(await page.locator('svg.chart g.column.highlight').count() === 1, 'this filter\'s Figure-5 bar highlighted');
    }
    await shot('filter');
    await page.goBack();
    await until(async () => (await page.locator('#view h1').innerText()).includes(CONCEPT), 'back on the concept page');
  });

  await check('issue 19 item 6: the filter page shows its top images; each drawn map equals the bits in the SQLite file, pixel by pixel', async () => {
    const k = conceptData.top_filters[0].filter;
    // The stored maps, read from the catalog file itself (sql/006_filter_top_images.sql).
    const sql = `SELECT t.rank, p.row, t.height, t.width, hex(t.map) FROM filter_top_image t
      JOIN space s ON s.run_id = t.run_id JOIN probe_image p ON p.id = t.probe_image_id
      WHERE s.id = '${SPACE.replace(/'/g, "''")}' AND t.filter = ${k} ORDER BY t.rank`;
    const stored = execFileSync('sqlite3', ['-readonly', '-separator', '|', CATALOG, sql], { encoding: 'utf8' })
      .trim().split('\n').filter(Boolean).map((line) => {
        const [rank, row, height, width, hex] = line.split('|');
        return { rank: Number(rank) + 1, row: Number(row), height: Number(height), width: Number(width), hex: hex.toLowerCase() };
      });
    assert(stored.length > 0, `the test catalog stores top images for filter ${k} of ${SPACE}`);
    const answer = await apiGet(`filters?space=${q(SPACE)}&filter=${k}`);
    assertEqual(answer.top_images.images.map((i) => [i.rank, i.row, i.map]), stored.map((s) => [s.rank, s.row, s.hex]), 'the API\'s top images are the stored ones');
    const bitsOf = (s) => Array.from({ length: s.height * s.width }, (_, p) => (parseInt(s.hex.substr(2 * (p >> 3), 2), 16) >> (p & 7)) & 1);
    // A canvas's pixels as 0/1 (drawn or not) and the colours it used.
    const drawn = (canvas) => canvas.evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const on = [];
      const colours = new Set();
      for (let p = 0; p < c.width * c.height; p += 1) {
        on.push(d[4 * p + 3] > 0 ? 1 : 0);
        if (d[4 * p + 3] > 0) colours.add(`${d[4 * p]},${d[4 * p + 1]},${d[4 * p + 2]}`);
      }
      return { width: c.width, height: c.height, on, colours: [...colours] };
    });

    await goto(`#/filter/${k}?space=${q(SPACE)}`);
    const card = page.locator('#view .card.top-images');
    const figures = card.locator('figure.top-image');
    await until(async () => (await figures.count()) === stored.length, `${stored.length} top images`);
    assertEqual(await figures.evaluateAll((fs) => fs.map((f) => Number(f.dataset.row))), stored.map((s) => s.row), 'rows in rank order');
    for (let i = 0; i < stored.length; i += 1) {
      const canvas = figures.nth(i).locator('canvas.mask-activation');
      const got = await until(async () => { const g = await drawn(canvas); return g.width === stored[i].width ? g : null; }, `map ${i + 1} drawn`);
      assertEqual([got.width, got.height], [stored[i].width, stored[i].height], `map ${i + 1}: the map's own resolution`);
      assertEqual(got.on, bitsOf(stored[i]), `map ${i + 1}: drawn pixels = stored bits`);
      // Okabe-Ito orange, within the canvas's premultiplied-alpha rounding.
      assert(got.colours.length > 0 && got.colours.every((c) => c.split(',').map(Number).every((v, j) => Math.abs(v - [230, 159, 0][j]) <= 2)),
        `map ${i + 1}: Okabe-Ito orange, got ${JSON.stringify(got.colours)}`);
    }
    assert((await card.innerText()).includes(`T_k = ${fmt(answer.top_images.threshold, 4)}`), 'the threshold is named');
    // Keyboard: the first image's button opens the larger view, whose map is the same bits;
    // Escape closes it and focus returns to the button.
    const button = figures.first().locator('button.enlarge');
    await button.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog.image-viewer[open]');
    await dialog.waitFor();
    const large = await until(async () => { const g = await drawn(dialog.locator('canvas.mask-activation')); return g.width ? g : null; }, 'larger view drawn');
    assertEqual(large.on, bitsOf(stored[0]), 'the larger view draws the same bits');
    await page.keyboard.press('Escape');
    await until(async () => (await page.locator('dialog.image-viewer[open]').count()) === 0, 'Escape closes the larger view');
    assert(await button.evaluate((b) => b === document.activeElement), 'focus back on the image\'s button');
    // A click on the image itself opens it too.
    await figures.nth(stored.length - 1).locator('.thumb-box').click({ position: { x: 10, y: 10 } });
    await dialog.waitFor();
    assert((await dialog.locator('h1').innerText()).includes(`top image ${stored.length}`), 'the clicked image in the larger view');
    await page.keyboard.press('Escape');
    await shot('filter-top-images');
    await goto(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
    await page.locator('#view h1').waitFor();
  });

  await check('filters page: Figure 5 histogram and the most selected filters', async () => {
    const expected = await apiGet(`filters?space=${q(SPACE)}&top=10`);
    await page.locator('nav.views a[data-view=filters]').click();
    await until(async () => (await hashParams()).get('space') === SPACE && (await page.evaluate(() => location.hash)).startsWith('#/filters'), 'filters URL');
    await page.locator('table.most-selected, #view .state.empty').first().waitFor();
    assertEqual(await page.locator('table.most-selected tbody tr').count(), expected.most_selected.length, 'most selected rows');
    const maxConcepts = Math.max(1, ...expected.histogram.map((b) => b.concepts));
    assertEqual(await page.locator('#view .card svg.chart').first().locator('g.column').count(), maxConcepts, 'Figure 5 columns');
    assertEqual(await page.locator('.card.wide svg.chart .bars rect').count(), expected.dim, 'one bar per filter');
    await shot('filters');
  });

  await check('analyses: Table 1, Figure 2 groups, Figure 3, the correlation histogram', async () => {
    const expected = await apiGet(`analyses?space=${q(SPACE)}`);
    // Keyboard: the nav entry is a plain link, reached with Tab and followed with Enter.
    await page.locator('nav.views a[data-view=analyses]').focus();
    await page.keyboard.press('Enter');
    await until(async () => (await page.evaluate(() => location.hash)).startsWith('#/analyses')
      && (await hashParams()).get('space') === SPACE, 'analyses URL');
    await page.locator('table.learned-vs-single').waitFor();
    assertEqual(await page.locator('nav.views a[aria-current=page]').getAttribute('data-view'), 'analyses', 'nav entry current');
    const rows = page.locator('table.learned-vs-single tbody tr');
    assertEqual(await rows.count(), expected.learned_vs_single.length, 'Table 1 rows');
    const share = expected.learned_vs_single[0].share;
    assertEqual(await rows.first().locator('.share').innerText(), `${(100 * share).toFixed(1)}%`, 'first share');
    const first = expected.learned_vs_single[0];
    assert((await rows.first().innerText()).includes(`${first.learned_at_least_single} of ${first.concept_count}`), 'first row says k of n');
    assertEqual(await rows.first().locator('.intervals-separate').innerText(), first.with_intervals > 0
      ? `↑ ${first.learned_interval_above} / ↓ ${first.single_interval_above} of ${first.with_intervals}` : 'not computed', 'Table 1 intervals separate');
    assert(first.with_p > 0, 'the test catalog has p-values (schema 7)');
    assertEqual(await rows.first().locator('.above-chance').innerText(),
      `${first.learned_above_chance} (${first.single_above_chance}) of ${first.with_p}`, 'Table 1 above chance after correction');
    assertEqual(await page.locator('svg.chart g.group').count(), expected.category_scores.length, 'Figure 2 groups');
    assertEqual(await page.locator('svg.chart g.group rect.bar').count(), 2 * expected.category_scores.length, 'Figure 2 bars');
    const curves = expected.subset_curves.filter((c) => c.points.length);
    assertEqual(await page.locator('svg.chart g.series').count(), curves.length, 'Figure 3 lines');
    const corr = expected.weight_iou_correlation;
    if (corr.concepts.length) {
      await page.locator('.r-histogram svg.chart').waitFor();
      assertEqual(await page.locator('.share-significant').innerText(), `${(100 * corr.share_significant).toFixed(1)}%`, 'share significant');
      const least = corr.concepts.filter((c) => Number.isFinite(c.r)).sort((a, b) => a.r - b.r).slice(0, 10);
      assertEqual(await texts('table.least-correlated tbody td.name'), least.map((c) => c.name), 'least correlated concepts');
      await page.locator('table.least-correlated th button.sort').click();
      assertEqual(await texts('table.least-correlated tbody td.name'), least.map((c) => c.name).reverse(), 'sorted by r, largest first');
      await page.locator('table.least-correlated th button.sort').click();
    } else {
      assert(await page.locator('.card.wide .state.empty').count(), 'a note instead of Figure 9');
    }
    // Failures: one table by train-image count, and (segmentation) one by concept size (alpha);
    // each non-empty cell is the bin's mean as the API gives it.
    const failureTables = page.locator('table.failures');
    const failureSets = [expected.failures.by_train_count, expected.failures.by_alpha || []].filter((rows) => rows.some((r) => r.bins.some((b) => b.n > 0)));
    assertEqual(await failureTables.count(), failureSets.length, 'failure tables (train count, concept size)');
    for (let t = 0; t < failureSets.length; ++t) {
      const rows = failureSets[t];
      assertEqual(await failureTables.nth(t).locator('tbody tr').count(), rows.length, `failure table ${t} rows`);
      const means = rows[0].bins.filter((b) => b.n > 0).map((b) => fmt(b.mean, 3));
      const cells = await failureTables.nth(t).locator('tbody tr').first().locator('td').evaluateAll((els) => els.map((e) => e.firstChild?.textContent || ''));
      assertEqual(cells.filter((c) => c !== '–'), means, `failure table ${t}: first category's bin means`);
    }
    await shot('analyses');
    const reference = spaces.find((s) => s.kind === 'reference');
    if (reference) {
      // A reference space has no analyses: a note, and no request (the server would answer 400).
      await page.locator('#space-select').selectOption(reference.id);
      await until(async () => (await page.locator('#view .note').count()) > 0
        && (await page.locator('#view .note').innerText()).includes('reference space'), 'reference-space note');
    }
  });

  await check('the map: points, colour by cluster, search, zoom and the cluster list', async () => {
    const expected = await apiGet(`map?space=${q(SPACE)}&clusters=8&seed=1`);
    await goto(`#/neighbors?space=${q(SPACE)}`);
    await page.locator('nav.views a[data-view=map]').click();
    await until(async () => (await page.evaluate(() => location.hash)).startsWith('#/map')
      && (await hashParams()).get('space') === SPACE, 'map URL');
    const points = page.locator('svg.map-chart circle.map-point');
    await points.first().waitFor();
    assertEqual(await points.count(), expected.points.length, 'point marks');
    assertEqual(await page.locator('nav.views a[aria-current=page]').getAttribute('data-view'), 'map', 'nav entry current');
    // Every point names its concept on hover.
    assert((await points.first().locator('title').textContent()).length > 0, 'point title');

    await page.locator('.map-form select[name=color]').selectOption('cluster');
    await until(async () => (await hashParams()).get('color') === 'cluster', 'color=cluster in the URL');
    await until(async () => (await page.locator('.map-legend .legend-item').count()) === expected.k,
      `legend entries = k (${expected.k})`);
    const legendText = await texts('.map-legend .legend-item');
    assert(legendText.every((t) => t.startsWith('cluster ')), `cluster legend: ${legendText.join(' | ')}`);

    const search = page.locator('.map-form input[role=combobox]');
    await search.fill(CONCEPT);
    await search.press('Enter');
    await until(async () => (await page.locator('svg.map-chart .map-point.is-match').count()) === 1, 'exactly one highlighted point');
    assertEqual(await page.locator('svg.map-chart .map-label').evaluateAll((els) => els.map((e) => e.textContent)), [CONCEPT], 'the match\'s label');
    assertEqual((await hashParams()).get('highlight'), CONCEPT, 'highlight in the URL');
    assert(await page.locator('svg.map-chart.has-highlight').count() === 1, 'the others are dimmed');

    const chart = page.locator('svg.map-chart');
    const before = await chart.getAttribute('viewBox');
    await page.locator('.map-zoom-buttons button[aria-label="Zoom in"]').focus();
    await page.keyboard.press('Enter');
    const zoomed = await until(async () => {
      const v = await chart.getAttribute('viewBox');
      return v !== before && v;
    }, 'the + button changes the viewBox');
    // The wheel zooms further around the pointer; Reset returns to the whole map.
    const box = await chart.boundingBox();
    await page.mouse.move(box.x + box.width / 3, box.y + box.height / 3);
    await page.mouse.wheel(0, -300);
    await until(async () => (await chart.getAttribute('viewBox')) !== zoomed, 'the wheel changes the viewBox');
    await page.locator('.map-zoom-buttons button[aria-label="Reset zoom"]').click();
    assertEqual(await chart.getAttribute('viewBox'), before, 'reset viewBox');

    const clusters = page.locator('ol.map-clusters > li.map-cluster');
    assertEqual(await clusters.count(), expected.k, 'clusters listed');
    const sizes = (await texts('ol.map-clusters .cluster-size')).map((t) => Number(t.replace(/,/g, '')));
    assertEqual(sizes.reduce((a, b) => a + b, 0), expected.points.length, 'cluster sizes sum to the points');
    assertEqual(sizes, expected.clusters.map((c) => c.concept_count), 'cluster sizes');
    // Clicking a cluster highlights exactly its points.
    await clusters.nth(0).locator('button.map-cluster-toggle').click();
    await until(async () => (await page.locator('svg.map-chart .map-point.is-match').count()) === expected.clusters[0].concept_count,
      'the first cluster\'s points highlighted');
    assertEqual(await clusters.nth(0).locator('button').getAttribute('aria-pressed'), 'true', 'cluster toggle pressed');
    await shot('map');

    // A point opens its concept page.
    await page.locator('.map-zoom-buttons button[aria-label="Reset zoom"]').click();
    await page.locator('svg.map-chart .map-point.is-match').first().click();
    await until(async () => (await page.evaluate(() => location.hash)).startsWith('#/concept/'), 'a point opens its concept page');
  });

  await check('examples: Tables 2 and 3 with the seg and cls spaces side by side; a custom query', async () => {
    // The layer's other task (net.layer.seg <-> net.layer.cls), segmentation first as in the paper.
    const partner = spaces.find((s) => s.kind === 'network' && s.id !== SPACE && s.network === spaceInfo.network
      && s.layer === spaceInfo.layer && s.task && s.task !== spaceInfo.task);
    const columns = [spaceInfo, partner].filter(Boolean)
      .sort((a, b) => (a.task === 'segmentation' ? 0 : 1) - (b.task === 'segmentation' ? 0 : 1)).map((s) => s.id);
    const sumKey = (e) => [e.positive.join(' + '), ...e.negative.map((n) => `- ${n}`)].join(' ');
    // Every card shows, per space, the API's hits in order with 3-decimal similarities.
    const compareCards = async (params) => {
      const answers = await Promise.all(columns.map((id) => apiGet(`examples?space=${q(id)}${params}`)));
      const cards = page.locator('#view .example-card');
      const expectedCards = new Set(answers.flatMap((a) => [...a.nearest.map((e) => `nearest:${e.query}`), ...a.arithmetic.map((e) => `arithmetic:${sumKey(e)}`)]));
      await until(async () => (await cards.count()) === expectedCards.size, `${expectedCards.size} example cards`);
      for (const [i, id] of columns.entries()) {
        for (const [kind, entries, key] of [['nearest', answers[i].nearest, (e) => e.query], ['arithmetic', answers[i].arithmetic, sumKey]]) {
          for (const entry of entries) {
            const card = page.locator(`#view .example-card[data-kind="${kind}"][data-example="${key(entry)}"]`);
            assertEqual(await card.locator(`td.name[data-space="${id}"] a`).allInnerTexts(), entry.hits.map((x) => x.name), `${id} ${kind} ${key(entry)} names`);
            assertEqual(await card.locator(`td.sim[data-space="${id}"]`).allInnerTexts(), entry.hits.map((x) => fmt(x.score, 3)), `${id} ${kind} ${key(entry)} similarities`);
          }
        }
      }
      return answers;
    };
    await goto(`#/neighbors?space=${q(SPACE)}`);
    await page.locator('nav.views a[data-view=examples]').click();
    await until(async () => (await page.evaluate(() => location.hash)).startsWith('#/examples')
      && (await hashParams()).get('space') === SPACE, 'examples URL');
    assertEqual(await page.locator('nav.views a[aria-current=page]').getAttribute('data-view'), 'examples', 'nav entry current');
    const paper = await compareCards('');
    assert(paper[0].nearest.length > 0 && paper[0].arithmetic.length > 0, 'the paper\'s examples give hits here');
    assertEqual(await page.locator('#view .example-card').first().locator('th.space-col').evaluateAll((els) => els.map((e) => e.dataset.space)),
      columns, 'one column per space, segmentation first');
    if (partner) assertEqual(columns.length, 2, 'the pair side by side');
    if (paper[0].missing.length) {
      assert((await page.locator('#view .note.missing').first().innerText()).includes(paper[0].missing[0]), 'the paper\'s missing examples noted');
    }
    await shot('examples');

    // A custom query through the form (the sums submitted with Ctrl+Enter): the hash and the cards follow.
    const absent = 'no-such-concept';
    const sumLine = [POSITIVE.join(' + '), ...NEGATIVE.map((n) => `- ${n}`)].join(' ');
    const sumsParam = `${POSITIVE.join(',')}${NEGATIVE.length ? `/${NEGATIVE.join(',')}` : ''}`;
    await page.locator('#view input[name=queries]').fill(`${CONCEPT}, ${absent}`);
    await page.locator('#view input[name=k]').fill('3');
    await page.locator('#view textarea[name=sums]').fill(sumLine);
    await page.locator('#view textarea[name=sums]').press('Control+Enter');
    await until(async () => {
      const p = await hashParams();
      return p.get('queries') === `${CONCEPT},${absent}` && p.get('sums') === sumsParam && p.get('k') === '3';
    }, 'the hash holds the custom queries, sums and k');
    const custom = await compareCards(`&queries=${q(`${CONCEPT},${absent}`)}&sums=${q(sumsParam)}&k=3`);
    assertEqual(custom[0].nearest.map((e) => e.query), [CONCEPT], 'one nearest example');
    assert(custom[0].missing.includes(absent), `the API reports ${absent} missing`);
    await until(async () => (await page.locator('#view .note.missing').allInnerTexts()).join(' ').includes(absent), 'the missing name in the note');

    // Back returns to the paper's examples; a hit opens its concept page in its own space.
    await page.goBack();
    await until(async () => !(await hashParams()).get('queries')
      && (await page.locator('#view .example-card[data-kind=nearest]').count()) === paper[0].nearest.length, 'back to the paper\'s examples');
    const last = columns[columns.length - 1];
    const link = page.locator(`#view .example-card td.name[data-space="${last}"] a`).first();
    const name = await link.innerText();
    await link.click();
    await until(async () => (await page.evaluate(() => location.hash)).startsWith(`#/concept/${encodeURIComponent(name)}`)
      && (await hashParams()).get('space') === last, `the hit opens ${name} in ${last}`);
    await until(async () => (await page.locator('#view h1').innerText()).includes(name), 'concept page heading');
  });

  // ---- issue 19: the bugs of the usability review (B1-B15 but B4), each a check ------------------
  const reference = spaces.find((s) => s.kind === 'reference');
  const pagePixels = (p = page) => p.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));

  await check('B12: an unknown route keeps the space of the URL', async () => {
    const other = spaces.find((s) => s.id !== spaces[0].id && s.id !== SPACE) || spaces[spaces.length - 1];
    await goto(`#/nonsense?space=${q(other.id)}`);
    await until(async () => (await page.evaluate(() => location.hash)).startsWith('#/neighbors')
      && (await hashParams()).get('space') === other.id, `redirected to neighbours in ${other.id}`);
  });

  await check('B1: a reference space\'s concept page has no "best single filter null" marker', async () => {
    assert(reference, 'the catalog has a reference space');
    await goto(`#/concept/${q(CONCEPT)}?space=${q(reference.id)}`);
    await page.locator('.card.wide svg.chart .bars rect').first().waitFor();
    assertEqual(await page.locator('svg.chart .marker.best').count(), 0, 'best-filter markers');
    const text = await page.locator('#view').innerText();
    assert(!/null/.test(text), `no "null" on the page: ${text.match(/.{0,30}null.{0,10}/)?.[0]}`);
  });

  await check('B7: arrow keys on the space select browse without navigating; Enter opens the space', async () => {
    await goto(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
    await page.locator('table.hits tbody tr').first().waitFor();
    let calls = 0;
    const count = (request) => { if (request.url().includes('/api/')) calls += 1; };
    page.on('request', count);
    try {
      const before = await page.evaluate(() => history.length);
      await page.locator('#space-select').focus();
      for (const key of ['ArrowDown', 'ArrowUp', 'ArrowUp']) await page.keyboard.press(key);
      await page.waitForTimeout(300);
      const browsed = await page.locator('#space-select').inputValue();
      assert(browsed !== SPACE, `the arrows changed the select (${browsed})`);
      assertEqual((await hashParams()).get('space'), SPACE, 'URL space while browsing');
      assertEqual(calls, 0, 'API requests while browsing');
      await page.keyboard.press('Enter');
      await until(async () => (await hashParams()).get('space') === browsed, `Enter opens ${browsed}`);
      assertEqual(await page.evaluate(() => history.length), before + 1, 'one history entry');
    } finally {
      page.off('request', count);
    }
  });

  await check('B10, B9: empty searches and bad k say so in the form, without a request', async () => {
    await goto(`#/neighbors?space=${q(SPACE)}`);
    const formError = page.locator('#view .form-error');
    await page.locator('#view input[role=combobox]').fill('');
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await formError.isVisible()) && (await formError.innerText()).includes('concept'), 'empty concept message');
    await page.locator('#view input[role=combobox]').fill(CONCEPT);
    for (const bad of ['1e3', '100000', '0', '2.5']) {
      await page.locator('#view input[name=k]').fill(bad);
      await page.locator('#view button[type=submit]').click();
      await until(async () => (await formError.isVisible()) && (await formError.innerText()).includes(bad)
        && (await formError.innerText()).startsWith('k must be'), `k = ${bad} refused in the form`);
      assert(!(await hashParams()).get('k'), `no search with k = ${bad}`);
    }
    await page.locator('#view input[name=k]').fill('5000'); // the API's bound
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await hashParams()).get('k') === '5000', 'k = 5000 searches');
    await page.locator('table.hits tbody tr').first().waitFor();
    assert(!(await formError.isVisible()), 'the message goes with a valid search');
    await goto(`#/analogy?space=${q(SPACE)}`);
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await page.locator('#view .form-error').isVisible())
      && (await page.locator('#view .form-error').innerText()).includes('concept'), 'Solve with no terms says so');
  });

  await check('B5, B6: Compare with no space ticked says so; a new per-pair count keeps the pair', async () => {
    const order = COMPARE.join(',');
    await goto(`#/compare?space=${q(SPACE)}&spaces=${order}&per_concept=10&pair=0,1`);
    await page.locator('.pair-detail').waitFor();
    for (const box of await page.locator('#view input[type=checkbox]').all()) await box.setChecked(false);
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await page.locator('#view .form-error').isVisible())
      && (await page.locator('#view .form-error').innerText()).includes('at least two'), '"choose at least two spaces"');
    assertEqual((await hashParams()).get('spaces'), order, 'the spaces in the URL unchanged');
    for (const box of await page.locator('#view input[type=checkbox]').all()) {
      await box.setChecked(COMPARE.includes(await box.getAttribute('value')));
    }
    await page.locator('#view input[name=per_concept]').fill('4');
    await page.locator('#view button[type=submit]').click();
    await until(async () => (await hashParams()).get('per_concept') === '4', 'per_concept=4');
    assertEqual((await hashParams()).get('pair'), '0,1', 'the pair kept');
    await until(async () => (await page.locator('.pair-detail table.per-concept tbody tr').count()) === 4, 'the pair\'s 4 concepts');
  });

  await check('B3: ten spaces: heatmap numbers fit their cells, rotated labels inside the chart', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `mobilenet_v2.block_${i + 1}_expand_relu.${i % 2 ? 'cls' : 'seg'}`);
    const matrix = (f) => ids.map((_, i) => ids.map((__, j) => (i === j ? f(i, i, true) : f(Math.min(i, j), Math.max(i, j), false))));
    const fake = {
      spaces: ids.map((id) => ({ id })), concept_count: 210, excluded: [], pairs: [],
      distance: matrix((i, j, d) => (d ? 0 : 1000 + ((i * 7 + j * 13) % 20) * 97.35)),
      cka: matrix((i, j, d) => (d ? 1 : 0.5 + ((i + j) % 5) / 10)),
    };
    const answer = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(fake) });
    const isCompare = (url) => url.pathname.endsWith('/api/compare');
    await page.route(isCompare, answer);
    try {
      for (const width of [1366, 390]) {
        await page.setViewportSize({ width, height: 768 });
        await goto(`#/compare?space=${q(SPACE)}&spaces=${ids.join(',')}&per_concept=10`);
        await until(async () => (await page.locator('.heatmaps svg.chart g.cell').count()) === 200, 'two 10 x 10 heatmaps');
        const bad = await page.locator('.heatmaps svg.chart').evaluateAll((charts) => charts.flatMap((chart, n) => {
          const box = chart.getBoundingClientRect();
          const card = chart.closest('.card').getBoundingClientRect();
          const out = [];
          for (const g of chart.querySelectorAll('g.cell')) {
            const r = g.querySelector('rect').getBBox();
            const t = g.querySelector('text').getBBox();
            if (t.width > r.width - 2 || t.x < r.x || t.x + t.width > r.x + r.width) out.push(`map ${n} cell ${g.dataset.i},${g.dataset.j} "${g.textContent}" ${t.width.toFixed(1)} > ${r.width}`);
          }
          for (const label of chart.querySelectorAll('.col-label, .row-label')) {
            const r = label.getBoundingClientRect();
            if (r.right > box.right + 1 || r.top < box.top - 1 || r.left < box.left - 1) out.push(`map ${n} label ${label.textContent} outside the chart`);
            // At 390 px the chart scrolls inside its card (it keeps a readable size).
            if (window.innerWidth > 600 && (r.right > card.right + 1 || r.top < card.top - 1)) out.push(`map ${n} label ${label.textContent} outside the card`);
          }
          const size = parseFloat(getComputedStyle(chart.querySelector('g.cell text')).fontSize) * box.width / chart.viewBox.baseVal.width;
          if (size < 8) out.push(`map ${n}: cell text ${size.toFixed(1)} px on screen`);
          return out;
        }));
        assert(bad.length === 0, `${width} px: ${bad.slice(0, 4).join('; ')}`);
        const px = await pagePixels();
        assert(px.scroll <= px.width, `${width} px: page ${px.scroll} px wide`);
      }
    } finally {
      await page.unroute(isCompare, answer);
      await page.setViewportSize({ width: 1366, height: 768 });
    }
  });

  await check('B11: the F-sweep reference label does not overlap the curve', async () => {
    const isConcept = (url) => url.pathname.endsWith(`/api/concepts/${encodeURIComponent(CONCEPT)}`);
    // The review's case (dog in a cls space): the curve reaches the learned score at F = 10 and 30.
    const answer = async (route) => {
      const data = await (await route.fetch()).json();
      data.learned = { ...data.learned, val: 0.645 };
      data.subsets = [[1, 0.41], [2, 0.47], [3, 0.52], [5, 0.58], [10, 0.638], [20, 0.641], [30, 0.647], [50, 0.644], [100, 0.646]]
        .map(([filters, score]) => ({ filters, score }));
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
    };
    await page.route(isConcept, answer);
    try {
      await goto(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      await page.locator('svg.chart .reference text').waitFor();
      const hits = await page.locator('svg.chart .reference text').evaluate((text) => {
        const chart = text.closest('svg');
        const t = text.getBoundingClientRect();
        const inside = (x, y) => x >= t.left - 1 && x <= t.right + 1 && y >= t.top - 1 && y <= t.bottom + 1;
        const out = [];
        for (const c of chart.querySelectorAll('circle.point')) {
          const r = c.getBoundingClientRect();
          if (r.right > t.left && r.left < t.right && r.bottom > t.top && r.top < t.bottom) out.push(`point ${c.textContent}`);
        }
        const path = chart.querySelector('path.line');
        const matrix = path.getScreenCTM();
        for (let s = 0; s <= path.getTotalLength(); s += 2) {
          const p = path.getPointAtLength(s).matrixTransform(matrix);
          if (inside(p.x, p.y)) {
            out.push(`the curve at ${p.x.toFixed(0)},${p.y.toFixed(0)}`);
            break;
          }
        }
        return out;
      });
      assert(hits.length === 0, `the label "${await page.locator('svg.chart .reference text').textContent()}" overlaps ${hits.join(', ')}`);
    } finally {
      await page.unroute(isConcept, answer);
    }
  });

  await check('B14: thumbnails keep their size before they load, and load eagerly', async () => {
    assert(conceptData?.task === 'segmentation' && conceptData.image_count > 0, `${CONCEPT} has val images in ${SPACE}`);
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
    const isImages = (url) => url.pathname.endsWith(`/api/concepts/${encodeURIComponent(CONCEPT)}/images`);
    const isProbe = (url) => url.pathname.includes('/api/probe/');
    const images = (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify({
        space: SPACE, concept: CONCEPT, served: true, image_count: 3, probe: { path: 'probe' },
        images: [1, 2, 3].map((row) => ({ row, path: `img${row}.jpg`, learned: 0.5, single: 0.4, image_url: `api/probe/image?row=${row}&t=1`, mask_url: `api/probe/mask?row=${row}&t=1` })),
      }),
    });
    let release;
    const released = new Promise((r) => { release = r; });
    const probe = async (route) => {
      await released;
      await route.fulfill({ status: 200, contentType: 'image/png', body: png });
    };
    await page.route(isImages, images);
    await page.route(isProbe, probe);
    try {
      await goto(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}&top=10`); // a new hash: the page reloads its data
      const boxes = page.locator('.card.images .thumb-box');
      await until(async () => (await boxes.count()) === 3, 'three thumbnails');
      const sizes = await boxes.evaluateAll((els) => els.map((e) => [e.getBoundingClientRect().width, e.getBoundingClientRect().height]));
      assert(sizes.every(([w, hh]) => hh > 50 && Math.abs(w - hh) < 2), `boxes before the images arrive: ${JSON.stringify(sizes)}`);
      assertEqual(await page.locator('#view img[loading=lazy]').count(), 0, 'lazy images');
    } finally {
      release();
      await page.unroute(isImages, images);
      await page.unroute(isProbe, probe);
    }
  });

  await check('B8: Back restores the scroll position of the concept page', async () => {
    await goto(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}&top=12`);
    await page.locator('table.top-filters tbody a').first().waitFor();
    await page.locator('.card.images .note, .card.images .thumb, .card.images .state.empty').first().waitFor();
    const target = await page.evaluate(() => Math.min(1200, document.documentElement.scrollHeight - window.innerHeight - 40));
    assert(target > 200, `the page is long enough to scroll (${target})`);
    await until(async () => Math.abs((await page.evaluate((y) => { window.scrollTo(0, y); return window.scrollY; }, target)) - target) < 2, 'scrolled');
    await page.waitForTimeout(150); // the scroll event
    const k = conceptData.top_filters[0].filter;
    await page.evaluate((hash) => { location.hash = hash; }, `#/filter/${k}?space=${encodeURIComponent(SPACE)}`);
    await until(async () => (await page.locator('#view h1').innerText()) === `Filter ${k}`, 'the filter page');
    assert((await page.evaluate(() => window.scrollY)) < 5, 'a new page starts at the top');
    await page.goBack();
    await until(async () => (await page.locator('#view h1').innerText()).includes(CONCEPT), 'back on the concept page');
    await until(async () => Math.abs((await page.evaluate(() => window.scrollY)) - target) < 3, `scrollY back to ${target}`, 10000);
  });

  await check('B13: examples: strict sums, absent terms named, did-you-mean for typos', async () => {
    const typo = `${CONCEPT.slice(0, -1)}${CONCEPT.slice(-1)}${CONCEPT.slice(-1)}`.replace(/^(.)(.)/, '$2$1'); // e.g. "odgg"
    const query = `${CONCEPT.slice(0, 1)}${CONCEPT.slice(0)}`; // "ddog": one extra letter
    await goto(`#/examples?space=${q(SPACE)}&queries=${q(`${query},${CONCEPT}`)}&sums=${q(`${POSITIVE.join(',')}/${NEGATIVE[0] || CONCEPT}xx`)}`);
    const note = page.locator('#view .note.missing').first();
    await note.waitFor();
    const item = note.locator(`.missing-item[data-missing="${query}"]`);
    assert(await item.count(), `the note lists ${query}: ${await note.innerText()}`);
    assert((await item.locator('a.suggestion').allInnerTexts()).includes(CONCEPT), `did you mean ${CONCEPT}`);
    const absent = await note.locator('.missing-item .absent-term').allInnerTexts();
    assertEqual(absent, [`${NEGATIVE[0] || CONCEPT}xx`], 'only the absent term of the sum named');
    void typo;
    const formError = page.locator('#view .form-error');
    for (const line of ['lime + + yellow-c -', `= ${CONCEPT}`, `${CONCEPT} -`]) {
      const before = await page.evaluate(() => location.hash);
      await page.locator('#view textarea[name=sums]').fill(line);
      await page.locator('#view textarea[name=sums]').press('Control+Enter');
      await until(async () => (await formError.isVisible()) && (await formError.innerText()).length > 0, `"${line}" refused`);
      assertEqual(await page.evaluate(() => location.hash), before, `no navigation for "${line}"`);
    }
  });

  await check('B2, B15: 390 and 1366 px: no horizontal overflow, scores visible, a compact header of one height', async () => {
    const layout = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const p = await layout.newPage();
    watch(p);
    // One space gets a long model layer name, so its badge is long (as for TF-slim layers).
    const long = spaces.find((s) => s.kind === 'network' && s.id !== SPACE);
    await p.route((url) => url.pathname.endsWith('/api/spaces'), async (route) => {
      const data = await (await route.fetch()).json();
      for (const s of data.spaces) if (s.id === long.id) s.model_layer = 'InceptionV3/InceptionV3/Mixed_5d/Branch_3/AvgPool_0a_3x3/very_long_layer_name';
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
    });
    try {
      const header = async () => p.evaluate(() => document.querySelector('.topbar').getBoundingClientRect().height);
      await p.goto(`${base}#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
      await p.locator('table.hits tbody tr').first().waitFor();
      const short = await header();
      await p.locator('#space-select').selectOption(long.id);
      await until(async () => (await p.locator('#space-info').innerText()).includes('very_long'), 'the long badge');
      assertEqual(await header(), short, `1366 px: header height with ${long.id}'s long badge`);
      const views = [
        [`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`, 'table.hits td.score .value'],
        [`#/analogy?space=${q(SPACE)}&${POSITIVE.map((n) => `positive=${q(n)}`).join('&')}&${NEGATIVE.map((n) => `negative=${q(n)}`).join('&')}`, 'table.hits td.score .value'],
        [`#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&pair=0,1`, '.pair-detail td.score .value'],
        [`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`, 'table.top-filters td.score .value'],
        [`#/filter/${conceptData.top_filters[0].filter}?space=${q(SPACE)}`, 'table.filter-concepts td.score .value'],
        [`#/filters?space=${q(SPACE)}`, 'table.most-selected td'],
        [`#/analyses?space=${q(SPACE)}`, 'table.learned-vs-single .share'],
        [`#/examples?space=${q(SPACE)}`, 'table.example-hits td.sim'],
        [`#/map?space=${q(SPACE)}`, 'svg.map-chart circle.map-point'],
      ];
      for (const width of [390, 1366]) {
        await p.setViewportSize({ width, height: 844 });
        for (const [hash, scores] of views) {
          await p.goto(`${base}${hash}`);
          await p.locator(scores).first().waitFor();
          await p.waitForTimeout(100);
          const r = await p.evaluate((sel) => {
            const W = window.innerWidth;
            const hidden = [...document.querySelectorAll(sel)].filter((e) => {
              const b = e.getBoundingClientRect();
              return b.width === 0 || b.left < 0 || b.right > W + 0.5;
            }).length;
            const top = document.querySelector('.topbar');
            return { scroll: document.documentElement.scrollWidth, W, hidden, header: top.getBoundingClientRect().height, sticky: getComputedStyle(top).position === 'sticky' };
          }, scores);
          assert(r.scroll <= r.W, `${width} px ${hash}: the page is ${r.scroll} px wide`);
          assertEqual(r.hidden, 0, `${width} px ${hash}: ${scores} off-screen`);
          if (width === 390) assert(r.header <= 110 && !r.sticky, `390 px: header ${r.header} px, sticky ${r.sticky}`);
        }
      }
    } finally {
      await layout.close();
    }
  });

  // ---- issue 19 items 1, 2, 4, 5, 7: explained, provenance, reliability, masks, exports ----------
  // Own context: downloads and the clipboard allowed, and a fresh page (the concept lists are
  // fetched once per page, and some checks change API answers before the page asks).
  {
    const ux = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    await ux.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    const p = await ux.newPage();
    p.setDefaultTimeout(10000);
    watch(p);
    // The same URL again reloads (goto would be a no-op fragment navigation).
    const open = async (hash) => {
      if (p.url() === `${base}${hash}`) await p.reload();
      else await p.goto(`${base}${hash}`);
    };

    /** RFC 4180 rows of a CSV text (quoted fields may hold commas, quotes and newlines). */
    const parseCsv = (text) => {
      const rows = [];
      let row = [];
      let cell = '';
      let quoted = false;
      for (let i = 0; i < text.length; i += 1) {
        const ch = text[i];
        if (quoted) {
          if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (ch === '"') quoted = false; else cell += ch;
        } else if (ch === '"') quoted = true;
        else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; } else cell += ch;
      }
      if (cell || row.length) rows.push([...row, cell]);
      const [head, ...body] = rows;
      return body.map((r) => Object.fromEntries(head.map((k, i) => [k, r[i]])));
    };
    const num = (s) => (s === '' ? null : Number(s));
    /** Clicks `button` and returns the downloaded file's name and text. */
    const downloadOf = async (button) => {
      // A second click if the first found a button a late re-render replaced (it then starts nothing).
      let file = null;
      for (let attempt = 0; attempt < 2 && !file; attempt += 1) {
        if (attempt) log(`# no download after a click on ${button} (${p.url()}): clicking again`);
        [file] = await Promise.all([p.waitForEvent('download', { timeout: 5000 }).catch(() => null), button.click()]);
      }
      if (!file) throw new Error(`no download from ${button} on ${p.url()}`);
      const where = await file.path();
      return { name: file.suggestedFilename(), text: fs.readFileSync(where, 'utf8'), bytes: fs.readFileSync(where) };
    };
    const exportButton = (scope, format) => p.locator(`${scope} .export-bar:not(.chart-export) button[data-format="${format}"]`).first();

    // A PNG (8-bit RGBA) from a function of (x, y) -> [r, g, b, a], for mocked probe images.
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const crc32 = (buf) => {
      let c = 0xffffffff;
      for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    const { deflateSync } = await import('node:zlib');
    const png = (w, hgt, pixel) => {
      const chunk = (type, data) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(data.length);
        const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
        const crc = Buffer.alloc(4);
        crc.writeUInt32BE(crc32(body));
        return Buffer.concat([len, body, crc]);
      };
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(w, 0);
      ihdr.writeUInt32BE(hgt, 4);
      ihdr[8] = 8; ihdr[9] = 6; // 8 bits, RGBA
      const raw = Buffer.alloc((w * 4 + 1) * hgt);
      for (let y = 0; y < hgt; y += 1) {
        for (let x = 0; x < w; x += 1) raw.set(pixel(x, y), y * (w * 4 + 1) + 1 + x * 4);
      }
      return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
    };
    // The ground truth of every mocked image: a square from (4, 4) to (11, 11) of 16 x 16.
    const inSquare = (x, y) => x >= 4 && x <= 11 && y >= 4 && y <= 11;
    const truthPng = png(16, 16, (x, y) => (inSquare(x, y) ? [255, 69, 0, 153] : [0, 0, 0, 0]));
    const photoPng = png(16, 16, () => [200, 200, 200, 255]);

    const concepts = (await apiGet(`spaces/${q(SPACE)}/concepts`)).concepts;
    const conceptAnswer = await apiGet(`concepts/${q(CONCEPT)}?space=${q(SPACE)}&top=10`);

    await check('item 1: About explains spaces, .seg/.cls/reference, every metric (CKA cited), links the paper; Escape closes it', async () => {
      await open(`#/neighbors?space=${q(SPACE)}`);
      await p.locator('#view .state.empty .chip').first().waitFor();
      const button = p.locator('#help-button');
      await button.focus();
      await p.keyboard.press('Enter');
      const dialog = p.locator('dialog.help[open]');
      await dialog.waitFor();
      const text = await dialog.innerText();
      for (const word of ['.seg', '.cls', 'Reference spaces', 'set IoU', 'balanced accuracy', 'α', 'D_ij', 'D_ijc', 'CKA', 'Kornblith', '3CosMul', 'Levy']) {
        assert(text.includes(word), `the help panel explains ${word}`);
      }
      assert(await dialog.locator('a[href*="arxiv.org/abs/1801.03454"]').count() === 1, 'links the paper');
      assert(text.includes('docs/METHOD.md') && text.includes('docs/QUERIES.md'), 'names the docs');
      assert(text.includes('net2vec report'), 'names net2vec report');
      await p.keyboard.press('Escape');
      await until(async () => !(await p.locator('dialog.help[open]').count()), 'Escape closes the panel');
      assertEqual(await p.evaluate(() => document.activeElement?.id), 'help-button', 'focus back on About');
    });

    await check('item 1: each metric has its definition where it is shown (ⓘ by keyboard, Escape returns focus)', async () => {
      const where = [
        [`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`, ['cosine']],
        [`#/analogy?space=${q(SPACE)}&${POSITIVE.map((n) => `positive=${q(n)}`).join('&')}`, ['3cosadd', '3cosmul']],
        [`#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&pair=0,1`, ['d_ij', 'cka', 'd_ijc']],
        [`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`, [spaceInfo.task === 'segmentation' ? 'set_iou' : 'balanced_accuracy', 'alpha', 'best_single', 'single_over_learned', 'filters_for']],
      ];
      for (const [hash, terms] of where) {
        await open(hash);
        for (const t of terms) await p.locator(`#view button.info[data-term="${t}"]`).first().waitFor();
      }
      // On the concept page (the last one): open the score metric's definition from the keyboard.
      const metricKey = spaceInfo.task === 'segmentation' ? 'set_iou' : 'balanced_accuracy';
      const button = p.locator(`#view button.info[data-term="${metricKey}"]`).first();
      await button.focus();
      await p.keyboard.press('Enter');
      const pop = p.locator('.info-pop');
      await pop.waitFor();
      assertEqual(await button.getAttribute('aria-expanded'), 'true', 'aria-expanded while open');
      assert((await pop.innerText()).includes(metricKey === 'set_iou' ? 'Σ|M∩L| / Σ|M∪L|' : 'true-negative'), `the ${metricKey} definition: ${await pop.innerText()}`);
      const box = await pop.boundingBox();
      assert(box.x >= 0 && box.x + box.width <= 1366, 'the definition stays on screen');
      await p.keyboard.press('Escape');
      await until(async () => !(await pop.count()), 'Escape closes the definition');
      assert(await button.evaluate((b) => b === document.activeElement), 'focus back on the ⓘ button');
    });

    await check('item 2: provenance of a network space (its run) and of a reference space (its source)', async () => {
      const run = spaceInfo.run;
      assert(run && run.probe_set, `/api/spaces gives ${SPACE}'s run: ${JSON.stringify(run)}`);
      await open(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      const details = p.locator('#view details.provenance');
      await details.locator('summary').click();
      const text = await details.innerText();
      const want = [run.probe_set, `τ (threshold quantile)`, String(run.tau), String(run.seed), run.software_version, run.started_at];
      if (Array.isArray(run.input_size)) want.push(`${run.input_size[0]} × ${run.input_size[1]} px`);
      if (run.epochs !== null) want.push(String(run.epochs));
      if (run.lr !== null) want.push(String(run.lr));
      for (const w of want) assert(text.includes(w), `the run card shows ${w}: ${text}`);
      const reference = spaces.find((s) => s.kind === 'reference' && s.source);
      if (reference) {
        await open(`#/neighbors?space=${q(reference.id)}`);
        const ref = p.locator('#view details.provenance');
        await ref.locator('summary').click();
        assert((await ref.innerText()).includes(reference.source), `${reference.id}'s source is shown`);
      }
    });

    await check('item 4: neighbours show the query\'s own score, bars on the absolute cosine scale, and flag weak concepts', async () => {
      const own = concepts.find((c) => c.name === CONCEPT);
      await open(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
      const line = p.locator('#view .query-score');
      await line.waitFor();
      assert((await line.innerText()).includes(fmt(own.score_val, 3)), `the query's val score ${fmt(own.score_val, 3)}: ${await line.innerText()}`);
      assertEqual(await line.locator('.below-single').count(), own.score_val < own.best_filter_val ? 1 : 0, 'flag as the scores say');
      // A bar's length is its cosine of the track (0 to 1), not its share of the top hit's.
      const bars = await p.locator('table.hits tbody svg.inline-bar').evaluateAll((els) => els.map((s) => {
        const track = s.querySelector('rect.track').getAttribute('width');
        const fill = s.querySelector('rect.fill');
        return [Number(fill.getAttribute('width')), Number(track), Number(fill.getAttribute('x'))];
      }));
      const hits = (await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`)).hits;
      const negative = hits.some((x) => x.score < 0);
      hits.forEach((x, i) => {
        const [w, track] = bars[i];
        const expected = (Math.abs(x.score) / (negative ? 2 : 1)) * track;
        assert(Math.abs(w - expected) < 0.5, `${x.name}: bar ${w.toFixed(1)} px for cosine ${x.score} on a ${track} px track`);
      });
      // The same concept made to lose to its best single filter is flagged, here and in the start list.
      const weak = async (route) => {
        const data = await (await route.fetch()).json();
        for (const c of data.concepts) if (c.name === CONCEPT) c.best_filter_val = (c.score_val ?? 0) + 0.1;
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
      };
      const isConcepts = (url) => url.pathname.endsWith(`/api/spaces/${encodeURIComponent(SPACE)}/concepts`);
      await p.route(isConcepts, weak);
      try {
        await p.reload();
        await p.locator('#view .query-score .flag.below-single').waitFor();
      } finally {
        await p.unroute(isConcepts, weak);
      }
    });

    await check('issue 21: neighbours (own score line, start chips) and the filter page show every val score\'s interval and p; 390 px fits', async () => {
      // As the page writes them (web/js/views/common.js valStatsText), from the API's keys.
      const stats = (row, prefix) => {
        const iv = row[`${prefix}_interval`];
        if (!Array.isArray(iv)) return null;
        const pv = row[`${prefix}_p`];
        return `[${fmt(iv[0], 3)}, ${fmt(iv[1], 3)}], p = ${pv < 0.0005 ? pv.toExponential(1) : fmt(pv, 3)}`;
      };
      // A fresh page load (the concept list is fetched once per page). Each load and navigation
      // asks for the favicon; reloading before it arrives would fail that request, so every
      // reload waits for the favicons in flight, before and after.
      const isFavicon = (r) => new URL(r.url()).pathname.endsWith('/favicon.svg');
      let favicons = 0;
      const asked = (r) => { if (isFavicon(r)) favicons += 1; };
      const done = (r) => { if (isFavicon(r)) favicons -= 1; };
      p.on('request', asked);
      p.on('requestfinished', done);
      p.on('requestfailed', done);
      const settled = () => until(async () => { await p.waitForTimeout(150); return favicons <= 0; }, 'favicon requests settled');
      const fresh = async (hash) => {
        await settled();
        if (p.url() !== `${base}${hash}`) {
          await p.goto(`${base}${hash}`);
          await settled();
        }
        await p.reload();
        await settled();
      };
      try {
        const own = concepts.find((c) => c.name === CONCEPT);
        assert(stats(own, 'score_val') && stats(own, 'best_filter_val'), `${CONCEPT} has intervals in the test catalog`);
        await fresh(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
        const line = p.locator('#view .query-score');
        await line.waitFor();
        const text = await line.innerText();
        for (const prefix of ['score_val', 'best_filter_val']) assert(text.includes(stats(own, prefix)), `the own score line has ${prefix}'s ${stats(own, prefix)}: ${text}`);
        await line.locator('button.info[data-term="val_interval"]').waitFor();

        // The start chips: each one's accessible name and title carry its interval and p.
        await open(`#/neighbors?space=${q(SPACE)}`);
        await p.locator('#view .chips a.chip').first().waitFor();
        const chips = await p.locator('#view .chips a.chip').evaluateAll((els) => els.map((a) => [a.firstChild.textContent, a.getAttribute('aria-label'), a.title]));
        let withStats = 0;
        for (const [name, label, title] of chips) {
          const c = concepts.find((x) => x.name === name);
          const want = stats(c, 'score_val') ?? 'not computed';
          assert(label?.includes(name) && label.includes(want) && title === label, `chip ${name}: aria-label "${label}", title "${title}", want ${want}`);
          withStats += want !== 'not computed';
        }
        assert(withStats >= 3, `${withStats} of ${chips.length} chips with an interval`);

        // The filter page: every best_for row's val cell carries its interval and p as the API answers.
        const k = own.best_filter;
        const filter = await apiGet(`filters?space=${q(SPACE)}&filter=${k}&top=10`);
        await open(`#/filter/${k}?space=${q(SPACE)}`);
        const table = p.locator('#view table.filter-concepts').first();
        await table.locator('tbody tr').first().waitFor();
        await table.locator('thead button.info[data-term="val_interval"]').waitFor();
        const cells = (await table.locator('tbody tr td.val-stats').allInnerTexts()).map((t) => t.replace(/\u00a0/g, ' '));
        assertEqual(cells.length, filter.best_for.length, 'best_for rows with a val cell');
        filter.best_for.forEach((r, i) => {
          const want = stats(r, 'best_filter_val') ?? 'not computed';
          assert(cells[i].includes(fmt(r.best_filter_val, 3)) && cells[i].includes(want), `${r.name}: "${cells[i]}", want ${want}`);
        });

        // A catalog without intervals (before schema version 7): the own line says so.
        const bare = async (route) => {
          const data = await (await route.fetch()).json();
          for (const c of data.concepts) for (const key of ['score_val_interval', 'score_val_p', 'best_filter_val_interval', 'best_filter_val_p']) c[key] = null;
          await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
        };
        const isConcepts = (url) => url.pathname.endsWith(`/api/spaces/${encodeURIComponent(SPACE)}/concepts`);
        await p.route(isConcepts, bare);
        try {
          await fresh(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`);
          await until(async () => (await p.locator('#view .query-score').innerText()).includes('interval not computed'), 'the own line without intervals');
      } finally {
        await p.unroute(isConcepts, bare);
      }

      // 390 px: neither view overflows, and the intervals stay on screen.
      await p.setViewportSize({ width: 390, height: 844 });
      try {
        for (const [hash, sel] of [[`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`, '#view .query-score .val-stats'],
          [`#/filter/${k}?space=${q(SPACE)}`, '#view td.val-stats .stats-line']]) {
          await fresh(hash);
          await p.locator(sel).first().waitFor();
          const r = await p.evaluate((s) => ({
            scroll: document.documentElement.scrollWidth, W: window.innerWidth,
            off: [...document.querySelectorAll(s)].filter((e) => { const b = e.getBoundingClientRect(); return b.width === 0 || b.left < 0 || b.right > window.innerWidth + 0.5; }).length,
          }), sel);
          assert(r.scroll <= r.W, `390 px ${hash}: the page is ${r.scroll} px wide`);
          assertEqual(r.off, 0, `390 px ${hash}: intervals off-screen`);
        }
      } finally {
        await p.setViewportSize({ width: 1366, height: 900 });
      }
      await settled();  // before the next check navigates
      } finally {
        p.off('request', asked);
        p.off('requestfinished', done);
        p.off('requestfailed', done);
      }
    });

    await check('item 4: the concept page flags learned weights below the best single filter; the empty F sweep names the ingest option', async () => {
      await open(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      await p.locator('#view table.scores').waitFor();
      const real = conceptAnswer.learned.val < conceptAnswer.best_single.val ? 1 : 0;
      assertEqual(await p.locator('#view .flag-note.below-single').count(), real, 'the flag follows the real scores');
      const isConcept = (url) => url.pathname.endsWith(`/api/concepts/${encodeURIComponent(CONCEPT)}`);
      const isSpaces = (url) => url.pathname.endsWith('/api/spaces');
      const weak = (route) => route.fulfill({
        status: 200, contentType: 'application/json',
        body: JSON.stringify({ ...conceptAnswer, best_single: { train: 0.9, val: conceptAnswer.learned.val + 0.1 }, subsets: [] }),
      });
      const sweepOff = async (route) => {
        const data = await (await route.fetch()).json();
        for (const s of data.spaces) if (s.id === SPACE && s.run) s.run.subsets = [];
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
      };
      await p.route(isConcept, weak);
      await p.route(isSpaces, sweepOff);
      try {
        await p.reload();
        await p.locator('#view .flag-note.below-single').waitFor();
        const off = p.locator('#view .sweep-off');
        await off.waitFor();
        const option = spaceInfo.task === 'classification' ? '--cls-subsets ""' : '--seg-subsets ""';
        assert((await off.innerText()).includes(option) && (await off.innerText()).includes('whole space'), `the F-sweep note: ${await off.innerText()}`);
      } finally {
        await p.unroute(isConcept, weak);
        await p.unroute(isSpaces, sweepOff);
      }
    });

    await check('item 5: masks in Okabe-Ito colours (ground truth outlined), a decile ground-truth toggle, a larger view, worst first with paging', async () => {
      assert(conceptAnswer.task === 'segmentation' && conceptAnswer.image_count > 12, `${CONCEPT} has more than one page of val images`);
      // The real images answers (any order, offset), as a server given the probe folder would
      // give them; the photos and ground truths are small PNGs whose pixels are known.
      const isImages = (url) => url.pathname.endsWith(`/api/concepts/${encodeURIComponent(CONCEPT)}/images`);
      const served = async (route) => {
        const data = await (await route.fetch()).json();
        data.served = true;
        for (const im of data.images) {
          im.image_url = `api/probe/image?space=${q(SPACE)}&row=${im.row}`;
          im.mask_url = `api/probe/mask?space=${q(SPACE)}&row=${im.row}&concept=${q(CONCEPT)}`;
        }
        await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(data) });
      };
      const isPicture = (url) => url.pathname.endsWith('/api/probe/image') || url.pathname.endsWith('/api/probe/mask');
      const picture = (route) => route.fulfill({ status: 200, contentType: 'image/png', body: new URL(route.request().url()).pathname.endsWith('/mask') ? truthPng : photoPng });
      await p.route(isImages, served);
      await p.route(isPicture, picture);
      try {
        await open(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
        const card = p.locator('#view .card.images');
        await until(async () => (await card.locator('figure.thumb').count()) === 12, 'a page of 12 thumbnails');
        assert((await card.locator('.page-status').innerText()).includes(`1–12 of ${conceptAnswer.image_count}`), 'the total count');
        // The outline: the square's edge in Okabe-Ito yellow, its inside clear, a dark rim outside.
        const pixels = await until(() => card.locator('canvas.mask-truth').first().evaluate((c) => {
          if (c.width !== 16) return null;
          const d = c.getContext('2d').getImageData(0, 0, 16, 16).data;
          const at = (x, y) => [...d.slice(4 * (y * 16 + x), 4 * (y * 16 + x) + 4)];
          return { edge: at(4, 7), inside: at(7, 7), outside: at(3, 7) };
        }), 'the ground-truth outline drawn');
        assertEqual(pixels.edge, [240, 228, 66, 255], 'outline pixel');
        assertEqual(pixels.inside[3], 0, 'inside the outline is clear');
        assertEqual(pixels.outside.slice(0, 3), [0, 0, 0], 'dark rim outside');
        await card.locator('.mask-legend [data-kind="truth"]').waitFor();
        // Worst first, and the next page, as the API orders and pages them.
        await card.locator('input[type=radio][value=worst]').check();
        const worst = await apiGet(`concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&limit=12&order=worst`);
        await until(async () => JSON.stringify(await card.locator('figure.thumb').evaluateAll((els) => els.map((e) => Number(e.dataset.row))))
          === JSON.stringify(worst.images.map((im) => im.row)), 'the worst images first');
        assert((await card.locator('h2').innerText()).includes('worst first'), 'the heading says worst first');
        await card.locator('button.page-next').click();
        const second = await apiGet(`concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&limit=12&order=worst&offset=12`);
        await until(async () => JSON.stringify(await card.locator('figure.thumb').evaluateAll((els) => els.map((e) => Number(e.dataset.row))))
          === JSON.stringify(second.images.map((im) => im.row)), 'the second page');
        assert((await card.locator('.page-status').innerText()).includes(`13–${12 + second.images.length} of ${conceptAnswer.image_count}`), 'second page status');
        assert(await card.locator('button.page-next').isDisabled(), 'no page after the last');
        // The API's own order: worst first is the learned IoU ascending, undefined last.
        const all = await apiGet(`concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&limit=500`);
        const key = (im) => (Number.isFinite(im.learned) ? im.learned : 2);
        const sorted = all.images.slice().sort((a, b) => key(a) - key(b)).map((im) => key(im));
        assertEqual(worst.images.map(key), sorted.slice(0, 12), 'worst first = ascending IoU');
        // The larger view: opened from the keyboard, Escape closes it and focus returns.
        const enlarge = card.locator('button.enlarge').first();
        await enlarge.focus();
        await p.keyboard.press('Enter');
        const viewer = p.locator('dialog.image-viewer[open]');
        await viewer.waitFor();
        await viewer.locator('img.viewer-photo').waitFor();
        const size = await viewer.locator('.viewer-stage').evaluate((e) => e.getBoundingClientRect().width);
        assert(size > 300, `the larger view is ${size} px wide`);
        await p.keyboard.press('Escape');
        await until(async () => !(await p.locator('dialog.image-viewer[open]').count()), 'Escape closes the larger view');
        assert(await enlarge.evaluate((b) => b === document.activeElement), 'focus back on the thumbnail');
        // Deciles: the learned prediction filled in Okabe-Ito blue, the ground truth switchable.
        const deciles = p.locator('#view .card.deciles');
        if (conceptAnswer.image_iou.deciles.learned.some((e) => e.predicted)) {
          const fill = await until(() => deciles.locator('canvas.mask-learned').first().evaluate((c) => {
            if (!c.width) return null;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) return [...d.slice(i, i + 4)];
            return null;
          }), 'a learned-weights mask drawn');
          // (the canvas stores premultiplied alpha: a channel may come back one off)
          assert([0, 114, 178, 153].every((v, i) => Math.abs(fill[i] - v) <= 2), `learned weights in Okabe-Ito blue: ${fill}`);
          const truth = deciles.locator('canvas.mask-truth').first();
          assert(await truth.isVisible(), 'ground truth shown on the deciles');
          await deciles.locator('input[name=decile-truth]').uncheck();
          await until(async () => !(await truth.isVisible()), 'the toggle hides the ground truth');
          assert(await deciles.locator('canvas.mask-learned').first().isVisible(), 'the prediction stays');
          assertEqual((await deciles.locator('.mask-legend .legend-item').evaluateAll((els) => els.map((e) => e.dataset.kind))), ['learned', 'truth'], 'the deciles legend');
        }
      } finally {
        await p.unroute(isImages, served);
        await p.unroute(isPicture, picture);
      }
    });

    await check('item 7: CSV and JSON downloads equal the API (neighbours, analogy, compare, D_ijc, concept, analyses, examples)', async () => {
      // Neighbours.
      const nb = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`);
      await open(`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`);
      await p.locator('table.hits tbody tr').first().waitFor();
      let csv = parseCsv((await downloadOf(exportButton('#view .results-head', 'csv'))).text);
      assertEqual(csv.map((r) => [num(r.rank), r.concept, r.category, num(r.cosine)]), nb.hits.map((x) => [x.rank, x.name, x.category, x.score]), 'neighbours CSV');
      const nbJson = JSON.parse((await downloadOf(exportButton('#view .results-head', 'json'))).text);
      assertEqual(nbJson, nb, 'neighbours JSON = the API answer');
      // Analogy (3CosMul).
      const an = await apiPost('analogy', { space: SPACE, positive: POSITIVE, negative: NEGATIVE, k: 10, method: 'mul' });
      await open(`#/analogy?space=${q(SPACE)}&${POSITIVE.map((n) => `positive=${q(n)}`).join('&')}&${NEGATIVE.map((n) => `negative=${q(n)}`).join('&')}&method=mul`);
      await p.locator('table.hits tbody tr').first().waitFor();
      csv = parseCsv((await downloadOf(exportButton('#view .results-head', 'csv'))).text);
      assertEqual(csv.map((r) => [r.concept, num(r['3cosmul'])]), an.hits.map((x) => [x.name, x.score]), 'analogy CSV');
      // Compare: the matrices and one pair's D_ijc.
      const cmp = await apiGet(`compare?spaces=${COMPARE.join(',')}&per_concept=10`);
      await open(`#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&per_concept=10&pair=0,1`);
      await p.locator('.pair-detail').waitFor();
      csv = parseCsv((await downloadOf(exportButton('#view .results-head', 'csv'))).text);
      const ids = cmp.spaces.map((s) => s.id);
      assertEqual(csv.length, ids.length * ids.length, 'one row per ordered pair');
      for (const r of csv) {
        const i = ids.indexOf(r.space_a);
        const j = ids.indexOf(r.space_b);
        assertEqual([num(r.d_ij), num(r.cka)], [cmp.distance[i][j], cmp.cka[i][j]], `D_ij and CKA of ${r.space_a}, ${r.space_b}`);
      }
      assertEqual(JSON.parse((await downloadOf(exportButton('#view .results-head', 'json'))).text), cmp, 'compare JSON = the API answer');
      const pair = cmp.pairs.find((x) => x.i === 0 && x.j === 1);
      csv = parseCsv((await downloadOf(exportButton('#view .pair-detail', 'csv'))).text);
      assertEqual(csv.map((r) => [r.concept, num(r.d_ijc)]), pair.per_concept.map((c) => [c.name, c.d]), 'D_ijc CSV');
      // Concept: scores and the weight vector.
      await open(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}&top=10`);
      await p.locator('#view table.scores').waitFor();
      csv = parseCsv((await downloadOf(p.locator('#view .card:has(table.scores) .export-bar button[data-format="csv"]'))).text);
      assertEqual(csv.map((r) => [num(r.train), num(r.val)]),
        [[conceptAnswer.learned.train, conceptAnswer.learned.val], [conceptAnswer.best_single.train, conceptAnswer.best_single.val]], 'scores CSV');
      const weights = await downloadOf(p.locator('#view .export-bar[data-export$="-weights"] button[data-format="csv"]'));
      csv = parseCsv(weights.text);
      assertEqual(csv.map((r) => num(r.weight)), conceptAnswer.weights, 'weights CSV = the API\'s weights');
      if (conceptAnswer.filter_iou_val) assertEqual(csv.map((r) => num(r[`single_filter_val_${conceptAnswer.metric}`])), conceptAnswer.filter_iou_val, 'single-filter scores');
      assert(weights.name.endsWith('.csv') && weights.name.includes(CONCEPT), `file name ${weights.name}`);
      // Analyses: Table 1, Figure 9's correlations and the whole answer.
      const ana = await apiGet(`analyses?space=${q(SPACE)}`);
      await open(`#/analyses?space=${q(SPACE)}`);
      await p.locator('table.learned-vs-single').waitFor();
      csv = parseCsv((await downloadOf(p.locator('#view .export-bar[data-export$="-table1"] button[data-format="csv"]'))).text);
      assertEqual(csv.map((r) => [r.category, num(r.concept_count), num(r.learned_at_least_single), num(r.share)]),
        ana.learned_vs_single.map((r) => [r.category ?? 'all', r.concept_count, r.learned_at_least_single, r.share]), 'Table 1 CSV');
      assertEqual(JSON.parse((await downloadOf(p.locator(`#view .export-bar[data-export="analyses-${SPACE}"] button[data-format="json"]`))).text), ana, 'analyses JSON = the API answer');
      assert((await p.locator('#view .report-note').innerText()).includes('net2vec report'), 'the page points to net2vec report');
      // Examples: every hit of both tables.
      const ex = await apiGet(`examples?space=${q(SPACE)}&k=5`);
      await open(`#/examples?space=${q(SPACE)}`);
      await p.locator('table.example-hits').first().waitFor();
      csv = parseCsv((await downloadOf(exportButton('#view .results-head', 'csv'))).text);
      const mine = csv.filter((r) => r.space === SPACE);
      assertEqual(mine.map((r) => [r.example, r.concept, num(r.cosine)]),
        [...ex.nearest.flatMap((e) => e.hits.map((x) => [e.query, x.name, x.score])),
          ...ex.arithmetic.flatMap((e) => e.hits.map((x) => [[e.positive.join(' + '), ...e.negative.map((n) => `- ${n}`)].filter(Boolean).join(' '), x.name, x.score]))], 'examples CSV');
    });

    await check('item 7: every chart downloads as SVG (styled, standalone) and PNG; "Copy link" copies the URL', async () => {
      await open(`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      await p.locator('#view .card.wide svg.chart').first().waitFor();
      await p.waitForTimeout(200);
      const charts = await p.locator('#view svg.chart').count();
      assert(charts >= 3, `charts on the concept page: ${charts}`);
      assertEqual(await p.locator('#view .chart-export').count(), charts, 'one SVG/PNG bar per chart');
      const chart = p.locator('#view .card.wide svg.chart').first();
      const bars = await chart.locator('rect').count();
      const svgFile = await downloadOf(p.locator('#view .card.wide .chart-export button[data-format="svg"]').first());
      assert(svgFile.name.endsWith('.svg'), `SVG file name ${svgFile.name}`);
      assert(svgFile.text.includes('xmlns="http://www.w3.org/2000/svg"') && svgFile.text.includes('fill:'), 'a standalone, styled SVG');
      assertEqual((svgFile.text.match(/<rect[\s>]/g) || []).length, bars + 1, 'every mark and a background');
      const pngFile = await downloadOf(p.locator('#view .card.wide .chart-export button[data-format="png"]').first());
      assertEqual([...pngFile.bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG', 'a PNG file');
      const [, , vw, vh] = (await chart.getAttribute('viewBox')).split(/\s+/).map(Number);
      assertEqual([pngFile.bytes.readUInt32BE(16), pngFile.bytes.readUInt32BE(20)], [vw * 2, vh * 2], 'PNG size: twice the chart');
      // Copy link: the view's URL on the clipboard.
      await p.locator('#view .copy-link').click();
      await until(async () => (await p.locator('#view .copy-status').innerText()).includes('copied'), 'says copied');
      assertEqual(await p.evaluate(() => navigator.clipboard.readText()), p.url(), 'the clipboard holds the URL');
      for (const hash of [`#/neighbors?space=${q(SPACE)}`, `#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}`, `#/analyses?space=${q(SPACE)}`]) {
        await open(hash);
        await p.locator('#view .copy-link').waitFor();
      }
    });

    await check('issue 19 screenshots at 390 and 1366 px (to docs/screenshots with NET2VEC_DOC_SHOTS; B2 checks their layout)', async () => {
      const views = [
        ['neighbors', `#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`, 'table.hits tbody tr'],
        ['concept', `#/concept/${q(CONCEPT)}?space=${q(SPACE)}`, '#view table.scores'],
        ['analyses', `#/analyses?space=${q(SPACE)}`, 'table.learned-vs-single'],
      ];
      const out = env.NET2VEC_DOC_SHOTS || SHOTS;
      for (const width of [390, 1366]) {
        await p.setViewportSize({ width, height: 844 });
        for (const [name, hash, ready] of views) {
          await open(hash);
          await p.locator(ready).first().waitFor();
          await p.waitForTimeout(150);
          await p.screenshot({ path: path.join(out, `${name}-${width}.png`), fullPage: width === 390 });
        }
        await open(`#/neighbors?space=${q(SPACE)}`);
        await p.locator('#help-button').click();
        await p.locator('dialog.help[open]').waitFor();
        await p.screenshot({ path: path.join(out, `about-${width}.png`) });
        await p.keyboard.press('Escape');
      }
    });

    await ux.close();
  }

  // ---- issue 20: the probe browser, on a server of its own that serves the probe folder -------------
  await check('issue 20: probe browser: linked from the concept page, train and val apart, pages as the API, a mask over each image, the concept list, did-you-mean', async () => {
    const probeDir = env.NET2VEC_TEST_PROBE_SET;
    if (!probeDir) {
      log('# (skipped: NET2VEC_TEST_PROBE_SET not set)');
      return;
    }
    const { child, base: probeBase } = spawnServer(CATALOG, ['--probe', probeDir], 'probe server');
    const ctxP = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    try {
      const baseP = await probeBase;
      const p = await ctxP.newPage();
      p.setDefaultTimeout(10000);
      // The one deliberate error: the misspelt concept below.
      const typoUrl = (url) => new URL(url).pathname.endsWith(`/api/probe/concepts/${q(TYPO)}/images`);
      const problemsP = [];
      p.on('console', (msg) => {
        if (!['error', 'warning'].includes(msg.type())) return;
        if (msg.text().includes('status of 404') && typoUrl(msg.location()?.url || baseP)) return;
        problemsP.push(`console ${msg.type()}: ${msg.text()}`);
      });
      p.on('pageerror', (error) => problemsP.push(`page error: ${error.message}`));
      p.on('response', (r) => r.status() >= 400 && !typoUrl(r.url()) && problemsP.push(`HTTP ${r.status()}: ${r.url()}`));
      const apiP = async (route) => (await fetch(new URL(`api/${route}`, baseP))).json();
      const section = (split) => p.locator(`section.probe-split[data-split="${split}"]`);
      const rowsOf = (split) => section(split).locator('figure.thumb').evaluateAll((els) => els.map((e) => Number(e.dataset.row)));
      const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

      // From the concept page's link.
      await p.goto(`${baseP}#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      await p.locator('a.probe-link').click();
      await until(async () => (await p.evaluate(() => location.hash)).startsWith(`#/probe/${q(CONCEPT)}?`), 'the link opens the probe view');
      const imagesOf = (split, offset) => apiP(`probe/concepts/${q(CONCEPT)}/images?space=${q(SPACE)}&split=${split}&offset=${offset}&limit=12`);
      const [train, val] = [await imagesOf('train', 0), await imagesOf('val', 0)];
      assert(train.total > 12, `more than a page of train images of ${CONCEPT} (${train.total})`);
      for (const [split, want] of [['train', train], ['val', val]]) {
        await until(async () => same(await rowsOf(split), want.images.map((im) => im.row)), `${split} images as the API`);
        assert((await section(split).locator('h2').innerText()).includes(`(${want.total})`), `${split} heading counts ${want.total}`);
      }
      assert(!(await rowsOf('train')).some((r) => val.images.some((im) => im.row === r)), 'train and val apart');
      // A mask over an image: the photo loaded, its mask drawn (opaque pixels on the canvas).
      const first = section('train').locator('figure.thumb').first();
      await until(() => first.locator('img.photo').evaluate((img) => img.complete && img.naturalWidth > 0), 'the first photo loads');
      await until(() => first.locator('canvas.mask-canvas').evaluate((c) => {
        if (!c.width) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
        return false;
      }), 'a mask drawn over the first train image');
  // ---- issue 19 items 3, 8, 9, 10 and B4: compare at scale, map, keyboard and axe, speed -------
  // Own context (a fresh page: the space list is fetched once per page), and for 50 spaces a
  // second server on NET2VEC_CATALOG50 (make-service-catalog FILE 50; ctest writes it).
  {
    const ctx3 = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const p = await ctx3.newPage();
    p.setDefaultTimeout(10000);
    watch(p);
    const open = async (url) => {
      if (p.url() === url) await p.reload();
      else await p.goto(url);
    };
    const params = async () => new URLSearchParams((await p.evaluate(() => location.hash)).split('?')[1] || '');
    const noOverflow = async (what) => {
      const px = await pagePixels(p);
      assert(px.scroll <= px.width, `${what}: page ${px.scroll} px wide at ${px.width} px`);
    };

    await check('item 10: every module has a modulepreload hint, and /api/spaces starts before the modules have loaded', async () => {
      // Modules answered 300 ms late: the list must be asked for while they are pending (the
      // order of events, not a time, so a busy machine cannot fail it).
      const events = [];
      const slowModule = async (route) => {
        await new Promise((r) => setTimeout(r, 300));
        await route.continue();
      };
      const isModule = (url) => /\/js\/.*\.js$/.test(url.pathname);
      const onRequest = (r) => new URL(r.url()).pathname.endsWith('/api/spaces') && events.push('spaces requested');
      const onFinished = (r) => isModule(new URL(r.url())) && events.push('module loaded');
      await p.route(isModule, slowModule);
      p.on('request', onRequest);
      p.on('requestfinished', onFinished);
      try {
        await open(`${base}#/neighbors?space=${q(SPACE)}`);
        await p.locator('#view .state.empty .chip').first().waitFor();
      } finally {
        p.off('request', onRequest);
        p.off('requestfinished', onFinished);
        await p.unroute(isModule, slowModule);
      }
      assertEqual(events[0], 'spaces requested', `first event (${events.slice(0, 3).join(', ')})`);
      const timing = await p.evaluate(() => {
        const entries = performance.getEntriesByType('resource');
        const hints = [...document.querySelectorAll('link[rel=modulepreload]')].map((l) => new URL(l.href).pathname);
        const modules = entries.filter((e) => /\/js\/.*\.js$/.test(new URL(e.name).pathname));
        const spaces = entries.filter((e) => new URL(e.name).pathname.endsWith('/api/spaces'));
        return {
          hints,
          modules: modules.map((e) => new URL(e.name).pathname),
          lastModuleEnd: Math.max(...modules.map((e) => e.responseEnd)),
          spaces: spaces.map((e) => e.startTime),
        };
      });
      const missing = timing.modules.filter((m) => !timing.hints.includes(m));
      assert(missing.length === 0, `modules without a preload hint (run tools/web_preload.py): ${missing.join(', ')}`);
      assert(timing.modules.length >= 10, `${timing.modules.length} modules loaded`);
      assertEqual(timing.spaces.length, 1, '/api/spaces requests');
    });

    await check('compare with spaces=all ticks every box (B4\'s left-out concepts: the 50-space check below)', async () => {
      // The main catalog's spaces share every name; the 50-space catalog leaves some out.
      const data = await apiGet(`compare?spaces=${COMPARE.map(q).join(',')}&per_concept=0`);
      await open(`${base}#/compare?space=${q(SPACE)}&spaces=all&per_concept=3`);
      await p.locator('.heatmaps svg.chart').first().waitFor();
      const boxes = await p.locator('#view input[type=checkbox]').evaluateAll((els) => els.map((e) => e.checked));
      assert(boxes.length === spaces.length && boxes.every(Boolean), `spaces=all: ${boxes.filter(Boolean).length} of ${boxes.length} boxes ticked`);
      assertEqual(data.excluded, [], 'the main catalog leaves nothing out');
    });

    await check('item 3: D_ij per concept pair beside the raw sum (a toggle; the pair shows both)', async () => {
      const data = await apiGet(`compare?spaces=${COMPARE.map(q).join(',')}&per_concept=3`);
      await open(`${base}#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&per_concept=3&pair=0,1`);
      await p.locator('.pair-detail').waitFor();
      const cell = p.locator('.heatmaps svg.chart').nth(0).locator('g.cell[data-i="0"][data-j="1"] text');
      assertEqual(await cell.textContent(), fmt(data.distance[0][1], 2), 'raw D_ij by default');
      const C = data.concept_count;
      const pair = data.pairs.find((x) => x.i === 0 && x.j === 1);
      assert(Math.abs(pair.distance_per_pair - pair.distance / (C * (C - 1))) < 1e-12, 'API: distance_per_pair = D_ij / (C (C-1))');
      assert((await p.locator('.pair-detail .per-pair').innerText()).includes(fmt(pair.distance_per_pair, 5)), 'the pair shows D_ij per pair');
      await p.locator('.dij-switch button', { hasText: 'per concept pair' }).click();
      await until(async () => (await params()).get('dij') === 'pair', 'dij=pair in the URL');
      await until(async () => (await cell.textContent()) === fmt(data.distance_per_pair[0][1], 4), 'the heatmap shows D_ij per pair');
      assertEqual(await p.locator('.dij-switch button[aria-pressed=true]').innerText(), 'per concept pair', 'pressed toggle');
      assertEqual((await params()).get('pair'), '0,1', 'the pair kept');
    });

    await check('item 3: the header\'s space on Compare is added to the spaces compared', async () => {
      const extra = spaces.find((s) => !COMPARE.slice(0, 2).includes(s.id));
      await open(`${base}#/compare?space=${q(COMPARE[0])}&spaces=${COMPARE.slice(0, 2).join(',')}&per_concept=3&pair=0,1`);
      await p.locator('.pair-detail').waitFor();
      await p.locator('#space-select').selectOption(extra.id);
      await until(async () => (await params()).get('spaces') === [extra.id, ...COMPARE.slice(0, 2)].join(','), `${extra.id} added first`);
      assertEqual((await params()).get('pair'), '1,2', 'the pair follows its spaces');
      await until(async () => (await p.locator('.heatmaps svg.chart').nth(0).locator('.row-label').count()) === 3, 'three spaces compared');
      assert(await p.locator(`#view input[type=checkbox][value="${extra.id}"]`).isChecked(), 'its box ticked');
    });

    await check('item 3: a concept\'s neighbours in both spaces side by side, opened from a pair', async () => {
      await open(`${base}#/compare?space=${q(COMPARE[0])}&spaces=${COMPARE.slice(0, 2).join(',')}&per_concept=3&pair=0,1`);
      const link = p.locator('.pair-detail table.per-concept td.name a').first();
      const name = await link.innerText();
      await link.click();
      await until(async () => (await p.evaluate(() => location.hash)).startsWith('#/side'), 'the side view');
      const [a, b] = COMPARE;
      const [na, nb] = await Promise.all([apiGet(`neighbors?space=${q(a)}&concept=${q(name)}&k=10`), apiGet(`neighbors?space=${q(b)}&concept=${q(name)}&k=10`)]);
      const cols = p.locator('.side-by-side .side-column');
      await until(async () => (await cols.count()) === 2 && (await cols.nth(1).locator('tbody tr').count()) === nb.hits.length, 'two columns');
      assertEqual(await cols.nth(0).locator('h2').innerText(), a, 'left: space A');
      assertEqual(await cols.nth(1).locator('h2').innerText(), b, 'right: space B');
      assertEqual(await cols.nth(0).locator('td.name a').allInnerTexts(), na.hits.map((x) => x.name), `neighbours of ${name} in ${a}`);
      assertEqual(await cols.nth(1).locator('td.name a').allInnerTexts(), nb.hits.map((x) => x.name), `neighbours of ${name} in ${b}`);
      const both = na.hits.filter((x) => nb.hits.some((y) => y.name === x.name)).length;
      assertEqual(await cols.nth(0).locator('tr.in-both').count(), both, 'hits in both lists marked');
      assert((await p.locator('.overlap').innerText()).startsWith(`${both} of the ${na.hits.length}`), 'overlap sentence');
      assertEqual(await p.locator('nav.views a[aria-current=page]').getAttribute('data-view'), 'compare', 'nav: under Compare');
      await p.goBack();
      await until(async () => (await p.evaluate(() => location.hash)).startsWith('#/compare'), 'back to compare');
    });

    await check('item 9: concept names match case-insensitively (neighbours, concept page)', async () => {
      const upper = CONCEPT.toUpperCase();
      const expected = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=5`);
      const got = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(upper)}&k=5`);
      assertEqual(got.query, CONCEPT, 'the stored spelling in the answer');
      assertEqual(got.hits.map((x) => x.name), expected.hits.map((x) => x.name), 'same hits');
      await open(`${base}#/neighbors?space=${q(SPACE)}&concept=${q(upper)}&k=5`);
      await until(async () => (await p.locator('table.hits td.name a').allInnerTexts()).join() === expected.hits.map((x) => x.name).join(), 'the page lists the hits');
      await open(`${base}#/concept/${q(upper)}?space=${q(SPACE)}`);
      await p.locator('#view table.scores').first().waitFor();
    });

    await check('item 9: a chart\'s bars open their filter from the keyboard (one tab stop, arrows, Enter)', async () => {
      await open(`${base}#/concept/${q(CONCEPT)}?space=${q(SPACE)}`);
      const chart = p.locator('svg.chart.clickable').first();
      await chart.waitFor();
      assertEqual(await chart.getAttribute('tabindex'), '0', 'the chart is focusable');
      await chart.focus();
      await p.keyboard.press('ArrowRight');
      await p.keyboard.press('ArrowRight');
      await until(async () => (await chart.locator('.cursor').count()) === 1, 'a cursor on one mark');
      const index = await chart.locator('.cursor').getAttribute('data-index');
      assertEqual(index, '1', 'two presses: the second mark (index 1)');
      assert((await chart.locator('.cursor-label').textContent()).length > 0, 'the mark is named');
      await p.keyboard.press('Enter');
      await until(async () => (await p.evaluate(() => location.hash)).startsWith('#/filter/1'), 'Enter opens filter 1');
    });

    await check('item 8: map: colour rule, labels without collision when zoomed, a concept\'s neighbours, points by keyboard', async () => {
      const data = await apiGet(`map?space=${q(SPACE)}&clusters=8&seed=1`);
      const counts = new Map();
      for (const x of data.points) counts.set(x.category, (counts.get(x.category) || 0) + 1);
      const share = Math.max(...counts.values()) / data.points.length;
      await open(`${base}#/map?space=${q(SPACE)}`);
      await p.locator('svg.map-chart circle.map-point').first().waitFor();
      await until(async () => (await params()).get('color') === (share > 0.5 ? 'cluster' : 'category'), `the rule's colour (largest category ${Math.round(share * 100)} %)`);
      assert((await p.locator('.map-rule').innerText()).includes('more than half'), 'the rule is stated');
      const overlaps = () => p.locator('svg.map-chart .map-label').evaluateAll((els) => {
        const boxes = els.map((e) => e.getBoundingClientRect());
        let n = 0;
        for (let i = 0; i < boxes.length; i += 1) {
          for (let j = i + 1; j < boxes.length; j += 1) {
            const a = boxes[i];
            const b = boxes[j];
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n += 1;
          }
        }
        return { n, labels: els.length };
      });
      const zoomIn = p.locator('.map-zoom-buttons button[aria-label="Zoom in"]');
      let seen = 0;
      for (let z = 0; z < 3; z += 1) {
        await p.waitForTimeout(100); // one animation frame places the labels
        const o = await overlaps();
        assert(o.n === 0, `zoom step ${z}: ${o.n} overlapping labels of ${o.labels}`);
        assert(o.labels > 0, `zoom step ${z}: no labels`);
        seen = Math.max(seen, o.labels);
        await zoomIn.click();
      }
      await p.locator('.map-zoom-buttons button[aria-label="Reset zoom"]').click();

      const search = p.locator('.map-form input[role=combobox]');
      await search.fill(CONCEPT);
      await search.press('Enter');
      await p.locator('button.map-nn').click();
      const nn = await apiGet(`neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}&k=10`);
      await until(async () => (await p.locator('svg.map-chart .map-point.is-match').count()) === nn.hits.length + 1, 'the concept and its 10 neighbours highlighted');
      assertEqual(await p.locator('svg.map-chart .map-nn-lines line').count(), nn.hits.length, 'a line to each neighbour');
      const highlighted = await p.locator('svg.map-chart .map-point.is-match').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label').split(' (')[0]));
      assertEqual(highlighted.slice().sort(), [CONCEPT, ...nn.hits.map((x) => x.name)].sort(), 'the right points');
      assertEqual((await params()).get('nn'), '10', 'nn in the URL');

      // Keyboard: Tab from the map reaches a point (the concept), arrows move, Enter opens.
      await p.locator('svg.map-chart').focus();
      await p.keyboard.press('Tab');
      const focused = () => p.evaluate(() => document.activeElement?.getAttribute('aria-label') || '');
      assert((await focused()).startsWith(`${CONCEPT} (`), `Tab reaches the highlighted point, got ${await focused()}`);
      let moved = false;
      for (const key of ['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp']) {
        await p.keyboard.press(key);
        if (!(await focused()).startsWith(`${CONCEPT} (`)) {
          moved = true;
          break;
        }
      }
      assert(moved, 'an arrow key moves to another point');
      const name = (await focused()).split(' (')[0];
      await p.keyboard.press('Enter');
      await until(async () => decodeURIComponent(await p.evaluate(() => location.hash)).startsWith(`#/concept/${name}?`), `Enter opens ${name}`);
    });

    await check('item 9: axe-core finds no serious or critical issue on any view at 1366 px', async () => {
      const axePath = path.join(here, 'node_modules', 'axe-core', 'axe.min.js');
      assert(fs.existsSync(axePath), 'npm axe-core is installed (npm ci in tests/web)');
      const views = [
        [`#/neighbors?space=${q(SPACE)}&concept=${q(CONCEPT)}`, 'table.hits tbody tr'],
        [`#/analogy?space=${q(SPACE)}&positive=${q(POSITIVE[0])}&negative=${q(NEGATIVE[0] || CONCEPT)}`, 'table.hits tbody tr'],
        [`#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&pair=0,1`, '.pair-detail'],
        [`#/side?space=${q(COMPARE[0])}&b=${q(COMPARE[1])}&concept=${q(CONCEPT)}`, '.side-column tbody tr'],
        [`#/concept/${q(CONCEPT)}?space=${q(SPACE)}`, '#view table.scores'],
        [`#/filter/1?space=${q(SPACE)}`, '#view h1'],
        [`#/filters?space=${q(SPACE)}`, '#view svg.chart'],
        [`#/analyses?space=${q(SPACE)}`, 'table.learned-vs-single'],
        [`#/examples?space=${q(SPACE)}`, '#view table'],
        [`#/map?space=${q(SPACE)}`, 'svg.map-chart circle.map-point'],
      ];
      const found = [];
      for (const [hash, ready] of views) {
        await open(`${base}${hash}`);
        await p.locator(ready).first().waitFor();
        await p.waitForTimeout(150);
        if (await p.evaluate(() => typeof window.axe === 'undefined')) await p.addScriptTag({ path: axePath });
        const result = await p.evaluate(async () => {
          const r = await window.axe.run(document, { resultTypes: ['violations'] });
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.impact} ${v.id} (${v.nodes.length}): ${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(' | ')}`);
        });
        for (const line of result) found.push(`${hash.split('?')[0]}: ${line}`);
      }
      assert(found.length === 0, `${found.length} issue(s):\n${found.join('\n')}`);
    });

    await check('item 3: 50 spaces: heatmaps readable (no clipped labels, values on hover and focus), left-out concepts named', async () => {
      const db50 = env.NET2VEC_CATALOG50;
      if (!db50) {
        log('# (skipped: NET2VEC_CATALOG50 not set)');
        return;
      }
      const { child, base: second } = spawnServer(db50, [], 'second server');
      try {
        const base50 = await second;
        // Its own page: the main page's watcher counts requests to another server as problems.
        const p50 = await ctx3.newPage();
        const problems50 = [];
        p50.on('console', (msg) => ['error', 'warning'].includes(msg.type()) && problems50.push(`console ${msg.type()}: ${msg.text()}`));
        p50.on('pageerror', (error) => problems50.push(`page error: ${error.message}`));
        p50.on('response', (r) => r.status() >= 400 && problems50.push(`HTTP ${r.status()}: ${r.url()}`));
        const p = p50; // eslint-disable-line no-shadow
        const noOverflow = async (what) => {
          const px = await pagePixels(p);
          assert(px.scroll <= px.width, `${what}: page ${px.scroll} px wide at ${px.width} px`);
        };
        const open = async (url) => p.goto(url);
        const list = (await (await fetch(new URL('api/spaces', base50))).json()).spaces;
        assert(list.length >= 50, `${list.length} spaces in ${db50}`);
        const data = await (await fetch(new URL('api/compare?spaces=all&per_concept=3', base50))).json();
        assert(data.excluded.some((x) => x.missing_from.length) && data.excluded.some((x) => x.zero_in.length), 'the catalog leaves concepts out both ways');
        const m = data.spaces.length;
        for (const width of [1366, 390]) {
          await p.setViewportSize({ width, height: 900 });
          await open(`${base50}#/compare?space=${q(data.spaces[0].id)}&spaces=all&per_concept=3`);
          await until(async () => (await p.locator('.heatmaps svg.chart').nth(1).locator('g.cell').count()) === m * m, `two ${m} x ${m} heatmaps`);
          const bad = await p.locator('.heatmaps svg.chart').evaluateAll((charts) => charts.flatMap((chart, n) => {
            const box = chart.getBoundingClientRect();
            const out = [];
            if (chart.querySelectorAll('g.cell text').length && [...chart.querySelectorAll('g.cell text')].some((t) => t.textContent)) out.push(`map ${n}: numbers in cells`);
            for (const label of chart.querySelectorAll('.col-label, .row-label')) {
              const r = label.getBoundingClientRect();
              if (r.right > box.right + 1 || r.top < box.top - 1 || r.left < box.left - 1 || r.bottom > box.bottom + 1) out.push(`map ${n} label ${label.textContent} outside the chart`);
            }
            const rowSize = parseFloat(getComputedStyle(chart.querySelector('.row-label')).fontSize) * box.width / chart.viewBox.baseVal.width;
            if (rowSize < 8) out.push(`map ${n}: row labels ${rowSize.toFixed(1)} px on screen`);
            return out;
          }));
          assert(bad.length === 0, `${width} px: ${bad.slice(0, 4).join('; ')}`);
          await noOverflow(`${width} px`);
          await p.screenshot({ path: path.join(env.NET2VEC_DOC_SHOTS || SHOTS, `compare-50-${width}.png`), fullPage: false });
          // One tab stop per heatmap, not m (m - 1); the arrow keys move from it.
          assertEqual(await p.locator('.heatmaps svg.chart').nth(0).locator('g.cell[tabindex="0"]').count(), 1, 'one tab stop');
          // The value of a cell: on focus (keyboard) and on hover, in the line below the map.
          const cell = p.locator('.heatmaps svg.chart').nth(0).locator('g.cell[data-i="3"][data-j="7"]');
          await cell.focus();
          await until(async () => (await p.locator('.cell-readout').first().innerText()).includes(fmt(data.distance[3][7], 4)), 'focus shows D_ij');
          const other = p.locator('.heatmaps svg.chart').nth(1).locator('g.cell[data-i="2"][data-j="5"]');
          await other.hover();
          await until(async () => (await p.locator('.cell-readout').nth(1).innerText()).includes(fmt(data.cka[2][5], 4)), 'hover shows CKA');
        }
        await p.setViewportSize({ width: 1366, height: 900 });
        // B4: every left-out concept with its reason.
        const rows = p.locator('details.excluded .excluded-table tbody tr');
        assertEqual(await rows.count(), data.excluded.length, 'a row per left-out concept');
        const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
        data.excluded.forEach((x, n) => {
          assertEqual(shown[n][0], x.name, `row ${n}`);
          if (x.missing_from.length) assert(shown[n][1].includes('missing from'), `${x.name}: "missing from" in "${shown[n][1]}"`);
          if (x.zero_in.length) assert(shown[n][1].includes(`zero vector in ${x.zero_in[0]}`), `${x.name}: "zero vector in ${x.zero_in[0]}" in "${shown[n][1]}"`);
          if (x.missing_from.length === 1) assert(shown[n][1].includes(x.missing_from[0]), `${x.name}: names ${x.missing_from[0]}`);
        });
        assert((await p.locator('details.excluded summary').innerText()).startsWith(`${data.excluded.length} concepts left out`), 'summary count');
        await p.evaluate(() => window.scrollTo(0, 0));
        await p.screenshot({ path: path.join(env.NET2VEC_DOC_SHOTS || SHOTS, 'compare-50-1366.png'), fullPage: false });
        if (await p.locator('details.excluded').getAttribute('open') === null) await p.locator('details.excluded summary').click();
        await p.locator('details.excluded').scrollIntoViewIfNeeded();
        await p.screenshot({ path: path.join(env.NET2VEC_DOC_SHOTS || SHOTS, 'compare-50-left-out-1366.png'), fullPage: false });
        assert(problems50.length === 0, `50 spaces: ${problems50.join('; ')}`);
        await p50.close();
      } finally {
        child.kill('SIGTERM');
      }
    });

    await check('items 3, 8 screenshots at 390 and 1366 px (compare per pair, side by side, map; to docs/screenshots with NET2VEC_DOC_SHOTS)', async () => {
      const out = env.NET2VEC_DOC_SHOTS || SHOTS;
      const views = [
        ['compare-per-pair', `#/compare?space=${q(SPACE)}&spaces=${COMPARE.join(',')}&per_concept=5&pair=0,1&dij=pair`, '.pair-detail'],
        ['side', `#/side?space=${q(COMPARE[0])}&b=${q(COMPARE[1])}&concept=${q(CONCEPT)}`, '.side-column tbody tr'],
        ['map', `#/map?space=${q(SPACE)}&color=cluster&highlight=${q(CONCEPT)}&nn=10`, 'svg.map-chart .map-nn-lines line'],
      ];
      for (const width of [390, 1366]) {
        await p.setViewportSize({ width, height: 844 });
        for (const [name, hash, ready] of views) {
          await open(`${base}${hash}`);
          await p.locator(ready).first().waitFor();
          await p.waitForTimeout(200);
          await noOverflow(`${name} at ${width} px`);
          await p.evaluate(() => window.scrollTo(0, 0));
          await p.screenshot({ path: path.join(out, `${name}-${width}.png`), fullPage: width === 390 });
        }
      }
      await p.setViewportSize({ width: 1366, height: 900 });
    });

    await ctx3.close();
  }

      // Paging: the next page is the API's next page; previous returns.
      const second = await imagesOf('train', 12);
      await section('train').locator('button.page-next').click();
      await until(async () => same(await rowsOf('train'), second.images.map((im) => im.row)), 'train page 2 as the API');
      assert((await section('train').locator('.page-status').innerText()).startsWith('13'), 'page 2 starts at 13');
      assert(same(await rowsOf('val'), val.images.map((im) => im.row)), 'paging train leaves val alone');
      await section('train').locator('button.page-prev').click();
      await until(async () => same(await rowsOf('train'), train.images.map((im) => im.row)), 'back to train page 1');
      await p.screenshot({ path: path.join(SHOTS, 'probe-concept.png'), fullPage: true });

      // The probe set's concepts with their counts.
      const list = await apiP(`probe/concepts?space=${q(SPACE)}`);
      await p.goto(`${baseP}#/probe?space=${q(SPACE)}`);
      await until(async () => (await p.locator('table.probe-concepts tbody tr').count()) === list.concepts.length, 'every concept listed');
      const c = list.concepts.find((x) => x.name === CONCEPT);
      const cells = await p.locator(`table.probe-concepts tr[data-concept="${CONCEPT}"] td`).allInnerTexts();
      assertEqual([cells[2], cells[3]], [String(c.train_images), String(c.val_images)], `${CONCEPT}'s train and val counts`);
      // A misspelt concept: the server's error with a link to the name meant.
      await p.goto(`${baseP}#/probe/${q(TYPO)}?space=${q(SPACE)}`);
      await until(() => p.locator('.alert a.suggestion').first().isVisible(), 'a did-you-mean link');
      assertEqual(await p.locator('.alert a.suggestion').first().innerText(), CONCEPT, 'the suggestion');
      assert(problemsP.length === 0, `probe browser: ${problemsP.join('; ')}`);
    } finally {
      await ctxP.close();
      child.kill('SIGTERM');
    }
  });

  await check('no console errors, page errors or failed requests', async () => {
    assert(problems.length === 0, `${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  });
}

const watchdog = setTimeout(() => {
  log(`FAIL - the test did not finish within ${TIMEOUT_S} s`);
  failed += 1;
  finish(1);
}, TIMEOUT_S * 1000);

async function finish(code) {
  if (finishing) return;
  finishing = true;
  clearTimeout(watchdog);
  try {
    await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 3000))]);
  } catch {
    // closing a crashed browser
  }
  stopServer();
  if (failed > 0 && serverLog) log(`# server log (last lines):\n${serverLog.split('\n').slice(-15).map((l) => `#   ${l}`).join('\n')}`);
  log(`${passed} passed, ${failed} failed`);
  process.exit(code || (failed > 0 ? 1 : 0));
}

main().then(() => finish(0), (error) => {
  failed += 1;
  log(`FAIL - setup: ${error?.message || error}`);
  finish(1);
});
