// Masks people can read: the server's mask PNGs (ground truth, and the masks the learned
// weights and the best single filter predict) are redrawn on a canvas in colours from the
// Okabe-Ito palette, which stay distinct with the common colour-vision deficiencies: the
// ground truth as an outline (so a prediction under it stays visible), each prediction as a
// fill of its own colour. A click on a thumbnail opens a larger view (a <dialog>: Escape
// closes it and focus returns to the thumbnail).

import { h, replace } from './dom.js';

/** Okabe & Ito (2008): yellow, blue, vermillion and orange; rgb for the canvas, hex for CSS. */
export const MASK_COLOURS = {
  truth: { rgb: [240, 228, 66], css: '#f0e442', label: 'ground truth (outline)' },
  learned: { rgb: [0, 114, 178], css: '#0072b2', label: 'predicted by the learned weights' },
  single: { rgb: [213, 94, 0], css: '#d55e00', label: 'predicted by the best single filter' },
  // Okabe-Ito orange: a filter's thresholded map on its top images (the filter page).
  activation: { rgb: [230, 159, 0], css: '#e69f00', label: 'where the filter fires (a_k > T_k)' },
};

/**
 * Draws the mask of `img` (a loaded <img>, a PNG whose opaque pixels are the mask) on
 * `canvas`: outline = the mask's boundary pixels opaque, with a dark edge outside them; fill =
 * the mask 60 % opaque. In the mask's own resolution; CSS scales it over the photo.
 */
export function drawMask(canvas, img, { kind, outline }) {
  const w = img.naturalWidth;
  const hgt = img.naturalHeight;
  if (!w || !hgt) return;
  canvas.width = w;
  canvas.height = hgt;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.clearRect(0, 0, w, hgt);
  g.drawImage(img, 0, 0);
  const src = g.getImageData(0, 0, w, hgt);
  const out = g.createImageData(w, hgt);
  const on = (x, y) => x >= 0 && y >= 0 && x < w && y < hgt && src.data[4 * (y * w + x) + 3] > 0;
  const [r, gr, b] = MASK_COLOURS[kind].rgb;
  const put = (p, rgb, alpha) => {
    out.data[4 * p] = rgb[0];
    out.data[4 * p + 1] = rgb[1];
    out.data[4 * p + 2] = rgb[2];
    out.data[4 * p + 3] = alpha;
  };
  for (let y = 0; y < hgt; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const p = y * w + x;
      if (!outline) {
        if (on(x, y)) put(p, [r, gr, b], 153);
      } else if (on(x, y)) {
        // A boundary pixel has a neighbour outside the mask (or the image edge).
        if (!on(x - 1, y) || !on(x + 1, y) || !on(x, y - 1) || !on(x, y + 1)) put(p, [r, gr, b], 255);
      } else if (on(x - 1, y) || on(x + 1, y) || on(x, y - 1) || on(x, y + 1)) {
        put(p, [0, 0, 0], 200); // a dark edge just outside, so the outline shows on light photos
      }
    }
  }
  g.putImageData(out, 0, 0);
}

/**
 * The <img> of a mask (kept, hidden: it loads the PNG and is what tests and assistive
 * technology see) and the canvas that shows it recoloured.
 */
export function maskLayer(src, { kind, outline = false, imgClass = 'mask', alt = '' }) {
  const canvas = h('canvas', { class: `mask-canvas mask-${kind}${outline ? ' outline' : ''}`, 'data-kind': kind, 'aria-hidden': 'true' });
  const img = h('img', { class: `${imgClass} mask-source`, src, alt, 'aria-hidden': alt ? null : 'true', 'data-kind': kind });
  const draw = () => drawMask(canvas, img, { kind, outline });
  if (img.complete && img.naturalWidth) draw();
  else img.addEventListener('load', draw, { once: true });
  return [img, canvas];
}

/** The legend of the mask colours shown: kinds = ['truth', 'learned', ...]. */
export function maskLegend(kinds) {
  return h('p', { class: 'legend mask-legend' }, kinds.map((k) => h('span', { class: 'legend-item', 'data-kind': k },
    h('span', { class: `swatch mask-swatch mask-${k}`, style: k === 'truth' ? `border-color: ${MASK_COLOURS[k].css}` : `background: ${MASK_COLOURS[k].css}`, 'aria-hidden': 'true' }),
    MASK_COLOURS[k].label)));
}

// ---- the larger view ------------------------------------------------------------------------------

let viewer = null;

/**
 * Opens the larger view: the photo with the masks over it, each switchable, and the caption.
 * layers = [{kind, src, outline}]; photo may be null (masks only).
 */
export function openImage({ title, photo, layers, caption }) {
  if (!viewer) {
    viewer = h('dialog', { class: 'image-viewer', 'aria-labelledby': 'image-viewer-title' });
    document.body.append(viewer);
    // A click on the backdrop (outside the dialog's box) closes it too.
    viewer.addEventListener('click', (event) => {
      if (event.target === viewer) viewer.close();
    });
  }
  const opener = document.activeElement;
  const stage = h('div', { class: `viewer-stage${photo ? '' : ' masks-only'}` },
    photo ? h('img', { class: 'viewer-photo', src: photo, alt: title }) : null);
  const toggles = h('div', { class: 'viewer-toggles' });
  for (const layer of layers) {
    const [img, canvas] = maskLayer(layer.src, { kind: layer.kind, outline: layer.outline, alt: photo ? '' : `${title}: ${MASK_COLOURS[layer.kind].label}` });
    stage.append(img, canvas);
    const box = h('input', { type: 'checkbox', checked: true, 'data-kind': layer.kind });
    box.addEventListener('change', () => { canvas.hidden = !box.checked; });
    toggles.append(h('label', { class: 'check' }, box,
      h('span', { class: `swatch mask-swatch mask-${layer.kind}`, style: layer.kind === 'truth' ? `border-color: ${MASK_COLOURS.truth.css}` : `background: ${MASK_COLOURS[layer.kind].css}`, 'aria-hidden': 'true' }),
      MASK_COLOURS[layer.kind].label));
  }
  replace(viewer,
    h('div', { class: 'dialog-head' }, h('h1', { id: 'image-viewer-title' }, title),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => viewer.close() }, '×')),
    stage, toggles, caption ? h('p', { class: 'caption' }, caption) : null);
  viewer.addEventListener('close', () => opener?.focus?.(), { once: true });
  viewer.showModal();
  viewer.querySelector('button.close').focus();
}

/** A thumbnail's "enlarge" button (the whole thumbnail is the button, so it is one Tab stop). */
export function enlargeButton(label, open) {
  return h('button', { type: 'button', class: 'enlarge', 'aria-label': `Larger view: ${label}`, title: 'Larger view', onclick: open }, '⤢');
}
