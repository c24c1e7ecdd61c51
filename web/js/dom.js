// DOM helpers shared by every view.
//
// Nodes are built from data with h()/svg(), never from HTML strings: text goes in through
// text nodes and attribute values through setAttribute, so concept names (which come from the
// catalog and may hold '<', '&' or quotes) are escaped by construction.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, numbers, nested arrays; null/false are skipped). */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces el's children, with the same rules as append(). */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** An HTML element: h('a', {href, class: 'x'}, 'text', otherNode). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, same calling convention as h(). */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

let idCounter = 0;
/** A document-unique id (for aria-controls, gradients, label/for pairs). */
export function uid(prefix = 'n2v') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ---- numbers --------------------------------------------------------------------------------

/** A number with `digits` decimals, or an en dash for null/NaN (the API's "undefined"). */
export function fmt(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 1e4) return x.toExponential(2);
  return x.toFixed(digits);
}

export function fmtInt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return Math.round(x).toLocaleString('en-US');
}

export function fmtPct(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${(100 * x).toFixed(digits)}%`;
}

/** Human names of the API's `metric` values. */
export const METRIC_NAMES = {
  cosine: 'cosine similarity',
  '3cosmul': '3CosMul score',
  set_iou: 'set IoU',
  balanced_accuracy: 'balanced accuracy',
  d_ij: 'D_ij',
};

export function metricName(metric) {
  return METRIC_NAMES[metric] || metric || 'score';
}

// ---- common states -----------------------------------------------------------------------------

export function loadingBox(text = 'Loading…') {
  return h('div', { class: 'state loading', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function emptyBox(...children) {
  return h('div', { class: 'state empty' }, ...children);
}

/**
 * The names the server proposes in an error message. Its messages start with
 * "no concept|space|category '...'" and end like "...; did you mean 'dog', 'cat' or 'horse'?"
 * (an unknown space may instead list them: "the catalog has 4 spaces: 'a', 'b' and 'c'").
 * Names may contain spaces or apostrophes, so a quote only closes a name before a separator.
 * Only a fallback for servers without the structured `error.suggestions` (see suggestionsOf).
 */
export function parseSuggestions(message) {
  const head = /^no (concept|space|category) '/.exec(message || '');
  if (!head) return null;
  const list = /did you mean (.+?')\?/s.exec(message) || /the catalog has \d+ spaces?: (.+)$/s.exec(message);
  if (!list) return null;
  const names = [];
  const re = /'(.+?)'(?=, | or | and |$)/g;
  let hit;
  while ((hit = re.exec(list[1])) !== null) names.push(hit[1]);
  return names.length ? { kind: head[1], names } : null;
}

/**
 * The names proposed for an error: {kind, names} or null. Prefers the server's structured
 * `error.suggestions` (ApiError.suggestions), because quoting in the message text is ambiguous
 * for names with quotes or separators; parses the message only when that field is absent
 * (an older server). The kind (concept, space or category) still comes from the message head.
 */
export function suggestionsOf(error, message) {
  if (!Array.isArray(error?.suggestions)) return parseSuggestions(message);
  const head = /^no (concept|space|category) '/.exec(message || '');
  return head && error.suggestions.length ? { kind: head[1], names: error.suggestions } : null;
}

/**
 * A visible alert with the server's message. `suggest(kind, name, message)` returns a link
 * target for a proposed name (or null when that kind cannot be linked from this view).
 */
export function errorBox(error, suggest) {
  const message = error?.message || String(error);
  const parsed = suggestionsOf(error, message);
  const links = parsed && suggest
    ? parsed.names.map((name) => [name, suggest(parsed.kind, name, message)]).filter(([, href]) => href)
    : [];
  return h('div', { class: 'alert', role: 'alert' },
    h('strong', {}, error?.status ? `Error ${error.status}` : 'Error'), ' ',
    h('span', { class: 'alert-message' }, message),
    links.length > 0 && h('p', { class: 'suggestions' }, 'Did you mean ',
      links.map(([name, href], i) => [i > 0 ? ' · ' : '', h('a', { href, class: 'suggestion' }, name)]),
      '?'));
}

/**
 * Runs loads into one container: shows "Loading…" (after a short delay, so fast answers do not
 * flicker), renders the answer or the error, and aborts the previous load when a new one
 * starts, so a slow answer never overwrites a newer one.
 */
export function loadSlot(box) {
  let current = null;
  return {
    async load(fetcher, render, { suggest, loading = 'Loading…' } = {}) {
      current?.abort();
      const ctrl = new AbortController();
      current = ctrl;
      box.classList.add('is-stale');
      box.setAttribute('aria-busy', 'true');
      const timer = setTimeout(() => replace(box, loadingBox(loading)), 150);
      let data;
      let failure = null;
      try {
        data = await fetcher(ctrl.signal);
      } catch (error) {
        failure = error;
      }
      clearTimeout(timer);
      if (ctrl.signal.aborted) return; // a newer load owns the box now
      box.classList.remove('is-stale');
      box.removeAttribute('aria-busy');
      if (failure) {
        replace(box, errorBox(failure, suggest));
        return;
      }
      box.replaceChildren();
      // Outside the try: a bug in a view surfaces as a page error, not as an API message.
      render(data, box);
    },
    abort() {
      current?.abort();
    },
  };
}
