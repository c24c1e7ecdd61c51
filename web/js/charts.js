// Small hand-written SVG charts. Each helper takes plain data and returns an <svg> (or a
// wrapper element) sized by its viewBox, so CSS scales it to the column it sits in. Colours
// come from CSS classes (style.css) except the heatmap's data-driven fills. Every mark has a
// <title>, which browsers show as a tooltip and screen readers read.

import { h, svg, uid, fmt } from './dom.js';

// ---- scales and ticks --------------------------------------------------------------------------

// One click handler for a whole chart: a click on a mark with data-index calls
// onSelect(index) (cheaper than a listener per mark on 1,000+ bars or dots).
//
// Without a mouse (issue 19 item 9) the chart is one tab stop, not one per mark: the arrow
// keys move a cursor over the marks in index order (PageUp/PageDown by 10, Home, End), the
// mark under it is outlined, named in a line inside the chart and made the chart's
// aria-activedescendant, and Enter or Space selects it.
function selectable(chart, onSelect) {
  if (!onSelect) return chart;
  chart.classList.add('clickable');
  chart.addEventListener('click', (event) => {
    const target = event.target.closest('[data-index]');
    if (target) onSelect(Number(target.dataset.index));
  });
  chart.setAttribute('tabindex', '0');
  chart.setAttribute('role', 'group');
  chart.setAttribute('aria-roledescription', 'chart: arrow keys choose, Enter opens');
  let marks = null;
  let cursor = -1;
  const readout = svg('text', { class: 'cursor-label', x: 8, y: 12, 'aria-hidden': 'true' });
  chart.append(readout);
  chart.addEventListener('keydown', (event) => {
    marks ||= [...chart.querySelectorAll('[data-index]')].sort((a, b) => a.dataset.index - b.dataset.index);
    const n = marks.length;
    if (n === 0 || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === 'Enter' || event.key === ' ') {
      if (cursor < 0) return;
      event.preventDefault();
      onSelect(Number(marks[cursor].dataset.index));
      return;
    }
    const steps = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 };
    let next;
    if (event.key in steps) next = cursor < 0 ? 0 : Math.min(n - 1, Math.max(0, cursor + steps[event.key]));
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = n - 1;
    else return;
    event.preventDefault();
    marks[cursor]?.classList.remove('cursor');
    cursor = next;
    const mark = marks[cursor];
    mark.classList.add('cursor');
    mark.id ||= uid('mark');
    chart.setAttribute('aria-activedescendant', mark.id);
    readout.textContent = mark.querySelector('title')?.textContent || '';
  });
  chart.addEventListener('blur', () => {
    readout.textContent = '';
  });
  return chart;
}

export function linear([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

function log10([d0, d1], [r0, r1]) {
  const l0 = Math.log10(d0);
  const span = Math.log10(d1) - l0 || 1;
  return (x) => r0 + ((Math.log10(x) - l0) / span) * (r1 - r0);
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function tickLabel(v) {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

/** A domain that always contains zero, padded so the largest bar does not touch the edge. */
function zeroDomain(values) {
  const finite = values.filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(0, ...finite);
  return hi === lo ? [lo, lo + 1] : [lo, hi];
}

let measureContext = null;
/**
 * The width in px of `text` in the page's font at `size` px (tabular digits when `numeric`),
 * measured on a canvas; an estimate where there is none.
 */
export function textWidth(text, size, numeric = false, weight = 'normal') {
  if (measureContext === null) {
    measureContext = document.createElement('canvas').getContext('2d') || false;
  }
  if (!measureContext) return text.length * size * (numeric ? 0.6 : 0.56);
  const family = getComputedStyle(document.documentElement).fontFamily || 'sans-serif';
  measureContext.font = `${weight} ${size}px ${family}`;
  // Tabular digits are as wide as the widest digit; the canvas measures proportional ones.
  const measured = measureContext.measureText(numeric ? text.replace(/[0-9]/g, '0') : text).width;
  return measured * 1.04; // a little room for rounding and hinting
}

/** Middle-truncates long labels so the distinguishing ends (e.g. ".seg"/".cls") stay visible. */
export function shorten(text, max = 30) {
  if (text.length <= max) return text;
  const keep = max - 1;
  return `${text.slice(0, Math.ceil(keep / 2))}…${text.slice(text.length - Math.floor(keep / 2))}`;
}

function title(text) {
  return svg('title', {}, text);
}

function yAxis(scale, values, x0, x1, format = tickLabel) {
  return svg('g', { class: 'axis y-axis' },
    values.map((v) => svg('g', {},
      svg('line', { x1: x0, x2: x1, y1: scale(v), y2: scale(v), class: v === 0 ? 'zero' : 'grid' }),
      svg('text', { x: x0 - 6, y: scale(v), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, format(v)))));
}

function axisLabel(text, x, y, rotate = false) {
  return svg('text', {
    class: 'axis-label', x, y, 'text-anchor': 'middle',
    transform: rotate ? `rotate(-90 ${x} ${y})` : null,
  }, text);
}

// role=img makes an SVG one picture for assistive technology; a chart with focusable parts
// (the heatmap's cells) is a group instead, so its buttons stay reachable.
function frame(width, height, label, ...children) {
  return svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': label,
    preserveAspectRatio: 'xMinYMin meet', style: `max-width: ${width}px`, // shrink to fit, never blow up
  }, title(label), ...children);
}

/** A legend as HTML: [{label, cls, style}] rendered as coloured swatches. */
export function legend(items) {
  return h('div', { class: 'legend' }, items.map(({ label, cls, style }) =>
    h('span', { class: 'legend-item' }, h('span', { class: `swatch ${cls}`, style, 'aria-hidden': 'true' }), label)));
}

/**
 * The colour of the k-th of many series (map categories and clusters): the classes s0..s7 for
 * the first eight (as in Figure 3), then hues spaced by the golden angle, as an inline custom
 * property so CSS rules using var(--series) work for every k. Returns {cls, style}.
 */
export function seriesColor(k) {
  if (k < 8) return { cls: `s${k}`, style: null };
  return { cls: 'sx', style: `--series: hsl(${Math.round((k * 137.508) % 360)} 55% 42%)` };
}

// ---- inline bar (tables of scores) -------------------------------------------------------------

/**
 * One horizontal bar for a table cell: `value` on a domain that contains zero (negative values
 * grow left of the zero line).
 */
export function inlineBar(value, domain, { width = 160, height = 14, label = '', cls = '' } = {}) {
  const x = linear(domain, [0, width]);
  const x0 = x(0);
  const xv = Number.isFinite(value) ? x(value) : x0;
  return svg('svg', {
    class: `inline-bar ${cls}`, viewBox: `0 0 ${width} ${height}`, width, height, 'aria-hidden': 'true',
  },
  title(label || fmt(value, 4)),
  svg('rect', { class: 'track', x: 0, y: 0, width, height, rx: 2 }),
  svg('rect', {
    class: value < 0 ? 'fill negative' : 'fill', x: Math.min(x0, xv), y: 1, width: Math.abs(xv - x0), height: height - 2, rx: 2,
  }),
  domain[0] < 0 ? svg('line', { class: 'zero', x1: x0, x2: x0, y1: 0, y2: height }) : null);
}

/** The domain for a column of bars: zero included, as in zeroDomain. */
export function barDomain(values) {
  return zeroDomain(values);
}

// ---- horizontal bar chart with labels -----------------------------------------------------------

/** Labelled horizontal bars: items = [{label, value, tooltip}]. */
export function hbarChart(items, { width = 520, row = 22, format = (v) => fmt(v, 3), label = 'bar chart', labelWidth = 110 } = {}) {
  const valueWidth = 56;
  const height = items.length * row + 8;
  const x = linear(zeroDomain(items.map((d) => d.value)), [labelWidth, width - valueWidth]);
  return frame(width, height, label,
    items.map((d, i) => {
      const y = 4 + i * row;
      const x0 = x(0);
      const xv = Number.isFinite(d.value) ? x(d.value) : x0;
      return svg('g', { class: 'hbar' },
        title(d.tooltip || `${d.label}: ${format(d.value)}`),
        svg('text', { class: 'label', x: labelWidth - 8, y: y + row / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, shorten(d.label, 16)),
        svg('rect', { class: 'bar', x: Math.min(x0, xv), y: y + 3, width: Math.max(Math.abs(xv - x0), 1), height: row - 6, rx: 2 }),
        svg('text', { class: 'value', x: Math.max(x0, xv) + 6, y: y + row / 2, 'dominant-baseline': 'middle' }, format(d.value)));
    }));
}

// ---- one bar per filter -------------------------------------------------------------------------

/**
 * A dense bar chart over a layer's filters (hundreds to thousands of bars). `highlight` (a Set
 * of indices) and `best` are drawn last and at least 2 units wide so they stay visible when a
 * bar is thinner than a pixel; `best` gets a marker labelled `bestLabel`. Clicking a bar calls onSelect(index); keyboard users get the
 * same targets from the tables next to the chart, so the bars are not tab stops.
 */
export function filterBars(values, {
  width = 1280, height = 200, highlight = new Set(), best = -1, label = 'values per filter',
  yLabel = '', xLabel = 'filter', valueName = 'value', onSelect = null, bestLabel = 'best single filter',
} = {}) {
  const m = { top: 18, right: 12, bottom: 34, left: 52 };
  const n = values.length;
  // No best filter (null, as for reference spaces) is -1, not 0: null >= 0 holds in JS.
  if (!Number.isInteger(best)) best = -1;
  const plotW = width - m.left - m.right;
  const bw = plotW / Math.max(n, 1);
  const domain = zeroDomain(values);
  const y = linear(domain, [height - m.bottom, m.top]);
  const y0 = y(0);
  const bar = (v, i) => {
    const cls = i === best ? 'bar best' : highlight.has(i) ? 'bar top' : 'bar';
    const w = cls === 'bar' ? Math.max(bw - (bw > 3 ? 1 : 0), 0.5) : Math.max(bw - 1, 2);
    const yv = Number.isFinite(v) ? y(v) : y0;
    return svg('rect', {
      class: cls, 'data-index': i,
      x: m.left + i * bw + (bw - w) / 2, y: Math.min(y0, yv), width: w, height: Math.max(Math.abs(yv - y0), 0.5),
    }, title(`${xLabel} ${i}: ${valueName} ${fmt(v, 4)}${i === best ? ` (${bestLabel})` : ''}`));
  };
  const order = values.map((v, i) => i);
  order.sort((a, b) => (a === best) - (b === best) || highlight.has(a) - highlight.has(b));
  const xt = ticks(0, n - 1, Math.min(10, n)).filter(Number.isInteger);
  const chart = frame(width, height, label,
    yAxis(y, ticks(domain[0], domain[1], 4), m.left, width - m.right),
    svg('g', { class: 'bars' }, order.map((i) => bar(values[i], i))),
    best >= 0 && best < n ? svg('g', { class: 'marker best' },
      svg('path', { d: `M${m.left + (best + 0.5) * bw - 5},${m.top - 10} h10 l-5,7 z` }),
      svg('text', {
        x: m.left + (best + 0.5) * bw + (best < n * 0.7 ? 8 : -8), y: m.top - 6, 'text-anchor': best < n * 0.7 ? 'start' : 'end',
      }, `${bestLabel} ${best}`)) : null,
    svg('g', { class: 'axis x-axis' }, xt.map((t) => svg('text', {
      x: m.left + (t + 0.5) * bw, y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, String(t)))),
    axisLabel(xLabel, m.left + plotW / 2, height - 4),
    yLabel ? axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true) : null);
  return selectable(chart, onSelect);
}

// ---- line chart (F sweep) ------------------------------------------------------------------------

/**
 * Points joined by a line, x on a log axis; `reference` = {y, label} draws a dashed line (the
 * learned weights' score the subsets are measured against).
 */
export function lineChart(points, {
  width = 420, height = 230, xLabel = '', yLabel = '', label = 'line chart', reference = null,
  format = (v) => fmt(v, 3),
} = {}) {
  const hasReference = reference && Number.isFinite(reference.y);
  // The reference line's label sits above the plot (with a sample of the dashes), where no
  // point or segment of the curve can run through it.
  const m = { top: hasReference ? 30 : 16, right: 16, bottom: 40, left: 52 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y).filter(Number.isFinite);
  if (hasReference) ys.push(reference.y);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const x = x1 > x0 ? log10([x0, x1], [m.left + 8, width - m.right - 8]) : () => (m.left + width - m.right) / 2;
  const yTop = Math.max(...ys) * 1.08 || 1;
  const y = linear([0, yTop], [height - m.bottom, m.top]);
  // Tick at each measured F when there are few, else at powers of ten.
  const xt = xs.length <= 12 ? xs : xs.filter((v) => Number.isInteger(Math.log10(v)));
  const defined = points.filter((p) => Number.isFinite(p.y));
  return frame(width, height, label,
    yAxis(y, ticks(0, yTop, 4), m.left, width - m.right),
    svg('g', { class: 'axis x-axis' }, xt.map((v) => svg('text', {
      x: x(v), y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, String(v)))),
    hasReference ? (() => {
      const text = `${reference.label} ${format(reference.y)}`;
      const x1 = width - m.right - textWidth(text, 11, false, '600');
      return svg('g', { class: 'reference' },
        title(`${reference.label}: ${format(reference.y)}`),
        svg('line', { x1: m.left, x2: width - m.right, y1: y(reference.y), y2: y(reference.y) }),
        svg('line', { class: 'sample', x1: x1 - 30, x2: x1 - 6, y1: 10, y2: 10 }),
        svg('text', { class: 'reference-label', x: width - m.right, y: 14, 'text-anchor': 'end' }, text));
    })() : null,
    svg('path', { class: 'line', d: defined.map((p, i) => `${i ? 'L' : 'M'}${x(p.x)},${y(p.y)}`).join('') }),
    defined.map((p) => svg('circle', { class: 'point', cx: x(p.x), cy: y(p.y), r: 4 },
      title(`${p.label || `x = ${p.x}`}: ${format(p.y)}`))),
    axisLabel(xLabel, (m.left + width - m.right) / 2, height - 6),
    axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true));
}

// ---- columns (histograms) ------------------------------------------------------------------------

/**
 * Vertical bars over categories, one bar per series side by side: histograms of per-image IoU
 * (two series) and Figure 5 (one series). `highlight` is a category index drawn emphasised.
 * series = [{name, values, cls}]; tooltip(ci, si) gives each bar's title.
 */
export function columns(categories, series, {
  width = 420, height = 220, xLabel = '', yLabel = '', label = 'histogram', highlight = -1,
  tooltip = (ci, si) => `${series[si].name}, ${categories[ci]}: ${series[si].values[ci]}`,
} = {}) {
  const m = { top: 14, right: 12, bottom: 40, left: 48 };
  const n = categories.length;
  const plotW = width - m.left - m.right;
  const band = plotW / Math.max(n, 1);
  const inner = band * (n > 40 ? 1 : 0.82);
  const bw = inner / series.length;
  const yMax = Math.max(1, ...series.flatMap((s) => s.values));
  const y = linear([0, yMax], [height - m.bottom, m.top]);
  const every = Math.ceil(n / Math.floor(plotW / 34));
  return frame(width, height, label,
    yAxis(y, ticks(0, yMax, 4).filter((t) => Number.isInteger(t)), m.left, width - m.right),
    highlight >= 0 && highlight < n ? svg('rect', {
      class: 'highlight-band', x: m.left + highlight * band, y: m.top - 6, width: band, height: height - m.bottom - m.top + 6,
    }) : null,
    categories.map((c, ci) => svg('g', { class: ci === highlight ? 'column highlight' : 'column' },
      series.map((s, si) => {
        const v = s.values[ci] || 0;
        return svg('rect', {
          class: `bar ${s.cls || ''}`,
          x: m.left + ci * band + (band - inner) / 2 + si * bw, y: y(v),
          width: Math.max(bw - (bw > 4 ? 1 : 0), 0.8), height: Math.max(y(0) - y(v), v > 0 ? 1 : 0),
        }, title(tooltip(ci, si)));
      }))),
    svg('g', { class: 'axis x-axis' }, categories.map((c, ci) => (ci % every === 0 || ci === highlight ? svg('text', {
      class: ci === highlight ? 'highlight' : null,
      x: m.left + (ci + 0.5) * band, y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, String(c)) : null))),
    axisLabel(xLabel, m.left + plotW / 2, height - 6),
    axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true));
}

// ---- heatmap ------------------------------------------------------------------------------------

const SCALES = {
  blues: ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'],
  greens: ['#f7fcf5', '#c7e9c0', '#74c476', '#238b45', '#00441b'],
};

function hexToRgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/** The colour at t in [0, 1] of a named scale, interpolated between its stops. */
export function colorAt(scale, t) {
  const stops = SCALES[scale];
  const u = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(u), stops.length - 2);
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  const rgb = a.map((v, k) => Math.round(v + (b[k] - v) * (u - i)));
  return `rgb(${rgb.join(',')})`;
}

/**
 * An m x m matrix as coloured cells with their values, row and column labels and a colour
 * legend. Off-diagonal cells are buttons (tab stops; Enter or Space selects; arrow keys move
 * between cells) calling onSelect(i, j); `selected` = [i, j] outlines that pair (both halves).
 */
export function heatmap(matrix, labels, {
  domain = null, scale = 'blues', label = 'heatmap', valueName = 'value', digits = 3,
  selected = null, onSelect = null,
} = {}) {
  const m = labels.length;
  const finite = matrix.flat().filter(Number.isFinite);
  const [lo, hi] = domain || [Math.min(0, ...finite), Math.max(...finite, 1e-12)];
  const t = (v) => (v - lo) / (hi - lo || 1);
  // Over 12 rows (up to 50 and more): small cells without numbers (a cell's value is in its
  // title and aria-label, and the caller may show it on hover or focus), rows labelled
  // "n  name" and columns by n alone, so no label is rotated or clipped.
  const compact = m > 12;
  const cell = m <= 4 ? 64 : m <= 8 ? 52 : m <= 12 ? 44 : 20;
  const fontSize = cell >= 52 ? 12 : 11;
  // Space ids are long and differ in the middle (block_6 vs block_10) and at the end (.seg vs
  // .cls): keep up to 40 characters whole, which covers <network>.<layer>.<task> in practice.
  const short = labels.map((l, i) => (compact ? `${i + 1}  ${shorten(l, 40)}` : shorten(l, 40)));
  const colText = compact ? labels.map((l, j) => String(j + 1)) : short;
  const labelW = short.map((l) => textWidth(l, 11.5));
  const longest = Math.max(...labelW);
  const left = 14 + longest;
  // Column labels are rotated by -45 degrees from above their column: they need
  // w * sin(45) above the cells and reach w * cos(45) right of it (the last one past the grid).
  // Compact columns carry numbers, written upright.
  const top = compact ? 22 : 16 + longest * 0.71;
  const right = compact ? 8 : Math.max(...labelW.map((w, j) => (j + 0.5) * cell + 4 + w * 0.71 + 6)) - m * cell;
  const legendH = 46;
  const width = Math.max(left + m * cell + Math.max(right, 30), 300);
  const height = top + m * cell + legendH;
  // A value's text fits its cell: fewer decimals first, then thousands as "2.9k".
  const fits = (text) => textWidth(text, fontSize, true) <= cell - 6;
  const cellText = (v) => {
    for (let d = cell >= 52 ? digits : Math.min(digits, 2); d >= 0; d -= 1) {
      if (fits(fmt(v, d))) return fmt(v, d);
    }
    if (Number.isFinite(v) && Math.abs(v) >= 1000) {
      for (const d of [1, 0]) {
        const text = Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(d)}M` : `${(v / 1e3).toFixed(d)}k`;
        if (fits(text)) return text;
      }
    }
    return fmt(v, 0);
  };
  const gradient = uid('grad');
  const isSelected = (i, j) => selected && ((selected[0] === i && selected[1] === j) || (selected[0] === j && selected[1] === i));
  const isRovingStart = (i, j) => (selected ? selected[0] === i && selected[1] === j : i === 0 && j === 1);

  const cells = [];
  for (let i = 0; i < m; i += 1) {
    for (let j = 0; j < m; j += 1) {
      const v = matrix[i][j];
      const active = i !== j && onSelect;
      const text = `${valueName} between ${labels[i]} and ${labels[j]}: ${fmt(v, 4)}`;
      const shown = compact ? null : cellText(v);
      const name = shown ? `${shown}, ${text}` : text;
      cells.push(svg('g', {
        class: `cell${active ? ' active' : ''}${isSelected(i, j) ? ' selected' : ''}${i === j ? ' diagonal' : ''}`,
        'data-i': i, 'data-j': j,
        // One tab stop per heatmap (a roving tabindex: the selected cell, else the first), not
        // m (m - 1): at 50 spaces that would be 2,450 stops; the arrow keys move between cells.
        tabindex: active ? (isRovingStart(i, j) ? 0 : -1) : null, role: active ? 'button' : null,
        // The name starts with the number the cell shows (a spoken "click 0.62" must match it).
        'aria-label': active ? name : null, 'aria-pressed': active ? String(!!isSelected(i, j)) : null,
      },
      // A selectable cell is named by aria-label alone: a <title> would count as its visible
      // text too, which then no longer matches its name (axe label-content-name-mismatch). The
      // caller shows the name on hover and focus (compare.js).
      active ? null : title(name),
      svg('rect', {
        x: left + j * cell + 1, y: top + i * cell + 1, width: cell - 2, height: cell - 2, rx: 3,
        // The diagonal (a space against itself) is trivial: neutral, so it does not dominate.
        fill: i === j ? '#f1f3f6' : Number.isFinite(v) ? colorAt(scale, t(v)) : '#e2e5ea',
      }),
      svg('text', {
        x: left + (j + 0.5) * cell, y: top + (i + 0.5) * cell, 'text-anchor': 'middle', 'dominant-baseline': 'middle',
        class: i !== j && Number.isFinite(v) && t(v) > 0.55 ? 'dark' : 'light', style: `font-size: ${fontSize}px`,
        'aria-hidden': 'true', // the cell's name (aria-label) starts with this number
      }, shown)));
    }
  }

  const legendY = top + m * cell + 18;
  const legendW = Math.min(m * cell, 220);
  const chart = frame(width, height, label,
    svg('defs', {}, svg('linearGradient', { id: gradient },
      SCALES[scale].map((c, k) => svg('stop', { offset: `${(100 * k) / (SCALES[scale].length - 1)}%`, 'stop-color': c })))),
    labels.map((l, j) => svg('text', compact
      ? { class: 'col-label', 'text-anchor': 'middle', x: left + (j + 0.5) * cell, y: top - 6, style: 'font-size: 9px' }
      : {
        class: 'col-label', 'text-anchor': 'start',
        transform: `translate(${left + (j + 0.5) * cell + 4},${top - 6}) rotate(-45)`,
      }, title(l), colText[j])),
    labels.map((l, i) => svg('text', {
      class: 'row-label', x: left - 8, y: top + (i + 0.5) * cell, 'text-anchor': 'end', 'dominant-baseline': 'middle',
    }, title(l), short[i])),
    svg('g', { class: 'cells' }, cells),
    svg('g', { class: 'color-legend' },
      svg('rect', { x: left, y: legendY, width: legendW, height: 10, fill: `url(#${gradient})`, rx: 2 }),
      svg('text', { x: left, y: legendY + 24, 'text-anchor': 'start' }, fmt(lo, 2)),
      svg('text', { x: left + legendW, y: legendY + 24, 'text-anchor': 'end' }, fmt(hi, 2)),
      svg('text', { x: left + legendW / 2, y: legendY + 24, 'text-anchor': 'middle' }, valueName)));

  // Readable on a phone: the chart keeps most of its size and its container scrolls instead.
  chart.style.minWidth = `${Math.round(Math.min(width, Math.max(440, width * 0.75)))}px`;
  if (onSelect) {
    chart.setAttribute('role', 'group');
    const pick = (g) => onSelect(Number(g.dataset.i), Number(g.dataset.j));
    chart.addEventListener('click', (event) => {
      const g = event.target.closest('.cell.active');
      if (g) pick(g);
    });
    chart.addEventListener('keydown', (event) => {
      const g = event.target.closest?.('.cell.active');
      if (!g) return;
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        pick(g);
        return;
      }
      const moves = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      let [i, j] = [Number(g.dataset.i), Number(g.dataset.j)];
      // Step over the diagonal, which is not selectable.
      do {
        i += move[0];
        j += move[1];
      } while (i === j && i >= 0 && i < m);
      const next = chart.querySelector(`.cell.active[data-i="${i}"][data-j="${j}"]`);
      if (!next) return;
      g.setAttribute('tabindex', '-1');
      next.setAttribute('tabindex', '0');
      next.focus();
    });
  }
  return chart;
}

// ---- grouped bars with error bars (per-category means) ---------------------------------------

/**
 * Vertical bars, one group per category and one bar per series inside it, each with a ±SE
 * error bar: paper Figure 2 (best single filter vs learned weights). series = [{name, cls,
 * values, errors}]; tooltip(gi, si) gives each bar's title (it can carry more than the bar
 * shows, e.g. the train score).
 */
export function groupedBars(groups, series, {
  width = 520, height = 240, xLabel = '', yLabel = '', label = 'grouped bar chart',
  tooltip = (gi, si) => `${series[si].name}, ${groups[gi]}: ${fmt(series[si].values[gi], 3)}`,
} = {}) {
  const m = { top: 14, right: 12, bottom: 40, left: 52 };
  const plotW = width - m.left - m.right;
  const band = plotW / Math.max(groups.length, 1);
  const inner = Math.min(band * 0.72, 34 * series.length);
  const bw = inner / series.length;
  const tops = series.flatMap((s) => s.values.map((v, i) => v + (Number.isFinite(s.errors?.[i]) ? s.errors[i] : 0)));
  const yTop = Math.max(...tops.filter(Number.isFinite), 1e-9) * 1.08;
  const y = linear([0, yTop], [height - m.bottom, m.top]);
  return frame(width, height, label,
    yAxis(y, ticks(0, yTop, 4), m.left, width - m.right),
    groups.map((g, gi) => svg('g', { class: 'group', 'data-group': g },
      series.map((s, si) => {
        const v = s.values[gi];
        const e = s.errors?.[gi];
        const x = m.left + gi * band + (band - inner) / 2 + si * bw;
        const cx = x + bw / 2;
        const ok = Number.isFinite(v);
        return svg('g', { class: 'gbar' },
          title(tooltip(gi, si)),
          svg('rect', {
            class: `bar ${s.cls || ''}`, x: x + 1, y: ok ? y(Math.max(v, 0)) : y(0),
            width: Math.max(bw - 2, 1), height: ok ? Math.max(y(0) - y(Math.max(v, 0)), 1) : 0,
          }),
          // The error bar spans mean ± SE, clipped at zero like the bars.
          ok && Number.isFinite(e) && e > 0 ? svg('path', {
            class: 'error-bar',
            d: `M${cx},${y(Math.max(v - e, 0))}V${y(v + e)}M${cx - 4},${y(v + e)}h8M${cx - 4},${y(Math.max(v - e, 0))}h8`,
          }) : null);
      }))),
    svg('g', { class: 'axis x-axis' }, groups.map((g, gi) => svg('text', {
      x: m.left + (gi + 0.5) * band, y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, shorten(String(g), Math.max(6, Math.floor(band / 6.5)))))),
    axisLabel(xLabel, m.left + plotW / 2, height - 6),
    axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true));
}

// ---- several lines on a log x axis (per-category F sweeps) -----------------------------------

/**
 * One line per series over a shared log x axis: paper Figure 3 (mean score of the top-F
 * filters against F, per category). series = [{name, points: [{x, y, label}]}]; the k-th series
 * gets the CSS class `s<k mod 8>` for its colour (the legend uses the same classes).
 */
export function multiLineChart(series, {
  width = 520, height = 250, xLabel = '', yLabel = '', label = 'line chart', format = (v) => fmt(v, 3),
} = {}) {
  const m = { top: 16, right: 16, bottom: 40, left: 52 };
  const all = series.flatMap((s) => s.points);
  const xs = [...new Set(all.map((p) => p.x).filter((v) => v > 0))].sort((a, b) => a - b);
  const x0 = xs[0] || 1;
  const x1 = xs[xs.length - 1] || 1;
  const x = x1 > x0 ? log10([x0, x1], [m.left + 8, width - m.right - 8]) : () => (m.left + width - m.right) / 2;
  const yTop = Math.max(...all.map((p) => p.y).filter(Number.isFinite), 1e-9) * 1.08;
  const y = linear([0, yTop], [height - m.bottom, m.top]);
  const xt = xs.length <= 12 ? xs : xs.filter((v) => Number.isInteger(Math.log10(v)));
  return frame(width, height, label,
    yAxis(y, ticks(0, yTop, 4), m.left, width - m.right),
    svg('g', { class: 'axis x-axis' }, xt.map((v) => svg('text', {
      x: x(v), y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, String(v)))),
    series.map((s, k) => {
      const defined = s.points.filter((p) => p.x > 0 && Number.isFinite(p.y));
      return svg('g', { class: `series s${k % 8}`, 'data-series': s.name },
        svg('path', { class: 'line', d: defined.map((p, i) => `${i ? 'L' : 'M'}${x(p.x)},${y(p.y)}`).join('') }),
        defined.map((p) => svg('circle', { class: 'point', cx: x(p.x), cy: y(p.y), r: 3.5 },
          title(`${s.name}, ${p.label || `x = ${p.x}`}: ${format(p.y)}`))));
    }),
    axisLabel(xLabel, (m.left + width - m.right) / 2, height - 6),
    axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true));
}

// ---- scatter plot ----------------------------------------------------------------------------

/**
 * Dots at (x, y), one per item (a layer's filters: up to a few thousand, so each dot is a bare
 * <circle> with its <title> and clicks are handled once on the chart). points = [{x, y, index,
 * tooltip}]; onSelect(index) is called for a clicked dot.
 */
export function scatter(points, {
  width = 520, height = 260, xLabel = '', yLabel = '', label = 'scatter plot', onSelect = null,
} = {}) {
  const m = { top: 14, right: 14, bottom: 40, left: 52 };
  const xr = zeroDomain(points.map((p) => p.x));
  const yr = zeroDomain(points.map((p) => p.y));
  const x = linear([xr[0], xr[1] * 1.04], [m.left + 4, width - m.right]);
  const y = linear([yr[0], yr[1] * 1.06], [height - m.bottom - 4, m.top]);
  const xt = ticks(xr[0], xr[1], 5);
  const chart = frame(width, height, label,
    yAxis(y, ticks(yr[0], yr[1], 4), m.left, width - m.right),
    svg('g', { class: 'axis x-axis' }, xt.map((v) => svg('text', {
      x: x(v), y: height - m.bottom + 14, 'text-anchor': 'middle',
    }, tickLabel(v)))),
    svg('g', { class: 'dots' }, points.map((p) => svg('circle', {
      class: 'dot', 'data-index': p.index, cx: x(p.x), cy: y(p.y), r: 3,
    }, title(p.tooltip || `${fmt(p.x, 4)}, ${fmt(p.y, 4)}`)))),
    axisLabel(xLabel, (m.left + width - m.right) / 2, height - 6),
    axisLabel(yLabel, 12, (height - m.bottom + m.top) / 2, true));
  return selectable(chart, onSelect);
}

/** Pearson's r of two equally long arrays over the pairs where both are finite (null if undefined). */
export function pearson(xs, ys) {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < xs.length; i += 1) {
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) {
      n += 1;
      sx += xs[i];
      sy += ys[i];
    }
  }
  if (n < 2) return null;
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < xs.length; i += 1) {
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) {
      const dx = xs[i] - mx;
      const dy = ys[i] - my;
      sxx += dx * dx;
      syy += dy * dy;
      sxy += dx * dy;
    }
  }
  // A constant coordinate (e.g. all weights <= 0) has no correlation.
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

// ---- pan and zoom (the concept map) -------------------------------------------------------------

/**
 * Zoom and pan for an <svg> by rewriting its viewBox (no transform on the content, so the
 * browser keeps hit-testing and <title> tooltips in one coordinate system). The wheel zooms
 * around the pointer, a drag pans, and when the SVG has focus + / - / 0 and the arrow keys do
 * the same. The CSS custom property --zoom (the current scale) lets styles keep marks and
 * labels the same size on screen. base = {x, y, w, h} is the full view (scale 1).
 * Returns {zoomBy(factor), reset(), scale()}.
 */
export function panZoom(chart, base, { maxScale = 40, onChange = null } = {}) {
  let view = { ...base };
  const scale = () => base.w / view.w;
  const apply = () => {
    chart.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
    chart.style.setProperty('--zoom', String(scale()));
    onChange?.(scale());
  };
  // Keeps the view inside the base rectangle, so the map cannot be lost off-screen.
  const clamp = () => {
    view.x = Math.min(Math.max(view.x, base.x), base.x + base.w - view.w);
    view.y = Math.min(Math.max(view.y, base.y), base.y + base.h - view.h);
  };
  // The user-space point under a client (screen) position.
  const toUser = (clientX, clientY) => {
    const m = chart.getScreenCTM();
    if (!m) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  };
  const zoomAt = (factor, at = { x: view.x + view.w / 2, y: view.y + view.h / 2 }) => {
    const next = Math.min(Math.max(scale() * factor, 1), maxScale);
    const f = next / scale();
    if (f === 1) return;
    // The point under the pointer stays where it is.
    view = { x: at.x - (at.x - view.x) / f, y: at.y - (at.y - view.y) / f, w: view.w / f, h: view.h / f };
    clamp();
    apply();
  };
  const panBy = (dx, dy) => {
    view.x += dx;
    view.y += dy;
    clamp();
    apply();
  };

  chart.addEventListener('wheel', (event) => {
    event.preventDefault(); // the page must not scroll while the map zooms
    // deltaMode 1 is lines (Firefox), 0 pixels: about 100 px per notch either way.
    const delta = event.deltaY * (event.deltaMode === 1 ? 33 : 1);
    zoomAt(Math.exp(-delta / 300), toUser(event.clientX, event.clientY));
  }, { passive: false });

  // A drag starts only after a few pixels, so a click on a point still opens it; the pointer
  // is captured from then on (capturing earlier would retarget that click to the <svg>).
  let drag = null;
  let dragged = false; // the click that ends a drag is not a click on a point
  chart.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    dragged = false;
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, moving: false };
  });
  chart.addEventListener('click', (event) => {
    if (dragged) event.stopPropagation();
    dragged = false;
  }, { capture: true });
  chart.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moving && Math.hypot(dx, dy) < 4) return;
    if (!drag.moving) {
      drag.moving = true;
      chart.setPointerCapture(event.pointerId);
      chart.classList.add('dragging');
    }
    const perPixel = view.w / chart.getBoundingClientRect().width;
    panBy(-dx * perPixel, -dy * perPixel);
    drag.x = event.clientX;
    drag.y = event.clientY;
  });
  const end = () => {
    if (drag?.moving) {
      chart.classList.remove('dragging');
      dragged = true;
    }
    drag = null;
  };
  chart.addEventListener('pointerup', end);
  chart.addEventListener('pointercancel', end);

  chart.addEventListener('keydown', (event) => {
    if (event.target !== chart) return;
    const step = view.w / 10;
    const keys = {
      '+': () => zoomAt(1.5), '=': () => zoomAt(1.5), '-': () => zoomAt(1 / 1.5), 0: () => reset(),
      ArrowLeft: () => panBy(-step, 0), ArrowRight: () => panBy(step, 0), ArrowUp: () => panBy(0, -step), ArrowDown: () => panBy(0, step),
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  function reset() {
    view = { ...base };
    apply();
  }
  // Pans (at the same zoom) so that a user-space point is in view, centred when it was not.
  function show(x, y) {
    if (x >= view.x && x <= view.x + view.w && y >= view.y && y <= view.y + view.h) return;
    view.x = x - view.w / 2;
    view.y = y - view.h / 2;
    clamp();
    apply();
  }
  apply();
  return { zoomBy: (factor) => zoomAt(factor), reset, scale, show, view: () => ({ ...view }) };
}
