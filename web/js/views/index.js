// The registry of views: each entry is a view's URL name (#/name/...), the function that
// draws it (create(root, ctx) -> {update(route), destroy()}), and, for the views the header
// links to, its navigation label; a view reached only from links names the nav entry it sits
// under. The router (app.js) and the navigation read this list and nothing else, so a new
// view is one module and one entry here.

import * as neighbors from './neighbors.js';
import * as analogy from './analogy.js';
import * as compare from './compare.js';
import * as concept from './concept.js';
import * as filters from './filters.js';
import * as analyses from './analyses.js';
import * as map from './map.js';
import * as examples from './examples.js';
import * as side from './side.js';
import * as probe from './probe.js';

export const VIEWS = [
  { name: 'neighbors', create: neighbors.create, nav: 'Neighbours' },
  { name: 'analogy', create: analogy.create, nav: 'Analogy' },
  { name: 'compare', create: compare.create, nav: 'Compare spaces' },
  { name: 'side', create: side.create, under: 'compare' },
  { name: 'filters', create: filters.createOverview, nav: 'Filters' },
  { name: 'filter', create: filters.createFilter, under: 'filters' },
  { name: 'analyses', create: analyses.create, nav: 'Analyses' },
  { name: 'examples', create: examples.create, nav: 'Examples' },
  { name: 'map', create: map.create, nav: 'Map' },
  { name: 'concept', create: concept.create },
  { name: 'probe', create: probe.create },  // the probe browser, linked from each concept page
];

/** The entry of a view name, or undefined. */
export const viewNamed = (name) => VIEWS.find((v) => v.name === name);

/** The nav entry a view belongs to (its own, the one it sits under, or none). */
export function navOf(name) {
  const view = viewNamed(name);
  if (!view) return null;
  return view.nav ? view.name : view.under || null;
}
