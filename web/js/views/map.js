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
    highlight: route.params.get('highlight'), cluster: route.params.get('cluster'), ...changes,
  }), options);

  // Typing highlights at once; the URL follows in place (no history entry per letter).
  function setHighlight(text, { inPlace = false } = {}) {
    go({ highlight: text.trim(), cluster: null }, { replace: inPlace });
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
    const circles = points.map((p, i) => svg('circle', {
      class: 'map-point', cx: p.px.toFixed(2), cy: p.py.toFixed(2), 'data-index': i,
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
    const zoomLevel = h('span', { class: 'map-zoom-level muted', 'aria-live': 'polite' });
    const zoom = panZoom(chart, { x: 0, y: 0, w: W, h: H }, {
      onChange: (s) => { zoomLevel.textContent = `${s.toFixed(s < 10 ? 1 : 0)}×`; },
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
    return { data, points, circles, chart, labels, zoom, legendBox, clusterItems, status };
  }

  /** Colour, legend, highlight and labels from the route, on the drawn map. */
  function restyle() {
    const { data, points, circles, chart, labels, legendBox, clusterItems, status } = drawn;
    const byCluster = route.params.get('color') === 'cluster';
    color.value = byCluster ? 'cluster' : 'category';
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
    chart.classList.toggle('has-highlight', matches !== null);
    for (const c of circles) c.classList.remove('is-match');
    labels.replaceChildren();
    if (matches === null) return;
    const parent = circles[0]?.parentNode;
    for (const i of matches) {
      circles[i].classList.add('is-match');
      parent.append(circles[i]); // drawn last, so on top of the dimmed ones
    }
    // Labels after the points, so they sit above every mark; their size follows --zoom.
    for (const i of matches.slice(0, MAX_LABELS)) {
      labels.append(svg('text', { class: 'map-label', x: points[i].px, y: points[i].py, 'data-index': i }, shorten(points[i].name, 28)));
    }
    if (matches.length > MAX_LABELS) status.append(` Names shown for the first ${MAX_LABELS}.`);
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
