// Examples (paper Tables 2 and 3): the nearest concepts of a list of queries and the vector
// arithmetic of a list of sums, in a layer's segmentation and classification spaces side by
// side, as the paper prints them. One card per example: rank down, one column per space.
//
// The URL keeps the API's forms: queries=dog,house and sums=grass,blue-c/green-c;tree/wood
// (positives, then after "/" the negatives; sums separated by ";"). Without them the server
// answers the paper's own examples.

import { api } from '../api.js';
import { h, append, fmt, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { href, conceptHref, neighborsHref, suggestionLinks } from '../routes.js';
import { viewHead, field, numberInput, categoryChip } from './common.js';

// The server's defaults (src/service/service.cpp paper_nearest_examples / paper_arithmetic_examples),
// only to fill the form and order the cards; the server decides what it answers.
const PAPER_QUERIES = ['dog', 'house', 'wheel', 'street', 'bedroom', 'car', 'person'];
const PAPER_SUMS = 'grass,blue-c/green-c;grass/green-c;tree/wood;person/torso;lime,yellow-c/green-c';
const DEFAULT_K = 5;

/** The hash of this view; "/" and ";" stay readable like the commas. */
export function examplesHref(params) {
  return href('examples', params).replace(/%2F/gi, '/').replace(/%3B/gi, ';');
}

const list = (text) => (text || '').split(',').map((s) => s.trim()).filter(Boolean);

/** "a,b/c;d/e" -> [{positive, negative}] */
export function parseSumsParam(text) {
  return (text || '').split(';').map((part) => {
    const slash = part.indexOf('/');
    return slash < 0
      ? { positive: list(part), negative: [] }
      : { positive: list(part.slice(0, slash)), negative: list(part.slice(slash + 1)) };
  }).filter((s) => s.positive.length || s.negative.length);
}

/** "grass + blue-c - green-c" (the server's own spelling of an example, as in `missing`). */
export function sumText({ positive, negative }) {
  return [positive.join(' + '), ...negative.map((n) => `- ${n}`)].filter(Boolean).join(' ');
}

/**
 * One line "grass + blue-c - green-c" -> {positive, negative}. A "-" is an operator only after
 * whitespace or at the start, so names like "blue-c" stay whole; "−" (minus sign) works too.
 * Throws an Error with a message for the form.
 */
export function parseSumLine(line) {
  const parts = line.replace(/\u2212/g, ' - ').split(/(\+|(?:^|\s)-)/);
  const sum = { positive: [], negative: [] };
  let sign = 1;
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '+') sign = 1;
    else if (part === '-') sign = -1;
    else if (part) {
      if (/[,/;]/.test(part)) throw new Error(`“${part}”: a concept name here cannot contain “,”, “/” or “;”.`);
      (sign > 0 ? sum.positive : sum.negative).push(part);
      sign = 1;
    }
  }
  if (!sum.positive.length) throw new Error(`“${line.trim()}” has no positive concept (write e.g. “grass + blue-c - green-c”).`);
  return sum;
}

/** The textarea's lines -> the API's "a,b/c;d/e" ('' for none). */
export function sumsParamOf(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map(parseSumLine)
    .map((s) => s.positive.join(',') + (s.negative.length ? `/${s.negative.join(',')}` : '')).join(';');
}

const TASK_ORDER = { segmentation: 0, classification: 1 };
const TASK_LABEL = { segmentation: 'Segmentation', classification: 'Classification' };

/**
 * The spaces to show for `id`: a network space with its other task of the same network and
 * layer (segmentation first, as in the paper), otherwise the space alone.
 */
function spacesFor(ctx, id) {
  const info = ctx.spaceById(id);
  if (!info || info.kind !== 'network') return [{ id, info }];
  const other = ctx.spaces.find((s) => s.kind === 'network' && s.id !== id
    && s.network === info.network && s.layer === info.layer && s.task && s.task !== info.task);
  const pair = [{ id, info }, other ? { id: other.id, info: other } : null].filter(Boolean);
  return pair.sort((a, b) => (TASK_ORDER[a.info.task] ?? 2) - (TASK_ORDER[b.info.task] ?? 2));
}

/**
 * The examples in the requested order (then any the server answered under another name),
 * each with its entry per space (null where that space lacks it); examples no space has are
 * left to the `missing` note.
 */
function merge(requested, results, keyOf) {
  const keys = [...requested];
  for (const entries of results) for (const e of entries) if (!keys.includes(keyOf(e))) keys.push(keyOf(e));
  return keys.map((key) => ({ key, entries: results.map((entries) => entries.find((e) => keyOf(e) === key) || null) }))
    .filter((x) => x.entries.some(Boolean));
}

function columnHead(col) {
  const { id, info } = col;
  const label = info?.kind === 'reference' ? 'Reference' : TASK_LABEL[info?.task] || 'Space';
  return h('th', { scope: 'colgroup', colspan: 2, class: 'space-col', 'data-space': id, title: id },
    label, h('span', { class: 'space-id' }, id));
}

/** One example: rank down, a name and a similarity per space. */
function exampleCard({ kind, key, title, actions, entries, columns, caption }) {
  const rows = Math.max(...entries.map((e) => e?.hits.length || 0));
  const body = [];
  for (let i = 0; i < rows; i += 1) {
    body.push(h('tr', {},
      h('td', { class: 'num rank' }, fmtInt(i + 1)),
      columns.map((col, c) => {
        const entry = entries[c];
        if (!entry) {
          return i === 0
            ? h('td', { class: 'not-here', colspan: 2, rowspan: rows, 'data-space': col.id }, 'not in this space')
            : null;
        }
        const hit = entry.hits[i];
        if (!hit) return [h('td', { class: 'name', 'data-space': col.id }), h('td', { class: 'sim', 'data-space': col.id })];
        return [
          h('td', { class: 'name', 'data-space': col.id },
            h('a', { href: conceptHref(col.id, hit.name), title: `${hit.name} in ${col.id}` }, hit.name),
            ' ', categoryChip(hit.category)),
          h('td', { class: 'num sim', 'data-space': col.id, title: `cosine similarity ${fmt(hit.score, 4)}` }, fmt(hit.score, 3)),
        ];
      })));
  }
  return h('section', { class: 'card example-card', 'data-kind': kind, 'data-example': key },
    h('div', { class: 'card-head' }, h('h3', {}, title), actions),
    h('table', { class: 'data example-hits' },
      h('caption', { class: 'visually-hidden' }, caption),
      // Fixed layout takes its widths from here: rank and similarity narrow, names share the rest.
      h('colgroup', {}, h('col', { class: 'rank' }), columns.map(() => [h('col', {}), h('col', { class: 'sim' })])),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, '#'), columns.map(columnHead))),
      h('tbody', {}, body)));
}

/** "grass + blue-c − green-c" with each term linked to its concept page. */
function expression({ positive, negative }, space) {
  const term = (name) => h('a', { href: conceptHref(space, name) }, name);
  return [
    positive.map((name, i) => [i ? ' + ' : '', term(name)]),
    negative.map((name) => [' − ', term(name)]),
  ];
}

export function create(root, ctx) {
  let space = null;
  const head = viewHead('Examples',
    'The paper’s Tables 2 and 3: the nearest concepts of query concepts and vector arithmetic on concept vectors, '
    + 'with a layer’s segmentation and classification spaces side by side (cosine similarity).');
  const queries = h('input', {
    type: 'text', name: 'queries', class: 'queries', autocomplete: 'off', spellcheck: 'false',
    placeholder: PAPER_QUERIES.join(', '),
  });
  const sums = h('textarea', {
    name: 'sums', rows: 3, class: 'sums', spellcheck: 'false',
    placeholder: parseSumsParam(PAPER_SUMS).map(sumText).join('\n'),
  });
  const k = numberInput(DEFAULT_K, { name: 'k', max: 50 });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'examples-form', 'aria-label': 'Examples' },
    h('div', { class: 'toolbar' },
      field('Queries', queries, 'comma-separated; empty: the paper’s'),
      field('Sums', sums, 'one per line, e.g. grass + blue-c - green-c; Ctrl+Enter shows'),
      field('k', k),
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, 'Show'),
        h('button', { type: 'button', class: 'paper', onclick: () => ctx.navigate(examplesHref({ space })) }, 'Paper’s examples'))),
    formError);
  const results = h('section', { class: 'results examples-body', 'aria-label': 'Results' });
  const slot = loadSlot(results);
  root.append(head, form, results);

  function submit() {
    let sumsParam;
    try {
      sumsParam = sumsParamOf(sums.value);
    } catch (error) {
      formError.textContent = error.message;
      formError.hidden = false;
      sums.focus();
      return;
    }
    formError.hidden = true;
    const kValue = Number(k.value) === DEFAULT_K ? '' : k.value;
    ctx.navigate(examplesHref({ space, queries: list(queries.value).join(','), sums: sumsParam, k: kValue }));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  sums.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });

  function render(route, columns, answers) {
    const wanted = list(route.params.get('queries'));
    const wantedSums = parseSumsParam(route.params.get('sums'));
    const nearest = merge(wanted.length ? wanted : PAPER_QUERIES, answers.map((a) => a.nearest), (e) => e.query);
    const arithmetic = merge((wantedSums.length ? wantedSums : parseSumsParam(PAPER_SUMS)).map(sumText),
      answers.map((a) => a.arithmetic), sumText);
    const names = columns.map((c) => c.id).join(' and ');

    const first = columns[0].info;
    let scope;
    if (columns.length === 2 && first) {
      scope = h('p', { class: 'muted' }, `${first.network}.${first.layer}: segmentation and classification side by side · `,
        `cosine similarity · top ${fmtInt(answers[0].k)}`);
    } else if (first?.kind === 'network') {
      scope = h('p', { class: 'note' }, `The catalog has no ${first.task === 'segmentation' ? 'classification' : 'segmentation'} space for `,
        `${first.network}.${first.layer}, so ${columns[0].id} is shown alone.`);
    } else {
      scope = h('p', { class: 'muted' }, `${columns[0].id}${first?.kind === 'reference' ? ' (reference space)' : ''} · cosine similarity · top ${fmtInt(answers[0].k)}`);
    }

    // Missing examples: one line when every space lacks the same, else one per space.
    const missing = answers.map((a) => a.missing);
    const same = missing.every((m) => JSON.stringify(m) === JSON.stringify(missing[0]));
    const missingNote = same
      ? missing[0].length > 0 && h('p', { class: 'note missing' },
        `Not in ${columns.length > 1 ? 'these spaces' : 'this space'}: `, h('span', { class: 'missing-names' }, missing[0].join(', ')))
      : missing.map((m, i) => m.length > 0 && h('p', { class: 'note missing', 'data-space': columns[i].id },
        `Not in ${columns[i].id}: `, h('span', { class: 'missing-names' }, m.join(', '))));

    const primary = columns.some((c) => c.id === space) ? space : columns[0].id;
    const grid = (cards) => h('div', { class: `examples-grid cols-${columns.length}` }, cards);
    append(results, scope, missingNote,
      h('h2', {}, 'Nearest concepts (Table 2)'),
      nearest.length
        ? grid(nearest.map(({ key, entries }) => exampleCard({
          kind: 'nearest', key, entries, columns,
          title: h('a', { href: conceptHref(primary, key) }, key),
          actions: h('a', { class: 'row-action', href: neighborsHref(primary, key), title: `Nearest concepts to ${key} in ${primary}` }, 'neighbours'),
          caption: `Nearest concepts to ${key} in ${names}`,
        })))
        : emptyBox('None of the queries is in ', names, '.'),
      h('h2', {}, 'Vector arithmetic (Table 3)'),
      arithmetic.length
        ? grid(arithmetic.map(({ key, entries }) => {
          const sum = entries.find(Boolean);
          return exampleCard({
            kind: 'arithmetic', key, entries, columns,
            title: expression(sum, primary),
            actions: h('a', {
              class: 'row-action', href: href('analogy', { space: primary, positive: sum.positive, negative: sum.negative }),
              title: `Open ${key} in the Analogy view`,
            }, 'analogy'),
            caption: `Nearest concepts to ${key} in ${names}`,
          });
        }))
        : emptyBox('None of the sums has all its concepts in ', names, '.'));
  }

  return {
    update(route) {
      space = route.params.get('space');
      const wanted = route.params.get('queries') || '';
      const wantedSums = route.params.get('sums') || '';
      queries.value = list(wanted).join(', ');
      sums.value = parseSumsParam(wantedSums).map(sumText).join('\n');
      if (!wanted && !wantedSums) {
        queries.value = PAPER_QUERIES.join(', ');
        sums.value = parseSumsParam(PAPER_SUMS).map(sumText).join('\n');
      }
      sums.rows = Math.min(6, Math.max(3, sums.value.split('\n').length));
      k.value = route.params.get('k') || String(DEFAULT_K);
      formError.hidden = true;
      ctx.setTitle('Examples');
      const columns = spacesFor(ctx, space);
      const params = { queries: list(wanted).join(','), sums: wantedSums, k: route.params.get('k') || DEFAULT_K };
      slot.load((signal) => Promise.all(columns.map((c) => api.examples({ space: c.id, ...params }, signal))),
        (answers) => render(route, columns, answers), { suggest: suggestionLinks(route) });
    },
    destroy() {
      slot.abort();
    },
  };
}
