// Comparing spaces (paper section 5.3, Figure 10): D_ij = ||d(W_i) - d(W_j)||_F^2 between the
// cosine matrices of the concepts all chosen spaces share, and linear CKA of the same Grams,
// as two heatmaps. A cell opens that pair: mean D_ijc per category and the concepts that
// differ most.

import { api } from '../api.js';
import { h, replace, append, fmt, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { heatmap, hbarChart, inlineBar, barDomain } from '../charts.js';
import { href, conceptHref, withParams, sideHref } from '../routes.js';
import { viewHead, field, numberInput, categoryChip, readInteger, showFormError, compareExport, pairExport, scrollRegion } from './common.js';
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
    // Many spaces: a scrolling grid of boxes, so the heatmaps stay near the top.
    return list.length > 0 && h('fieldset', { class: list.length > 12 ? 'checks many' : 'checks' }, h('legend', {}, legend),
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
    const named = route.params.get('spaces') || '';
    const before = named === 'all' && last.data ? last.data.spaces.map((x) => x.id) : named.split(',');
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

  // 'sum' (the default: the paper's D_ij) or 'pair' (per concept pair, comparable across
  // comparisons over different numbers of concepts), from the URL.
  const dijMode = () => (route.params.get('dij') === 'pair' ? 'pair' : 'sum');
  function dijSwitch(perPair) {
    return h('span', { class: 'dij-switch', role: 'group', 'aria-label': 'D_ij shown as' },
      [['sum', 'raw sum'], ['pair', 'per concept pair']].map(([value, text]) => h('button', {
        type: 'button', class: 'toggle', 'aria-pressed': String((value === 'pair') === perPair),
        onclick: () => ctx.navigate(withParams(route, { dij: value === 'pair' ? value : null })),
      }, text)));
  }

  // Every concept the comparison left out, and why (the API names the spaces for each).
  function leftOut(data) {
    if (data.excluded.length === 0) return null;
    const spaces = (list) => {
      if (list.length <= 3) return list.join(', ');
      return h('span', { title: list.join(', ') }, `${list.length} spaces (${list.slice(0, 2).join(', ')}, …)`);
    };
    const missing = data.excluded.filter((x) => x.missing_from.length > 0).length;
    const zero = data.excluded.filter((x) => x.zero_in.length > 0).length;
    const parts = [missing && `${fmtInt(missing)} not in every space`, zero && `${fmtInt(zero)} with a zero vector`].filter(Boolean);
    return h('details', { class: 'excluded', open: data.excluded.length <= 12 },
      h('summary', {}, `${fmtInt(data.excluded.length)} concepts left out: ${parts.join(', ')}`),
      h('div', scrollRegion('Concepts left out'), h('table', { class: 'data excluded-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Concept'), h('th', { scope: 'col' }, 'Why'))),
        h('tbody', {}, data.excluded.map((x) => h('tr', {},
          h('td', { class: 'name' }, x.name),
          h('td', {},
            x.missing_from.length > 0 && h('span', {}, 'missing from ', spaces(x.missing_from)),
            x.missing_from.length > 0 && x.zero_in.length > 0 && '; ',
            x.zero_in.length > 0 && h('span', {}, 'zero vector in ', spaces(x.zero_in)))))))));
  }

  // A heatmap in its scroll box, and below it the value of the cell under the pointer or with
  // focus: with many spaces the cells carry no numbers.
  function withReadout(chart) {
    const readout = h('p', { class: 'cell-readout muted', 'aria-live': 'polite' },
      'Point at a cell, or Tab to one, to read its value.');
    const show = (event) => {
      const cell = event.target.closest?.('.cell');
      const text = cell?.getAttribute('aria-label') || cell?.querySelector('title')?.textContent;
      if (text) readout.textContent = text;
    };
    chart.addEventListener('mouseover', show);
    chart.addEventListener('focusin', show);
    return [h('div', { class: 'chart-scroll' }, chart), readout];
  }

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
    // D_ij as the raw sum, or per concept pair (scale-free: comparable across concept counts).
    const perPair = dijMode() === 'pair' && Array.isArray(data.distance_per_pair);
    const dMatrix = perPair ? data.distance_per_pair : data.distance;
    const offDiagonal = dMatrix.flatMap((row, i) => row.filter((v, j) => i !== j));
    const ckaValues = data.cka.flat().filter(Number.isFinite);

    replace(results,
      h('div', { class: 'results-head' },
        h('h2', {}, `${ids.length} spaces on the ${fmtInt(data.concept_count)} concepts they share`),
        leftOut(data),
        compareExport(data)),
      // Many spaces: one heatmap per row, at full size (side by side they would be shrunk).
      h('div', { class: `grid ${ids.length > 6 ? 'one' : 'two'} heatmaps` },
        h('figure', { class: 'card' },
          h('figcaption', {}, h('strong', {}, 'D', h('sub', {}, 'ij')),
            perPair ? ' per concept pair, D_ij / (C(C−1))' : ' (raw sum over C² pairs)', ' (lower = more alike)', info('d_ij'),
            dijSwitch(perPair)),
          withReadout(heatmap(dMatrix, ids, {
            label: perPair ? 'D_ij per concept pair between spaces' : 'D_ij between spaces',
            valueName: perPair ? 'D_ij per pair' : 'D_ij', scale: 'blues', digits: perPair ? 4 : 2,
            domain: [0, Math.max(...offDiagonal, 1e-12)], selected, onSelect: selectPair('distance'),
          }))),
        h('figure', { class: 'card' },
          h('figcaption', {}, h('strong', {}, 'Linear CKA'), ' (higher = more alike)', info('cka')),
          withReadout(heatmap(data.cka, ids, {
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
        h('span', { class: 'per-pair' }, 'D', h('sub', {}, 'ij'), ' / (C(C−1)) = ', h('strong', {}, fmt(pair.distance_per_pair, 5)),
          h('span', { class: 'muted' }, ` over ${fmtInt(data.concept_count * (data.concept_count - 1))} concept pairs`)),
        h('span', {}, 'CKA = ', h('strong', {}, fmt(pair.cka, 3))),
        h('span', { class: 'muted' }, `${fmtInt(data.concept_count)} shared concepts; D_ijc is concept c's share of D_ij`
          + (data.precision ? `; Gram matrices in ${data.precision}` : ''))),
      pairSignificance(pair),
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
                h('td', { class: 'name' }, h('a', {
                  href: sideHref(pair.a, pair.b, c.name),
                  title: `Neighbours of ${c.name} in ${pair.a} and in ${pair.b}, side by side`,
                }, c.name)),
                h('td', {}, categoryChip(c.category)),
                h('td', { class: 'score' }, inlineBar(c.d, domain, { label: `D_ijc ${fmt(c.d, 4)}` }), h('span', { class: 'value' }, fmt(c.d, 3))),
                h('td', { class: 'links' },
                  h('a', { href: sideHref(pair.a, pair.b, c.name), class: 'side-link' }, 'side by side'), ' · ',
                  h('a', { href: conceptHref(pair.a, c.name), 'aria-label': `${c.name} in ${pair.a}`, title: `${c.name} in ${pair.a}` }, 'A'), ' ',
                  h('a', { href: conceptHref(pair.b, c.name), 'aria-label': `${c.name} in ${pair.b}`, title: `${c.name} in ${pair.b}` }, 'B'))))))
            : emptyBox('Set "Concepts per pair" above 0 to list them.'))));
  }

  // ---- Issue 21: unbiased CKA and the permutation test of the selected pair -------------------
  // (kept apart from the heatmap work above). A null measure shows its reason, never a number.
  function pairSignificance(pair) {
    const t = pair.permutation;
    const measure = (name, value, why, p, nullMean, digits) => h('span', {},
      name, ' = ', h('strong', {}, value === null ? 'undefined' : fmt(value, digits)),
      why ? h('span', { class: 'muted' }, ` (${why})`) : null,
      t && p !== null ? h('span', { class: 'muted' }, `; p = ${fmt(p, 3)}, chance ${fmt(nullMean, digits)}`) : null);
    return h('p', { class: 'stats significance', 'aria-label': 'Unbiased CKA and permutation test' },
      measure('Unbiased CKA', pair.cka_unbiased, pair.cka_unbiased_undefined, t?.p_cka_unbiased ?? null, t?.null_cka_unbiased, 3),
      measure('CKA', pair.cka, pair.cka_undefined, t?.p_cka ?? null, t?.null_cka, 3),
      measure('D_ij', pair.distance, null, t?.p_distance ?? null, t?.null_distance, 2),
      h('span', { class: 'muted' }, t
        ? 'p: share of random concept orders of the second space at least as alike (docs/QUERIES.md)'
        : 'no permutation test for this comparison'));
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
      const all = spaces.length === 1 && spaces[0] === 'all'; // the API's "every space"
      // The header's space is always among those compared: choosing one there adds it first
      // (the selected pair follows its spaces' new indices).
      const known = ctx.spaceById(space);
      if (!all && known && !spaces.includes(known.id)) {
        const [pi, pj] = (route.params.get('pair') || '').split(',').map(Number);
        const pair = Number.isInteger(pi) && Number.isInteger(pj) ? `${pi + 1},${pj + 1}` : null;
        ctx.navigate(withParams(route, { spaces: [known.id, ...spaces].join(','), pair }), { replace: true });
        return;
      }
      const per = route.params.get('per_concept') ?? '10';
      for (const box of boxes.querySelectorAll('input')) box.checked = all || spaces.includes(box.value);
      perConcept.value = per;
      formError.hidden = true;
      ctx.setTitle(`Compare ${all ? 'all' : spaces.length} spaces`);
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
