// Analyses of one network space (paper 4 and 5.2): how often the learned weights beat the best
// single filter (Table 1), mean scores per category (Figure 2), the score against the number of
// filters kept (Figure 3), whether weights follow single-filter IoU (Figure 9), and where the
// weights fail (mean val score by number of train images).

import { api } from '../api.js';
import { h, replace, append, fmt, fmtInt, fmtPct, loadSlot, emptyBox, metricName } from '../dom.js';
import { groupedBars, multiLineChart, columns, legend, inlineBar } from '../charts.js';
import { conceptHref, suggestionLinks } from '../routes.js';
import { viewHead, categoryChip, metricInfo, scrollRegion } from './common.js';
import { exportBar } from '../export.js';
import { info, term } from '../glossary.js';

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

const meanSe = (s) => (s && Number.isFinite(s.mean) ? `${fmt(s.mean, 3)} ± ${fmt(s.se, 3)} (n = ${fmtInt(s.n)})` : 'no concepts');

// ---- Table 1 ----------------------------------------------------------------------------------

function table1(d) {
  const metric = metricName(d.metric);
  // Five columns do not fit a phone: the table scrolls in its card, the page does not.
  return card('Learned weights vs best single filter (Table 1)', h('div', scrollRegion('Table 1'),
    h('table', { class: 'data learned-vs-single' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Category'),
        h('th', { scope: 'col', class: 'num' }, 'Concepts'),
        h('th', { scope: 'col', class: 'score' }, 'Learned ≥ single (val)'),
        h('th', { scope: 'col', class: 'num' }, 'Count'),
        h('th', { scope: 'col', class: 'num', title: 'of the concepts with both 95 % val intervals: learned interval wholly above the single filter\'s / wholly below it' }, 'Intervals separate ↑ / ↓'),
        h('th', { scope: 'col', class: 'num', title: `of the concepts with a permutation p-value: learned score (best single filter's) above chance, Benjamini-Hochberg at a false discovery rate of ${fmtPct(d.false_discovery_rate)} over the space's concepts` }, 'Above chance (single)'))),
      h('tbody', {}, d.learned_vs_single.map((row) => h('tr', { class: row.category === null ? 'overall' : null },
        h('th', { scope: 'row' }, row.category === null ? 'All concepts' : categoryChip(row.category)),
        h('td', { class: 'num' }, fmtInt(row.concept_count)),
        h('td', { class: 'score' },
          inlineBar(row.share, [0, 1], { width: 120, label: `share ${fmtPct(row.share)}` }),
          h('span', { class: 'value share' }, fmtPct(row.share))),
        h('td', { class: 'num' }, `${fmtInt(row.learned_at_least_single)} of ${fmtInt(row.concept_count)}`),
        h('td', { class: 'num intervals-separate' }, row.with_intervals > 0
          ? `↑ ${fmtInt(row.learned_interval_above)} / ↓ ${fmtInt(row.single_interval_above)} of ${fmtInt(row.with_intervals)}`
          : 'not computed'),
        h('td', { class: 'num above-chance' }, row.with_p > 0
          ? `${fmtInt(row.learned_above_chance)} (${fmtInt(row.single_above_chance)}) of ${fmtInt(row.with_p)}`
          : 'not computed')))))),
    h('p', { class: 'caption' }, `Concepts whose learned weights score at least as well (val ${metric}) as their best single filter, chosen on train. `
      + `Above chance: permutation p-values corrected for the space's many concepts (Benjamini-Hochberg, false discovery rate ${fmtPct(d.false_discovery_rate)}).`,
      info('best_single'), info('above_chance')),
    exportBar({
      name: `analyses-${d.space}-table1`, label: 'Table 1',
      columns: [{ key: (r) => r.category ?? 'all', label: 'category' }, { key: 'concept_count' }, { key: 'learned_at_least_single' }, { key: 'share' },
        { key: 'with_intervals' }, { key: 'learned_interval_above' }, { key: 'single_interval_above' },
        { key: 'with_p' }, { key: 'learned_above_chance' }, { key: 'single_above_chance' }],
      rows: d.learned_vs_single,
    }));
}

// ---- Figure 2 ---------------------------------------------------------------------------------

function figure2(d) {
  const rows = d.category_scores;
  if (!rows.length) return card('Mean score per category (Figure 2)', emptyBox('No scored concepts.'));
  const metric = metricName(d.metric);
  const names = rows.map((r) => r.category);
  const series = [
    { name: 'best single filter', cls: 'single', key: 'single' },
    { name: 'learned weights', cls: 'learned', key: 'learned' },
  ].map((s) => ({
    ...s,
    values: rows.map((r) => r[s.key]?.val?.mean),
    errors: rows.map((r) => r[s.key]?.val?.se),
  }));
  return card('Mean score per category (Figure 2)',
    groupedBars(names, series, {
      label: `mean val ${metric} per category, best single filter vs learned weights (paper Figure 2)`,
      xLabel: 'category', yLabel: `mean val ${metric}`,
      // The bars are val; train is in the tooltip, to see the gap without a second chart.
      tooltip: (gi, si) => {
        const r = rows[gi][series[si].key];
        return `${names[gi]}, ${series[si].name}\nval ${meanSe(r?.val)}\ntrain ${meanSe(r?.train)}`;
      },
    }),
    legend(series.map((s) => ({ label: s.name, cls: s.cls }))),
    h('p', { class: 'caption' }, 'Mean val score over the category’s concepts; error bars ± one standard error. Hover a bar for the train score.', metricInfo(d.metric)),
    exportBar({
      name: `analyses-${d.space}-figure2`, label: 'Figure 2 data',
      columns: [{ key: 'category' }, ...['single', 'learned'].flatMap((k) => ['train', 'val'].flatMap((split) => ['n', 'mean', 'se'].map((f) => ({
        key: (r) => r[k]?.[split]?.[f] ?? null, label: `${k}_${split}_${f}`,
      }))))],
      rows,
    }));
}

// ---- Figure 3 ---------------------------------------------------------------------------------

function figure3(d) {
  const title = 'Score vs number of filters (Figure 3)';
  const curves = d.subset_curves.filter((c) => c.points.length);
  if (!curves.length) {
    return card(title, emptyBox('No F sweep (concepts retrained on their top F filters) is stored for this space: it was ingested with the sweep off (',
      h('code', {}, d.task === 'classification' ? '--cls-subsets ""' : '--seg-subsets ""'), ').'));
  }
  const metric = metricName(d.metric);
  const series = curves.map((c) => ({
    name: c.category,
    points: c.points.map((p) => ({
      x: p.filters, y: p.mean, label: `top ${p.filters} filter${p.filters === 1 ? '' : 's'} (± ${fmt(p.se, 3)}, n = ${fmtInt(p.n)})`,
    })),
  }));
  return card(title,
    multiLineChart(series, {
      label: `mean val ${metric} of the top-F filters retrained, against F, per category (paper Figure 3)`,
      xLabel: 'filters F (log scale)', yLabel: `mean val ${metric}`,
    }),
    legend(series.map((s, k) => ({ label: s.name, cls: `s${k % 8}` }))),
    h('p', { class: 'caption' }, 'Each concept retrained on its top F filters by |w|, averaged per category.', info('f_sweep')),
    exportBar({
      name: `analyses-${d.space}-figure3`, label: 'Figure 3 data',
      columns: [{ key: 'category' }, { key: 'filters' }, { key: 'n' }, { key: 'mean' }, { key: 'se' }],
      rows: curves.flatMap((c) => c.points.map((p) => ({ category: c.category, filters: p.filters, n: p.n, mean: p.mean, se: p.se }))),
    }));
}

// ---- Figure 9 ---------------------------------------------------------------------------------

/** Histogram of r in 20 bins over [-1, 1]: concepts with p < alpha apart from the others. */
function rHistogram(concepts, alpha) {
  const bins = 20;
  const bin = (r) => Math.min(Math.max(Math.floor(((r + 1) / 2) * bins), 0), bins - 1);
  const plain = new Array(bins).fill(0);
  const sig = new Array(bins).fill(0);
  for (const c of concepts) {
    if (!Number.isFinite(c.r)) continue;
    if (Number.isFinite(c.p) && c.p < alpha) sig[bin(c.r)] += 1;
    else plain[bin(c.r)] += 1;
  }
  const lo = (i) => -1 + (2 * i) / bins;
  const names = Array.from({ length: bins }, (_, i) => fmt(lo(i), 1));
  const series = [
    { name: `p ≥ ${alpha}`, values: plain, cls: 'plain' },
    { name: `p < ${alpha}`, values: sig, cls: 'significant' },
  ];
  return h('div', { class: 'r-histogram' },
    columns(names, series, {
      width: 560, label: 'histogram of the correlation r between weights and single-filter IoU over concepts (paper Figure 9)',
      xLabel: 'Pearson r of max(w, 0) and single-filter val IoU', yLabel: 'concepts',
      tooltip: (ci, si) => `r ${fmt(lo(ci), 1)} to ${fmt(lo(ci + 1), 1)}: ${series[si].values[ci]} concept${series[si].values[ci] === 1 ? '' : 's'} with ${series[si].name}`,
    }),
    legend(series.map((s) => ({ label: s.name, cls: s.cls }))));
}

/** The 10 least correlated concepts; the r column header sorts them either way. */
function leastCorrelated(d, concepts) {
  const rows = concepts.filter((c) => Number.isFinite(c.r)).sort((a, b) => a.r - b.r).slice(0, 10);
  if (!rows.length) return null;
  const tbody = h('tbody');
  const sortButton = h('button', { type: 'button', class: 'sort' });
  const th = h('th', { scope: 'col', class: 'num' }, sortButton);
  let ascending = true;
  const render = () => {
    const ordered = ascending ? rows : rows.slice().reverse();
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    replace(sortButton, 'r ', h('span', { 'aria-hidden': 'true' }, ascending ? '▲' : '▼'));
    sortButton.title = ascending ? 'sort by r, largest first' : 'sort by r, smallest first';
    replace(tbody, ordered.map((c) => h('tr', {},
      h('td', { class: 'name' }, h('a', { href: conceptHref(d.space, c.name) }, c.name)),
      h('td', {}, categoryChip(c.category)),
      h('td', { class: `num r ${c.r < 0 ? 'negative' : ''}` }, fmt(c.r, 3)),
      h('td', { class: 'num' }, Number.isFinite(c.p) && c.p < 1e-3 ? c.p.toExponential(1) : fmt(c.p, 3)),
      h('td', { class: 'num' }, fmtInt(c.n)))));
  };
  sortButton.addEventListener('click', () => {
    ascending = !ascending;
    render();
  });
  render();
  return h('div', {},
    h('h3', {}, `The ${rows.length} least correlated concepts`),
    h('table', { class: 'data least-correlated' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Concept'), h('th', { scope: 'col' }, 'Category'), th,
        h('th', { scope: 'col', class: 'num' }, 'p'), h('th', { scope: 'col', class: 'num', title: 'filters with a defined single-filter IoU' }, 'n'))),
      tbody));
}

function figure9(d) {
  const w = d.weight_iou_correlation;
  const title = 'Do weights follow single-filter IoU? (Figure 9, 5.2)';
  if (!w || !w.concepts.length) {
    return h('section', { class: 'card wide' }, h('h2', {}, title),
      emptyBox(d.task === 'segmentation'
        ? 'No concept has single-filter val IoUs stored, so there is nothing to correlate.'
        : 'Single-filter IoU exists only for segmentation spaces; this is a classification space.'));
  }
  return h('section', { class: 'card wide correlation' }, h('h2', {}, title),
    h('p', { class: 'summary' },
      h('strong', { class: 'share-significant' }, fmtPct(w.share_significant)),
      ` of ${fmtInt(w.defined)} concepts (${fmtInt(w.significant)}) have a correlation between their weights max(w_k, 0) and `,
      `their filters’ single-filter val IoU significant at p < ${w.alpha}; `,
      h('strong', {}, fmtPct(w.share_significant_positive)), ' are significant and positive.'),
    h('div', { class: 'grid two' }, rHistogram(w.concepts, w.alpha), leastCorrelated(d, w.concepts)),
    h('p', { class: 'caption' }, term('pearson_r', 'r'), ' per concept, with its p-value and n, the number of filters with a defined single-filter IoU.'),
    exportBar({
      name: `analyses-${d.space}-figure9`, label: 'correlations of every concept',
      columns: [{ key: 'name', label: 'concept' }, { key: 'category' }, { key: 'r' }, { key: 'p' }, { key: 'n' }],
      rows: w.concepts,
    }));
}

// ---- failures ---------------------------------------------------------------------------------

/** "a–b" labels of a binning's edges; the last, open-ended bin reads "a+". */
function binLabels(edges) {
  return edges.slice(0, -1).map((a, i) => (edges[i + 1] >= 1e8 ? `${fmtInt(a)}+` : `${fmtInt(a)}–${fmtInt(edges[i + 1] - 1)}`));
}

/** Concept-size labels of the alpha edges: alpha = 1 − mean concept share of the image, so
 * the bin [a, b) holds concepts covering (1 − b, 1 − a] of their images. */
function sizeLabels(edges) {
  const pct = (x) => `${Math.round(Math.max(0, x) * 100)}%`;
  return edges.slice(0, -1).map((a, i) => (i === 0 ? `> ${pct(1 - edges[1])}` : i === edges.length - 2
    ? `< ${pct(1 - a)}` : `${pct(1 - edges[i + 1])}–${pct(1 - a)}`));
}

/** One category row per category, one column per bin some concept falls in. */
function binnedTable(rows, labels, headLabel) {
  // Only the bins some concept falls in: most are empty for any one space.
  const used = labels.map((_, i) => i).filter((i) => rows.some((r) => r.bins[i]?.n > 0));
  if (!rows.length || !used.length) return null;
  return h('div', scrollRegion(`Mean score by ${headLabel}`), h('table', { class: 'data failures' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, headLabel),
      used.map((i) => h('th', { scope: 'col', class: 'num' }, labels[i])))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('th', { scope: 'row' }, categoryChip(r.category)),
      used.map((i) => {
        const b = r.bins[i];
        return b?.n > 0
          ? h('td', { class: 'num', title: `${fmtInt(b.n)} concept${b.n === 1 ? '' : 's'}, ± ${fmt(b.se, 3)}` },
            fmt(b.mean, 3), h('span', { class: 'muted n' }, ` (${fmtInt(b.n)})`))
          : h('td', { class: 'num muted' }, '–');
      }))))));
}

function failures(d) {
  const f = d.failures;
  const title = 'Where learning fails: few or tiny examples';
  const byCount = binnedTable(f?.by_train_count || [], binLabels(f?.train_count_edges || []), 'train images');
  // Segmentation only: alpha (eq. 4) measures how small the concept is in its images.
  const bySize = binnedTable(f?.by_alpha || [], sizeLabels(f?.alpha_edges || []), 'concept size');
  if (!byCount && !bySize) return card(title, emptyBox('No concepts to bin.'));
  return card(title,
    byCount ? [h('h3', { class: 'sub' }, 'By number of train images'), byCount] : null,
    bySize ? [h('h3', { class: 'sub' }, 'By concept size (share of its images it covers, 1 − α)'), bySize] : null,
    h('p', { class: 'caption' }, `Mean val ${metricName(d.metric)} of the learned weights (concepts in brackets), per category: the paper links failures to concepts with few examples or tiny ones.`,
      bySize ? info('alpha') : null),
    exportBar({
      name: `analyses-${d.space}-failures`, label: 'failure bins',
      columns: [{ key: 'binning' }, { key: 'category' }, { key: 'low' }, { key: 'high' }, { key: 'n' }, { key: 'mean' }, { key: 'se' }],
      rows: [['train_count', f?.by_train_count, f?.train_count_edges], ['alpha', f?.by_alpha, f?.alpha_edges]]
        .flatMap(([binning, rows, edges]) => (rows || []).flatMap((r) => r.bins.map((b, i) => ({
          binning, category: r.category, low: edges?.[i] ?? null, high: edges?.[i + 1] ?? null, n: b.n, mean: b.mean, se: b.se,
        })))),
    }));
}

// ---- the view ---------------------------------------------------------------------------------

export function create(root, ctx) {
  const head = viewHead('Analyses',
    'The paper’s per-space analyses: how often learned weights beat the best single filter, per category, as filters are added, and whether weights follow single-filter IoU.');
  const body = h('div', { class: 'analyses-body' });
  const slot = loadSlot(body);
  root.append(head, body);

  return {
    update(route) {
      const space = route.params.get('space');
      ctx.setTitle('Analyses');
      // A reference space has no scores; the server would answer 400, so do not ask.
      if (ctx.spaceById(space)?.kind === 'reference') {
        slot.abort();
        replace(body, h('p', { class: 'note' },
          `${space} is a reference space: its vectors are imported, not learned from images, so there are no scores to analyse. `,
          'Pick a network space in the selector above.'));
        return;
      }
      slot.load((signal) => api.analyses({ space }, signal), (d) => {
        append(body,
          h('p', { class: 'muted' }, `${d.space} · ${d.task} · ${metricName(d.metric)}`, metricInfo(d.metric)),
          h('div', { class: 'results-head' }, exportBar({ name: `analyses-${d.space}`, label: 'analyses (the API answer)', columns: null, json: d })),
          h('p', { class: 'caption report-note' }, 'Every network space at once, as files: ',
            h('code', {}, 'net2vec report --db CATALOG --out DIR'),
            ' writes these analyses and the comparison of all spaces (report.json, CSV and an HTML page; docs/DEMO.md, “The paper’s analyses”).'),
          h('div', { class: 'grid two' }, table1(d), figure2(d)),
          h('div', { class: 'grid two' }, figure3(d), failures(d)),
          figure9(d));
      }, { suggest: suggestionLinks(route) });
    },
    destroy() {
      slot.abort();
    },
  };
}
