// Hash routes: every view has its own URL, so deep links and the back button work.
//
//   #/neighbors?space=S&concept=dog&k=10&category=object
//   #/analogy?space=S&positive=lime&positive=yellow-c&negative=green-c&method=add&k=10
//   #/compare?space=S&spaces=a,b,c|all&per_concept=10&pair=0,1&dij=pair  (dij=pair: D_ij per concept pair)
//   #/concept/NAME?space=S
//   #/filters?space=S
//   #/filter/K?space=S
//   #/analyses?space=S
//   #/map?space=S&clusters=8&seed=1&color=category&highlight=dog&cluster=2
//   #/examples?space=S&queries=dog,house&sums=grass,blue-c/green-c;tree/wood&k=5
//   #/side?space=A&b=B&concept=dog&k=10           (neighbours in A and B side by side)
//
// List values (analogy terms) are repeated keys rather than comma-joined, so names with
// commas survive; space ids contain no commas, so `spaces` stays readable.

// The views themselves are listed in views/index.js.

/** '#/view/arg?params' from a view name, a params object (arrays repeat) and a path argument. */
export function href(view, params = {}, arg = null) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== '') search.append(key, String(v));
    }
  }
  const path = arg === null || arg === undefined ? view : `${view}/${encodeURIComponent(arg)}`;
  // Commas stay readable (spaces=a,b,c); URLSearchParams reads them back unchanged.
  const text = search.toString().replace(/%2C/gi, ',');
  return `#/${path}${text ? `?${text}` : ''}`;
}

/** {view, arg, params: URLSearchParams} of a location hash ('' or '#/' give view ''). */
export function parseHash(hash) {
  const body = hash.replace(/^#\/?/, '');
  const q = body.indexOf('?');
  const path = q < 0 ? body : body.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : body.slice(q + 1));
  const slash = path.indexOf('/');
  const view = slash < 0 ? path : path.slice(0, slash);
  let arg = null;
  if (slash >= 0) {
    try {
      arg = decodeURIComponent(path.slice(slash + 1));
    } catch {
      arg = path.slice(slash + 1);
    }
  }
  return { view, arg, params };
}

export const conceptHref = (space, name) => href('concept', { space }, name);
export const neighborsHref = (space, concept) => href('neighbors', { space, concept });
export const filterHref = (space, filter) => href('filter', { space }, filter);
export const filtersHref = (space) => href('filters', { space });
export const analysesHref = (space) => href('analyses', { space });
export const mapHref = (space, params = {}) => href('map', { space, ...params });
/** A concept's neighbours in spaces a and b side by side (views/side.js). */
export const sideHref = (a, b, concept) => href('side', { space: a, b, concept });

/** The URL of `route` with some parameters changed (null removes one). */
export function withParams(route, changes = {}) {
  const params = Object.fromEntries([...new Set(route.params.keys())].map((k) => [k, route.params.getAll(k)]));
  return href(route.view, { ...params, ...changes }, route.arg);
}

/** Link targets for the names an error message proposes (see dom.errorBox). */
export function suggestionLinks(route, { conceptParam = null } = {}) {
  return (kind, name) => {
    if (kind === 'space') return withParams(route, { space: name });
    if (kind === 'category') return withParams(route, { category: name });
    if (kind === 'concept' && conceptParam) return withParams(route, { [conceptParam]: name });
    if (kind === 'concept' && route.arg !== null) return href(route.view, Object.fromEntries(route.params), name);
    return null;
  };
}
