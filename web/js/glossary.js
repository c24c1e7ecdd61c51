// What the page's words and numbers mean, in one place: every view explains a metric with
// info(key) (a small ⓘ button that opens its definition, keyboard-operable, Escape closes) or
// term(key) (the word itself as an <abbr> with the short definition), and the header's
// "About" button opens the help panel (what a space is, the glossary, the paper and docs).
// Definitions follow the paper (Fong & Vedaldi, CVPR 2018) and docs/METHOD.md, QUERIES.md.

import { h, replace, uid, fmtInt } from './dom.js';

export const PAPER_URL = 'https://arxiv.org/abs/1801.03454';
export const PAPER_TITLE = 'Net2Vec: Quantifying and Explaining how Concepts are Encoded by Filters in Deep Neural Networks (Fong & Vedaldi, CVPR 2018)';
// The docs are files of the source tree (the server serves only the page and the API).
export const DOCS = [
  ['docs/METHOD.md', 'how the concept vectors are learned and scored'],
  ['docs/QUERIES.md', 'neighbours, analogies, D_ij, D_ijc and CKA, with formulas'],
  ['docs/API.md', 'every route and field of the JSON API this page reads'],
  ['docs/RELIABILITY.md', 'how far the numbers can be trusted'],
  ['docs/DEMO.md', 'the demo catalog, and net2vec report'],
];

/** key -> {term, text, cite?}. `text` is one or two sentences a reader needs at the number. */
export const GLOSSARY = {
  space: {
    term: 'space',
    text: 'A set of concept vectors. A network space holds, for one layer of one network, one learned weight vector per concept over the layer’s filters (paper §3); a reference space holds vectors from outside any network.',
  },
  seg: {
    term: '.seg space',
    text: 'Segmentation embedding (paper §3.1): each concept’s weights combine the layer’s thresholded filter maps to segment the concept in the probe images; scored by set IoU.',
  },
  cls: {
    term: '.cls space',
    text: 'Classification embedding (paper §3.2): each concept’s weights over the layer’s spatially pooled activations tell whether an image contains the concept; scored by balanced accuracy.',
  },
  reference: {
    term: 'reference space',
    text: 'Vectors imported as a baseline, not learned from images: WordNet (hypernym closures of the concepts’ synsets) or word vectors such as GloVe. They have no scores.',
  },
  set_iou: {
    term: 'set IoU',
    text: 'Intersection over union of the predicted and the ground-truth masks, each summed over all val images before dividing: Σ|M∩L| / Σ|M∪L| (paper eq. 2). 0 to 1; higher is better.',
  },
  balanced_accuracy: {
    term: 'balanced accuracy',
    text: 'The mean of the true-positive and true-negative rates on val, so the few images with the concept count as much as the many without. 0.5 is chance, 1 perfect.',
  },
  learned: {
    term: 'learned weights',
    text: 'The concept’s vector w: a weight per filter (and a bias) trained so that the weighted sum of the filters’ responses predicts the concept (paper eq. 1).',
  },
  best_single: {
    term: 'best single filter',
    text: 'The one filter whose thresholded activation alone scores best for the concept on train (NetDissect’s unit); its val score is shown. Learned weights scoring below it is a warning sign.',
  },
  val_interval: {
    term: '95 % interval, p',
    text: 'How far a val score can be trusted: its 95 % bootstrap interval (the val images resampled) and its p-value against chance, the share of random pairings of predictions with other val images’ masks (or of permuted labels) scoring as well. p is per concept, uncorrected (docs/METHOD.md).',
  },
  single_over_learned: {
    term: 'single / learned',
    text: 'The best single filter’s val score divided by the learned weights’ val score. Above 1: one filter does better than the learned combination.',
  },
  alpha: {
    term: 'α',
    text: 'α = 1 − the mean share of an image the concept covers on train (paper eq. 4); it weights the concept’s pixels in the loss, so small concepts get α near 1.',
  },
  tau: {
    term: 'τ',
    text: 'The activation quantile: filter k is thresholded at T_k with P(a_k > T_k) = τ over the probe set (0.005 in the paper).',
  },
  filters_for: {
    term: 'filters for 50% / 90% of ‖w‖₁',
    text: 'How many filters, largest |w| first, hold half (90%) of the weights’ absolute sum: small numbers mean the concept lives in a few filters, large ones that it is distributed.',
  },
  best_rank: {
    term: 'best filter’s rank by |w|',
    text: 'Where the best single filter ranks among all filters by the absolute learned weight (1 = the largest).',
  },
  norms: {
    term: '‖w‖₂ / ‖w‖₁',
    text: 'The Euclidean length and the absolute sum of the weight vector. Neighbours use unit vectors, so the length does not change them.',
  },
  image_iou: {
    term: 'per-image IoU',
    text: 'IoU of the predicted and ground-truth masks on one val image; the histogram and deciles (paper Figures 7, 8) show how it varies over images.',
  },
  deciles: {
    term: 'deciles',
    text: 'The val images at the 10%, 20% … 100% points of the non-zero per-image IoUs, as in the paper’s Figure 8. With few non-zero images, neighbouring deciles can be the same image.',
  },
  f_sweep: {
    term: 'F sweep',
    text: 'The concept retrained on only its top F filters by |w|, for growing F (paper Figure 3): how many filters the concept needs.',
  },
  cosine: {
    term: 'cosine similarity',
    text: 'The cosine of the angle between two concepts’ weight vectors: 1 same direction, 0 unrelated, −1 opposite. Bars here run on the absolute scale 0 to 1.',
  },
  '3cosadd': {
    term: '3CosAdd',
    text: 'The analogy a + b − c solved as the concepts nearest (cosine) to the sum of the unit vectors with the signs applied (paper Table 3).',
  },
  '3cosmul': {
    term: '3CosMul',
    text: 'The analogy score of Levy & Goldberg: the product of the cosines to the positive terms divided by the product of those to the negatives (cosines shifted to 0..1). Not a cosine: compare it only within one answer.',
    cite: 'O. Levy and Y. Goldberg, Linguistic Regularities in Sparse and Explicit Word Representations, CoNLL 2014.',
  },
  d_ij: {
    term: 'D_ij',
    text: 'The distance between spaces i and j (paper §4.3): ‖d(W_i) − d(W_j)‖², where d(W) is the C × C matrix of cosines between the C shared concepts. It sums C² terms, so compare it only over the same concepts.',
  },
  d_ijc: {
    term: 'D_ijc',
    text: 'Concept c’s share of D_ij: the squared difference of its row of cosines to every shared concept in the two spaces. Large D_ijc: the concept’s neighbourhood changes between the spaces.',
  },
  cka: {
    term: 'CKA',
    text: 'Linear centred kernel alignment of the two cosine matrices: 1 when the spaces have the same geometry up to rotation and scale, lower when they differ. Unlike D_ij it does not grow with the number of concepts.',
    cite: 'S. Kornblith, M. Norouzi, H. Lee and G. Hinton, Similarity of Neural Network Representations Revisited, ICML 2019.',
  },
  cosine_baseline: {
    term: 'Cosine against the space’s pairs',
    text: 'How unusual a cosine is depends on the space: 0.3 is higher than 99 % of concept pairs in some classification spaces and about the median in WordNet’s. So each neighbour’s cosine is placed among the cosines of all pairs of concepts of the space (or of 50,000 pairs drawn at random in larger spaces): “above 99 % of pairs” means only 1 % of concept pairs are closer. A baseline to read against, not a significance test.',
  },
  above_chance: {
    term: 'Above chance (false discovery rate)',
    text: 'Each concept’s val score has a permutation p-value: how often its predictions score as well against other images’ masks (or shuffled labels). A space tests hundreds of concepts, so a few would pass p < 0.05 by luck. q is p corrected with Benjamini–Hochberg over the space’s concepts; counting the concepts with q ≤ 0.05 (Table 1’s “above chance”) keeps the expected share of false passes among them at 5 %.',
    cite: 'Y. Benjamini and Y. Hochberg, Controlling the False Discovery Rate, J. R. Statist. Soc. B 57, 1995.',
  },
  pearson_r: {
    term: 'Pearson r',
    text: 'The correlation of a concept’s weights max(w_k, 0) with its filters’ single-filter val IoU (paper §5.2, Figure 9): do the weights favour the filters that are good alone?',
  },
};

/** The glossary entry of `key` (throws on a typo, so a missing definition shows in the tests). */
export function entry(key) {
  const e = GLOSSARY[key];
  if (!e) throw new Error(`glossary: no entry '${key}'`);
  return e;
}

/** The metric names the API uses -> glossary keys. */
export const METRIC_KEYS = { cosine: 'cosine', '3cosmul': '3cosmul', set_iou: 'set_iou', balanced_accuracy: 'balanced_accuracy', d_ij: 'd_ij' };

// ---- the ⓘ popover ---------------------------------------------------------------------------------

let open = null; // {button, pop}

function close({ focus = false } = {}) {
  if (!open) return;
  const { button, pop } = open;
  open = null;
  pop.remove();
  button.setAttribute('aria-expanded', 'false');
  if (focus) button.focus();
}

function place(button, pop) {
  // Fixed, clamped to the viewport: it never widens the page (390 px screens).
  const r = button.getBoundingClientRect();
  const width = Math.min(320, window.innerWidth - 16);
  pop.style.width = `${width}px`;
  pop.style.left = `${Math.max(8, Math.min(r.left, window.innerWidth - width - 8))}px`;
  const below = r.bottom + 6;
  pop.style.top = `${below}px`;
  const height = pop.offsetHeight;
  if (below + height > window.innerHeight - 8 && r.top - height - 6 > 8) pop.style.top = `${r.top - height - 6}px`;
}

function show(button, key) {
  close();
  const e = entry(key);
  const pop = h('div', { class: 'info-pop', role: 'dialog', 'aria-label': e.term, id: button.getAttribute('aria-controls') },
    h('strong', {}, e.term), ' ', e.text,
    e.cite ? h('span', { class: 'cite' }, e.cite) : null,
    h('button', { type: 'button', class: 'info-more', onclick: () => { close(); openHelp(key); } }, 'All definitions'));
  document.body.append(pop);
  place(button, pop);
  button.setAttribute('aria-expanded', 'true');
  open = { button, pop };
}

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && open) {
    event.preventDefault();
    close({ focus: true });
  }
});
document.addEventListener('click', (event) => {
  if (open && !open.pop.contains(event.target) && !open.button.contains(event.target)) close();
}, true);
window.addEventListener('resize', () => close());
window.addEventListener('hashchange', () => close());

/** A small ⓘ button that shows the definition of `key` (a disclosure: Enter or Space, Escape). */
export function info(key) {
  const e = entry(key);
  const button = h('button', {
    type: 'button', class: 'info', 'aria-expanded': 'false', 'aria-controls': uid('info'),
    'aria-label': `What is ${e.term}?`, title: `What is ${e.term}?`, 'data-term': key,
  }, 'i');
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    if (open?.button === button) close();
    else show(button, key);
  });
  return button;
}

/** `text` (default: the term) as an <abbr> with the short definition, followed by its ⓘ button. */
export function term(key, text = null) {
  const e = entry(key);
  return h('span', { class: 'term-wrap' }, h('abbr', { title: e.text, 'data-term': key }, text ?? e.term), info(key));
}

// ---- the help panel ----------------------------------------------------------------------------------

let dialog = null;
let spaceOf = () => null; // the space the page shows, for the panel's provenance

/** A space's provenance as a definition list (its run, or a reference space's source). */
export function provenanceList(space) {
  if (!space) return null;
  const rows = [];
  const add = (label, value, key = null) => {
    if (value === null || value === undefined || value === '') return;
    rows.push(h('dt', {}, label, key ? info(key) : null), h('dd', {}, String(value)));
  };
  if (space.kind === 'reference') {
    add('Kind', 'reference space (imported vectors)', 'reference');
    add('Source', space.source || 'not recorded');
    add('Dimensions', fmtInt(space.dim));
    add('Concepts', fmtInt(space.concept_count));
    add('Imported', space.created_at);
  } else {
    const run = space.run || {};
    add('Network · layer', `${space.network} · ${space.model_layer || space.layer}`);
    add('Task', space.task, space.task === 'classification' ? 'cls' : 'seg');
    add('Probe set', run.probe_set);
    add('Input size', Array.isArray(run.input_size) ? `${run.input_size[0]} × ${run.input_size[1]} px` : null);
    add('Activation map', Array.isArray(run.activation_size) ? `${run.activation_size[0]} × ${run.activation_size[1]}` : null);
    add('Filters', fmtInt(space.dim));
    add('Concepts', fmtInt(space.concept_count));
    add('τ (threshold quantile)', run.tau, 'tau');
    add('Epochs', run.epochs);
    add('Learning rate', run.lr);
    add('Batch size', run.batch_size);
    add('Seed', run.seed);
    add('Images used / skipped', Number.isFinite(run.images_used) ? `${fmtInt(run.images_used)} / ${fmtInt(run.images_skipped)}` : null);
    add('Device', run.device);
    add('net2vec version', run.software_version);
    add('Model SHA-256', run.model_sha256);
    add('Run', space.run_id !== null && space.run_id !== undefined ? `#${space.run_id}, ${run.started_at || '?'} → ${run.finished_at || '?'}` : null);
  }
  return h('dl', { class: 'facts provenance-list', 'data-space': space.id }, rows);
}

/** A collapsed "How this space was made" box for a view. */
export function provenance(space) {
  if (!space) return null;
  return h('details', { class: 'provenance', 'data-space': space.id },
    h('summary', {}, space.kind === 'reference' ? 'Where this space comes from' : 'How this space was made (run)'),
    provenanceList(space));
}

function helpBody(focusKey) {
  const space = spaceOf();
  const items = Object.entries(GLOSSARY).map(([key, e]) => [
    h('dt', { id: `glossary-${key.replace(/[^a-z0-9_]/gi, '_')}`, 'data-term': key, tabindex: '-1' }, e.term),
    h('dd', {}, e.text, e.cite ? h('span', { class: 'cite' }, ' ', e.cite) : null)]);
  const body = h('div', { class: 'help-body' },
    h('h2', {}, 'How to read this page'),
    h('p', {}, 'Net2Vec represents each concept (dog, grass, yellow…) by a vector of weights over the filters of one CNN layer, ',
      'learned from a probe set of images labelled with masks. Similar concepts get similar vectors, so the page can show ',
      'neighbours, analogies and comparisons of layers, networks and reference spaces.'),
    h('ul', {},
      h('li', {}, h('strong', {}, 'A space'), ' is one such set of vectors. Its id reads network.layer.task: ',
        h('code', {}, '.seg'), ' spaces learned to segment each concept (paper §3.1, scored by set IoU), ',
        h('code', {}, '.cls'), ' spaces to classify images (§3.2, scored by balanced accuracy).'),
      h('li', {}, h('strong', {}, 'Reference spaces'), ' (e.g. wordnet, glove) are imported baselines, not learned from images: they have no scores.'),
      h('li', {}, 'Pick the space in the header; every view works in it, and every URL can be shared.')),
    space ? [h('h3', {}, `This space: ${space.id}`), provenanceList(space)] : null,
    h('h3', {}, 'Definitions'),
    h('dl', { class: 'glossary' }, items),
    h('h3', {}, 'Paper and documentation'),
    h('ul', {},
      h('li', {}, h('a', { href: PAPER_URL, rel: 'noopener', target: '_blank' }, PAPER_TITLE)),
      DOCS.map(([path, what]) => h('li', {}, h('code', {}, path), ` (in the net2vec source tree): ${what}`)),
      h('li', {}, h('a', { href: 'api/openapi.json' }, 'The API (OpenAPI)'), '; ',
        h('code', {}, 'net2vec report --db CATALOG --out DIR'), ' writes the analyses and comparisons of every space as files (docs/DEMO.md).')));
  if (focusKey) {
    queueMicrotask(() => {
      const target = body.querySelector(`dt[data-term="${CSS.escape(focusKey)}"]`);
      target?.scrollIntoView({ block: 'center' });
      target?.focus();
    });
  }
  return body;
}

/** Opens the help panel (a modal <dialog>: Escape closes it and focus returns). */
export function openHelp(focusKey = null) {
  if (!dialog) {
    dialog = h('dialog', { class: 'help', 'aria-labelledby': 'help-title' });
    document.body.append(dialog);
  }
  const opener = document.activeElement;
  replace(dialog,
    h('div', { class: 'dialog-head' }, h('h1', { id: 'help-title' }, 'About net2vec'),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => dialog.close() }, '×')),
    helpBody(focusKey));
  dialog.addEventListener('close', () => opener?.focus?.(), { once: true });
  dialog.showModal();
}

/** Wires the header's About button; `currentSpace()` gives the space the page shows. */
export function installHelp(button, currentSpace) {
  spaceOf = currentSpace;
  button?.addEventListener('click', () => openHelp());
}
