// Taking numbers away: CSV and JSON of the tables a view shows (exportBar), SVG and PNG of
// every chart (watchCharts adds the buttons to each chart as it appears), and "Copy link".
//
// The CSV holds the API's numbers unrounded (the table may round them for reading), and the
// JSON is the API's own answer or the rows of the CSV, so a download can be checked against
// /api (tests/web/browser_test.mjs does).

import { h, replace } from './dom.js';

/** A file name part from free text: "Neighbours of dog" -> "neighbours-of-dog". */
export function slug(text) {
  return String(text).normalize('NFKD').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'net2vec';
}

function csvCell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * RFC 4180 CSV: columns = [{key, label?}] where key is a field name or a function of the row.
 */
export function toCsv(columns, rows) {
  const head = columns.map((c) => csvCell(c.label ?? c.key)).join(',');
  const value = (c, row) => (typeof c.key === 'function' ? c.key(row) : row[c.key]);
  return `${[head, ...rows.map((row) => columns.map((c) => csvCell(value(c, row))).join(','))].join('\r\n')}\r\n`;
}

/** Saves `text` as a file named `filename` (the browser's download). */
export function download(filename, text, type) {
  const blob = text instanceof Blob ? text : new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * "Download: CSV · JSON" for one table. `columns` and `rows` make the CSV (no CSV button when
 * columns is null); `json` (default: the rows) is written as the JSON file.
 */
export function exportBar({ name, columns, rows, json = undefined, label = 'table' }) {
  const base = slug(name);
  const button = (format, onclick) => h('button', {
    type: 'button', class: 'export-button', 'data-format': format, onclick,
    'aria-label': `Download the ${label} as ${format.toUpperCase()}`,
  }, format.toUpperCase());
  return h('div', { class: 'export-bar', 'data-export': base, role: 'group', 'aria-label': `Download the ${label}` },
    h('span', { class: 'export-label' }, 'Download'),
    columns ? button('csv', () => download(`${base}.csv`, toCsv(columns, rows), 'text/csv;charset=utf-8')) : null,
    button('json', () => download(`${base}.json`, `${JSON.stringify(json === undefined ? rows : json, null, 2)}\n`, 'application/json')));
}

// ---- charts ------------------------------------------------------------------------------------------

// The presentation properties CSS gives the charts' marks; copied inline so the file draws
// the same without style.css.
const STYLE_PROPS = ['fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'opacity',
  'font-family', 'font-size', 'font-weight', 'font-style', 'text-anchor', 'dominant-baseline', 'visibility', 'display',
  'paint-order', 'stroke-linecap', 'stroke-linejoin'];

/** A standalone SVG document of a chart as it is drawn now (styles inlined, white background). */
export function svgText(chart) {
  const copy = chart.cloneNode(true);
  const from = [chart, ...chart.querySelectorAll('*')];
  const to = [copy, ...copy.querySelectorAll('*')];
  from.forEach((el, i) => {
    const style = getComputedStyle(el);
    to[i].setAttribute('style', STYLE_PROPS.map((p) => `${p}:${style.getPropertyValue(p)}`).join(';'));
    to[i].removeAttribute('class');
    to[i].removeAttribute('tabindex');
  });
  const [x, y, width, height] = (chart.getAttribute('viewBox') || `0 0 ${chart.clientWidth} ${chart.clientHeight}`).split(/[\s,]+/).map(Number);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('width', width);
  copy.setAttribute('height', height);
  copy.style.maxWidth = '';
  const background = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  for (const [k, v] of Object.entries({ x, y, width, height, fill: '#ffffff' })) background.setAttribute(k, v);
  copy.insertBefore(background, copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The chart as a PNG Blob, `scale` times its viewBox size. */
export function pngBlob(chart, scale = 2) {
  const text = svgText(chart);
  const [, , width, height] = (chart.getAttribute('viewBox') || '0 0 600 400').split(/[\s,]+/).map(Number);
  return new Promise((resolve, reject) => {
    const img = new Image();
    const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
    img.onload = () => {
      const canvas = h('canvas', { width: Math.round(width * scale), height: Math.round(height * scale) });
      const g = canvas.getContext('2d');
      g.scale(scale, scale);
      g.drawImage(img, 0, 0, width, height);
      URL.revokeObjectURL(url);
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('PNG encoding failed'))), 'image/png');
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('the chart could not be drawn as PNG'));
    };
    img.src = url;
  });
}

/** The chart's file name: the page title's subject and the chart's own label. */
function chartName(chart) {
  const label = chart.getAttribute('aria-label') || chart.querySelector('title')?.textContent || 'chart';
  const page = document.title.replace(/ · net2vec$/, '');
  return slug(`${page} ${label}`.slice(0, 80));
}

/** "SVG · PNG" buttons for one chart. */
export function chartButtons(chart) {
  const what = chart.getAttribute('aria-label') || 'chart';
  const button = (format, onclick) => h('button', {
    type: 'button', class: 'export-button', 'data-format': format, onclick,
    'aria-label': `Download the chart (${what}) as ${format.toUpperCase()}`,
  }, format.toUpperCase());
  return h('div', { class: 'export-bar chart-export', role: 'group', 'aria-label': 'Download the chart' },
    h('span', { class: 'export-label' }, 'Chart'),
    button('svg', () => download(`${chartName(chart)}.svg`, svgText(chart), 'image/svg+xml')),
    button('png', async () => download(`${chartName(chart)}.png`, await pngBlob(chart), 'image/png')));
}

/** Where a chart's buttons go: after the chart, or after the wrapper it fills alone. */
function anchorOf(chart) {
  let node = chart;
  while (node.parentElement && node.parentElement.children.length === 1
    && !node.parentElement.matches('.card, section, main, .results')) node = node.parentElement;
  return node;
}

/** Adds chart buttons to every chart that appears under `root` (views draw them later). */
export function watchCharts(root) {
  const decorate = () => {
    for (const chart of root.querySelectorAll('svg.chart:not([data-export]), svg.map-chart:not([data-export])')) {
      if (chart.closest('.export-bar')) continue;
      chart.setAttribute('data-export', '');
      anchorOf(chart).after(chartButtons(chart));
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      decorate();
    });
  }).observe(root, { childList: true, subtree: true });
  decorate();
}

// ---- links -------------------------------------------------------------------------------------------

/** A visible "Copy link" button: the page's URL restores this view as it is. */
export function copyLinkButton() {
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', { type: 'button', class: 'copy-link', title: 'Copy the URL of this view (it restores it as shown)' }, 'Copy link');
  button.addEventListener('click', async () => {
    const url = location.href;
    let ok = false;
    try {
      await navigator.clipboard.writeText(url);
      ok = true;
    } catch {
      // No clipboard permission (an insecure origin): select the URL for Ctrl+C instead.
      const field = h('input', { type: 'text', value: url, class: 'copy-fallback', 'aria-label': 'Link to this view' });
      button.after(field);
      field.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
    }
    replace(status, ok ? 'Link copied' : 'Press Ctrl+C to copy the selected link');
    setTimeout(() => replace(status), 4000);
  });
  return h('span', { class: 'copy-link-wrap' }, button, status);
}
