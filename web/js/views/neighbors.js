// Neighbours (paper Table 2): the concepts whose unit weight vectors are closest (cosine) to a
// query concept's, with autocomplete on the space's concept names.

import { api } from '../api.js';
import { h, append, fmt, fmtInt, loadSlot, emptyBox, metricName } from '../dom.js';
import { combobox } from '../autocomplete.js';
import { href, conceptHref, neighborsHref, suggestionLinks } from '../routes.js';
import { viewHead, field, numberInput, fillCategories, conceptItems, hitsTable, hitsExport, categoryChip, readInteger, showFormError, formErrorLine, belowSingleFlag, metricInfo, valStatsText, baselineLine } from './common.js';
import { info, provenance, term } from '../glossary.js';

const NOT_COMPUTED = 'interval not computed';

/** A start chip's description: the concept's val score with its interval and p (issue 21). */
function chipLabel(c, metric) {
  return `${c.name}: val ${metricName(metric)} ${fmt(c.score_val, 3)}, 95 % interval ${valStatsText(c, 'score_val') ?? NOT_COMPUTED}`;
}

/** " [low, high], p = ..." after a score in running text; muted "not computed" without. */
function statsSpan(c, prefix) {
  const text = valStatsText(c, prefix);
  const nullMean = c[`${prefix}_null_mean`];
  return text
    ? h('span', { class: 'val-stats', title: Number.isFinite(nullMean) ? `95 % interval; p against chance (mean score under permutation ${fmt(nullMean, 3)})` : '95 % interval; p against chance' }, ` ${text}`)
    : h('span', { class: 'val-stats muted', title: 'catalog ingested before intervals (schema version 7) or with them off' }, ` (${NOT_COMPUTED})`);
}

export function create(root, ctx) {
  let space = null;
  const head = viewHead('Nearest concepts',
    'Concepts whose weight vectors point the same way: cosine similarity of unit-length vectors (paper Table 2).');
  const k = numberInput(10, { name: 'k', max: 5000 }); // the API's bound (docs/API.md)
  const category = h('select', { name: 'category' });
  const combo = combobox({
    label: 'Concept',
    placeholder: 'Type a concept, e.g. dog',
    name: 'concept',
    getItems: () => conceptItems(space),
    onPick: () => submit(), // picking a suggestion searches at once
  });
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Nearest concepts', novalidate: true },
    combo.element, field('k', k), field('Category', category),
    h('button', { type: 'submit', class: 'primary' }, 'Search'));
  const formError = formErrorLine();
  const results = h('section', { class: 'results', 'aria-label': 'Results' });
  const slot = loadSlot(results);
  root.append(head, form, formError, results);

  function submit() {
    const concept = combo.input.value.trim();
    let kValue;
    try {
      if (!concept) throw new Error('Type a concept name to search for (e.g. dog).');
      kValue = readInteger(k, 'k');
    } catch (error) {
      showFormError(formError, error.message, results);
      (concept ? k : combo.input).focus();
      return;
    }
    formError.hidden = true;
    ctx.navigate(href('neighbors', { space, concept, k: kValue, category: category.value }));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });

  // With no query yet: the space's best-learned concepts as starting points.
  function renderStart(list) {
    const concepts = list.slice();
    const scored = concepts.some((c) => Number.isFinite(c.score_val));
    const metric = ctx.spaceById(space)?.metric;
    if (scored) concepts.sort((a, b) => (b.score_val ?? -1) - (a.score_val ?? -1));
    append(results, emptyBox(
      h('p', {}, `${fmtInt(concepts.length)} concepts in ${space}. Type a name above, or start from `,
        scored ? ['the best-learned ones (highest val score; a chip’s tooltip gives its 95 % interval and p', info('val_interval'), '):'] : 'one of these:'),
      // A chip is too small for the interval: its title and accessible name carry it.
      h('ul', { class: 'chips' }, concepts.slice(0, 12).map((c) => h('li', {},
        h('a', { href: neighborsHref(space, c.name), class: 'chip', title: scored ? chipLabel(c, metric) : null, 'aria-label': scored ? chipLabel(c, metric) : null }, c.name,
          scored ? h('span', { class: 'chip-score' }, fmt(c.score_val, 2)) : null),
        belowSingleFlag(c)))),
      // The export route's files, e.g. for the TensorBoard Embedding Projector.
      h('p', { class: 'caption' }, 'Export this space: ',
        [['tsv', 'vectors.tsv'], ['metadata', 'metadata.tsv'], ['npy', 'vectors.npy']].map(([format, file], i) => [
          i ? ' · ' : '',
          h('a', { href: `api/export?${new URLSearchParams({ space, format })}`, download: file }, file)]),
        ' (TensorBoard Embedding Projector: vectors.tsv with metadata.tsv).'),
      h('p', { class: 'caption' }, 'New here? ', term('space', 'What a space is'), ' · the header’s About explains every number.'),
      provenance(ctx.spaceById(space))));
  }

  /**
   * How well the query concept itself is learned: its val score beside its best single
   * filter's, flagged when the filter does better (neighbours of a badly learned vector say
   * little). Null for reference spaces, which have no scores.
   */
  function queryScore(data, concepts) {
    const c = concepts?.find((x) => x.name === data.query);
    if (!c || !Number.isFinite(c.score_val)) return null;
    const metric = ctx.spaceById(data.space)?.metric;
    return h('div', { class: 'query-score' },
      `${data.query}: val ${metricName(metric)} `, h('strong', {}, fmt(c.score_val, 3)), metricInfo(metric),
      statsSpan(c, 'score_val'), info('val_interval'),
      Number.isFinite(c.best_filter_val) ? [` · best single filter ${fmt(c.best_filter_val, 3)}`, statsSpan(c, 'best_filter_val')] : '',
      ' ', belowSingleFlag(c, { long: true }));
  }

  return {
    update(route) {
      space = route.params.get('space');
      const concept = route.params.get('concept') || '';
      const cat = route.params.get('category') || '';
      combo.input.value = concept;
      k.value = route.params.get('k') || '10';
      formError.hidden = true;
      fillCategories(category, space, cat);
      ctx.setTitle(concept ? `Neighbours of ${concept}` : 'Nearest concepts');
      const suggest = suggestionLinks(route, { conceptParam: 'concept' });
      if (!concept) {
        slot.load(() => conceptItems(space), renderStart, { suggest });
        return;
      }
      slot.load(async (signal) => {
        const data = await api.neighbors({ space, concept, k: k.value, category: cat }, signal);
        // The space's concept list (fetched once per space) holds each concept's scores.
        const concepts = await conceptItems(data.space).catch(() => null);
        return { data, concepts };
      }, ({ data, concepts }) => {
        const info = ctx.spaceById(data.space);
        append(results, h('div', { class: 'results-head' },
          h('h2', {}, 'Nearest to ', h('a', { href: conceptHref(data.space, data.query) }, data.query),
            data.category ? [' among ', categoryChip(data.category)] : null),
          queryScore(data, concepts),
          h('p', { class: 'muted' },
            `${data.space}${info?.task ? ` (${info.task})` : info ? ' (reference)' : ''} · cosine similarity · `,
            `${fmtInt(data.hits.length)} of ${fmtInt(data.candidates)} candidates`),
          baselineLine(data.baseline),
          data.hits.length ? hitsExport(data, `neighbours-${data.query}-${data.space}`) : null),
        data.hits.length
          ? hitsTable(data.hits, { space: data.space, metric: data.metric, concepts })
          : emptyBox('No other concepts', data.category ? ` of category ${data.category}` : '', ' in this space.'));
      }, { suggest });
    },
    destroy() {
      slot.abort();
    },
  };
}
