// Map: the space's concepts laid out in 2-D by a seeded t-SNE (the server computes and caches
// it), coloured by category or by k-means cluster, with zoom and pan, a search that highlights
// concepts, and the clusters' members below.
//
// The map is fetched again only when space, clusters or seed change; colour, search and the
// selected cluster are applied to the drawn SVG, so the zoom survives them.

import { api } from '../api.js';
import { h, svg, replace, append, fmt, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { legend, seriesColor, panZoom, shorten } from '../charts.js';
import { combobox } from '../autocomplete.js';
import { conceptHref, mapHref, suggestionLinks } from '../routes.js';
import { viewHead, field, numberInput } from './common.js';

// The drawing's user space: the points fill it with a margin, x and y on one scale (t-SNE
// distances mean the same in both directions).
const W = 800;
const H = 540;
const PAD = 24;
const MAX_LABELS = 60; // beyond this the names cover each other and the map
// Colour by cluster, not category, when one category holds more than this share of the
// concepts (BRODEN: 200 of 214 are objects, so colour by category is one blob).
const UNBALANCED = 0.5;
const NEIGHBOURS = 10; // "show its nearest neighbours" highlights this many

/** The largest category and its share of the points. */
function largestCategory(points) {
  const counts = new Map();
  for (const p of points) counts.set(p.category || '', (counts.get(p.category || '') || 0) + 1);
  const [name, n] = [...counts].sort((a, b) => b[1] - a[1])[0] || ['', 0];
  return { name, n, share: points.length ? n / points.length : 0 };
}

/**
 * Labels that do not collide at the current zoom: the candidates in priority order, each placed
 * when its box (in user units; the font is 12 px / zoom, as style.css draws it) overlaps no box
 * placed before it and its point is in view. Returns the indices labelled.
 */
function placeLabels(points, order, view, zoom, max) {
  const size = 12 / zoom;
  const placed = [];
  const out = [];
  for (const i of order) {
    if (out.length >= max) break;
    const p = points[i];
    if (p.px < view.x || p.px > view.x + view.w || p.py < view.y || p.py > view.y + view.h) continue;
    const text = shorten(p.name, 28);
    const x0 = p.px + 9 / zoom;
    // Bold 12 px text is at most ~0.7 em a character; the white halo adds 1.5 px each side.
    const halo = 2 / zoom;
    const box = {
      x0: x0 - halo, x1: x0 + text.length * size * 0.7 + halo, y0: p.py + 4 / zoom - size * 0.95 - halo, y1: p.py + 4 / zoom + size * 0.3 + halo,
    };
    if (placed.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
    placed.push(box);
    out.push(i);
  }
  return out;
}

/** Points in drawing coordinates: equal scale on both axes, centred. */
function layout(points) {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const unit = Math.min((W - 2 * PAD) / (x1 - x0 || 1), (H - 2 * PAD) / (y1 - y0 || 1));
  const ox = (W - (x1 - x0) * unit) / 2;
  const oy = (H - (y1 - y0) * unit) / 2;
  // SVG y grows downwards; flip so the map reads like the usual scatter.
  return points.map((p) => ({ ...p, px: ox + (p.x - x0) * unit, py: H - (oy + (p.y - y0) * unit) }));
}

/** The indices of the points a search matches: an exact name alone, otherwise every name containing it. */
function matching(points, text) {
  const q = text.trim().toLowerCase();
  if (!q) return null;
  const exact = points.findIndex((p) => p.name.toLowerCase() === q);
  if (exact >= 0) return [exact];
  return points.map((p, i) => (p.name.toLowerCase().includes(q) ? i : -1)).filter((i) => i >= 0);
}

export function create(root, ctx) {
  let route = null;
  let space = null;
  let loadedKey = null;
  let loading = false; // a map is being fetched; a restyle-only update waits for it
  let drawn = null; // {data, points, circles, chart, labels, zoom, legendBox, clusterItems, status}
  let nearest = { key: null, names: null }; // the highlighted concept's neighbours, once fetched

  const head = viewHead('Concept map',
    'The space’s concepts in two dimensions (t-SNE of the concept vectors, seeded so the same settings give the same map), with k-means clusters. Scroll to zoom, drag to pan, click a point for its concept page.');
  const color = h('select', { name: 'color' },
    h('option', { value: 'category' }, 'category'), h('option', { value: 'cluster' }, 'cluster'));
  const clusters = numberInput(8, { name: 'clusters', min: 1, max: 50 });
  const seed = numberInput(1, { name: 'seed', min: 0, max: 2147483647 });
  const combo = combobox({
    label: 'Highlight concepts',
    placeholder: 'Type a name, e.g. dog',
    name: 'highlight',
    getItems: async () => drawn?.data.points || [],
    onPick: (name) => setHighlight(name),
  });
  const form = h('form', { class: 'toolbar map-form', 'aria-label': 'Map settings' },
    combo.element, field('Colour by', color), field('Clusters (k)', clusters), field('Seed', seed),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));
  const body = h('div', { class: 'map-body' });
  const slot = loadSlot(body);
  root.append(head, form, body);

  const go = (changes, options) => ctx.navigate(mapHref(space, {
    clusters: route.params.get('clusters'), seed: route.params.get('seed'), color: route.params.get('color'),
    highlight: route.params.get('highlight'), cluster: route.params.get('cluster'), nn: route.params.get('nn'), ...changes,
  }), options);

  // Typing highlights at once; the URL follows in place (no history entry per letter).
  function setHighlight(text, { inPlace = false } = {}) {
    go({ highlight: text.trim(), cluster: null, nn: null }, { replace: inPlace });
  }
  combo.input.addEventListener('input', () => setHighlight(combo.input.value, { inPlace: true }));
  // The combobox's Escape clears the input without an input event (it runs first, so the
  // value read here is already the cleared one).
  combo.input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !combo.input.value && route.params.get('highlight')) setHighlight('', { inPlace: true });
  });
  color.addEventListener('change', () => go({ color: color.value }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ clusters: clusters.value, seed: seed.value, highlight: combo.input.value.trim() || null });
  });

  function draw(data) {
    const points = layout(data.points);
    // Points are links reachable by keyboard as one tab stop (a roving tabindex): arrow keys
    // go to the nearest point in that direction, Enter opens its concept page.
    const circles = points.map((p, i) => svg('circle', {
      class: 'map-point', cx: p.px.toFixed(2), cy: p.py.toFixed(2), 'data-index': i, tabindex: i === 0 ? 0 : -1, role: 'link',
      'aria-label': `${p.name} (${p.category || 'no category'}, cluster ${p.cluster})`,
    }, svg('title', {}, `${p.name} (${p.category || 'no category'}, cluster ${p.cluster})`)));
    const labels = svg('g', { class: 'map-labels', 'aria-hidden': 'true' });
    const chart = svg('svg', {
      class: 'map-chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'xMidYMid meet', tabindex: 0, role: 'group',
      'aria-label': `map of ${fmtInt(points.length)} concepts of ${data.space}; with focus, + and - zoom, 0 resets, arrow keys pan`,
    },
    svg('rect', { class: 'map-bg', x: 0, y: 0, width: W, height: H }),
    svg('g', { class: 'map-points' }, circles), labels);
    chart.addEventListener('click', (event) => {
      const target = event.target.closest?.('.map-point');
      if (target) ctx.navigate(conceptHref(data.space, points[Number(target.dataset.index)].name));
    });
    const DIRECTIONS = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] };
    chart.addEventListener('keydown', (event) => {
      const from = event.target.closest?.('.map-point');
      if (!from) return; // the chart's own keys: zoom and pan (charts.js panZoom)
      const i = Number(from.dataset.index);
      if (event.key === 'Enter') {
        event.preventDefault();
        ctx.navigate(conceptHref(data.space, points[i].name));
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        chart.focus();
        return;
      }
      const d = DIRECTIONS[event.key];
      if (!d) return;
      event.preventDefault();
      event.stopPropagation();
      // The nearest point within 60 degrees of the direction (distance, plus the angle's cost).
      let best = -1;
      let bestCost = Infinity;
      points.forEach((q, j) => {
        const dx = q.px - points[i].px;
        const dy = q.py - points[i].py;
        const along = dx * d[0] + dy * d[1];
        const dist = Math.hypot(dx, dy);
        if (j === i || along <= 0 || along < dist * 0.5) return;
        const cost = dist + 2 * (dist - along);
        if (cost < bestCost) [best, bestCost] = [j, cost];
      });
      if (best < 0) return;
      focusPoint(best);
    });
    const focusPoint = (j) => {
      for (const c of circles) c.setAttribute('tabindex', '-1');
      circles[j].setAttribute('tabindex', '0');
      zoom.show(points[j].px, points[j].py);
      circles[j].focus();
      status.textContent = `${points[j].name}: ${points[j].category || 'no category'}, cluster ${points[j].cluster}. Enter opens it.`;
    };
    const zoomLevel = h('span', { class: 'map-zoom-level muted', 'aria-live': 'polite' });
    let relabel = 0;
    const zoom = panZoom(chart, { x: 0, y: 0, w: W, h: H }, {
      onChange: (s) => {
        zoomLevel.textContent = `${s.toFixed(s < 10 ? 1 : 0)}×`;
        // Labels are placed again for the new zoom and view, once per frame.
        cancelAnimationFrame(relabel);
        relabel = requestAnimationFrame(() => drawn && drawn.chart === chart && drawLabels());
      },
    });
    const button = (text, labelText, onclick) => h('button', { type: 'button', class: 'map-zoom', title: labelText, 'aria-label': labelText, onclick }, text);
    const status = h('p', { class: 'map-status muted', role: 'status', 'aria-live': 'polite' });
    const legendBox = h('div', { class: 'map-legend' });
    const clusterList = h('ol', { class: 'map-clusters' });
    const clusterItems = data.clusters.map((c) => {
      const { cls, style } = seriesColor(c.cluster);
      const toggle = h('button', {
        type: 'button', class: 'map-cluster-toggle', 'aria-pressed': 'false',
        onclick: () => go({ cluster: route.params.get('cluster') === String(c.cluster) ? null : c.cluster, highlight: null }),
      },
      h('span', { class: `swatch ${cls}`, style, 'aria-hidden': 'true' }),
      `Cluster ${c.cluster}`, ' · ', h('span', { class: 'cluster-size' }, fmtInt(c.concept_count)),
      ` concept${c.concept_count === 1 ? '' : 's'}`);
      const item = h('li', { class: 'map-cluster', 'data-cluster': c.cluster },
        toggle,
        h('p', { class: 'members' }, c.members.map((name, i) => [i ? ', ' : '', h('a', { href: conceptHref(data.space, name) }, name)])));
      clusterList.append(item);
      return { cluster: c.cluster, item, toggle };
    });
    append(body,
      h('p', { class: 'muted' }, `${data.space} · ${fmtInt(points.length)} concepts · t-SNE perplexity ${fmt(data.perplexity, 0)}, `,
        `${fmtInt(data.iterations)} iterations, seed ${data.seed}, KL ${fmt(data.kl, 3)} · k-means k = ${data.k}`),
      h('section', { class: 'card wide map-card' },
        h('div', { class: 'map-tools' },
          h('div', { class: 'map-zoom-buttons', role: 'group', 'aria-label': 'Zoom' },
            button('+', 'Zoom in', () => zoom.zoomBy(1.5)),
            button('−', 'Zoom out', () => zoom.zoomBy(1 / 1.5)),
            button('Reset', 'Reset zoom', () => zoom.reset()),
            zoomLevel),
          status),
        h('div', { class: 'map-frame' }, chart),
        legendBox),
      h('section', { class: 'card wide' }, h('h2', {}, `Clusters (k = ${data.k})`),
        h('p', { class: 'caption' }, 'k-means on the concept vectors (not on the 2-D map). Click a cluster to highlight its concepts.'),
        clusterList));
    const ruleNote = h('p', { class: 'caption map-rule' });
    legendBox.after(ruleNote);
    return { data, points, circles, chart, labels, zoom, legendBox, clusterItems, status, ruleNote, order: [], lines: null };
  }

  /** The labels of drawn.order that fit without colliding at the current zoom. */
  function drawLabels() {
    const { points, labels, zoom, order } = drawn;
    labels.replaceChildren();
    for (const i of placeLabels(points, order, zoom.view(), zoom.scale(), MAX_LABELS)) {
      labels.append(svg('text', { class: 'map-label', x: points[i].px, y: points[i].py, 'data-index': i }, shorten(points[i].name, 28)));
    }
  }

  /** Lines from the highlighted concept to its nearest neighbours. */
  function neighbourLines(from, to) {
    const { points } = drawn;
    return svg('g', { class: 'map-nn-lines', 'aria-hidden': 'true' }, to.map((j) => svg('line', {
      x1: points[from].px, y1: points[from].py, x2: points[j].px, y2: points[j].py,
    })));
  }

  /** Colour, legend, highlight and labels from the route, on the drawn map. */
  function restyle() {
    const { data, points, circles, chart, labels, legendBox, clusterItems, status } = drawn;
    const largest = largestCategory(points);
    const unbalanced = largest.share > UNBALANCED;
    const asked = route.params.get('color');
    if (!asked) {
      // The rule's choice goes into the URL, so a link reproduces the colours.
      go({ color: unbalanced ? 'cluster' : 'category' }, { replace: true });
      return;
    }
    const byCluster = asked === 'cluster';
    color.value = byCluster ? 'cluster' : 'category';
    drawn.ruleNote.textContent = `Default colour: by cluster when one category holds more than half of the concepts, else by category; here ${largest.name || 'no category'} holds ${fmtInt(largest.n)} of ${fmtInt(points.length)} (${Math.round(largest.share * 100)} %), so ${unbalanced ? 'by cluster' : 'by category'}.`;
    let groups;
    if (byCluster) {
      groups = data.clusters.map((c) => ({ key: c.cluster, label: `cluster ${c.cluster} (${fmtInt(c.concept_count)})` }));
    } else {
      const counts = new Map();
      for (const p of points) counts.set(p.category || '', (counts.get(p.category || '') || 0) + 1);
      groups = [...counts].sort((a, b) => a[0].localeCompare(b[0]))
        .map(([c, n]) => ({ key: c, label: `${c || 'no category'} (${fmtInt(n)})` }));
    }
    const colours = new Map(groups.map((g, k) => [g.key, seriesColor(byCluster ? g.key : k)]));
    points.forEach((p, i) => {
      const { cls, style } = colours.get(byCluster ? p.cluster : p.category || '');
      circles[i].setAttribute('class', `map-point ${cls}`);
      if (style) circles[i].setAttribute('style', style);
      else circles[i].removeAttribute('style');
    });
    replace(legendBox, legend(groups.map((g) => ({ label: g.label, ...colours.get(g.key) }))));

    const cluster = route.params.get('cluster');
    const text = route.params.get('highlight') || '';
    let matches = null;
    if (cluster !== null && cluster !== '') {
      matches = points.map((p, i) => (String(p.cluster) === cluster ? i : -1)).filter((i) => i >= 0);
      status.textContent = `Cluster ${cluster}: ${fmtInt(matches.length)} concept${matches.length === 1 ? '' : 's'} highlighted.`;
    } else {
      matches = matching(points, text);
      status.textContent = matches === null ? ''
        : `${fmtInt(matches.length)} concept${matches.length === 1 ? '' : 's'} match “${text.trim()}”.`;
    }
    for (const { cluster: c, item, toggle } of clusterItems) {
      const on = String(c) === cluster;
      toggle.setAttribute('aria-pressed', String(on));
      item.classList.toggle('selected', on);
    }
    // One concept found: its nearest neighbours (cosine in the space, not distance on the map)
    // can be highlighted too, joined to it by lines.
    const one = matches?.length === 1 && !cluster ? matches[0] : null;
    const withNeighbours = one !== null && route.params.get('nn') === String(NEIGHBOURS);
    drawn.lines?.remove();
    drawn.lines = null;
    if (one !== null) {
      const nnKey = `${data.space}\n${points[one].name}`;
      if (withNeighbours && nearest.key === nnKey && nearest.names) {
        const index = new Map(points.map((p, i) => [p.name, i]));
        const near = nearest.names.map((n) => index.get(n)).filter((i) => i !== undefined);
        matches = [one, ...near];
        drawn.lines = neighbourLines(one, near);
        labels.before(drawn.lines);
        status.textContent = `${points[one].name} and its ${fmtInt(near.length)} nearest neighbours (cosine in ${data.space}): ${nearest.names.join(', ')}.`;
      } else if (withNeighbours) {
        status.textContent = `Finding the nearest neighbours of ${points[one].name}…`;
        nearest = { key: nnKey, names: null };
        api.neighbors({ space: data.space, concept: points[one].name, k: NEIGHBOURS }).then((answer) => {
          if (nearest.key !== nnKey) return;
          nearest.names = answer.hits.map((x) => x.name);
          if (drawn) restyle();
        }, (error) => {
          if (nearest.key === nnKey) status.textContent = `No neighbours: ${error.message}`;
        });
      }
      status.append(' ', h('button', {
        type: 'button', class: 'link-button map-nn', 'aria-pressed': String(withNeighbours),
        onclick: () => go({ nn: withNeighbours ? null : NEIGHBOURS }),
      }, withNeighbours ? 'Hide its neighbours' : `Show its ${NEIGHBOURS} nearest neighbours`));
    }
    chart.classList.toggle('has-highlight', matches !== null);
    for (const c of circles) c.classList.remove('is-match');
    // Label candidates: the highlighted points, or with none every point (the space's order).
    drawn.order = matches === null ? points.map((p, i) => i) : matches;
    if (matches !== null) {
      const parent = circles[0]?.parentNode;
      for (const i of matches) {
        circles[i].classList.add('is-match');
        parent.append(circles[i]); // drawn last, so on top of the dimmed ones
      }
      // The roving tab stop starts at the first highlighted point.
      for (const c of circles) c.setAttribute('tabindex', '-1');
      circles[matches[0] ?? 0]?.setAttribute('tabindex', '0');
    }
    // Labels after the points, so they sit above every mark; their size follows --zoom.
    drawLabels();
    if (matches !== null && labels.childElementCount < matches.length) {
      status.append(` Names shown for ${fmtInt(labels.childElementCount)} that do not overlap; zoom in for more.`);
    }
  }

  return {
    update(next) {
      route = next;
      space = route.params.get('space');
      ctx.setTitle('Map');
      const k = route.params.get('clusters') || '8';
      const s = route.params.get('seed') || '1';
      clusters.value = k;
      seed.value = s;
      const text = route.params.get('highlight') || '';
      // Only a change from elsewhere (a link, the back button) rewrites what is being typed.
      if (combo.input.value.trim() !== text.trim()) combo.input.value = text;
      color.value = route.params.get('color') === 'cluster' ? 'cluster' : 'category';
      const key = `${space}\n${k}\n${s}`;
      if (key === loadedKey && (drawn || loading)) {
        if (drawn) restyle(); // otherwise the render will read the newest route
        return;
      }
      loadedKey = key;
      drawn = null;
      loading = true;
      slot.load((signal) => api.map({ space, clusters: k, seed: s }, signal).finally(() => {
        if (loadedKey === key) loading = false;
      }), (data) => {
        if (!data.points.length) {
          append(body, emptyBox(`${data.space} has no concepts to map.`));
          return;
        }
        drawn = draw(data);
        restyle();
      }, { suggest: suggestionLinks(route), loading: 'Computing the map (t-SNE and k-means)…' });
    },
    destroy() {
      slot.abort();
    },
  };
}
