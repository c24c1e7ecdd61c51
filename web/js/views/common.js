// Pieces several views share: page headings, form fields, category chips and selects, and the
// ranked table of search hits (neighbours and analogies).

import { api } from '../api.js';
import { h, replace, uid, fmt, fmtInt, metricName } from '../dom.js';
import { inlineBar, barDomain } from '../charts.js';
import { conceptHref, neighborsHref } from '../routes.js';
import { copyLinkButton, exportBar } from '../export.js';
import { info, METRIC_KEYS } from '../glossary.js';

/** The view's <h1> (focusable, so the router can move focus to it), a one-line lede and "Copy link". */
export function viewHead(title, lede) {
  return h('div', { class: 'view-head' },
    h('div', { class: 'view-title' }, h('h1', { tabindex: '-1' }, title), copyLinkButton()),
    h('p', { class: 'lede' }, lede));
}

/** The ⓘ definition of an API metric name (cosine, set_iou, ...), or null. */
export function metricInfo(metric) {
  return METRIC_KEYS[metric] ? info(METRIC_KEYS[metric]) : null;
}

/**
 * Whether a scored concept's learned weights do worse on val than its best single filter
 * (the paper's claim is the opposite: a reader should know where it fails). Takes a concepts
 * list row ({score_val, best_filter_val}) or a concept answer ({learned: {val}, best_single: {val}}).
 */
export function learnedBelowSingle(c) {
  const learned = c?.learned ? c.learned.val : c?.score_val;
  const single = c?.best_single ? c.best_single.val : c?.best_filter_val;
  return Number.isFinite(learned) && Number.isFinite(single) && learned < single;
}

/**
 * A listed val score's 95 % interval and p against chance, "[0.10, 0.14], p = 0.001", from a
 * concepts list or filter row's <prefix>_interval and <prefix>_p (prefix score_val or
 * best_filter_val; formatted as the concept page does); null where not computed (a catalog
 * from before schema version 7).
 */
export function valStatsText(row, prefix) {
  const iv = row?.[`${prefix}_interval`];
  if (!Array.isArray(iv)) return null;
  const p = row[`${prefix}_p`];
  const pText = Number.isFinite(p) ? `, p = ${p < 0.0005 ? p.toExponential(1) : fmt(p, 3)}` : '';
  return `[${fmt(iv[0], 3)}, ${fmt(iv[1], 3)}]${pText}`;
}

/** The flag shown beside such a concept wherever its score is. */
export function belowSingleFlag(c, { long = false } = {}) {
  if (!learnedBelowSingle(c)) return null;
  const text = 'the learned weights score below this concept’s best single filter (val)';
  // The short flag's text comes from CSS (data-flag), so a table cell's text stays the name.
  return long
    ? h('span', { class: 'flag below-single', title: text }, 'Learned weights below the best single filter')
    : h('span', { class: 'flag below-single short', title: text, 'aria-label': text, role: 'img', 'data-flag': '▼ single' });
}

/** A labelled form control. */
export function field(label, control, hint = null) {
  if (!control.id) control.id = uid('field');
  return h('div', { class: 'field' },
    h('label', { for: control.id, class: 'field-label' }, label), control,
    hint ? h('span', { class: 'hint' }, hint) : null);
}

export function numberInput(value, { min = 1, max = 1000, name = '' } = {}) {
  return h('input', { type: 'number', min, max, step: 1, value, name, class: 'num', inputmode: 'numeric' });
}

/**
 * A numberInput's value as an integer within its min and max, or an Error whose message names
 * the field. type=number alone lets "1e3" through (the server wants digits) and answers
 * 0, 2.5 or 100000 with a native bubble only; forms using this set novalidate and show the
 * message with showFormError. An empty input gives `fallback` when there is one.
 */
export function readInteger(input, label, { fallback = null } = {}) {
  const text = input.value.trim();
  const min = input.min === '' ? -Infinity : Number(input.min);
  const max = input.max === '' ? Infinity : Number(input.max);
  const range = `a whole number from ${fmtInt(min)} to ${fmtInt(max)}`;
  if (!text && !input.validity.badInput) {
    if (fallback !== null) return fallback;
    throw new Error(`${label} is empty: enter ${range}.`);
  }
  if (input.validity.badInput || !/^-?\d+$/.test(text)) throw new Error(`${label} must be ${range}${text ? `, not “${text}”` : ''}.`);
  const value = Number(text);
  if (value < min || value > max) throw new Error(`${label} must be ${range}, not ${text}.`);
  return value;
}

/** Shows a form's message (an element with role=alert) and removes an older answer's error. */
export function showFormError(element, message, results = null) {
  element.textContent = message;
  element.hidden = false;
  for (const old of results?.querySelectorAll('.alert') || []) old.remove();
}

/** A form's message line, hidden until showFormError. */
export function formErrorLine() {
  return h('p', { class: 'form-error', role: 'alert', hidden: true });
}

/**
 * The attributes of a box whose table may scroll sideways on a narrow screen: focusable and
 * named, so that keyboard users can scroll it too (axe: scrollable-region-focusable).
 */
export function scrollRegion(label) {
  return { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': label };
}

/** A small coloured label for a concept category (colours for BRODEN's categories in CSS). */
export function categoryChip(category) {
  if (!category) return h('span', { class: 'muted' }, '–');
  return h('span', { class: 'cat', 'data-category': category }, category);
}

/** The concepts of a space ({number, name, category, score_val, ...}), fetched once per space. */
export async function conceptItems(space) {
  const data = await api.concepts(space);
  return data.concepts;
}

/**
 * Fills `select` with "All categories" and the space's categories (with counts), keeping
 * `value` selected even when the space lacks it (the server then names the valid ones).
 */
export async function fillCategories(select, space, value) {
  // Only the latest call fills the select (an older one may answer later).
  const call = (Number(select.dataset.call) || 0) + 1;
  select.dataset.call = call;
  let categories = [];
  try {
    const counts = new Map();
    for (const c of await conceptItems(space)) counts.set(c.category, (counts.get(c.category) || 0) + 1);
    categories = [...counts].sort((a, b) => a[0].localeCompare(b[0]));
  } catch {
    // The view reports the error; the select still offers "All categories".
  }
  if (Number(select.dataset.call) !== call) return;
  if (value && !categories.some(([c]) => c === value)) categories.push([value, null]);
  replace(select, h('option', { value: '' }, 'All categories'),
    categories.map(([c, n]) => h('option', { value: c }, n === null ? c : `${c} (${n})`)));
  select.value = value || '';
}

/** A link to a concept's own neighbours, for result tables. */
export function neighboursLink(space, name) {
  return h('a', { href: neighborsHref(space, name), class: 'row-action', title: `Nearest concepts to ${name}` }, 'neighbours');
}

/**
 * The ranked hits of a neighbours or analogy search: rank, concept (linked to its page),
 * category, score with a bar, and a link to the hit's own neighbours.
 */
export function hitsTable(hits, { space, metric, concepts = null }) {
  // Cosines on the absolute scale (0 to 1, or -1 to 1 when some are negative), so bars compare
  // across queries and spaces; 3CosMul is no cosine and keeps a scale of its own.
  const domain = metric === 'cosine'
    ? [hits.some((x) => x.score < 0) ? -1 : 0, 1]
    : barDomain(hits.map((x) => x.score));
  const byName = concepts ? new Map(concepts.map((c) => [c.name, c])) : null;
  // Neighbours answers place each cosine among the space's concept pairs (its baseline).
  const placed = hits.some((x) => Number.isFinite(x.percentile));
  return h('table', { class: 'data hits', 'data-scale': `${domain[0]},${domain[1]}` },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'num' }, '#'),
      h('th', { scope: 'col' }, 'Concept'),
      h('th', { scope: 'col' }, 'Category'),
      h('th', { scope: 'col', class: 'score' }, metricName(metric), metricInfo(metric)),
      placed ? h('th', { scope: 'col', class: 'num percentile', title: 'share of this space\'s concept pairs with a lower cosine' },
        'Above % of pairs', info('cosine_baseline')) : null,
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Links')))),
    h('tbody', {}, hits.map((x) => h('tr', {},
      h('td', { class: 'num rank' }, fmtInt(x.rank)),
      h('td', { class: 'name' }, h('a', { href: conceptHref(space, x.name), title: `Concept page of ${x.name}` }, x.name),
        byName ? belowSingleFlag(byName.get(x.name)) : null),
      h('td', {}, categoryChip(x.category)),
      h('td', { class: 'score' },
        inlineBar(x.score, domain, { label: `${metricName(metric)} ${fmt(x.score, 4)}` }),
        h('span', { class: 'value' }, fmt(x.score, 4))),
      placed ? h('td', { class: 'num percentile' }, fmt(x.percentile, 1)) : null,
      h('td', {}, neighboursLink(space, x.name))))));
}

/**
 * The line that says how the cosines of a space's concept pairs are spread (a neighbours
 * answer's baseline), or null without one.
 */
export function baselineLine(baseline) {
  if (!baseline) return null;
  return h('p', { class: 'muted baseline' },
    `Two concepts of this space: median cosine ${fmt(baseline.p50, 3)}, 95th percentile ${fmt(baseline.p95, 3)}, `
    + `99th ${fmt(baseline.p99, 3)} (${baseline.sampled ? 'a random sample of ' : 'all '}${fmtInt(baseline.pairs)} pairs)`,
    info('cosine_baseline'));
}

/** CSV and JSON of a neighbours or analogy answer: the CSV has its hits, the JSON the answer. */
export function hitsExport(data, name) {
  return exportBar({
    name,
    label: 'results',
    columns: [{ key: 'rank' }, { key: 'name', label: 'concept' }, { key: 'category' }, { key: 'score', label: data.metric || 'score' },
      ...(data.hits.some((x) => Number.isFinite(x.percentile)) ? [{ key: 'percentile', label: 'above_pct_of_pairs' }] : [])],
    rows: data.hits,
    json: data,
  });
}

/**
 * The compare answer's matrices as one row per ordered pair of spaces (CSV: D_ij, the D_ij per
 * concept pair where the server gives it, CKA) and the whole answer (JSON).
 */
export function compareExport(data) {
  const ids = data.spaces.map((s) => s.id);
  const rows = ids.flatMap((a, i) => ids.map((b, j) => ({
    space_a: a, space_b: b, d_ij: data.distance[i][j], d_ij_per_pair: data.distance_per_pair?.[i]?.[j] ?? null, cka: data.cka[i][j],
  })));
  const columns = [{ key: 'space_a' }, { key: 'space_b' }, { key: 'd_ij' }];
  if (data.distance_per_pair) columns.push({ key: 'd_ij_per_pair' });
  columns.push({ key: 'cka' });
  return exportBar({ name: `compare-${ids.length}-spaces`, label: 'D_ij and CKA matrices', columns, rows, json: data });
}

/** One pair's concepts that differ most (D_ijc) and its mean D_ijc per category. */
export function pairExport(pair) {
  const name = `compare-${pair.a}-vs-${pair.b}`;
  return h('div', { class: 'pair-exports' },
    exportBar({
      name: `${name}-d_ijc`, label: 'D_ijc per concept',
      columns: [{ key: 'name', label: 'concept' }, { key: 'category' }, { key: 'd', label: 'd_ijc' }],
      rows: pair.per_concept, json: pair,
    }),
    exportBar({
      name: `${name}-categories`, label: 'mean D_ijc per category',
      columns: [{ key: 'category' }, { key: 'concept_count' }, { key: 'mean', label: 'mean_d_ijc' }],
      rows: pair.categories,
    }));
}
