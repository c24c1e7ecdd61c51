// A concept's neighbours in two spaces side by side: the question after Compare shows that a
// concept differs most between spaces A and B ("which concepts does each space put near it?").
//
//   #/side?space=A&b=B&concept=yellow-c&k=10
//
// The header's space is A. Hits found in both lists are marked with their rank in the other.

import { api } from '../api.js';
import { h, replace, fmtInt, loadSlot, errorBox } from '../dom.js';
import { combobox } from '../autocomplete.js';
import { href, withParams, conceptHref } from '../routes.js';
import { viewHead, field, numberInput, conceptItems, hitsTable, readInteger, showFormError, formErrorLine } from './common.js';

export function create(root, ctx) {
  let route = null;
  const head = viewHead('Neighbours side by side',
    'The nearest concepts (cosine of unit weight vectors) of one concept in two spaces; concepts in both lists are marked with their rank in the other.');
  const other = h('select', { name: 'b' });
  const k = numberInput(10, { name: 'k', max: 5000 });
  const combo = combobox({
    label: 'Concept',
    placeholder: 'Type a concept, e.g. dog',
    name: 'concept',
    getItems: () => conceptItems(route.params.get('space')),
    onPick: () => submit(),
  });
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Neighbours side by side', novalidate: true },
    combo.element, field('Other space', other), field('k', k),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  const formError = formErrorLine();
  const results = h('section', { class: 'results', 'aria-label': 'Neighbours in both spaces' });
  const slot = loadSlot(results);
  root.append(head, form, formError, results);

  function fillOther(a, b) {
    replace(other, ctx.spaces.filter((s) => s.id !== a).map((s) => h('option', { value: s.id }, s.id)));
    if (b && !ctx.spaces.some((s) => s.id === b)) other.prepend(h('option', { value: b }, `${b} (not in catalog)`));
    other.value = b || '';
  }

  function submit() {
    const concept = combo.input.value.trim();
    let kValue;
    try {
      if (!concept) throw new Error('Type a concept name (e.g. dog).');
      kValue = readInteger(k, 'k');
    } catch (error) {
      showFormError(formError, error.message, results);
      (concept ? k : combo.input).focus();
      return;
    }
    formError.hidden = true;
    ctx.navigate(withParams(route, { concept, b: other.value, k: kValue }));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });

  // One column: its space, its table (or its own error: the concept may be missing from one).
  function column(space, result, otherRanks) {
    const body = result.error
      ? errorBox(result.error)
      : [hitsTable(result.data.hits, { space, metric: result.data.metric }),
        h('p', { class: 'caption' }, `${fmtInt(result.data.candidates)} candidates · `,
          h('a', { href: conceptHref(space, result.data.query) }, `${result.data.query} in ${space}`))];
    const section = h('section', { class: 'card side-column', 'aria-label': `Neighbours in ${space}` },
      h('h2', {}, space), body);
    for (const row of section.querySelectorAll('tbody tr')) {
      const name = row.querySelector('td.name a')?.textContent;
      const rank = otherRanks?.get(name);
      if (rank === undefined) continue;
      row.classList.add('in-both');
      row.querySelector('td.name').append(h('span', { class: 'also', title: `also #${rank} in the other space` }, ` ↔ #${rank}`));
    }
    return section;
  }

  return {
    update(next) {
      route = next;
      const a = route.params.get('space');
      let b = route.params.get('b');
      if (!b) {
        // No other space yet: the first other network space of the same task, else any other.
        const info = ctx.spaceById(a);
        const pick = ctx.spaces.find((s) => s.id !== a && s.kind === info?.kind && s.task === info?.task)
          || ctx.spaces.find((s) => s.id !== a);
        if (pick) {
          ctx.navigate(withParams(route, { b: pick.id }), { replace: true });
          return;
        }
      }
      const concept = route.params.get('concept') || '';
      combo.input.value = concept;
      k.value = route.params.get('k') || '10';
      fillOther(a, b);
      formError.hidden = true;
      ctx.setTitle(concept ? `${concept}: ${a} and ${b}` : 'Neighbours side by side');
      if (!concept) {
        replace(results, h('p', { class: 'hint-line' }, 'Choose a concept to see its neighbours in both spaces.'));
        return;
      }
      const kValue = Number(k.value) || 10;
      const one = (space, signal) => api.neighbors({ space, concept, k: kValue }, signal)
        .then((data) => ({ data }), (error) => {
          if (error?.name === 'AbortError') throw error;
          return { error };
        });
      slot.load((signal) => Promise.all([one(a, signal), one(b, signal)]), ([ra, rb]) => {
        const ranks = (r) => (r.data ? new Map(r.data.hits.map((x) => [x.name, x.rank])) : null);
        const common = ra.data && rb.data ? ra.data.hits.filter((x) => ranks(rb).has(x.name)).length : null;
        replace(results,
          common !== null && h('p', { class: 'overlap' },
            `${fmtInt(common)} of the ${fmtInt(ra.data.hits.length)} nearest in ${a} are also among the ${fmtInt(rb.data.hits.length)} nearest in ${b}.`,
            ' ', h('a', { href: href('compare', { space: a, spaces: `${a},${b}`, pair: '0,1' }) }, 'Compare the two spaces')),
          h('div', { class: 'grid two side-by-side' }, column(a, ra, ranks(rb)), column(b, rb, ranks(ra))));
      });
    },
    destroy() {
      slot.abort();
    },
  };
}
