// The JSON API of `net2vec serve` (docs/API.md). Every URL is relative ("api/..."), resolved
// against the page, so the page also works when served under a path prefix.

/**
 * An error answer of the API: {"error": {"code", "status", "message", "suggestions"}}.
 * `suggestions` is null when the answer had no such field (an older server, or no answer).
 */
export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network', suggestions = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.suggestions = suggestions;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === '') continue;
    search.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// Requests not yet answered: the page is still filling in while there are any (app.js holds a
// restored scroll position until then).
let inFlight = 0;
/** Whether every API request made so far has been answered (or failed). */
export function apiIdle() {
  return inFlight === 0;
}

async function request(path, { params, body, signal } = {}) {
  const init = { signal, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  inFlight += 1;
  try {
    return await answer(fetch(`api/${path}${query(params)}`, init));
  } finally {
    inFlight -= 1;
  }
}

/** The JSON of a fetch() promise's response, or an ApiError. */
async function answer(pending) {
  let response;
  try {
    response = await pending;
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    throw new ApiError(`Could not reach the server (${error.message}).`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON: reported below with the HTTP status.
  }
  if (!response.ok || data === null) {
    const e = data?.error;
    throw new ApiError(e?.message || `HTTP ${response.status} ${response.statusText}`,
      {
        status: e?.status || response.status,
        code: e?.code || 'http',
        suggestions: Array.isArray(e?.suggestions) ? e.suggestions.map(String) : null,
      });
  }
  return data;
}

const enc = encodeURIComponent;

// Lists that do not change while the page is open are fetched once. A failed fetch is not
// kept, so the next view can try again.
const memo = new Map();
function once(key, fetcher) {
  if (!memo.has(key)) {
    const promise = fetcher();
    memo.set(key, promise);
    promise.catch(() => memo.delete(key));
  }
  return memo.get(key);
}

export const api = {
  /** [{id, kind, network, layer, task, metric, dim, concept_count, ...}] */
  // index.html starts this request while the modules load (window.n2vSpaces), so the first
  // view does not wait for the module graph and then for the list in turn.
  spaces: () => once('spaces', () => {
    const early = globalThis.n2vSpaces;
    globalThis.n2vSpaces = undefined; // once: a failed early answer is retried with a new request
    return (early ? answer(early) : request('spaces')).then((d) => d.spaces);
  }),

  /** {space, kind, task, metric, dim, concepts: [{number, name, category, score_val, ...}]} */
  concepts: (space) => once(`concepts:${space}`, () => request(`spaces/${enc(space)}/concepts`)),

  neighbors: ({ space, concept, k, category }, signal) =>
    request('neighbors', { params: { space, concept, k, category }, signal }),

  analogy: ({ space, positive, negative, k, method, category }, signal) =>
    request('analogy', {
      body: { space, positive, negative, k, method, category: category || null },
      signal,
    }),

  compare: ({ spaces, perConcept }, signal) =>
    request('compare', { params: { spaces, per_concept: perConcept }, signal }),

  concept: ({ space, name, top }, signal) =>
    request(`concepts/${enc(name)}`, { params: { space, top }, signal }),

  /** A segmentation concept's val images, best (or worst) first, a page at a time: {served, probe, image_count, offset, order, images: [...]} */
  images: ({ space, name, limit, offset, order }, signal) =>
    request(`concepts/${enc(name)}/images`, { params: { space, limit, offset, order }, signal }),

  filters: ({ space, top }, signal) => request('filters', { params: { space, top }, signal }),

  filter: ({ space, filter, top }, signal) =>
    request('filters', { params: { space, filter, top }, signal }),

  /** A network space's analyses (paper Table 1, Figures 2, 3 and 9, failure bins); 400 for a reference space. */
  analyses: ({ space }, signal) => request('analyses', { params: { space }, signal }),

  /** A seeded 2-D t-SNE map and k-means clusters: {space, k, kl, points: [...], clusters: [...]} */
  map: ({ space, clusters, seed }, signal) => request('map', { params: { space, clusters, seed }, signal }),

  /** The concepts of a space's probe set, read from the served folder: {probe, train_images, val_images, categories, concepts: [{number, name, category, train_images, val_images, train_masked, val_masked, alpha}]} */
  probeConcepts: ({ space, category }, signal) => request('probe/concepts', { params: { space, category }, signal }),

  /** The images of one split that carry a concept, a page at a time: {concept, split, offset, limit, total, served, images: [{row, path, image_url, mask_url}]} */
  probeImages: ({ space, name, split, offset, limit }, signal) =>
    request(`probe/concepts/${enc(name)}/images`, { params: { space, split, offset, limit }, signal }),

  /** Paper Tables 2 and 3 in one space: {space, k, nearest: [{query, hits}], arithmetic: [{positive, negative, hits}], missing} */
  examples: ({ space, queries, sums, k }, signal) => request('examples', { params: { space, queries, sums, k }, signal }),
};
