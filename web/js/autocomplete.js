// An accessible autocomplete: the ARIA 1.2 "combobox with list autocomplete" pattern
// (https://www.w3.org/WAI/ARIA/apg/patterns/combobox/). Focus stays in the text input; the
// highlighted option is announced through aria-activedescendant.
//
// Keys: ArrowDown/ArrowUp open the list and move the highlight, Enter picks the highlighted
// option (without one, Enter is left to the form, which submits), Escape closes the list (and
// clears the input when it is already closed), Tab closes it.

import { h, replace, uid } from './dom.js';

/**
 * Ranks the items matching `text`: the exact name, names starting with it, then names with a
 * word starting with it ("plate" finds "license plate"), then names containing it;
 * alphabetical within each.
 */
export function matchItems(items, text, max = 12) {
  const q = text.trim().toLowerCase();
  if (!q) return items.slice(0, max);
  const ranked = [];
  for (const item of items) {
    const name = item.name.toLowerCase();
    const at = name.indexOf(q);
    if (at < 0) continue;
    const rank = name === q ? -1 : at === 0 ? 0 : /[\s_\-/]/.test(name[at - 1]) ? 1 : 2;
    ranked.push([rank, item, at]);
  }
  ranked.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name));
  return ranked.slice(0, max).map(([, item, at]) => ({ ...item, at, length: q.length }));
}

/**
 * options: {label, placeholder, name, getItems: () => Promise<[{name, category}]>,
 *           onPick(name) called when an option is chosen, onKeyDown(event) for extra keys,
 *           before: a node shown inside the box before the input (the analogy's chips)}
 * Returns {element, input, close()}.
 */
export function combobox({
  label, placeholder = '', name = '', getItems, onPick, onKeyDown = null, max = 12, before = null,
}) {
  const listId = uid('listbox');
  const inputId = uid('combo');
  const input = h('input', {
    id: inputId, type: 'text', name, placeholder, autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'listbox', 'aria-label': `${label} suggestions`, hidden: true });
  const status = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  let options = [];
  let active = -1;
  let items = [];
  let requestId = 0;

  const setActive = (index) => {
    active = index;
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === index)));
    if (index >= 0) {
      input.setAttribute('aria-activedescendant', list.children[index].id);
      list.children[index].scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };

  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    setActive(-1);
  };

  const pick = (index) => {
    const option = options[index];
    if (!option) return;
    input.value = option.name;
    close();
    onPick(option.name);
  };

  const render = () => {
    replace(list, options.map((o, i) => h('li', {
      id: `${listId}-${i}`, role: 'option', 'aria-selected': 'false', class: 'option',
      onmousedown: (event) => event.preventDefault(), // keep focus in the input
      onclick: () => pick(i),
    },
    h('span', { class: 'option-name' },
      o.name.slice(0, o.at ?? 0),
      o.length ? h('mark', {}, o.name.slice(o.at, o.at + o.length)) : '',
      o.name.slice((o.at ?? 0) + (o.length || 0))),
    o.category ? h('span', { class: 'option-category' }, o.category) : null)));
    const open = options.length > 0;
    list.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    active = -1;
    input.removeAttribute('aria-activedescendant');
    status.textContent = open ? `${options.length} suggestion${options.length === 1 ? '' : 's'}` : 'No suggestions';
  };

  const refresh = async () => {
    const mine = ++requestId;
    try {
      items = await getItems();
    } catch {
      items = []; // the view shows the load error; the input still works as plain text
    }
    if (mine !== requestId || document.activeElement !== input) return;
    options = matchItems(items, input.value, max);
    render();
  };

  input.addEventListener('input', refresh);
  input.addEventListener('blur', close);
  input.addEventListener('keydown', (event) => {
    const open = !list.hidden;
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        if (!open) refresh().then(() => options.length && setActive(0));
        else setActive((active + 1) % options.length);
        return;
      case 'ArrowUp':
        event.preventDefault();
        if (open) setActive(active <= 0 ? options.length - 1 : active - 1);
        return;
      case 'Enter':
        if (open && active >= 0) {
          event.preventDefault();
          pick(active);
          return;
        }
        close();
        break;
      case 'Escape':
        if (open) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = '';
        }
        return;
      case 'Tab':
        close();
        break;
      default:
        break;
    }
    onKeyDown?.(event);
  });

  const element = h('div', { class: 'combo' },
    h('label', { for: inputId, class: 'field-label' }, label),
    h('div', { class: 'combo-box' }, before, input, list), status);
  return { element, input, close };
}
