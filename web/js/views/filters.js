// Filters (paper 4.2, Figure 5): how many concepts pick each filter as their best single
// filter, and, for one filter, the concepts it is best for and those that weight it most.

import { api } from '../api.js';
import { h, replace, append, fmt, fmtInt, fmtPct, loadSlot, emptyBox, metricName } from '../dom.js';
import { columns, filterBars, inlineBar, legend } from '../charts.js';
import { href, conceptHref, filterHref } from '../routes.js';
import { viewHead, field, numberInput, categoryChip, valStatsText } from './common.js';
import { info } from '../glossary.js';
import { maskLayer, maskLegend, openImage, enlargeButton } from '../masks.js';

/**
 * Figure 5: number of filters (y) against the number of concepts choosing them (x), from 1 up
 * (never-chosen filters would dwarf the rest; the caption counts them). `highlight` is the x
 * of one filter's bar.
 */
function figure5(overview, highlight = -1) {
  const byCount = new Map(overview.histogram.map((b) => [b.concepts, b.filters]));
  const max = Math.max(1, ...overview.histogram.map((b) => b.concepts));
  const xs = Array.from({ length: max }, (_, i) => i + 1);
  const chart = columns(xs, [{ name: 'filters', values: xs.map((x) => byCount.get(x) || 0), cls: 'plain' }], {
    width: 600,
    label: 'number of filters by how many concepts choose them as best single filter (paper Figure 5)',
    xLabel: 'concepts choosing the filter', yLabel: 'filters', highlight: highlight > 0 ? highlight - 1 : -1,
    tooltip: (ci) => `${fmtInt(byCount.get(xs[ci]) || 0)} filters chosen by ${xs[ci]} concept${xs[ci] === 1 ? '' : 's'}`,
  });
  return h('section', { class: 'card' },
    h('h2', {}, 'Filters by number of concepts choosing them'),
    chart,
    h('p', { class: 'caption' },
      `${fmtInt(overview.never_selected)} of ${fmtInt(overview.dim)} filters (${fmtPct(overview.never_selected / overview.dim)}) `,
      `are the best single filter of no concept; ${fmtInt(overview.concept_count)} concepts in all.`,
      highlight === 0 ? ' This filter is one of them.' : ''));
}

/** A small "go to filter K" form. */
function gotoForm(ctx, space, dim, value = '') {
  const input = numberInput(value, { min: 0, max: Math.max(dim - 1, 0), name: 'filter' });
  input.title = dim ? `0 to ${dim - 1}` : '';
  input.placeholder = dim ? `0–${dim - 1}` : '';
  const form = h('form', { class: 'toolbar inline', 'aria-label': 'Open a filter' },
    field('Go to filter', input), h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value !== '') ctx.navigate(filterHref(space, input.value));
  });
  return form;
}

function referenceNote(data) {
  return data.kind === 'reference'
    ? h('p', { class: 'note' }, `${data.space} is a reference space: it has no best single filters, so no concept selects any dimension.`)
    : null;
}

// ---- all filters ---------------------------------------------------------------------------------

export function createOverview(root, ctx) {
  const head = viewHead('Filter usage',
    'Which filters do concepts pick as their best single filter (paper Figure 5)? A few filters serve many concepts; most serve none or one.');
  const body = h('div');
  const slot = loadSlot(body);
  root.append(head, body);

  return {
    update(route) {
      const space = route.params.get('space');
      ctx.setTitle('Filter usage');
      slot.load((signal) => api.filters({ space, top: route.params.get('top') || 10 }, signal), (d) => {
        if (d.kind === 'reference') {
          append(body, referenceNote(d));
          return;
        }
        const domain = [0, Math.max(1, ...d.most_selected.map((f) => f.concept_count))];
        append(body,
          h('div', { class: 'toolbar-row' },
            h('p', { class: 'muted' }, `${d.space} · ${fmtInt(d.dim)} filters · ${fmtInt(d.concept_count)} concepts`),
            gotoForm(ctx, d.space, d.dim)),
          h('div', { class: 'grid two' },
            figure5(d),
            h('section', { class: 'card' },
              h('h2', {}, 'Most selected filters'),
              d.most_selected.length ? h('table', { class: 'data most-selected' },
                h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Filter'), h('th', { scope: 'col', class: 'score' }, 'Concepts choosing it'))),
                h('tbody', {}, d.most_selected.map((f) => h('tr', {},
                  h('td', {}, h('a', { href: filterHref(d.space, f.filter) }, `filter ${f.filter}`)),
                  h('td', { class: 'score' }, inlineBar(f.concept_count, domain, { label: `${f.concept_count} concepts` }),
                    h('span', { class: 'value' }, fmtInt(f.concept_count)))))))
                : emptyBox('No filter is the best single filter of any concept.'))),
          h('section', { class: 'card wide' },
            h('h2', {}, 'Concepts choosing each filter'),
            filterBars(d.concepts_per_filter, {
              label: 'number of concepts choosing each filter', yLabel: 'concepts', valueName: 'concepts',
              height: 170, onSelect: (k) => ctx.navigate(filterHref(d.space, k)),
            }),
            h('p', { class: 'caption' }, 'Click a bar to open that filter.')));
      });
    },
    destroy() {
      slot.abort();
    },
  };
}

// ---- one filter ----------------------------------------------------------------------------------

function conceptTable(rows, space, { metric, showBest }) {
  if (!rows.length) return null;
  const domain = [0, Math.max(...rows.map((r) => r.share), 1e-12)];
  return h('table', { class: 'data filter-concepts' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Concept'), h('th', { scope: 'col' }, 'Category'),
      h('th', { scope: 'col', class: 'num' }, 'Weight'), h('th', { scope: 'col', class: 'score' }, 'Share of ‖w‖₁'),
      h('th', { scope: 'col', class: 'num', title: 'rank of this filter among the concept’s filters by |w|' }, 'Rank'),
      showBest ? h('th', { scope: 'col', class: 'num', title: 'the filter’s val score, its 95 % bootstrap interval and p against chance' },
        `Val ${metricName(metric)}`, info('val_interval')) : h('th', { scope: 'col' }, 'Best'))),
    h('tbody', {}, rows.map((r) => h('tr', {},
      h('td', { class: 'name' }, h('a', { href: conceptHref(space, r.name) }, r.name)),
      h('td', {}, categoryChip(r.category)),
      h('td', { class: `num ${r.weight < 0 ? 'negative' : ''}`, title: r.weight < 0 ? 'negative: evidence against the concept' : null }, fmt(r.weight, 4)),
      h('td', { class: 'score' }, inlineBar(r.share, domain, { width: 110, label: `share ${fmtPct(r.share, 2)}` }), h('span', { class: 'value' }, fmtPct(r.share, 2))),
      h('td', { class: 'num' }, fmtInt(r.rank)),
      // The score, and under it its interval and p (a line of its own keeps the table narrow;
      // "p = 0.001" kept whole where the line wraps).
      showBest ? h('td', { class: 'num val-stats' }, fmt(r.best_filter_val, 3),
        h('span', { class: 'stats-line' }, valStatsText(r, 'best_filter_val')?.replace('p = ', 'p\u00a0=\u00a0') ?? 'interval not computed'))
        : h('td', {}, r.best ? h('span', { class: 'badge best' }, 'best') : '')))));
}

/**
 * NetDissect's view of a filter: the probe images where it fires most (ranked by the max of
 * its activation map), each with the map where a_k > T_k drawn over the photo in orange at the
 * map's own resolution (unsmoothed: one square per position the network computed). A click
 * or Enter on an image opens the larger view.
 */
function topImagesCard(d) {
  const t = d.top_images;
  const section = h('section', { class: 'card wide top-images' }, h('h2', {}, 'Top images'));
  if (!t || t.per_filter === null || t.per_filter === undefined) {
    return append(section, emptyBox('This space’s run stored no top images (ingested before net2vec kept them); ',
      'ingest the layer again to see them (', h('code', {}, 'net2vec-ingest --top-images N'), ').'));
  }
  if (t.per_filter === 0) {
    return append(section, emptyBox('Top images were turned off when this layer was ingested (',
      h('code', {}, '--top-images 0'), '): re-ingest with N > 0 to see them.'));
  }
  const size = t.images.length ? `${t.images[0].height} × ${t.images[0].width}` : '';
  append(section,
    h('p', { class: 'lede' }, `The ${fmtInt(t.images.length)} probe image${t.images.length === 1 ? '' : 's'} where filter ${d.filter} fires most, `,
      'ranked by the maximum of its activation map over the image (as NetDissect ranks them). ',
      `Orange: the positions of the ${size} map where the activation exceeds the filter’s threshold T_k = ${fmt(t.threshold, 4)} `,
      '(the top quantile τ of all its activations), at the map’s own resolution.'),
    t.served ? null : h('p', { class: 'note' }, 'The server was started without the probe images: the maps are shown alone; run ',
      h('code', {}, 'net2vec serve --probe DIR'), ' to see the photos under them.'));
  const grid = h('div', { class: `thumbs with-masks top-image-grid${t.served ? '' : ' masks-only'}` });
  append(grid, t.images.map((im) => {
    const what = `top image ${im.rank} of filter ${d.filter}: ${im.path} (max activation ${fmt(im.max_activation, 3)})`;
    const open = () => openImage({
      title: `Filter ${d.filter}, top image ${im.rank}: ${im.path}`, photo: im.image_url,
      layers: [{ kind: 'activation', src: im.map_url, outline: false }],
      caption: `Max activation ${fmt(im.max_activation, 4)}; orange where a_k > T_k = ${fmt(t.threshold, 4)} on the ${im.height} × ${im.width} map (index.csv row ${im.row}, ${im.split}).`,
    });
    return h('figure', { class: 'thumb top-image', 'data-row': im.row, 'data-rank': im.rank },
      // The whole image opens the larger view on a click; the button is its keyboard stop.
      h('div', { class: 'thumb-box', onclick: (event) => { if (!event.target.closest('button')) open(); } },
        im.image_url ? h('img', { class: 'photo', src: im.image_url, alt: what }) : null,
        maskLayer(im.map_url, { kind: 'activation', imgClass: 'mask activation', alt: im.image_url ? '' : what }),
        enlargeButton(what, open)),
      h('figcaption', {}, `#${im.rank} · max ${fmt(im.max_activation, 2)}`, h('span', { class: 'muted' }, ` · ${im.split}`)));
  }));
  return append(section, grid, maskLegend(['activation']));
}

export function createFilter(root, ctx) {
  const eyebrow = h('p', { class: 'eyebrow' });
  const title = h('h1', { tabindex: '-1' });
  const nav = h('div', { class: 'toolbar-row' });
  const body = h('div');
  const slot = loadSlot(body);
  root.append(h('div', { class: 'view-head' }, eyebrow, title), nav, body);

  return {
    update(route) {
      const space = route.params.get('space');
      const k = route.arg ?? '';
      const top = route.params.get('top') || 10;
      ctx.setTitle(`Filter ${k}`);
      replace(eyebrow, 'Filter in ', h('strong', {}, space));
      replace(title, `Filter ${k}`);
      const dim = ctx.spaceById(space)?.dim || 0;
      const n = Number(k);
      replace(nav,
        h('p', { class: 'pager' },
          Number.isInteger(n) && n > 0 && n <= dim ? h('a', { href: filterHref(space, n - 1), rel: 'prev' }, `← filter ${n - 1}`) : null,
          Number.isInteger(n) && n + 1 < dim ? h('a', { href: filterHref(space, n + 1), rel: 'next' }, `filter ${n + 1} →`) : null,
          h('a', { href: href('filters', { space }) }, 'all filters')),
        gotoForm(ctx, space, dim, k));
      slot.load((signal) => Promise.all([
        api.filter({ space, filter: k, top }, signal),
        api.filters({ space }, signal),
      ]), ([d, overview]) => {
        append(body,
          referenceNote(d),
          h('p', { class: 'summary' }, d.selected_by
            ? [h('strong', {}, fmtInt(d.selected_by)), ` concept${d.selected_by === 1 ? ' chooses' : 's choose'} filter ${d.filter} as their best single filter.`]
            : `No concept chooses filter ${d.filter} as its best single filter.`),
          d.kind === 'reference' ? null : topImagesCard(d),
          h('div', { class: 'grid two' },
            h('section', { class: 'card' },
              h('h2', {}, `Best single filter of ${fmtInt(d.best_for.length)} concept${d.best_for.length === 1 ? '' : 's'}`),
              conceptTable(d.best_for, d.space, { metric: d.metric, showBest: true }) || emptyBox('None.')),
            h('section', { class: 'card' },
              h('h2', {}, `Concepts that weight it most`),
              conceptTable(d.top_weighted, d.space, { metric: d.metric, showBest: false }) || emptyBox('None.'))),
          h('div', { class: 'grid two' },
            figure5(overview, d.selected_by),
            h('section', { class: 'card' },
              h('h2', {}, 'Where this filter sits'),
              filterBars(overview.concepts_per_filter, {
                label: 'number of concepts choosing each filter', yLabel: 'concepts', valueName: 'concepts',
                width: 640, height: 200, best: d.filter, bestLabel: 'filter', onSelect: (j) => ctx.navigate(filterHref(d.space, j)),
              }),
              legend([{ label: 'concepts choosing the filter', cls: 'plain' }, { label: `filter ${d.filter}`, cls: 'best' }]))));
      });
    },
    destroy() {
      slot.abort();
    },
  };
}
