// A concept's page (paper 5.2): its scores (learned weights vs the best single filter), its
// weight vector over the layer's filters, the F sweep, the per-image IoU histogram and its
// deciles (Figures 7 and 8).

import { api } from '../api.js';
import { h, replace, append, fmt, fmtInt, fmtPct, uid, loadSlot, emptyBox, metricName } from '../dom.js';
import { filterBars, lineChart, columns, legend, inlineBar, scatter, pearson } from '../charts.js';
import { href, filterHref, neighborsHref, suggestionLinks } from '../routes.js';
import { categoryChip, learnedBelowSingle, metricInfo, scrollRegion, valStatsText } from './common.js';
import { info, provenance } from '../glossary.js';
import { exportBar, copyLinkButton } from '../export.js';
import { maskLayer, maskLegend, openImage, enlargeButton } from '../masks.js';

/** What a vector's coordinates are: a layer's filters, or a reference space's dimensions. */
function unit(d) {
  return d.kind === 'reference' ? 'dimension' : 'filter';
}

/** "0.12 [0.10, 0.14], p = 0.001" without the score: the val score's interval and p (docs/METHOD.md). */
function valStats(score) {
  const text = valStatsText(score, 'val');  // the concept answer's val_interval, val_p
  if (text === null) return h('span', { class: 'muted', title: 'catalog ingested before intervals (schema version 7) or with them off' }, 'not computed');
  // q: p corrected for the space's many concepts (Benjamini-Hochberg).
  const q = Number.isFinite(score.val_q) ? `, q = ${score.val_q < 0.0005 ? score.val_q.toExponential(1) : fmt(score.val_q, 3)}` : '';
  return h('span', { title: Number.isFinite(score.val_null_mean) ? `mean score under permutation ${fmt(score.val_null_mean, 3)}` : null }, text + q);
}

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

function scoreCard(d) {
  const metric = metricName(d.metric);
  if (d.kind === 'reference' || d.metric === null) {
    return card('Scores',
      h('p', { class: 'note' }, `${d.space} is a reference space: its vectors are imported, not learned from images, so it has no scores.`),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Dimensions'), h('dd', {}, fmtInt(d.dim)),
        h('dt', {}, '‖w‖₂ / ‖w‖₁'), h('dd', {}, `${fmt(d.l2_norm, 3)} / ${fmt(d.l1_norm, 3)}`)));
  }
  const row = (label, score, extra = null, key = null) => h('tr', {},
    h('th', { scope: 'row' }, label, extra, key ? info(key) : null),
    h('td', { class: 'num' }, fmt(score?.train, 3)),
    h('td', { class: 'num strong' }, fmt(score?.val, 3)),
    h('td', { class: 'num val-stats' }, valStats(score)));
  const segImages = d.image_iou;
  const below = learnedBelowSingle(d);
  return card(h('span', {}, `Scores (${metric})`, metricInfo(d.metric)),
    below ? h('p', { class: 'flag-note below-single', role: 'note' },
      h('strong', {}, 'Learned weights below the best single filter. '),
      `On val the ${fmtInt(d.dim)} learned weights score ${fmt(d.learned?.val, 3)}, filter #${d.best_filter} alone ${fmt(d.best_single?.val, 3)}: `,
      'for this concept the combination does not help (the paper finds the opposite on average); read its neighbours with care.') : null,
    h('table', { class: 'data scores' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col', class: 'num' }, 'train'), h('th', { scope: 'col', class: 'num' }, 'val'),
        h('th', { scope: 'col', class: 'num', title: '95 % bootstrap interval over the val images; p against chance (val masks or labels permuted); q: p corrected for the space\'s many concepts (Benjamini-Hochberg)' }, 'val 95 % interval, p, q', info('above_chance')))),
      h('tbody', {},
        row(`Learned weights (${fmtInt(d.dim)} filters)`, d.learned, null, 'learned'),
        row('Best single filter ', d.best_single,
          bestFilter(d) >= 0 ? h('a', { href: filterHref(d.space, d.best_filter) }, `#${d.best_filter}`) : '(none)', 'best_single'))),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Single / learned (val)', info('single_over_learned')),
      h('dd', { class: below ? 'below-single' : null }, fmt(d.single_over_learned, 3)),
      h('dt', {}, 'Filters for 50% / 90% of ‖w‖₁', info('filters_for')), h('dd', {}, `${fmtInt(d.filters_for_half)} / ${fmtInt(d.filters_for_90)}`),
      h('dt', {}, 'Best filter’s rank by |w|', info('best_rank')), h('dd', {}, fmtInt(d.best_filter_rank)),
      h('dt', {}, 'Images train / val'), h('dd', {}, `${fmtInt(d.train_count)} / ${fmtInt(d.val_count)}`),
      Number.isFinite(segImages?.mean_learned) ? [
        h('dt', {}, 'Mean image IoU learned / single', info('image_iou')), h('dd', {}, `${fmt(segImages.mean_learned, 3)} / ${fmt(segImages.mean_single, 3)}`),
      ] : null,
      h('dt', {}, '‖w‖₂ / ‖w‖₁', info('norms')), h('dd', {}, `${fmt(d.l2_norm, 3)} / ${fmt(d.l1_norm, 3)}`),
      h('dt', {}, 'Bias / α', info('alpha')), h('dd', {}, `${fmt(d.bias, 3)} / ${fmt(d.alpha, 3)}`)),
    scoresExport(d));
}

/** The scores as rows (CSV) and the whole concept answer (JSON). */
function scoresExport(d) {
  const rows = [
    { scores: 'learned weights', filter: null, train: d.learned?.train ?? null, val: d.learned?.val ?? null },
    { scores: 'best single filter', filter: d.best_filter, train: d.best_single?.train ?? null, val: d.best_single?.val ?? null },
  ];
  return exportBar({
    name: `concept-${d.name}-${d.space}-scores`, label: 'scores',
    columns: [{ key: 'scores' }, { key: 'filter' }, { key: 'train' }, { key: 'val' }],
    rows, json: d,
  });
}

/** One row per filter: its weight and, in segmentation spaces, its single-filter val score. */
function weightsExport(d) {
  const rows = d.weights.map((w, k) => ({ [unit(d)]: k, weight: w, single_filter_val: d.filter_iou_val ? d.filter_iou_val[k] : null }));
  const columns = [{ key: unit(d) }, { key: 'weight' }];
  if (d.filter_iou_val) columns.push({ key: 'single_filter_val', label: `single_filter_val_${d.metric}` });
  return exportBar({ name: `concept-${d.name}-${d.space}-weights`, label: 'weights', columns, rows });
}

function sweepCard(d, space) {
  const title = h('span', {}, 'Score vs number of filters', info('f_sweep'));
  if (!d.subsets?.length) {
    // The run's settings say whether the sweep was off for the whole space (the usual case:
    // an ingest with an empty --seg-subsets / --cls-subsets) or this concept was left out.
    const option = d.task === 'classification' ? '--cls-subsets' : '--seg-subsets';
    const swept = space?.run?.subsets;
    return card(title, emptyBox(Array.isArray(swept) && swept.length === 0
      ? h('span', { class: 'sweep-off' }, `No F sweep in the whole space ${d.space}: it was ingested with the F sweep off (`,
        h('code', {}, `net2vec-ingest ${option} ""`), '), so no concept of it has one. Re-ingest with e.g. ',
        h('code', {}, `${option} 1,2,4,8,16`), ' to draw this chart.')
      : Array.isArray(swept)
        ? `No F sweep stored for this concept, although the space swept F = ${swept.join(', ')} (${option}).`
        : 'No F sweep stored for this concept.'));
  }
  return card(title,
    lineChart(d.subsets.map((s) => ({ x: s.filters, y: s.score, label: `top ${s.filters} filter${s.filters === 1 ? '' : 's'}` })), {
      label: `${metricName(d.metric)} of the top-F filters retrained, against F`,
      xLabel: 'filters F (log scale)', yLabel: `val ${metricName(d.metric)}`,
      reference: { y: d.learned?.val, label: 'all filters' },
    }),
    h('p', { class: 'caption' }, 'The concept retrained on its top F filters (by |w|); dashed: the learned weights over all filters.'));
}

function histogramCard(d) {
  const iou = d.image_iou;
  if (!iou?.bins?.length) return card('Per-image IoU', emptyBox('No per-image IoU stored.'));
  // bins are the edges (one more than the counts).
  const edges = iou.bins;
  const n = iou.learned.length;
  const names = Array.from({ length: n }, (_, i) => fmt(edges[i], 2));
  const range = (i) => `IoU ${fmt(edges[i], 2)}–${fmt(edges[i + 1] ?? 1, 2)}`;
  return card('Per-image IoU (val)',
    columns(names, [
      { name: 'learned weights', values: iou.learned, cls: 'learned' },
      { name: 'best single filter', values: iou.single, cls: 'single' },
    ], {
      label: 'histogram of per-image IoU, learned weights vs best single filter',
      xLabel: 'per-image IoU', yLabel: 'images',
      tooltip: (ci, si) => `${range(ci)}: ${si ? iou.single[ci] : iou.learned[ci]} images (${si ? 'best single filter' : 'learned weights'})`,
    }),
    legend([{ label: 'learned weights', cls: 'learned' }, { label: 'best single filter', cls: 'single' }]),
    h('p', { class: 'caption' }, `${fmtInt(d.image_count)} val images; IoU 0 for ${fmtInt(iou.zero_learned)} (learned) and ${fmtInt(iou.zero_single)} (single).`));
}

/** The best single filter's index, or -1 (reference spaces answer null, and null >= 0 in JS). */
function bestFilter(d) {
  return Number.isInteger(d.best_filter) && d.best_filter >= 0 ? d.best_filter : -1;
}

function weightsCard(d, openFilter) {
  const top = new Set(d.top_filters.map((f) => f.filter));
  const best = bestFilter(d);
  return h('section', { class: 'card wide' },
    h('h2', {}, `Weight vector over ${fmtInt(d.dim)} ${unit(d)}s`),
    filterBars(d.weights, {
      label: `weights of ${d.name} per ${unit(d)}`, xLabel: unit(d), yLabel: 'weight', valueName: 'weight', height: 210,
      highlight: top, best, onSelect: openFilter,
    }),
    legend([
      { label: 'weight', cls: 'plain' },
      { label: `top ${top.size} by |w|`, cls: 'top' },
      ...(best >= 0 ? [{ label: `best single filter (#${best})`, cls: 'best' }] : []),
    ]),
    openFilter ? h('p', { class: 'caption' }, 'Click a bar to open that filter.') : null,
    weightsExport(d));
}

function topFiltersCard(d) {
  const domain = [0, Math.max(...d.top_filters.map((f) => f.share), 1e-12)];
  return card(`Top ${d.top_filters.length} ${unit(d)}s by |w|`,
    h('table', { class: 'data top-filters' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'num' }, '#'), h('th', { scope: 'col' }, unit(d)),
        h('th', { scope: 'col', class: 'num' }, 'Weight'), h('th', { scope: 'col', class: 'score' }, 'Share of ‖w‖₁'),
        h('th', { scope: 'col', class: 'num' }, 'Cumulative'))),
      h('tbody', {}, d.top_filters.map((f, i) => h('tr', { class: f.filter === d.best_filter ? 'best' : null },
        h('td', { class: 'num rank' }, i + 1),
        h('td', {}, d.kind === 'network' ? h('a', { href: filterHref(d.space, f.filter) }, `filter ${f.filter}`) : `dim ${f.filter}`,
          f.filter === d.best_filter ? h('span', { class: 'badge best' }, 'best single') : null),
        h('td', { class: `num ${f.weight < 0 ? 'negative' : ''}` }, fmt(f.weight, 4)),
        h('td', { class: 'score' }, inlineBar(f.share, domain, { width: 120, label: `share ${fmtPct(f.share)}` }), h('span', { class: 'value' }, fmtPct(f.share))),
        h('td', { class: 'num' }, fmtPct(f.cumulative)))))),
    exportBar({
      name: `concept-${d.name}-${d.space}-top-${unit(d)}s`, label: `top ${unit(d)}s`,
      columns: [{ key: (f) => d.top_filters.indexOf(f) + 1, label: 'rank' }, { key: 'filter', label: unit(d) }, { key: 'weight' }, { key: 'share' }, { key: 'cumulative' }],
      rows: d.top_filters,
    }));
}

function filterScoresCard(d, openFilter) {
  if (!d.filter_iou_val) return null;
  return card(`Each filter alone (val ${metricName(d.metric)})`,
    filterBars(d.filter_iou_val, {
      label: `val score of each single filter for ${d.name}`, yLabel: metricName(d.metric), valueName: metricName(d.metric),
      width: 640, height: 200, best: bestFilter(d), onSelect: openFilter,
    }),
    h('p', { class: 'caption' }, 'The best single filter is chosen on train; its val score is the one above.'));
}

/**
 * Paper 5.2: do the learned weights follow how good each filter is alone? One dot per filter,
 * x = max(w_k, 0) (negative weights are evidence against the concept, not for it), y = the
 * filter's single-filter val IoU, with Pearson's r of the two.
 */
function weightIouCard(d, openFilter) {
  if (!d.filter_iou_val || !d.weights?.length) return null;
  const xs = d.weights.map((w) => (Number.isFinite(w) ? Math.max(w, 0) : NaN));
  const ys = d.filter_iou_val;
  const r = pearson(xs, ys);
  const points = [];
  for (let k = 0; k < xs.length; k += 1) {
    if (Number.isFinite(xs[k]) && Number.isFinite(ys[k])) {
      points.push({ x: xs[k], y: ys[k], index: k, tooltip: `filter ${k}: max(w, 0) ${fmt(xs[k], 4)}, single-filter IoU ${fmt(ys[k], 4)}` });
    }
  }
  return card('Weights vs single-filter IoU (paper 5.2)',
    scatter(points, {
      label: `max(w, 0) against single-filter val IoU for each filter of ${d.name}`,
      xLabel: 'max(w_k, 0)', yLabel: `single-filter val ${metricName(d.metric)}`, onSelect: openFilter,
    }),
    h('p', { class: 'caption' },
      'Pearson ', h('strong', { class: 'pearson-r' }, `r = ${fmt(r, 3)}`), ` over ${fmtInt(points.length)} filters. `,
      'Click a dot to open that filter.'));
}

const PAGE = 12; // val images per page

/**
 * The concept's val images, best or worst first by the learned weights' IoU (failures are
 * what a reader investigates), a page at a time with the total, the ground truth outlined
 * over each (a toggle) and a larger view on click. The image and mask URLs come from the API
 * (relative, like every request); they are null when the server was not given the probe
 * folder (serve --probe). `images` is the first page, best first, which the deciles share.
 */
function imagesCard(d, images) {
  const grid = h('div', { class: 'thumbs with-masks' });
  const toggle = h('input', { type: 'checkbox', checked: true, name: 'truth' });
  toggle.addEventListener('change', () => grid.classList.toggle('with-masks', toggle.checked));
  const heading = h('h2', {}, 'Val images, best first');
  const orderName = uid('order');
  const order = h('fieldset', { class: 'radios image-order' }, h('legend', {}, 'order'),
    [['best', 'best first'], ['worst', 'worst first']].map(([value, label]) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: orderName, value, checked: value === 'best', onChange: () => load(0) }), label)));
  const status = h('p', { class: 'page-status', role: 'status' });
  const prev = h('button', { type: 'button', class: 'page-prev', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', class: 'page-next', disabled: true }, 'Next →');
  const pager = h('div', { class: 'pager' }, prev, status, next);
  const section = h('section', { class: 'card wide images' },
    h('div', { class: 'card-head' }, heading, order,
      h('label', { class: 'check' }, toggle, 'ground-truth outline')),
    grid, pager);
  const slot = loadSlot(grid);
  let offset = 0;
  const chosen = () => section.querySelector(`input[name="${orderName}"]:checked`)?.value || 'best';
  const render = (r) => {
    const worst = r.order === 'worst';
    replace(heading, `Val images, ${worst ? 'worst' : 'best'} first`, info('image_iou'));
    const from = (r.offset ?? 0) + 1;
    const to = (r.offset ?? 0) + r.images.length;
    replace(status, r.image_count ? `${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(r.image_count)} val images` : '');
    prev.disabled = (r.offset ?? 0) === 0;
    next.disabled = to >= r.image_count;
    if (!r.images.length) {
      append(grid, emptyBox('No val images with this concept.'));
    } else if (!r.served) {
      pager.hidden = true;
      append(grid, h('p', { class: 'note' }, `The server was started without the probe images: run `,
        h('code', {}, `net2vec serve --probe ${r.probe?.path || 'DIR'}`), ` to see the ${fmtInt(r.image_count)} val images of ${d.name}.`));
    } else {
      append(grid, r.images.map((im) => {
        const label = `${d.name}: val image ${im.path}, IoU ${fmt(im.learned, 2)}`;
        const open = () => openImage({
          title: `${d.name}: ${im.path}`, photo: im.image_url,
          layers: [{ kind: 'truth', src: im.mask_url, outline: true }],
          caption: `Set IoU on this image: learned weights ${fmt(im.learned, 3)}, best single filter ${fmt(im.single, 3)} (index.csv row ${im.row}).`,
        });
        return h('figure', { class: 'thumb', 'data-row': im.row },
          h('div', { class: 'thumb-box' },
            h('img', { src: im.image_url, alt: `${d.name}: val image ${im.path}` }),
            maskLayer(im.mask_url, { kind: 'truth', outline: true }),
            enlargeButton(label, open)),
          h('figcaption', {}, h('span', { title: 'set IoU of the learned weights on this image' }, `IoU ${fmt(im.learned, 2)}`),
            h('span', { class: 'muted', title: 'set IoU of the best single filter on this image' }, ` · single ${fmt(im.single, 2)}`)));
      }), maskLegend(['truth']));
    }
  };
  function load(at) {
    offset = Math.max(0, at);
    const ord = chosen();
    // The first page best first is the answer the deciles card already asked for.
    slot.load(offset === 0 && ord === 'best' ? images
      : (signal) => api.images({ space: d.space, name: d.name, limit: PAGE, offset, order: ord }, signal), render);
  }
  prev.addEventListener('click', () => load(offset - PAGE));
  next.addEventListener('click', () => load(offset + PAGE));
  load(0);
  return section;
}

const DECILE_SETS = [
  { key: 'learned', label: 'learned weights', title: 'Learned weights' },
  { key: 'single', label: 'best single filter', title: 'Best single filter' },
];

/** "10%" for a decile's quantile (0.1). */
function decilePct(q) {
  return fmtPct(q, 0);
}

/** A probe image URL, relative like every request; only built once the server said it serves them. */
function probeUrl(kind, params) {
  return `api/probe/${kind}?${new URLSearchParams(params)}`;
}

/**
 * Paper Figures 7 and 8: the mean ± sd of the non-zero per-image IoUs (zeros are images the
 * concept's mask is predicted nowhere on, which the paper leaves out) and an example image at
 * each decile of that non-zero part, best last. With the probe images served (the images
 * answer's `served`), one thumbnail per decile, learned weights or best single filter (radio
 * buttons); without them only the values, as a table: a probe URL would answer 404.
 */
function decilesCard(d, images) {
  const nz = d.image_iou?.nonzero;
  const dec = d.image_iou?.deciles;
  if (!nz || !dec) return null;
  const stat = (set) => {
    const s = nz[set.key];
    return [
      h('dt', {}, set.title),
      h('dd', { class: `nonzero-${set.key}` },
        h('span', { class: 'nz-mean' }, fmt(s?.mean, 3)), ' ± ', h('span', { class: 'nz-sd' }, fmt(s?.sd, 3)),
        h('span', { class: 'muted' }, ` (${fmtInt(s?.nonzero)} of ${fmtInt(s?.images)} images non-zero)`)),
    ];
  };
  const head = h('div', { class: 'card-head' }, h('h2', {}, 'Per-image IoU by decile (paper Figures 7, 8)'));
  const body = h('div', { class: 'decile-body' });
  const section = h('section', { class: 'card wide deciles' }, head,
    h('dl', { class: 'facts' }, DECILE_SETS.map(stat)),
    h('p', { class: 'caption' }, 'Mean ± sd of the non-zero per-image IoUs on val, as the paper reports them.'),
    body);
  if (!dec.learned?.length && !dec.single?.length) {
    append(body, emptyBox('No val image has a non-zero IoU, so there are no deciles.'));
    return section;
  }
  // Figure 8: the masks ingest stored for the decile images (`predicted`) come from the
  // catalog, with or without the photos; the photos and ground truth need `serve --probe`.
  const predicted = DECILE_SETS.some((set) => (dec[set.key] || []).some((e) => e.predicted));
  loadSlot(body).load(images, (r) => {
    if (!r.served && !predicted) {
      // Both sets in one table: nothing to switch between without the pictures.
      const quantiles = (dec.learned.length ? dec.learned : dec.single).map((e) => e.quantile);
      append(body,
        h('div', scrollRegion('Per-image IoU deciles'), h('table', { class: 'data decile-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'decile'),
            quantiles.map((q) => h('th', { scope: 'col', class: 'num' }, decilePct(q))))),
          h('tbody', {}, DECILE_SETS.map((set) => h('tr', {},
            h('th', { scope: 'row' }, set.title),
            dec[set.key].map((e) => h('td', { class: 'num decile', 'data-set': set.key, title: `index.csv row ${e.row}` }, fmt(e.iou, 2)))))))),
        h('p', { class: 'note' }, 'Non-zero per-image IoU at each decile; start ', h('code', {}, 'net2vec serve --probe'),
          ' to see the image at each.'));
      return;
    }
    const row = h('div', { class: `thumbs decile-thumbs with-masks with-truth${r.served ? '' : ' masks-only'}` });
    const legend = h('div', { class: 'decile-legend' });
    // The ground truth can be hidden to see the prediction alone (and shown to compare).
    const truthToggle = h('input', { type: 'checkbox', checked: true, name: 'decile-truth' });
    truthToggle.addEventListener('change', () => row.classList.toggle('with-truth', truthToggle.checked));
    const show = (key) => {
      const set = DECILE_SETS.find((s) => s.key === key);
      replace(legend, maskLegend(r.served ? [key, 'truth'] : [key]),
        r.served ? null : h('p', { class: 'legend' }, 'start ', h('code', {}, 'net2vec serve --probe'), ' to see the photos and the ground truth under them'));
      replace(row, dec[key].map((e, i) => {
        const where = `val image at the ${decilePct(e.quantile)} decile of the non-zero IoU of the ${set.label}`;
        const photo = r.served ? probeUrl('image', { space: d.space, row: e.row }) : null;
        const truth = r.served ? probeUrl('mask', { space: d.space, row: e.row, concept: d.name }) : null;
        const prediction = e.predicted ? probeUrl('prediction', { space: d.space, row: e.row, concept: d.name, method: key }) : null;
        // With few non-zero images neighbouring deciles fall on the same image: say so.
        const same = i > 0 && dec[key][i - 1].row === e.row;
        const open = () => openImage({
          title: `${d.name}: ${decilePct(e.quantile)} decile (${set.label})`, photo,
          layers: [prediction ? { kind: key, src: prediction, outline: false } : null, truth ? { kind: 'truth', src: truth, outline: true } : null].filter(Boolean),
          caption: `Per-image IoU ${fmt(e.iou, 3)} (index.csv row ${e.row}); ${where}.`,
        });
        return h('figure', { class: 'thumb decile', 'data-set': key, 'data-row': e.row },
          h('div', { class: 'thumb-box' },
            photo ? h('img', { class: 'photo', src: photo, alt: `${d.name}: ${where}` }) : null,
            prediction ? maskLayer(prediction, {
              kind: key, imgClass: 'mask prediction', alt: r.served ? '' : `${d.name}: mask predicted by the ${set.label} on the ${where}`,
            }) : null,
            truth ? maskLayer(truth, { kind: 'truth', outline: true, imgClass: 'mask truth' }) : null,
            photo || prediction ? enlargeButton(`${d.name}, ${decilePct(e.quantile)} decile`, open) : null),
          h('figcaption', {}, `${decilePct(e.quantile)}: IoU ${fmt(e.iou, 2)}`, same ? h('span', { class: 'muted same-image', title: 'the same image as the decile before: few images have a non-zero IoU' }, ' (same image)') : null));
      }));
    };
    if (r.served) head.append(h('label', { class: 'check' }, truthToggle, 'ground-truth outline'));
    // Radio buttons, not clickable tabs: arrow keys switch the set, and the choice is announced.
    const name = uid('decile-set');
    const radios = h('fieldset', { class: 'radios' }, h('legend', {}, 'deciles of'),
      DECILE_SETS.map((set) => h('label', { class: 'radio' },
        h('input', {
          type: 'radio', name, value: set.key, checked: set.key === 'learned',
          onChange: (ev) => { if (ev.target.checked) show(set.key); },
        }),
        set.label)));
    head.append(radios);
    show('learned');
    append(body, row, legend);
  });
  return section;
}

export function create(root, ctx) {
  const eyebrow = h('p', { class: 'eyebrow' });
  const title = h('h1', { tabindex: '-1' });
  const links = h('p', { class: 'links' });
  const origin = h('div', { class: 'origin' });
  const body = h('div', { class: 'concept-body' });
  const slot = loadSlot(body);
  root.append(h('div', { class: 'view-head' }, eyebrow, h('div', { class: 'view-title' }, title, copyLinkButton()), links, origin), body);

  return {
    update(route) {
      const space = route.params.get('space');
      const name = route.arg || '';
      ctx.setTitle(name);
      replace(eyebrow, 'Concept in ', h('strong', {}, space));
      replace(title, name);
      replace(origin);
      replace(links,
        h('a', { href: neighborsHref(space, name) }, `Neighbours of ${name}`), ' · ',
        h('a', { href: href('analogy', { space, positive: name }) }, 'Use in an analogy'), ' · ',
        h('a', { href: href('probe', { space }, name), class: 'probe-link' }, 'Its images in the probe set'));
      slot.load((signal) => api.concept({ space, name, top: route.params.get('top') || 10 }, signal), (d) => {
        replace(title, d.name, ' ', categoryChip(d.category));
        const info = ctx.spaceById(d.space);
        replace(eyebrow, 'Concept #', String(d.number), ' in ', h('strong', {}, d.space),
          h('span', { class: 'muted' }, ` · ${info?.task || 'reference space'} · ${fmtInt(d.dim)} ${d.kind === 'reference' ? 'dimensions' : 'filters'}`));
        replace(origin, provenance(info));
        const openFilter = (k) => ctx.navigate(filterHref(d.space, k));
        // The images answer says whether the probe images are served; the deciles card and the
        // images card both need it, so it is fetched once.
        let imagesAnswer = null;
        const images = (signal) => {
          imagesAnswer ??= api.images({ space: d.space, name: d.name, limit: PAGE }, signal);
          return imagesAnswer;
        };
        if (d.kind === 'reference') {
          // No scores to plot: the note, the vector and its largest coordinates.
          append(body, h('div', { class: 'grid two' }, scoreCard(d), topFiltersCard(d)), weightsCard(d, null));
          return;
        }
        append(body,
          // Classification spaces have no per-image IoU.
          d.task === 'segmentation'
            ? h('div', { class: 'grid three' }, scoreCard(d), sweepCard(d, info), histogramCard(d))
            : h('div', { class: 'grid two' }, scoreCard(d), sweepCard(d, info)),
          weightsCard(d, openFilter),
          h('div', { class: 'grid two' }, topFiltersCard(d),
            h('div', { class: 'stack' }, filterScoresCard(d, openFilter), weightIouCard(d, openFilter))),
          d.task === 'segmentation' && d.image_count > 0 ? decilesCard(d, images) : null,
          d.task === 'segmentation' && d.image_count > 0 ? imagesCard(d, images) : null);
      }, { suggest: suggestionLinks(route) });
    },
    destroy() {
      slot.abort();
    },
  };
}
