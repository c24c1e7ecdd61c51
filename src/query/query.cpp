// QueryEngine: the per-space cache, neighbours and analogies. Compare is in compare.cpp,
// concept and filter reports in reports.cpp, name suggestions in suggest.cpp.

#include "query/query.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "common/enum_names.h"
#include "common/error.h"
#include "common/text.h"
#include "query/detail/engine_impl.h"

namespace n2v {

namespace {
// Matched ignoring case ("3cosmul" too).
constexpr EnumName<AnalogyMethod> kAnalogyMethodNames[] = {{AnalogyMethod::kAdd, "add"},
                                                           {AnalogyMethod::kAdd, "3CosAdd"},
                                                           {AnalogyMethod::kMul, "mul"},
                                                           {AnalogyMethod::kMul, "3CosMul"}};
}  // namespace

const char* to_string(AnalogyMethod method) { return enum_name(kAnalogyMethodNames, method); }

AnalogyMethod parse_analogy_method(const std::string& text) {
  return parse_enum(kAnalogyMethodNames, text, "analogy method", NameCase::kIgnore);
}

const PairComparison& SpaceComparison::pair(int i, int j) const {
  N2V_CHECK(i != j && i >= 0 && j >= 0 && i < m && j < m, kInvalidArgument,
            "no pair (" << i << ", " << j << ") among " << m << " spaces");
  if (i > j) std::swap(i, j);
  for (const PairComparison& p : pairs)
    if (p.i == i && p.j == j) return p;
  N2V_THROW(kInternal, "pair (" << i << ", " << j << ") missing from a comparison");
}

namespace detail {

std::string quoted_list(const std::vector<std::string>& names, const char* conjunction) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? std::string(" ") + conjunction + " " : std::string(", ");
    out += "'" + names[i] + "'";
  }
  return out;
}

std::shared_ptr<SpaceData> build_space(const SpaceInfo& info, std::vector<ConceptVector> vectors) {
  auto s = std::make_shared<SpaceData>();
  s->info = info;
  s->d = info.dim;
  std::set<std::string> categories;
  for (ConceptVector& v : vectors) {
    N2V_CHECK(static_cast<int>(v.weights.size()) == s->d, kCorrupt,
              "space " << info.id << ", concept '" << v.name << "': " << v.weights.size()
                       << " values for dimension " << s->d);
    if (!s->row_of.emplace(v.name, s->n).second) continue;  // a repeated name: first wins
    s->numbers.push_back(v.concept_number);
    s->names.push_back(v.name);
    s->categories.push_back(v.category);
    categories.insert(v.category);
    s->weights.insert(s->weights.end(), v.weights.begin(), v.weights.end());
    ++s->n;
  }
  s->category_names.assign(categories.begin(), categories.end());
  uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](const void* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<const unsigned char*>(bytes)[i]) * 1099511628211ull;
  };
  for (int r = 0; r < s->n; ++r) {
    mix(s->names[r].data(), s->names[r].size() + 1);  // with its terminator: names stay apart
    mix(&s->numbers[r], sizeof(int));
  }
  // The rows a 64-bit word at a time (8x fewer multiplies than by byte: 1,200 x 1,024 floats
  // in ~1 ms); an odd last float is mixed by byte.
  const size_t words = s->weights.size() / 2;
  for (size_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, s->weights.data() + 2 * i, sizeof w);
    h = (h ^ w) * 1099511628211ull;
  }
  if (s->weights.size() % 2) mix(&s->weights.back(), sizeof(float));
  s->fingerprint = h;
  s->unit.assign(s->weights.size(), 0.0f);
  s->norms.resize(s->n);
  s->valid.resize(s->n);
  s->id_of_row.assign(s->n, -1);
  for (int r = 0; r < s->n; ++r) {
    const float* w = s->weights.data() + static_cast<size_t>(r) * s->d;
    bool finite = true;
    for (int j = 0; j < s->d; ++j) finite = finite && std::isfinite(w[j]);
    const double norm = finite ? normalize(w, s->d, s->unit.data() + static_cast<size_t>(r) * s->d) : NAN;
    s->norms[r] = norm;
    s->valid[r] = finite && norm > 0 && std::isfinite(norm);
    if (!s->valid[r]) {
      std::fill_n(s->unit.begin() + static_cast<std::ptrdiff_t>(r) * s->d, s->d, 0.0f);
      continue;
    }
    s->id_of_row[r] = static_cast<int64_t>(s->row_of_id.size());
    s->row_of_id.push_back(r);
  }
  return s;
}

}  // namespace detail

// ---- the cache ----

namespace {

// The engine takes any k > 0 (clamped to the concepts there are); the Service bounds it too
// (check_k_in_limits in service.cpp).
void check_k_positive(int k) { N2V_CHECK(k > 0, kInvalidArgument, "k must be a positive number of results, got " << k); }
}  // namespace

void QueryEngine::Impl::throw_unknown_space(const std::string& space) const {
  std::vector<std::string> ids;
  for (const SpaceInfo& info : catalog.spaces()) ids.push_back(info.id);
  if (ids.empty()) N2V_THROW(kNotFound, "no space '" << space << "': the catalog has no spaces yet");
  const std::vector<std::string> close = closest_names(space, ids);
  if (!close.empty())
    N2V_THROW_SUGGESTING(kNotFound, close, "no space '" << space << "'; did you mean " << detail::quoted_list(close) << "?");
  std::vector<std::string> some(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 8));
  N2V_THROW(kNotFound, "no space '" << space << "'; the catalog has " << ids.size() << " space"
                                    << (ids.size() == 1 ? "" : "s") << ": " << detail::quoted_list(some, "and")
                                    << (ids.size() > some.size() ? ", ..." : ""));
}

namespace detail {
thread_local QueryEngine::Snapshot::Pins* current_pins = nullptr;
}  // namespace detail

QueryEngine::Snapshot::Snapshot(QueryEngine& engine) {
  if (detail::current_pins && detail::current_pins->engine == engine.impl_.get()) return;  // an outer one pins
  pins_ = std::make_unique<Pins>();
  pins_->engine = engine.impl_.get();
  detail::current_pins = pins_.get();
}

QueryEngine::Snapshot::~Snapshot() {
  if (pins_ && detail::current_pins == pins_.get()) detail::current_pins = nullptr;
}

std::shared_ptr<const detail::SpaceData> QueryEngine::Impl::load(const std::string& name) {
  QueryEngine::Snapshot::Pins* const pins =
      detail::current_pins && detail::current_pins->engine == this ? detail::current_pins : nullptr;
  if (!pins) return load_current(name);
  const std::string space = canonical_space_id(name);
  {
    std::lock_guard lock(pins->mutex);
    if (const auto it = pins->spaces.find(space); it != pins->spaces.end()) return it->second;
  }
  std::shared_ptr<const detail::SpaceData> data = load_current(space);
  std::lock_guard lock(pins->mutex);
  return pins->spaces.emplace(space, std::move(data)).first->second;  // a worker's first read may win
}

std::shared_ptr<const detail::SpaceData> QueryEngine::Impl::load_current(const std::string& name) {
  // Either spelling of a layer ("resnet50.layer4.1.conv2.seg" or the stored id): one cache slot.
  const std::string space = canonical_space_id(name);
  // Read before the space: a commit in between moves the generation again, so the next
  // query reads once more instead of keeping a stale copy.
  const uint64_t generation = catalog.generation();
  {
    std::lock_guard lock(mutex);
    const auto it = cache.find(space);
    if (it != cache.end() && it->second.generation == generation) {
      it->second.last_used = ++tick;
      return it->second.data;
    }
  }
  // The record and the vectors from one snapshot: a writer replacing the space between two
  // reads would pair one version's dimension with the other's rows (a false "corrupt").
  std::optional<SpaceVectors> read = catalog.space_vectors(space);
  if (!read) {
    std::lock_guard lock(mutex);
    if (const auto it = cache.find(space); it != cache.end()) {
      cached_bytes -= it->second.bytes;
      cache.erase(it);
    }
    throw_unknown_space(space);
  }
  // The catalog changed since this space was cached. Its record alone cannot tell whether the
  // space itself changed (a replacement within the same second keeps created_at, and a
  // reference space has no run id), so read it again: writes are rare, reads are many.
  // Read outside the lock: a slow read of one space does not hold up queries of others.
  std::shared_ptr<const detail::SpaceData> data = detail::build_space(read->info, std::move(read->vectors));
  // What it holds: stored and unit rows, norms, names; the exact index built on first search
  // keeps its own copy of the unit rows.
  size_t bytes = sizeof(detail::SpaceData) + data->weights.size() * sizeof(float) * 3 + data->norms.size() * 8;
  for (size_t i = 0; i < data->names.size(); ++i) bytes += data->names[i].size() + data->categories[i].size() + 96;
  std::lock_guard lock(mutex);
  Cached& slot = cache[space];
  cached_bytes -= slot.bytes;
  slot = {data, generation, ++tick, bytes};
  cached_bytes += bytes;
  ++loads;
  evict_for(space);
  return data;
}

void QueryEngine::Impl::evict_for(const std::string& keep) {
  if (options.cache_bytes == 0) return;
  while (cached_bytes > options.cache_bytes && cache.size() > 1) {
    auto oldest = cache.end();
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->first != keep && (oldest == cache.end() || it->second.last_used < oldest->second.last_used)) oldest = it;
    if (oldest == cache.end()) return;
    // Queries running on it hold their own shared_ptr: they finish on the old copy.
    cached_bytes -= oldest->second.bytes;
    cache.erase(oldest);
    ++evictions;
  }
}

const QueryOptions& QueryEngine::options() const { return impl_->options; }

CacheStats QueryEngine::cache_stats() const {
  std::lock_guard lock(impl_->mutex);
  return {static_cast<int>(impl_->cache.size()), impl_->cached_bytes, impl_->loads, impl_->evictions};
}

int QueryEngine::Impl::row(const detail::SpaceData& s, const std::string& name) {
  const auto it = s.row_of.find(name);
  if (it != s.row_of.end()) return it->second;
  // Names match case-insensitively when only one stored name does ("Horse" finds horse); two
  // names differing only in case are both suggested below instead.
  const std::string lower = ascii_lower(name);
  int match = -1;
  for (int r = 0; r < s.n && match != -2; ++r)
    if (s.names[r].size() == name.size() && ascii_lower(s.names[r]) == lower) match = match == -1 ? r : -2;
  if (match >= 0) return match;
  const std::vector<std::string> close = closest_names(name, s.names);
  if (!close.empty())
    N2V_THROW_SUGGESTING(kNotFound, close,
                         "no concept '" << name << "' in space '" << s.info.id << "'; did you mean "
                                        << detail::quoted_list(close) << "?");
  N2V_THROW(kNotFound, "no concept '" << name << "' in space '" << s.info.id << "' (it has " << s.n
                                      << " concepts, none with a similar name)");
}

int QueryEngine::Impl::valid_row(const detail::SpaceData& s, const std::string& name) {
  const int r = row(s, name);
  N2V_CHECK(s.valid[r], kInvalidArgument,
            "concept '" << name << "' has a zero vector in space '" << s.info.id
                        << "': it has no direction, so cosine similarity is undefined");
  return r;
}

void QueryEngine::Impl::check_category(const detail::SpaceData& s, const std::string& category) {
  if (std::binary_search(s.category_names.begin(), s.category_names.end(), category)) return;
  const std::vector<std::string> close = closest_names(category, s.category_names);
  N2V_THROW_SUGGESTING(kNotFound, close, "no category '" << category << "' in space '" << s.info.id << "'"
                                       << (close.empty() ? "" : "; did you mean " + detail::quoted_list(close) + "?")
                                       << " (categories: " << detail::quoted_list(s.category_names, "and") << ")");
}

const VectorIndex& QueryEngine::Impl::index(const detail::SpaceData& s) const {
  std::lock_guard lock(s.lazy);
  if (!s.index) {
    std::unique_ptr<VectorIndex> index = options.index == QueryOptions::Index::kBruteForce
                                             ? make_brute_force_index(s.d)
                                             : make_default_index(s.d);
    std::vector<float> rows;
    rows.reserve(s.row_of_id.size() * static_cast<size_t>(s.d));
    for (int r : s.row_of_id)
      rows.insert(rows.end(), s.unit.begin() + static_cast<std::ptrdiff_t>(r) * s.d,
                  s.unit.begin() + static_cast<std::ptrdiff_t>(r + 1) * s.d);
    index->add(static_cast<int64_t>(s.row_of_id.size()), s.d, rows.data());
    s.index = std::move(index);
  }
  return *s.index;
}

// ---- searches ----

namespace {

// The concepts a search may return: valid rows, of `category` if given, minus `exclude`.
// Returns nullopt when that is every indexed concept (no selection needed).
std::optional<IdSelection> selection(const detail::SpaceData& s, const std::optional<std::string>& category,
                                     const std::vector<int>& exclude) {
  if (!category && exclude.empty()) return std::nullopt;
  const int64_t size = static_cast<int64_t>(s.row_of_id.size());
  IdSelection allowed(size, !category);
  if (category)
    for (int64_t id = 0; id < size; ++id)
      if (s.categories[s.row_of_id[id]] == *category) allowed.set(id, true);
  for (int r : exclude)
    if (s.id_of_row[r] >= 0) allowed.set(s.id_of_row[r], false);
  return allowed;
}

ConceptHit hit(const detail::SpaceData& s, int row, double score) {
  return {s.numbers[row], s.names[row], s.categories[row], score};
}

// Top k by cosine to `query` (any non-zero vector of the space's dimension).
std::vector<ConceptHit> cosine_search(const detail::SpaceData& s, const VectorIndex& index, const float* query,
                                      int k, const std::optional<IdSelection>& allowed, int& candidates) {
  candidates = allowed ? static_cast<int>(allowed->count()) : static_cast<int>(index.size());
  std::vector<ConceptHit> hits;
  const int wanted = std::min(k, candidates);
  if (wanted <= 0) return hits;
  const SearchResult r = index.search(1, query, wanted, allowed ? &*allowed : nullptr);
  for (int j = 0; j < r.count(0); ++j) hits.push_back(hit(s, s.row_of_id[r.ids[j]], r.scores[j]));
  return hits;
}

// The space's pair cosines beside the hits, and where each hit's cosine stands among them.
void with_baseline(std::shared_ptr<const CosineBaseline> baseline, NeighborsResult& result) {
  if (baseline)
    for (ConceptHit& h : result.hits) h.percentile = baseline->percentile(h.score);
  result.baseline = std::move(baseline);
}

}  // namespace

QueryEngine::QueryEngine(const Catalog& catalog, QueryOptions options)
    : impl_(std::make_unique<Impl>(catalog, options)) {}
QueryEngine::~QueryEngine() = default;

NeighborsResult QueryEngine::neighbors(const std::string& space, const std::string& concept_name, int k,
                                       const std::optional<std::string>& category) {
  check_k_positive(k);
  const auto s = impl_->load(space);
  const int r = Impl::valid_row(*s, concept_name);
  if (category) Impl::check_category(*s, *category);
  NeighborsResult result;
  result.space = space;
  result.query = s->names[r];  // the stored spelling
  result.category = category;
  result.k = k;
  result.hits = cosine_search(*s, impl_->index(*s), s->unit.data() + static_cast<size_t>(r) * s->d, k,
                              selection(*s, category, {r}), result.candidates);
  with_baseline(impl_->baseline(*s), result);
  return result;
}

NeighborsResult QueryEngine::neighbors(const std::string& space, std::span<const float> vector, int k,
                                       const std::optional<std::string>& category) {
  check_k_positive(k);
  const auto s = impl_->load(space);
  N2V_CHECK(static_cast<int>(vector.size()) == s->d, kInvalidArgument,
            "the query vector has " << vector.size() << " values but space '" << space << "' has dimension "
                                    << s->d);
  for (size_t j = 0; j < vector.size(); ++j)
    N2V_CHECK(std::isfinite(vector[j]), kInvalidArgument,
              "the query vector's value " << j << " is " << vector[j] << " (not a finite number)");
  N2V_CHECK(l2_norm(vector.data(), s->d) > 0, kInvalidArgument,
            "the query vector is zero: it has no direction, so cosine similarity is undefined");
  if (category) Impl::check_category(*s, *category);
  NeighborsResult result;
  result.space = space;
  result.category = category;
  result.k = k;
  result.hits = cosine_search(*s, impl_->index(*s), vector.data(), k, selection(*s, category, {}), result.candidates);
  with_baseline(impl_->baseline(*s), result);
  return result;
}

AnalogyResult QueryEngine::analogy(const std::string& space, const std::vector<std::string>& positive,
                                   const std::vector<std::string>& negative, int k, AnalogyMethod method,
                                   const std::optional<std::string>& category) {
  check_k_positive(k);
  N2V_CHECK(!positive.empty() || !negative.empty(), kInvalidArgument,
            "an analogy needs at least one positive or negative concept");
  const auto s = impl_->load(space);
  std::vector<int> pos, neg;
  for (const std::string& name : positive) pos.push_back(Impl::valid_row(*s, name));
  for (const std::string& name : negative) neg.push_back(Impl::valid_row(*s, name));
  if (category) Impl::check_category(*s, *category);
  std::vector<int> inputs = pos;
  inputs.insert(inputs.end(), neg.begin(), neg.end());

  AnalogyResult result;
  result.space = space;
  // The stored spellings (a name given in another case is matched, see Impl::row).
  for (int r : pos) result.positive.push_back(s->names[r]);
  for (int r : neg) result.negative.push_back(s->names[r]);
  result.method = method;
  result.category = category;
  result.k = k;
  const std::optional<IdSelection> allowed = selection(*s, category, inputs);
  const size_t d = static_cast<size_t>(s->d);

  if (method == AnalogyMethod::kAdd) {
    // gensim most_similar: mean of the unit vectors weighted +1 / -1, renormalised (the
    // index normalises queries); cosine of every candidate with it.
    std::vector<double> mean(d, 0.0);
    for (int r : pos)
      for (size_t j = 0; j < d; ++j) mean[j] += s->unit[r * d + j];
    for (int r : neg)
      for (size_t j = 0; j < d; ++j) mean[j] -= s->unit[r * d + j];
    std::vector<float> query(d);
    double norm = 0;
    for (size_t j = 0; j < d; ++j) {
      mean[j] /= static_cast<double>(inputs.size());
      query[j] = static_cast<float>(mean[j]);
      norm += mean[j] * mean[j];
    }
    N2V_CHECK(std::sqrt(norm) > 1e-6, kInvalidArgument,
              "the analogy's terms cancel out (the mean of +positive and -negative unit vectors is "
              "zero): there is no direction to search");
    result.hits = cosine_search(*s, impl_->index(*s), query.data(), k, allowed, result.candidates);
    return result;
  }

  // 3CosMul (Levy & Goldberg 2014, gensim most_similar_cosmul): cosines mapped to [0, 1] by
  // (1 + cos) / 2; product over positives / (product over negatives + 1e-6).
  std::vector<float> terms;
  for (int r : inputs) terms.insert(terms.end(), s->unit.begin() + r * d, s->unit.begin() + (r + 1) * d);
  std::vector<float> cos(inputs.size() * static_cast<size_t>(s->n));
  inner_products(s->unit.data(), s->n, s->d, terms.data(), static_cast<int>(inputs.size()), cos.data());
  std::vector<std::pair<double, int>> scored;
  for (int r = 0; r < s->n; ++r) {
    if (!s->valid[r]) continue;
    if (allowed && !allowed->contains(s->id_of_row[r])) continue;
    double num = 1, den = 1;
    for (size_t t = 0; t < inputs.size(); ++t) {
      const double c = (1.0 + cos[t * s->n + r]) / 2.0;
      (t < pos.size() ? num : den) *= c;
    }
    scored.emplace_back(num / (den + 1e-6), r);
  }
  result.candidates = static_cast<int>(scored.size());
  const size_t keep = std::min(scored.size(), static_cast<size_t>(k));
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (size_t i = 0; i < keep; ++i) result.hits.push_back(hit(*s, scored[i].second, scored[i].first));
  return result;
}

std::vector<ConceptVector> QueryEngine::vectors(const std::string& space, bool unit) {
  const auto s = impl_->load(space);
  std::vector<ConceptVector> out(s->n);
  for (int r = 0; r < s->n; ++r) {
    out[r].concept_number = s->numbers[r];
    out[r].name = s->names[r];
    out[r].category = s->categories[r];
    const std::vector<float>& rows = unit && s->valid[r] ? s->unit : s->weights;
    out[r].weights.assign(rows.begin() + static_cast<std::ptrdiff_t>(r) * s->d,
                          rows.begin() + static_cast<std::ptrdiff_t>(r + 1) * s->d);
  }
  return out;
}

SpaceInfo QueryEngine::space_info(const std::string& space) {
  return impl_->load(space)->info;  // cached: no SQL read while the catalog is unchanged
}

void QueryEngine::invalidate(const std::string& space) {
  std::lock_guard lock(impl_->mutex);
  if (space.empty()) {
    impl_->cache.clear();
    impl_->cached_bytes = 0;
  } else if (const auto it = impl_->cache.find(space); it != impl_->cache.end()) {
    impl_->cached_bytes -= it->second.bytes;
    impl_->cache.erase(it);
  }
}

std::string QueryEngine::index_name() const {
  return impl_->options.index == QueryOptions::Index::kBruteForce ? "brute-force" : make_default_index(1)->name();
}

}  // namespace n2v
