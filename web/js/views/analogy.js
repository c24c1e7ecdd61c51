// Analogies (paper Table 3): positive and negative concepts combined by 3CosAdd (cosine to the
// mean of the unit vectors, signs applied) or 3CosMul (Levy & Goldberg's product of cosines).

import { api } from '../api.js';
import { h, replace, append, fmtInt, loadSlot, emptyBox } from '../dom.js';
import { combobox } from '../autocomplete.js';
import { href, conceptHref, withParams, suggestionLinks } from '../routes.js';
import { viewHead, field, numberInput, fillCategories, conceptItems, hitsTable, hitsExport, categoryChip, readInteger, showFormError, formErrorLine } from './common.js';
import { info } from '../glossary.js';

const METHODS = {
  add: { label: '3CosAdd', help: 'cosine to the mean of the unit vectors, negatives subtracted' },
  mul: { label: '3CosMul', help: 'product of the positives’ cosines over the negatives’ (Levy & Goldberg 2014)' },
};

/** "lime + yellow-c − green-c", as text or with each term a link (when `space` is given). */
function expression(positive, negative, space = null) {
  const term = (name) => (space ? h('a', { href: conceptHref(space, name) }, name) : name);
  const parts = [];
  positive.forEach((name, i) => parts.push(i ? ' + ' : '', term(name)));
  negative.forEach((name, i) => parts.push(parts.length || i ? ' − ' : '− ', term(name)));
  return parts;
}

/**
 * A list of concept names as removable chips followed by an autocomplete input. Enter picks
 * the highlighted suggestion or adds the typed name; on an empty input Enter submits the form.
 * Backspace on an empty input removes the last chip.
 */
function termList({ label, getItems, onChange }) {
  let terms = [];
  const chips = h('span', { class: 'chip-list' });
  const add = (name) => {
    const clean = name.trim();
    if (clean && !terms.includes(clean)) terms.push(clean);
    combo.input.value = '';
    render();
  };
  const combo = combobox({
    label,
    placeholder: 'add a concept…',
    getItems,
    onPick: add,
    before: chips,
    onKeyDown(event) {
      if (event.key === 'Enter' && combo.input.value.trim()) {
        event.preventDefault();
        add(combo.input.value);
      } else if (event.key === 'Backspace' && !combo.input.value && terms.length) {
        terms.pop();
        render();
      }
    },
  });
  function render() {
    replace(chips, terms.map((t, i) => h('span', { class: 'term' }, t,
      h('button', {
        type: 'button', class: 'remove', 'aria-label': `Remove ${t}`,
        onclick: () => {
          terms.splice(i, 1);
          render();
          combo.input.focus();
        },
      }, '×'))));
    onChange();
  }
  return {
    element: combo.element,
    input: combo.input,
    /** The chips plus a name still typed in the input. */
    get: () => [...terms, combo.input.value.trim()].filter(Boolean),
    set(list) {
      terms = [...list];
      combo.input.value = '';
      render();
    },
  };
}

export function create(root, ctx) {
  let space = null;
  const head = viewHead('Concept analogies',
    'Vector arithmetic on concept embeddings: which concepts are nearest to a + b − c (paper Table 3)? Inputs are left out of the results.');
  const preview = h('output', { class: 'expression-preview', 'aria-live': 'polite' });
  const updatePreview = () => {
    // Only called after both lists exist (termList calls onChange on edits, not on creation).
    const p = positive.get();
    const n = negative.get();
    replace(preview, p.length || n.length ? [expression(p, n), ' ≈ ?'] : 'Add concepts to build an expression.');
  };
  const positive = termList({ label: 'Positive (+)', getItems: () => conceptItems(space), onChange: updatePreview });
  const negative = termList({ label: 'Negative (−)', getItems: () => conceptItems(space), onChange: updatePreview });
  positive.input.addEventListener('input', updatePreview);
  negative.input.addEventListener('input', updatePreview);
  const k = numberInput(10, { name: 'k', max: 5000 }); // the API's bound (docs/API.md)
  const category = h('select', { name: 'category' });
  const methodRadios = Object.entries(METHODS).map(([value, m]) => [h('label', { class: 'radio', title: m.help },
    h('input', { type: 'radio', name: 'method', value }), m.label), info(`3cos${value}`)]);
  const form = h('form', { class: 'analogy-form', 'aria-label': 'Analogy', novalidate: true },
    h('div', { class: 'terms' }, positive.element, negative.element),
    h('div', { class: 'toolbar' },
      h('fieldset', { class: 'field radios' }, h('legend', { class: 'field-label' }, 'Method'), methodRadios),
      field('k', k), field('Category', category),
      h('button', { type: 'submit', class: 'primary' }, 'Solve'),
      preview));
  const formError = formErrorLine();
  const results = h('section', { class: 'results', 'aria-label': 'Results' });
  const slot = loadSlot(results);
  root.append(head, form, formError, results);

  const method = () => form.querySelector('input[name=method]:checked')?.value || 'add';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const p = positive.get();
    const n = negative.get();
    let kValue;
    try {
      if (!p.length && !n.length) throw new Error('Add at least one concept (type a name, then Enter) before solving.');
      kValue = readInteger(k, 'k');
    } catch (error) {
      showFormError(formError, error.message, results);
      (p.length || n.length ? k : positive.input).focus();
      return;
    }
    formError.hidden = true;
    ctx.navigate(href('analogy', { space, positive: p, negative: n, method: method(), k: kValue, category: category.value }));
  });

  // A proposed concept replaces the misspelt term in whichever list holds it.
  const suggester = (route) => (kind, name, message) => {
    if (kind !== 'concept') return suggestionLinks(route)(kind, name);
    const bad = /^no concept '(.+?)' in space/.exec(message)?.[1];
    if (bad === undefined) return null;
    const fix = (key) => route.params.getAll(key).map((t) => (t === bad ? name : t));
    return withParams(route, { positive: fix('positive'), negative: fix('negative') });
  };

  return {
    update(route) {
      space = route.params.get('space');
      const p = route.params.getAll('positive');
      const n = route.params.getAll('negative');
      const m = METHODS[route.params.get('method')] ? route.params.get('method') : 'add';
      const cat = route.params.get('category') || '';
      positive.set(p);
      negative.set(n);
      form.querySelector(`input[name=method][value=${m}]`).checked = true;
      k.value = route.params.get('k') || '10';
      formError.hidden = true;
      fillCategories(category, space, cat);
      ctx.setTitle(p.length || n.length ? `${expression(p, n).join('')}` : 'Analogies');
      if (!p.length && !n.length) {
        slot.load(() => conceptItems(space), (concepts) => {
          // The README's example, offered only where the space has its three concepts.
          const names = new Set(concepts.map((c) => c.name));
          const example = ['lime', 'yellow-c', 'green-c'].every((x) => names.has(x));
          append(results, emptyBox(h('p', {},
            'Add positive and negative concepts (type, then Enter or pick a suggestion) and press Solve.',
            example ? [' Example: ', h('a', { href: href('analogy', { space, positive: ['lime', 'yellow-c'], negative: ['green-c'] }) },
              'lime + yellow-c − green-c'), ' (a lime, yellow instead of green).'] : null)));
        });
        return;
      }
      slot.load((signal) => api.analogy({ space, positive: p, negative: n, k: Number(k.value), method: m, category: cat }, signal), (data) => {
        append(results, h('div', { class: 'results-head' },
          h('h2', { class: 'expression' }, expression(data.positive, data.negative, data.space), ' ≈ ?',
            data.category ? [' among ', categoryChip(data.category)] : null),
          h('p', { class: 'muted' }, `${data.space} · ${METHODS[data.method]?.label || data.method}: ${METHODS[data.method]?.help || ''} · `,
            `${fmtInt(data.hits.length)} of ${fmtInt(data.candidates)} candidates`),
          data.hits.length ? hitsExport(data, `analogy-${expression(data.positive, data.negative).join('')}-${data.method}-${data.space}`) : null),
        data.hits.length
          ? hitsTable(data.hits, { space: data.space, metric: data.metric })
          : emptyBox('No candidates left after excluding the inputs.'));
      }, { suggest: suggester(route) });
    },
    destroy() {
      slot.abort();
    },
  };
}
