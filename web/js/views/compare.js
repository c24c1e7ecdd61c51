// Comparing spaces (paper section 5.3, Figure 10): D_ij = ||d(W_i) - d(W_j)||_F^2 between the
// cosine matrices of the concepts all chosen spaces share, and linear CKA of the same Grams,
// as two heatmaps. A cell opens that pair: mean D_ijc per category and the concepts that
// differ most.

import { api } from '../api.js';
import { h, replace, append, fmt, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { heatmap, hbarChart, inlineBar, barDomain } from '../charts.js';
import { href, conceptHref, withParams } from '../routes.js';
import { viewHead, field, numberInput, categoryChip, readInteger, showFormError, compareExport, pairExport } from './common.js';
import { info } from '../glossary.js';

/** The spaces compared when the URL names none: the current one, its peers of the same task, the references. */
function defaultSpaces(all, current) {
  const info = all.find((s) => s.id === current);
  const task = info?.task || 'segmentation';
  const picks = [current,
    ...all.filter((s) => s.kind === 'network' && s.task === task).map((s) => s.id),
    ...all.filter((s) => s.kind !== 'network').map((s) => s.id)];
  return [...new Set(picks)].filter((id) => all.some((s) => s.id === id)).slice(0, 6);
}

export function create(root, ctx) {
  let route = null;
  let last = { key: null, data: null };
  let refocus = null; // the heatmap cell to focus again after re-rendering: {map, i, j}

  const head = viewHead('Compare spaces',
    'How differently do two spaces arrange the same concepts? D_ij sums the squared differences of their concept-by-concept cosine matrices (paper 5.3; lower = more alike); linear CKA compares the same matrices scale-free (higher = more alike).');
  const perConcept = numberInput(10, { min: 0, max: 1000, name: 'per_concept' });
  const boxes = h('div', { class: 'space-checks' });
  const form = h('form', { class: 'compare-form', 'aria-label': 'Spaces to compare', novalidate: true },
    boxes,
    h('div', { class: 'toolbar' },
      field('Concepts per pair', perConcept, 'largest D_ijc listed per pair'),
      h('button', { type: 'submit', class: 'primary' }, 'Compare')));
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  form.append(formError);
  const results = h('section', { class: 'results', 'aria-label': 'Comparison' });
  const slot = loadSlot(results);
  root.append(head, form, results);

  // One fieldset per kind; the reference spaces (WordNet, GloVe) are the paper's baselines.
  const groups = [['Network spaces', (s) => s.kind === 'network'], ['Reference spaces', (s) => s.kind !== 'network']];
  append(boxes, groups.map(([legend, keep]) => {
    const list = ctx.spaces.filter(keep);
    return list.length > 0 && h('fieldset', { class: 'checks' }, h('legend', {}, legend),
      list.map((s) => h('label', { class: 'check', title: s.id },
        h('input', { type: 'checkbox', name: 'spaces', value: s.id }),
        h('span', { class: 'check-name' }, s.id),
        h('span', { class: 'muted' }, s.task ? ` ${s.task === 'segmentation' ? 'seg' : 'cls'}` : ' ref'))));
  }));
  const checked = () => [...boxes.querySelectorAll('input:checked')].map((b) => b.value);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const now = checked();
    let per;
    try {
      if (now.length < 2) {
        // An empty list would mean "the defaults" in the URL: say so instead of comparing those.
        throw new Error(`Choose at least two spaces to compare (${now.length ? 'one is' : 'none is'} ticked).`);
      }
      per = readInteger(perConcept, 'Concepts per pair', { fallback: route.params.get('per_concept') ?? '10' });
    } catch (error) {
      showFormError(formError, error.message, results);
      (now.length < 2 ? boxes.querySelector('input') : perConcept)?.focus();
      return;
    }
    formError.hidden = true;
    // Keep the order of the spaces already compared (the matrices' rows); new ones go last.
    const before = (route.params.get('spaces') || '').split(',');
    const order = [...before.filter((s) => now.includes(s)), ...now.filter((s) => !before.includes(s))];
    // The selected pair stays selected while both its spaces are still compared (its indices
    // follow the new order), e.g. when only "Concepts per pair" changes.
    const [pi, pj] = (route.params.get('pair') || '').split(',').map(Number);
    const a = order.indexOf(before[pi]);
    const b = order.indexOf(before[pj]);
    const pair = Number.isInteger(pi) && Number.isInteger(pj) && a >= 0 && b >= 0 && a !== b
      ? `${Math.min(a, b)},${Math.max(a, b)}` : null;
    ctx.navigate(withParams(route, { spaces: order.join(','), per_concept: per, pair }));
  });

  function selectPair(map) {
    return (i, j) => {
      refocus = { map, i, j };
      ctx.navigate(withParams(route, { pair: `${Math.min(i, j)},${Math.max(i, j)}` }));
    };
  }

  function render(data) {
    const ids = data.spaces.map((s) => s.id);
    const pairParam = (route.params.get('pair') || '').split(',').map(Number);
    const pair = data.pairs.find((p) => (p.i === pairParam[0] && p.j === pairParam[1]) || (p.i === pairParam[1] && p.j === pairParam[0]));
    const selected = pair ? [pair.i, pair.j] : null;
    const offDiagonal = data.distance.flatMap((row, i) => row.filter((v, j) => i !== j));
    const ckaValues = data.cka.flat().filter(Number.isFinite);

    replace(results,
      h('div', { class: 'results-head' },
        h('h2', {}, `${ids.length} spaces on the ${fmtInt(data.concept_count)} concepts they share`),
        data.excluded.length > 0 && h('details', { class: 'excluded' },
          h('summary', {}, `${fmtInt(data.excluded.length)} left out (not in every space, or a zero vector)`),
          h('p', { class: 'muted' }, data.excluded.join(', '))),
        compareExport(data)),
      // Many spaces: one heatmap per row, at full size (side by side they would be shrunk).
      h('div', { class: `grid ${ids.length > 6 ? 'one' : 'two'} heatmaps` },
        h('figure', { class: 'card' },
          h('figcaption', {}, h('strong', {}, 'D', h('sub', {}, 'ij')), ' (lower = more alike)', info('d_ij')),
          h('div', { class: 'chart-scroll' }, heatmap(data.distance, ids, {
            label: 'D_ij between spaces', valueName: 'D_ij', scale: 'blues', digits: 2,
            domain: [0, Math.max(...offDiagonal, 1e-12)], selected, onSelect: selectPair('distance'),
          }))),
        h('figure', { class: 'card' },
          h('figcaption', {}, h('strong', {}, 'Linear CKA'), ' (higher = more alike)', info('cka')),
          h('div', { class: 'chart-scroll' }, heatmap(data.cka, ids, {
            label: 'linear CKA between spaces', valueName: 'CKA', scale: 'greens', digits: 3,
            domain: [Math.min(0, ...ckaValues), 1], selected, onSelect: selectPair('cka'),
          })))),
      pair ? pairDetail(pair, data) : h('p', { class: 'hint-line' },
        'Click a cell, or Tab to it and press Enter, to see which categories and concepts differ most between two spaces.'));

    if (refocus) {
      results.querySelectorAll('svg.chart')[refocus.map === 'distance' ? 0 : 1]
        ?.querySelector(`.cell[data-i="${refocus.i}"][data-j="${refocus.j}"]`)?.focus({ preventScroll: true });
      refocus = null;
    }
  }

  function pairDetail(pair, data) {
    const categories = pair.categories.slice().sort((x, y) => (y.mean ?? -1) - (x.mean ?? -1));
    const domain = barDomain(pair.per_concept.map((c) => c.d));
    return h('section', { class: 'card pair-detail', 'aria-label': 'Selected pair' },
      h('h2', {}, h('span', { class: 'space-a' }, pair.a), h('span', { class: 'vs' }, ' vs '), h('span', { class: 'space-b' }, pair.b)),
      h('p', { class: 'stats' },
        h('span', {}, 'D', h('sub', {}, 'ij'), ' = ', h('strong', {}, fmt(pair.distance, 3))),
        h('span', {}, 'CKA = ', h('strong', {}, fmt(pair.cka, 3))),
        h('span', { class: 'muted' }, `${fmtInt(data.concept_count)} shared concepts; D_ijc is concept c's share of D_ij`)),
      pairExport(pair),
      h('div', { class: 'grid two' },
        h('div', {},
          h('h3', {}, 'Mean D', h('sub', {}, 'ijc'), ' by category', info('d_ijc')),
          categories.length
            ? hbarChart(categories.map((c) => ({
              label: c.category, value: c.mean,
              tooltip: `${c.category}: mean D_ijc ${fmt(c.mean, 4)} over ${fmtInt(c.concept_count)} concepts`,
            })), { label: 'mean D_ijc per category', width: 440 })
            : emptyBox('No categories.')),
        h('div', {},
          h('h3', {}, 'Concepts that differ most'),
          pair.per_concept.length
            ? h('table', { class: 'data per-concept' },
              h('thead', {}, h('tr', {},
                h('th', { scope: 'col', class: 'num' }, '#'), h('th', { scope: 'col' }, 'Concept'),
                h('th', { scope: 'col' }, 'Category'), h('th', { scope: 'col', class: 'score' }, 'D_ijc'),
                h('th', { scope: 'col' }, 'Open in'))),
              h('tbody', {}, pair.per_concept.map((c, n) => h('tr', {},
                h('td', { class: 'num rank' }, n + 1),
                h('td', { class: 'name' }, c.name),
                h('td', {}, categoryChip(c.category)),
                h('td', { class: 'score' }, inlineBar(c.d, domain, { label: `D_ijc ${fmt(c.d, 4)}` }), h('span', { class: 'value' }, fmt(c.d, 3))),
                h('td', { class: 'links' },
                  h('a', { href: conceptHref(pair.a, c.name), title: `${c.name} in ${pair.a}` }, 'A'), ' ',
                  h('a', { href: conceptHref(pair.b, c.name), title: `${c.name} in ${pair.b}` }, 'B'))))))
            : emptyBox('Set "Concepts per pair" above 0 to list them.'))));
  }

  return {
    update(next) {
      route = next;
      const space = route.params.get('space');
      if (!route.params.get('spaces')) {
        ctx.navigate(href('compare', { space, spaces: defaultSpaces(ctx.spaces, space).join(','), per_concept: 10 }), { replace: true });
        return;
      }
      const spaces = route.params.get('spaces').split(',').filter(Boolean);
      const per = route.params.get('per_concept') ?? '10';
      for (const box of boxes.querySelectorAll('input')) box.checked = spaces.includes(box.value);
      perConcept.value = per;
      formError.hidden = true;
      ctx.setTitle(`Compare ${spaces.length} spaces`);
      const key = `${spaces.join(',')}|${per}`;
      if (key === last.key && last.data) {
        render(last.data); // another pair of the same comparison: no new request
        return;
      }
      slot.load((signal) => api.compare({ spaces, perConcept: per }, signal), (data) => {
        last = { key, data };
        render(data);
      }, { suggest: (kind, name, message) => {
        if (kind !== 'space') return null;
        const bad = /^no space '(.+?)'/.exec(message)?.[1];
        return withParams(route, { spaces: spaces.map((s) => (s === bad ? name : s)).join(','), pair: null });
      } });
    },
    destroy() {
      slot.abort();
    },
  };
}
