// Entry point: the header (space selector, navigation) and the hash router.
//
// A view module exports create(root, ctx) -> {update(route), destroy()}. While the user stays
// on one view (a new search, a clicked heatmap cell), the router calls update() on the same
// instance, so forms keep their state and focus; switching views creates a fresh instance.

import { api, apiIdle } from './api.js';
import { h, replace, errorBox, emptyBox, fmtInt } from './dom.js';
import { href, parseHash, withParams } from './routes.js';
import { VIEWS, viewNamed, navOf } from './views/index.js';
import { watchCharts } from './export.js';
import { installHelp } from './glossary.js';

const main = document.getElementById('view');
const select = document.getElementById('space-select');
const spaceInfo = document.getElementById('space-info');
// The header's links, one per view with a nav label (views/index.js).
const navLinks = VIEWS.filter((v) => v.nav).map((v) => h('a', { 'data-view': v.name, href: `#/${v.name}` }, v.nav));
document.querySelector('nav.views').replaceChildren(...navLinks);

let spaces = [];
let current = null; // {view, instance}
// The last URL of each nav entry, so "Analogy" returns to the last analogy (in the current space).
const lastParams = {};

// A layer as the model names it -> its space id part, as the catalog writes it (C++
// layer_id, docs/MODELS.md "Layer names"): '.' -> '-', other characters outside
// [A-Za-z0-9_-] -> '_', over 64 characters: 55 kept, '-' and the FNV-1a hash in hex.
function layerId(layer) {
  const id = [...layer].map((c) => (/[A-Za-z0-9_-]/.test(c) ? c : c === '.' ? '-' : '_')).join('');
  if (id.length <= 64) return id;
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(layer)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `${id.slice(0, 55)}-${hash.toString(16).padStart(8, '0')}`;
}

// "resnet50.layer4.1.conv2.seg" -> "resnet50.layer4-1-conv2.seg"; other text unchanged.
function canonicalSpaceId(text) {
  const first = text.indexOf('.');
  const last = text.lastIndexOf('.');
  if (first < 0 || last <= first + 1) return text;
  const task = text.slice(last + 1);
  if (task !== 'seg' && task !== 'cls') return text;
  return `${text.slice(0, first)}.${layerId(text.slice(first + 1, last))}.${task}`;
}

// Either spelling of a layer finds its space (the API accepts both too).
function spaceById(id) {
  const stored = canonicalSpaceId(id);
  return spaces.find((s) => s.id === id || s.id === stored) || null;
}

function defaultSpace() {
  return (spaces.find((s) => s.kind === 'network' && s.task === 'segmentation')
    || spaces.find((s) => s.kind === 'network') || spaces[0]).id;
}

function describe(space) {
  if (!space) return 'unknown space';
  const concepts = `${fmtInt(space.concept_count)} concepts`;
  if (space.kind === 'reference') return `reference · ${fmtInt(space.dim)} dims · ${concepts}`;
  // The model's own name of the layer, where the id had to spell it otherwise.
  const layer = space.model_layer && space.model_layer !== space.layer ? `layer ${space.model_layer} · ` : '';
  return `${layer}${space.task} · ${fmtInt(space.dim)} filters · ${concepts}`;
}

function fillSpaceSelect() {
  const group = (label, list) => list.length > 0 && h('optgroup', { label },
    list.map((s) => h('option', { value: s.id }, s.id)));
  replace(select,
    group('Network spaces', spaces.filter((s) => s.kind === 'network')),
    group('Reference spaces', spaces.filter((s) => s.kind !== 'network')));
  // Keyboard users browse the closed select with the arrow keys (each press changes its value
  // and fires 'change' in Chromium and Firefox): such a change only previews the space in the
  // badge; Enter, or leaving the select, commits it, and Escape goes back. A change with no
  // browsing key before it (a mouse pick, a pick from the opened list) navigates at once.
  const BROWSE_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'PageUp', 'PageDown', 'Home', 'End']);
  let browsing = false; // the next 'change' comes from a browsing key
  let pending = false; // the select shows a space the URL does not have yet
  const routeSpace = () => parseHash(location.hash).params.get('space');
  const commit = () => {
    pending = false;
    if (select.value && select.value !== routeSpace()) {
      navigate(withParams(parseHash(location.hash), { space: select.value }));
    }
  };
  select.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === 'Enter') {
      if (pending) {
        event.preventDefault();
        commit();
      }
    } else if (event.key === 'Escape') {
      if (pending) {
        pending = false;
        updateHeader(parseHash(location.hash), routeSpace());
      }
    } else if (BROWSE_KEYS.has(event.key) || event.key.length === 1) {
      // Printable characters jump to a matching option (type-ahead): browsing too.
      browsing = true;
    }
  });
  select.addEventListener('keyup', () => {
    browsing = false;
  });
  select.addEventListener('change', () => {
    if (browsing) {
      browsing = false;
      pending = true;
      const info = spaceById(select.value);
      spaceInfo.textContent = `${describe(info)} · Enter to open`;
      return;
    }
    commit();
  });
  select.addEventListener('blur', () => {
    if (pending) commit();
  });
}

function updateHeader(route, space) {
  // A space the catalog lacks stays visible as such; the view shows the server's error.
  select.querySelector('option[data-unknown]')?.remove();
  const info = spaceById(space);
  if (!info) {
    select.prepend(h('option', { value: space, 'data-unknown': '' }, `${space} (not in catalog)`));
  }
  select.value = info ? info.id : space;
  spaceInfo.textContent = describe(info);
  spaceInfo.className = `badge ${info?.kind === 'reference' ? 'reference' : 'network'}`;

  const nav = navOf(route.view);
  if (nav && route.view === nav) {
    const params = new URLSearchParams(route.params);
    params.delete('space');
    lastParams[nav] = params;
  }
  for (const a of navLinks) {
    a.href = withParams({ view: a.dataset.view, arg: null, params: new URLSearchParams(lastParams[a.dataset.view] || '') }, { space });
    if (a.dataset.view === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Goes to `hash`; the same hash again re-runs the view (a repeated search reloads). */
function navigate(hash, { replace: inPlace = false } = {}) {
  if (hash === location.hash) {
    route();
  } else if (inPlace) {
    location.replace(hash);
  } else {
    location.hash = hash;
  }
}

const ctx = {
  get spaces() {
    return spaces;
  },
  spaceById,
  navigate,
  setTitle(text) {
    document.title = text ? `${text} · net2vec` : 'net2vec';
  },
};

// ---- scroll positions per history entry ----------------------------------------------------------
// Every history entry gets an id in history.state; the scroll position is recorded per id as
// the page scrolls, so Back and Forward return to where the reader was (the browser's own
// restoration cannot: the content arrives after the navigation). A new entry starts at the top.

if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
const scrollPositions = new Map();
let entryId = null;
let restoring = null; // {y, until, timer} while a restore waits for the content

function stopRestoring() {
  if (restoring) clearTimeout(restoring.timer);
  restoring = null;
}

/**
 * Scrolls to y once the page is tall enough (the view renders after its requests), and holds it
 * there until no API request is pending and the page has kept its height for 500 ms: a card that
 * fills in later (images, masks, intervals) changes the height above or below, and the browser's
 * scroll anchoring would move the reader away from where they were (on a loaded machine a card
 * can take longer than any fixed wait). At most 15 s. The reader's own input ends it at once.
 */
function restoreScroll(y) {
  stopRestoring();
  const state = { y, until: Date.now() + 15000, heldSince: 0, height: -1, timer: null };
  const attempt = () => {
    if (Math.abs(window.scrollY - y) >= 2) window.scrollTo(0, y);
    const now = Date.now();
    const height = document.documentElement.scrollHeight;
    const reached = Math.abs(window.scrollY - y) < 2;
    // Held since: the last moment the position was reached with nothing pending and the height
    // last changed.
    const settled = reached && apiIdle();
    if (!settled) state.heldSince = 0;
    else if (height !== state.height || !state.heldSince) state.heldSince = now;
    state.height = height;
    if ((state.heldSince && now - state.heldSince >= 500) || now > state.until) {
      restoring = null;
      return;
    }
    state.timer = setTimeout(attempt, 50);
  };
  restoring = state;
  attempt();
}

window.addEventListener('scroll', () => {
  if (entryId !== null && !restoring) scrollPositions.set(entryId, window.scrollY);
}, { passive: true });
// The reader's own scrolling ends a pending restore.
for (const type of ['wheel', 'touchstart', 'keydown', 'mousedown']) {
  window.addEventListener(type, () => restoring && stopRestoring(), { passive: true, capture: true });
}

/** This entry's saved position (Back, Forward), or null for an entry seen for the first time. */
function enterHistoryEntry() {
  const known = history.state?.n2vEntry;
  if (known) {
    entryId = known;
    return scrollPositions.has(known) ? scrollPositions.get(known) : null;
  }
  entryId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  history.replaceState({ ...(history.state || {}), n2vEntry: entryId }, '');
  return null;
}

function route() {
  const r = parseHash(location.hash);
  if (!viewNamed(r.view)) {
    // An unknown view keeps the space the URL names.
    navigate(href('neighbors', { space: r.params.get('space') || defaultSpace() }), { replace: true });
    return;
  }
  const space = r.params.get('space');
  if (!space) {
    navigate(withParams(r, { space: defaultSpace() }), { replace: true });
    return;
  }
  updateHeader(r, space);
  // The position of the entry being left, as it is now: its last scroll event may not have
  // been dispatched yet (a busy browser delays them past a quick click).
  if (entryId !== null && !restoring) scrollPositions.set(entryId, window.scrollY);
  const saved = enterHistoryEntry();
  if (current?.view === r.view) {
    current.instance.update(r);
    if (saved !== null) restoreScroll(saved);
    return;
  }
  const first = current === null;
  current?.instance.destroy?.();
  main.replaceChildren();
  current = { view: r.view, instance: viewNamed(r.view).create(main, ctx) };
  current.instance.update(r);
  if (!first) {
    // The link that was clicked is gone: put focus (and the reader) at the new view's heading,
    // or, going Back or Forward, where the reader was on that page.
    main.querySelector('h1')?.focus({ preventScroll: true });
    if (saved !== null) restoreScroll(saved);
    else {
      stopRestoring();
      window.scrollTo(0, 0);
    }
  }
}

// The skip link must not change the hash (the router would read it as a view).
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

async function start() {
  try {
    spaces = await api.spaces();
  } catch (error) {
    replace(main, errorBox(error));
    return;
  }
  if (spaces.length === 0) {
    replace(main, emptyBox('The catalog has no spaces yet. Ingest a network with ',
      h('code', {}, 'net2vec-ingest'), ' or import a reference space with ', h('code', {}, 'net2vec reference'), '.'));
    return;
  }
  fillSpaceSelect();
  // Every chart any view draws gets its SVG and PNG buttons; About explains the page.
  watchCharts(main);
  installHelp(document.getElementById('help-button'), () => spaceById(parseHash(location.hash).params.get('space') || ''));
  window.addEventListener('hashchange', route);
  route();
}

start();
