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
import { viewHead, field, numberInput, categoryChip, conceptItems, readInteger, showFormError } from './common.js';
import { exportBar } from '../export.js';
import { info } from '../glossary.js';

/** Every hit of the answers as one row: which table, which example, which space. */
function exampleRows(columns, answers) {
  return answers.flatMap((a, i) => [
    ...a.nearest.flatMap((e) => e.hits.map((x) => ({ table: 'nearest', example: e.query, space: columns[i].id, ...x }))),
    ...a.arithmetic.flatMap((e) => e.hits.map((x) => ({ table: 'arithmetic', example: sumText(e), space: columns[i].id, ...x }))),
  ]);
}

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
  const text = line.trim();
  const parts = text.replace(/\u2212/g, ' - ').split(/(\+|(?:^|\s)-)/).map((p) => p.trim()).filter(Boolean);
  const sum = { positive: [], negative: [] };
  let sign = 1;
  let previous = null; // the last operator not yet followed by a name
  for (const [i, part] of parts.entries()) {
    if (part === '+' || part === '-') {
      if (previous) throw new Error(`“${text}”: “${previous} ${part}” has no concept between the two signs.`);
      if (i === 0 && part === '+') throw new Error(`“${text}” starts with “+”: begin with a concept (e.g. “grass + blue-c - green-c”).`);
      previous = part;
      sign = part === '+' ? 1 : -1;
    } else {
      if (/[,/;]/.test(part)) throw new Error(`“${part}”: a concept name here cannot contain “,”, “/” or “;”.`);
      if (/[=*()<>]/.test(part)) {
        throw new Error(`“${text}”: “${/[=*()<>]/.exec(part)[0]}” is not understood; write a sum with + and - only, e.g. “grass + blue-c - green-c”.`);
      }
      (sign > 0 ? sum.positive : sum.negative).push(part);
      sign = 1;
      previous = null;
    }
  }
  if (previous) throw new Error(`“${text}” ends with “${previous}”: a concept must follow it.`);
  if (!sum.positive.length) throw new Error(`“${text}” has no positive concept (write e.g. “grass + blue-c - green-c”).`);
  return sum;
}

/** The textarea's lines -> the API's "a,b/c;d/e" ('' for none). */
export function sumsParamOf(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map(parseSumLine)
    .map((s) => s.positive.join(',') + (s.negative.length ? `/${s.negative.join(',')}` : '')).join(';');
}

/** [{positive, negative}] -> the API's "a,b/c;d/e". */
function sumsParamFrom(list) {
  return list.map((s) => s.positive.join(',') + (s.negative.length ? `/${s.negative.join(',')}` : '')).join(';');
}

/** Edit distance (insertions, deletions, substitutions), for did-you-mean. */
export function editDistance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/** Up to three names of `names` close to `word` (case-insensitive; a third of its length off at most). */
export function closeNames(word, names) {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(w.length / 3));
  return names.map((n) => [n, n.toLowerCase() === w ? 0 : editDistance(w, n.toLowerCase())])
    .filter(([, d]) => d <= limit).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([n]) => n);
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
  const form = h('form', { class: 'examples-form', 'aria-label': 'Examples', novalidate: true },
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
      showFormError(formError, error.message, results);
      sums.focus();
      return;
    }
    let kNumber;
    try {
      kNumber = readInteger(k, 'k');
    } catch (error) {
      showFormError(formError, error.message, results);
      k.focus();
      return;
    }
    formError.hidden = true;
    const kValue = kNumber === DEFAULT_K ? '' : kNumber;
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

  /**
   * One missing example: a query, or a sum with the absent terms named ("tree - wood: wood
   * absent"), each with did-you-mean links that replace that term in the URL.
   */
  function missingItem(route, item, cols, wanted, wantedSums) {
    const names = cols.map((c) => c.names).filter(Boolean);
    if (!names.length) return item;
    const absentFrom = (term) => names.some((list) => !list.includes(term));
    const fix = (term, proposal) => {
      const params = { space, queries: route.params.get('queries') || '', sums: route.params.get('sums') || '', k: route.params.get('k') || '' };
      if (wanted.includes(item)) params.queries = wanted.map((q) => (q === item ? proposal : q)).join(',');
      else {
        const swap = (list) => list.map((t) => (t === term ? proposal : t));
        params.sums = sumsParamFrom(wantedSums.map((x) => (sumText(x) === item ? { positive: swap(x.positive), negative: swap(x.negative) } : x)));
      }
      return examplesHref(params);
    };
    const suggest = (term) => {
      const close = closeNames(term, names[0]).filter((n) => n !== term);
      return close.length ? [' (did you mean ', close.map((n, i) => [i ? ' or ' : '', h('a', { class: 'suggestion', href: fix(term, n) }, n)]), '?)'] : null;
    };
    if (wanted.includes(item)) return h('span', { class: 'missing-item', 'data-missing': item }, item, suggest(item));
    const sum = wantedSums.find((x) => sumText(x) === item);
    if (!sum) return h('span', { class: 'missing-item', 'data-missing': item }, item);
    const absent = [...sum.positive, ...sum.negative].filter(absentFrom);
    return h('span', { class: 'missing-item', 'data-missing': item }, item,
      absent.length ? [': ', absent.map((t, i) => [i ? ', ' : '', h('strong', { class: 'absent-term' }, t), suggest(t)]),
        absent.length === 1 ? ' is absent' : ' are absent'] : null);
  }

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
        'cosine similarity', info('cosine'), ` · top ${fmtInt(answers[0].k)}`);
    } else if (first?.kind === 'network') {
      scope = h('p', { class: 'note' }, `The catalog has no ${first.task === 'segmentation' ? 'classification' : 'segmentation'} space for `,
        `${first.network}.${first.layer}, so ${columns[0].id} is shown alone.`);
    } else {
      scope = h('p', { class: 'muted' }, `${columns[0].id}${first?.kind === 'reference' ? ' (reference space)' : ''} · cosine similarity · top ${fmtInt(answers[0].k)}`);
    }

    // Missing examples: one line when every space lacks the same, else one per space. The
    // server lists them as written; each names the terms that are absent, with close names.
    const missing = answers.map((a) => a.missing);
    const same = missing.every((m) => JSON.stringify(m) === JSON.stringify(missing[0]));
    const explain = (items, cols) => items.map((item, n) => [n ? '; ' : '', missingItem(route, item, cols, wanted, wantedSums)]);
    const missingNote = same
      ? missing[0].length > 0 && h('p', { class: 'note missing' },
        `Not in ${columns.length > 1 ? 'these spaces' : 'this space'}: `, h('span', { class: 'missing-names' }, explain(missing[0], columns)))
      : missing.map((m, i) => m.length > 0 && h('p', { class: 'note missing', 'data-space': columns[i].id },
        `Not in ${columns[i].id}: `, h('span', { class: 'missing-names' }, explain(m, [columns[i]]))));

    const primary = columns.some((c) => c.id === space) ? space : columns[0].id;
    const grid = (cards) => h('div', { class: `examples-grid cols-${columns.length}` }, cards);
    const download = exportBar({
      name: `examples-${columns.map((c) => c.id).join('-')}`, label: 'examples (both tables)',
      columns: [{ key: 'table' }, { key: 'example' }, { key: 'space' }, { key: 'rank' }, { key: 'name', label: 'concept' }, { key: 'category' }, { key: 'score', label: 'cosine' }],
      rows: exampleRows(columns, answers),
      json: answers,
    });
    append(results, scope, h('div', { class: 'results-head' }, download), missingNote,
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
      slot.load(async (signal) => {
        const answers = await Promise.all(columns.map((c) => api.examples({ space: c.id, ...params }, signal)));
        // The spaces' concept names, to say which term of a missing example is absent.
        if (answers.some((a) => a.missing.length)) {
          const lists = await Promise.all(columns.map((c) => conceptItems(c.id).catch(() => null)));
          lists.forEach((l, i) => { columns[i].names = l ? l.map((c) => c.name) : null; });
        }
        return answers;
      }, (answers) => render(route, columns, answers), { suggest: suggestionLinks(route) });
    },
    destroy() {
      slot.abort();
    },
  };
}
