// The probe browser: the concepts of the probe set a space was measured on, with their train
// and val images and coverage, and for one concept the images that carry it -- train and val
// apart, a page at a time -- with the concept's ground-truth mask over each image.
//
//   #/probe?space=S&category=C     the probe set's concepts
//   #/probe/NAME?space=S           one concept's images
//
// The server reads the probe folder it was started with (serve --probe DIR); without it the
// API answers 404 saying so, which the page shows.

import { api } from '../api.js';
import { h, append, replace, fmt, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { href, conceptHref, suggestionLinks, withParams } from '../routes.js';
import { categoryChip } from './common.js';
import { maskLayer, maskLegend, openImage, enlargeButton } from '../masks.js';
import { copyLinkButton } from '../export.js';

/** '#/probe?space=S' (the concepts) or '#/probe/NAME?space=S' (one concept's images). */
export const probeHref = (space, name = null) => href('probe', { space }, name);

const PAGE = 12; // images per page, per split
const SPLITS = [['train', 'Train images'], ['val', 'Val images']];

/** The concepts with their counts; a row links to the concept's images. */
function conceptsTable(d) {
  const rows = d.concepts.map((c) => h('tr', { 'data-concept': c.name },
    h('td', {}, c.train_images + c.val_images > 0 ? h('a', { href: probeHref(d.space, c.name) }, c.name) : c.name),
    h('td', {}, categoryChip(c.category)),
    h('td', { class: 'num' }, fmtInt(c.train_images)),
    h('td', { class: 'num' }, fmtInt(c.val_images)),
    h('td', { class: 'num', title: 'images where the concept has pixels (train / val)' }, `${fmtInt(c.train_masked)} / ${fmtInt(c.val_masked)}`),
    h('td', { class: 'num' }, fmt(c.alpha, 3))));
  return h('table', { class: 'data probe-concepts' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'concept'), h('th', { scope: 'col' }, 'category'),
      h('th', { scope: 'col', class: 'num' }, 'train'), h('th', { scope: 'col', class: 'num' }, 'val'),
      h('th', { scope: 'col', class: 'num' }, 'with masks'),
      h('th', { scope: 'col', class: 'num', title: '1 − mean share of concept pixels over its train masks: the loss weight of eq. 4 (docs/METHOD.md)' }, 'alpha'))),
    h('tbody', {}, rows));
}

/** One split's images of a concept, a page at a time, each with the concept's mask over it. */
function splitCard(space, name, split, label) {
  const heading = h('h2', {}, label);
  const grid = h('div', { class: 'thumbs with-masks probe-thumbs', 'data-split': split });
  const status = h('p', { class: 'page-status', role: 'status' });
  const prev = h('button', { type: 'button', class: 'page-prev', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', class: 'page-next', disabled: true }, 'Next →');
  const toggle = h('input', { type: 'checkbox', checked: true, name: `mask-${split}` });
  toggle.addEventListener('change', () => grid.classList.toggle('with-masks', toggle.checked));
  const section = h('section', { class: 'card wide probe-split', 'data-split': split },
    h('div', { class: 'card-head' }, heading, h('label', { class: 'check' }, toggle, 'mask')),
    grid, h('div', { class: 'pager' }, prev, status, next));
  const slot = loadSlot(grid);
  let offset = 0;
  const render = (r) => {
    replace(heading, `${label} `, h('span', { class: 'muted' }, `(${fmtInt(r.total)})`));
    const to = r.offset + r.images.length;
    replace(status, r.total ? `${fmtInt(r.offset + 1)}–${fmtInt(to)} of ${fmtInt(r.total)}` : '');
    prev.disabled = r.offset === 0;
    next.disabled = to >= r.total;
    if (!r.images.length) {
      append(grid, emptyBox(`No ${split} image carries ${name}.`));
      return;
    }
    append(grid, r.images.map((im) => {
      const title = `${name}: ${split} image ${im.path}`;
      const open = () => openImage({
        title, photo: im.image_url, layers: [{ kind: 'truth', src: im.mask_url, outline: true }],
        caption: `index.csv row ${im.row} (${split})`,
      });
      return h('figure', { class: 'thumb', 'data-row': im.row },
        h('div', { class: 'thumb-box' },
          h('img', { class: 'photo', src: im.image_url, alt: title }),
          maskLayer(im.mask_url, { kind: 'truth', outline: true }),
          enlargeButton(title, open)),
        h('figcaption', {}, h('span', { class: 'muted' }, im.path)));
    }));
  };
  const load = (at) => {
    offset = Math.max(0, at);
    slot.load((signal) => api.probeImages({ space, name, split, offset, limit: PAGE }, signal), render);
  };
  prev.addEventListener('click', () => load(offset - PAGE));
  next.addEventListener('click', () => load(offset + PAGE));
  load(0);
  return { section, abort: () => slot.abort() };
}

export function create(root, ctx) {
  const eyebrow = h('p', { class: 'eyebrow' });
  const title = h('h1', { tabindex: '-1' });
  const links = h('p', { class: 'links' });
  const body = h('div', { class: 'probe-body' });
  const slot = loadSlot(body);
  root.append(h('div', { class: 'view-head' }, eyebrow, h('div', { class: 'view-title' }, title, copyLinkButton()), links), body);
  let cards = [];

  return {
    update(route) {
      for (const c of cards) c.abort();
      cards = [];
      const space = route.params.get('space');
      const name = route.arg;
      if (!name) {
        ctx.setTitle('Probe set');
        replace(eyebrow, 'Probe set of ', h('strong', {}, space));
        replace(title, 'Concepts of the probe set');
        replace(links);
        const category = route.params.get('category') || null;
        slot.load((signal) => api.probeConcepts({ space, category }, signal), (d) => {
          replace(title, `Concepts of ${d.probe.name}`);
          replace(links, `${fmtInt(d.train_images)} train and ${fmtInt(d.val_images)} val images · category: `,
            [null, ...d.categories].map((c, i) => [i ? ' · ' : '', c === category ? h('strong', {}, c || 'all')
              : h('a', { href: withParams(route, { category: c }) }, c || 'all')]));
          append(body, h('section', { class: 'card wide' }, conceptsTable(d)));
        }, { suggest: suggestionLinks(route) });
        return;
      }
      ctx.setTitle(`${name} in the probe set`);
      replace(eyebrow, 'Probe images of a concept · ', h('strong', {}, space));
      replace(title, name);
      replace(links, h('a', { href: conceptHref(space, name) }, `Concept page of ${name}`), ' · ',
        h('a', { href: probeHref(space) }, 'All concepts of the probe set'));
      // The first page of train images also says the concept and the probe set (or the error).
      slot.load((signal) => api.probeImages({ space, name, split: 'train', limit: 1 }, signal), (d) => {
        const c = d.concept;
        replace(title, c.name, ' ', categoryChip(c.category));
        replace(eyebrow, `Concept #${c.number} of probe set ${d.probe.name} · `, h('strong', {}, space));
        cards = SPLITS.map(([split, label]) => splitCard(space, c.name, split, label));
        append(body,
          h('p', { class: 'probe-summary' }, `${fmtInt(c.train_images)} train and ${fmtInt(c.val_images)} val images carry ${c.name}; `,
            `${fmtInt(c.train_masked)} and ${fmtInt(c.val_masked)} of them with pixels. Coverage alpha ${fmt(c.alpha, 3)}.`),
          maskLegend(['truth']),
          cards.map((card) => card.section));
      }, { suggest: suggestionLinks(route) });
    },
    destroy() {
      slot.abort();
      for (const c of cards) c.abort();
    },
  };
}
