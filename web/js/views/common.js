// Pieces several views share: page headings, form fields, category chips and selects, and the
// ranked table of search hits (neighbours and analogies).

import { api } from '../api.js';
import { h, replace, uid, fmt, fmtInt, metricName } from '../dom.js';
import { inlineBar, barDomain } from '../charts.js';
import { conceptHref, neighborsHref } from '../routes.js';

/** The view's <h1> (focusable, so the router can move focus to it) and a one-line lede. */
export function viewHead(title, lede) {
  return h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, title), h('p', { class: 'lede' }, lede));
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
export function hitsTable(hits, { space, metric }) {
  const domain = barDomain(hits.map((x) => x.score));
  return h('table', { class: 'data hits' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'num' }, '#'),
      h('th', { scope: 'col' }, 'Concept'),
      h('th', { scope: 'col' }, 'Category'),
      h('th', { scope: 'col', class: 'score' }, metricName(metric)),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Links')))),
    h('tbody', {}, hits.map((x) => h('tr', {},
      h('td', { class: 'num rank' }, fmtInt(x.rank)),
      h('td', { class: 'name' }, h('a', { href: conceptHref(space, x.name), title: `Concept page of ${x.name}` }, x.name)),
      h('td', {}, categoryChip(x.category)),
      h('td', { class: 'score' },
        inlineBar(x.score, domain, { label: `${metricName(metric)} ${fmt(x.score, 4)}` }),
        h('span', { class: 'value' }, fmt(x.score, 4))),
      h('td', {}, neighboursLink(space, x.name))))));
}
