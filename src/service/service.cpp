// Service: requests checked and answered over the query engine; the orderings every front
// end shows (compare's differing concepts, Figure 5's histogram and most-selected filters)
// are decided here once. Every request that reads a space holds a QueryEngine::Snapshot: its
// answer (SpaceInfo, hits, each entry of `examples`) comes from one version of each space
// even while a writer replaces it.

#include "service/service.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>
#include <numeric>

#include "common/enum_names.h"
#include "common/error.h"
#include "common/text.h"
#include "common/version.h"

namespace n2v {

std::optional<std::string> score_metric(const SpaceInfo& space) {
  if (!space.task) return std::nullopt;  // a reference space
  return *space.task == Task::kSegmentation ? "set_iou" : "balanced_accuracy";
}

namespace {
constexpr EnumName<ExportFormat> kExportFormatNames[] = {
    {ExportFormat::kTsv, "tsv"}, {ExportFormat::kMetadata, "metadata"}, {ExportFormat::kNpy, "npy"}};
}  // namespace

ExportFormat parse_export_format(const std::string& text) {
  return parse_enum(kExportFormatNames, text, "export format");
}

const char* export_file_name(ExportFormat format) {
  switch (format) {
    case ExportFormat::kTsv: return "vectors.tsv";
    case ExportFormat::kMetadata: return "metadata.tsv";
    case ExportFormat::kNpy: return "vectors.npy";
  }
  return "vectors";
}

namespace {

// What a front end may ask: 1..min(kMaxK, limits.max_k); the engine itself only needs k > 0.
void check_k_in_limits(int k, const ServiceLimits& limits) {
  const int max = std::min(kMaxK, limits.max_k);
  N2V_CHECK(k >= 1 && k <= max, kInvalidArgument,
            "'k' must be between 1 and " << max << " (results are clamped to the concepts there are), got " << k);
}

// Bounds the work (and, for 3CosMul, the terms x concepts scores held) of one analogy.
void check_terms(size_t terms, const ServiceLimits& limits) {
  N2V_CHECK(terms <= static_cast<size_t>(limits.max_analogy_terms), kInvalidArgument,
            "an analogy takes at most " << limits.max_analogy_terms
                                        << " terms (positive and negative together, repeats counted), got " << terms);
}

void check_top(int top) {
  N2V_CHECK(top >= 1 && top <= kMaxTop, kInvalidArgument,
            "'top' must be between 1 and " << kMaxTop << ", got " << top);
}

// Names may not break a TSV row.
std::string tsv_cell(std::string s) {
  for (char& ch : s)
    if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

}  // namespace

Service::Service(const Catalog& catalog, QueryOptions options, ServiceLimits limits)
    : catalog_(catalog), engine_(catalog, options), limits_(limits) {}

HealthResponse Service::health() {
  HealthResponse h;
  h.version = kVersion;
  h.schema_version = catalog_.schema_version();
  h.generation = catalog_.generation();
  h.spaces = static_cast<int>(catalog_.spaces().size());
  h.index = engine_.index_name();
  h.cache = engine_.cache_stats();
  h.cache_budget = engine_.options().cache_bytes;
  return h;
}

SpacesResponse Service::spaces() {
  SpacesResponse r{catalog_.spaces(), {}};
  for (const SpaceInfo& s : r.spaces) {
    if (is_reference(s) || r.runs.contains(s.run_id)) continue;
    try {
      r.runs.emplace(s.run_id, catalog_.run(s.run_id));
    } catch (const Error& e) {
      // A writer replaced the space since the listing: it answers without its run.
      if (e.code() != ErrorCode::kNotFound) throw;
    }
  }
  return r;
}

ConceptsResponse Service::concepts(const ConceptsRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  ConceptsResponse r;
  r.space = engine_.space_info(request.space);
  r.category = request.category;
  r.concepts = engine_.concepts(request.space, request.category);
  return r;
}

NeighborsResponse Service::neighbors(const NeighborsRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  N2V_CHECK(request.concept_name.has_value() != request.vector.has_value(), kInvalidArgument,
            "neighbors takes either a concept or a vector (exactly one of them)");
  check_k_in_limits(request.k, limits_);
  NeighborsResponse r;
  r.space = engine_.space_info(request.space);
  r.result = request.concept_name
                 ? engine_.neighbors(request.space, *request.concept_name, request.k, request.category)
                 : engine_.neighbors(request.space, *request.vector, request.k, request.category);
  return r;
}

AnalogyResponse Service::analogy(const AnalogyRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  check_k_in_limits(request.k, limits_);
  check_terms(request.positive.size() + request.negative.size(), limits_);
  AnalogyResponse r;
  r.space = engine_.space_info(request.space);
  r.result = engine_.analogy(request.space, request.positive, request.negative, request.k, request.method,
                             request.category);
  return r;
}

CompareResponse Service::compare(const CompareRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  std::vector<std::string> ids = request.spaces;
  if (request.all) {
    N2V_CHECK(ids.empty(), kInvalidArgument, "compare takes a list of spaces or all of them, not both");
    for (const SpaceInfo& s : catalog_.spaces()) ids.push_back(s.id);
  }
  N2V_CHECK(request.per_concept >= CompareRequest::kAll, kInvalidArgument,
            "'per_concept' must be a count of concepts (0: none) or all, got " << request.per_concept);
  N2V_CHECK(request.memory_mb >= 0, kInvalidArgument,
            "'memory_mb', the memory budget, must be a number of MiB (0: the default), got " << request.memory_mb);
  // The ceilings are the server operator's (limits.h): the client may ask for less only.
  const int max_mb = limits_.max_compare_mb;
  N2V_CHECK(max_mb <= 0 || request.memory_mb <= max_mb, kInvalidArgument,
            "'memory_mb', the memory budget, is at most " << max_mb << " MiB here (this server's limit), got " << request.memory_mb);
  N2V_CHECK(limits_.max_compare_spaces <= 0 || ids.size() <= static_cast<size_t>(limits_.max_compare_spaces),
            kInvalidArgument,
            "a comparison takes at most " << limits_.max_compare_spaces << " spaces here (this server's limit), got "
                                          << ids.size());
  const int max_r = limits_.max_compare_permutations;
  N2V_CHECK(!request.permutations || (*request.permutations >= 0 && *request.permutations <= max_r), kInvalidArgument,
            "'permutations', the permutation test's R, must be 0 (none) to " << max_r << " here, got "
                                                                              << *request.permutations);
  N2V_CHECK(request.seed >= 0, kInvalidArgument, "'seed' must be 0 or more, got " << request.seed);
  CompareOptions options;
  options.permutations = request.permutations.value_or(std::min(CompareRequest::kDefaultPermutations, max_r));
  options.permutation_seed = static_cast<uint64_t>(request.seed);
  options.permutations_optional = !request.permutations;
  options.max_permutation_work = limits_.max_permutation_work;
  if (!request.permutations)
    options.max_permutation_work = options.max_permutation_work > 0
                                       ? std::min(options.max_permutation_work, CompareRequest::kDefaultPermutationWork)
                                       : CompareRequest::kDefaultPermutationWork;
  // kAll keeps every D_ijc (sorted below); a count keeps only the largest, so that --all over
  // many spaces does not hold C values per pair.
  options.per_concept = request.per_concept;
  options.memory_bytes = static_cast<size_t>(request.memory_mb) << 20;
  if (request.memory_mb == 0 && max_mb > 0)
    options.memory_bytes = std::min(CompareOptions::kDefaultMemoryBytes, static_cast<size_t>(max_mb) << 20);
  options.precision = request.precision;
  options.progress = request.progress;
  CompareResponse r;
  r.comparison = engine_.compare(ids, request.concepts, options);
  for (const std::string& id : r.comparison.spaces) r.spaces.push_back(engine_.space_info(id));
  const int shared = r.comparison.shared();
  for (const PairComparison& p : r.comparison.pairs) {
    if (request.per_concept != CompareRequest::kAll) {
      r.differing.push_back(p.largest);
      continue;
    }
    std::vector<int> order(shared);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return p.per_concept[x] > p.per_concept[y]; });
    std::vector<std::pair<int, double>> all;
    for (int c : order) all.emplace_back(c, p.per_concept[c]);
    r.differing.push_back(std::move(all));
  }
  return r;
}

const std::vector<std::string>& paper_nearest_examples() {
  static const std::vector<std::string> q = {"dog", "house", "wheel", "street", "bedroom", "car", "person"};
  return q;
}

const std::vector<ConceptSum>& paper_arithmetic_examples() {
  static const std::vector<ConceptSum> s = {{{"grass", "blue-c"}, {"green-c"}},
                                            {{"grass"}, {"green-c"}},
                                            {{"tree"}, {"wood"}},
                                            {{"person"}, {"torso"}},
                                            {{"lime", "yellow-c"}, {"green-c"}}};
  return s;
}

std::string to_string(const ConceptSum& sum) {
  std::string out;
  for (const std::string& p : sum.positive) out += (out.empty() ? "" : " + ") + p;
  for (const std::string& n : sum.negative) out += " - " + n;
  return out;
}

ConceptSum parse_concept_sum(const std::string& text) {
  const size_t slash = text.find('/');
  N2V_CHECK(text.find('/', slash == std::string::npos ? slash : slash + 1) == std::string::npos, kInvalidArgument,
            "a sum is positives,.../negatives,..., with one '/' at most: '" << text << "'");
  ConceptSum sum;
  auto names = [](std::string_view part, std::vector<std::string>& out) {
    for (const std::string& n : split(part, ','))
      if (!trim(n).empty()) out.emplace_back(trim(n));
  };
  names(std::string_view(text).substr(0, slash), sum.positive);
  if (slash != std::string::npos) names(std::string_view(text).substr(slash + 1), sum.negative);
  N2V_CHECK(!sum.positive.empty(), kInvalidArgument, "the sum '" << text << "' has no positive concept");
  return sum;
}

ExamplesResponse Service::examples(const ExamplesRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  check_k_in_limits(request.k, limits_);
  // The answer holds (queries + sums) x k hits: bound it before any work.
  const size_t entries = (request.queries.empty() ? paper_nearest_examples().size() : request.queries.size()) +
                         (request.sums.empty() ? paper_arithmetic_examples().size() : request.sums.size());
  N2V_CHECK(entries <= static_cast<size_t>(limits_.max_examples), kInvalidArgument,
            "examples takes at most " << limits_.max_examples << " queries and sums together, got " << entries);
  N2V_CHECK(entries * static_cast<size_t>(request.k) <= static_cast<size_t>(limits_.max_examples_hits), kInvalidArgument,
            "examples answers at most " << limits_.max_examples_hits << " hits ((queries + sums) x k), got " << entries
                                        << " x " << request.k << " = " << entries * request.k);
  for (const ConceptSum& sum : request.sums) check_terms(sum.positive.size() + sum.negative.size(), limits_);
  ExamplesResponse r;
  r.space = engine_.space_info(request.space);
  r.k = request.k;
  for (const std::string& q : request.queries.empty() ? paper_nearest_examples() : request.queries) {
    NeighborsRequest n;
    n.space = request.space;
    n.concept_name = q;
    n.k = request.k;
    try {
      r.nearest.push_back(neighbors(n));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kInvalidArgument) throw;
      r.missing.push_back(q);  // not in this space, or a zero vector
    }
  }
  for (const ConceptSum& sum : request.sums.empty() ? paper_arithmetic_examples() : request.sums) {
    AnalogyRequest a;
    a.space = request.space;
    a.positive = sum.positive;
    a.negative = sum.negative;
    a.k = request.k;
    try {
      r.arithmetic.push_back(analogy(a));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kInvalidArgument) throw;
      r.missing.push_back(to_string(sum));
    }
  }
  return r;
}

ConceptResponse Service::concept_detail(const ConceptRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  check_top(request.top);
  ConceptResponse r;
  r.space = engine_.space_info(request.space);
  r.report = engine_.concept_report(request.space, request.name, request.top);
  if (!r.report.image_iou.empty()) {
    r.distribution = image_iou_distribution(r.report.image_iou);
    constexpr int kBins = 20;
    ImageIouHistogram& h = r.image_iou;
    for (int b = 0; b <= kBins; ++b) h.edges.push_back(static_cast<double>(b) / kBins);
    h.learned.assign(kBins, 0);
    h.single.assign(kBins, 0);
    auto bin = [&](float v) { return std::clamp(static_cast<int>(std::floor(v * kBins)), 0, kBins - 1); };
    for (const ImageIouRecord& i : r.report.image_iou) {
      if (std::isfinite(i.learned)) ++h.learned[bin(i.learned)];
      if (std::isfinite(i.single)) ++h.single[bin(i.single)];
    }
    for (const PredictedMaskRecord& m : catalog_.predicted_masks(request.space, r.report.name))
      r.predicted_rows.push_back(m.image_row);
  }
  return r;
}

PredictedMaskRecord Service::predicted_mask(const PredictedMaskRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  std::vector<PredictedMaskRecord> masks;
  try {
    masks = catalog_.predicted_masks(request.space, request.name);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    // Only on the way out: the engine's errors name the space or suggest concept names; a
    // name given in another case is read again in its stored spelling.
    engine_.space_info(request.space);
    const std::string name = engine_.concept_report(request.space, request.name, 1).name;
    if (name == request.name) throw;
    masks = catalog_.predicted_masks(request.space, name);
  }
  for (PredictedMaskRecord& m : masks)
    if (m.image_row == request.row) return std::move(m);
  N2V_THROW(kNotFound, "no predicted mask of '" << request.name << "' in space '" << request.space << "' for row "
                                                << request.row
                                                << " (ingest stores them for the decile images of segmentation spaces)");
}

Catalog::ProbeImageRef Service::probe_image(const std::string& space, int row) {
  std::optional<Catalog::ProbeImageRef> image = catalog_.probe_image(space, row);
  if (!image) {
    engine_.space_info(space);  // an unknown space: kNotFound with suggestions
    N2V_THROW(kNotFound, "no probe image at row " << row << " for space '" << space << "'");
  }
  return std::move(*image);
}

ConceptImagesResponse Service::concept_images(const ConceptImagesRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  N2V_CHECK(request.limit >= 1 && request.limit <= 500, kInvalidArgument,
            "'limit' must be between 1 and 500 images, got " << request.limit);
  N2V_CHECK(request.offset >= 0, kInvalidArgument, "'offset' must be 0 or more, got " << request.offset);
  ConceptImagesResponse r;
  r.offset = request.offset;
  r.worst_first = request.worst_first;
  r.space = engine_.space_info(request.space);
  r.name = request.name;
  std::optional<ConceptImages> images = catalog_.concept_images(request.space, request.name);
  if (!images) {
    // kNotFound with suggestions, or the stored spelling of a name given in another case.
    r.name = engine_.concept_report(request.space, request.name, 1).name;
    images = catalog_.concept_images(request.space, r.name);
    N2V_CHECK(images.has_value(), kNotFound, "no concept '" << request.name << "' in space '" << request.space << "'");
  }
  r.images = std::move(*images);
  r.total = static_cast<int>(r.images.images.size());
  // Images without a defined IoU sort last either way.
  const float none = request.worst_first ? 2.0f : -1.0f;
  auto key = [&](const ProbeImageScore& s) { return s.learned && std::isfinite(*s.learned) ? *s.learned : none; };
  std::stable_sort(r.images.images.begin(), r.images.images.end(), [&](const ProbeImageScore& a, const ProbeImageScore& b) {
    return request.worst_first ? key(a) < key(b) : key(a) > key(b);
  });
  std::vector<ProbeImageScore>& list = r.images.images;
  const size_t from = std::min(list.size(), static_cast<size_t>(request.offset));
  list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(from));
  if (list.size() > static_cast<size_t>(request.limit)) list.resize(request.limit);
  return r;
}

AnalysesResponse Service::analyses(const std::string& space) {
  const QueryEngine::Snapshot snapshot(engine_);
  AnalysesResponse r;
  r.space = engine_.space_info(space);
  N2V_CHECK(!is_reference(r.space), kInvalidArgument,
            "space '" << space << "' is a reference space: it has no scores to analyse");
  const std::vector<ScoredConcept> concepts = catalog_.concept_scores(space);
  r.learned_vs_single = learned_vs_single(concepts);
  r.category_scores = category_scores(concepts);
  r.subset_curves = subset_curves(concepts);
  r.correlation = weight_iou_correlation(concepts);
  r.failures = failure_analysis(concepts);
  return r;
}

// A cached map, or the one being computed: later identical requests wait on `result`.
struct Service::MapSlot {
  std::shared_future<std::shared_ptr<const MapResponse>> result;
  uint64_t last_used = 0;
};

MapResponse Service::map(const MapRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  const MapOptions& o = request.options;
  N2V_CHECK(o.perplexity >= 2 && o.perplexity <= 100, kInvalidArgument,
            "'perplexity' must be between 2 and 100, got " << o.perplexity);
  const int max_iterations = std::min(5000, limits_.max_map_iterations);
  N2V_CHECK(o.iterations >= 250 && o.iterations <= max_iterations, kInvalidArgument,
            "'iterations' must be between 250 and " << max_iterations << ", got " << o.iterations);
  N2V_CHECK(o.clusters >= 1 && o.clusters <= 50, kInvalidArgument, "'clusters' must be between 1 and 50, got " << o.clusters);
  const uint64_t generation = catalog_.generation();
  const SpaceInfo info = engine_.space_info(request.space);
  // t-SNE is O(n^2) per iteration: the operator bounds n.
  N2V_CHECK(info.concept_count <= limits_.max_map_concepts, kInvalidArgument,
            "space '" << info.id << "' has " << info.concept_count << " concepts; maps are drawn for at most "
                      << limits_.max_map_concepts << " here (this server's limit)");
  const std::string key = request.space + "|" + std::to_string(o.perplexity) + "|" + std::to_string(o.iterations) + "|" +
                          std::to_string(o.seed) + "|" + std::to_string(o.clusters) + "|" + std::to_string(generation);
  std::promise<std::shared_ptr<const MapResponse>> promise;
  std::shared_ptr<MapSlot> slot, mine;
  {
    std::lock_guard lock(map_mutex_);
    auto it = maps_.find(key);
    if (it == maps_.end()) {
      while (maps_.size() >= kMapCacheSize) {  // drop the least recently used (waiters hold their future)
        auto oldest = maps_.begin();
        for (auto j = maps_.begin(); j != maps_.end(); ++j)
          if (j->second->last_used < oldest->second->last_used) oldest = j;
        maps_.erase(oldest);
      }
      mine = std::make_shared<MapSlot>();
      mine->result = promise.get_future().share();
      it = maps_.emplace(key, mine).first;
    }
    it->second->last_used = ++map_tick_;
    slot = it->second;
  }
  if (mine) {
    ++maps_computed_;
    try {
      auto r = std::make_shared<MapResponse>();
      r->space = info;
      r->options = o;
      r->concepts = engine_.vectors(request.space);
      std::vector<float> rows;
      for (const ConceptVector& v : r->concepts) rows.insert(rows.end(), v.weights.begin(), v.weights.end());
      r->map = map_space(rows, static_cast<int>(r->concepts.size()), info.dim, o);
      for (ConceptVector& v : r->concepts) v.weights.clear();
      promise.set_value(std::move(r));
    } catch (...) {
      promise.set_exception(std::current_exception());  // the waiters get the error too
      std::lock_guard lock(map_mutex_);
      if (const auto it = maps_.find(key); it != maps_.end() && it->second == mine) maps_.erase(it);  // not cached
    }
  }
  return *slot->result.get();
}

FilterUsageResponse Service::filter_usage(const FilterRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  N2V_ASSERT(!request.filter);
  check_top(request.top);
  FilterUsageResponse r;
  r.space = engine_.space_info(request.space);
  r.usage = engine_.filter_usage(request.space);
  std::map<int, int> histogram;  // concepts -> filters
  for (int n : r.usage.concepts_per_filter) ++histogram[n];
  r.histogram.assign(histogram.begin(), histogram.end());
  std::vector<int> order(r.usage.dim);
  std::iota(order.begin(), order.end(), 0);
  const std::vector<int>& count = r.usage.concepts_per_filter;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return count[x] > count[y]; });
  for (int k : order) {
    if (static_cast<int>(r.most_selected.size()) >= request.top || count[k] == 0) break;
    r.most_selected.push_back(k);
  }
  return r;
}

FilterResponse Service::filter(const FilterRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  N2V_ASSERT(request.filter.has_value());
  check_top(request.top);
  FilterResponse r;
  r.space = engine_.space_info(request.space);
  r.report = engine_.filter_report(request.space, *request.filter, request.top);
  r.top_images = catalog_.filter_top_images(r.space.id, *request.filter);
  return r;
}

FilterTopImageRecord Service::filter_top_image(const std::string& space, int filter, int row) {
  const QueryEngine::Snapshot snapshot(engine_);
  const SpaceInfo info = engine_.space_info(space);  // unknown space: did-you-mean
  N2V_CHECK(filter >= 0 && filter < info.dim, kInvalidArgument,
            "filter " << filter << " is out of range: space '" << info.id << "' has " << info.dim << " filters (0.."
                      << info.dim - 1 << ")");
  for (Catalog::FilterTopImages::Image& image : catalog_.filter_top_images(info.id, filter).images)
    if (image.record.image_row == row) return std::move(image.record);
  N2V_THROW(kNotFound, "filter " << filter << " of space '" << info.id << "' has no stored top image at row " << row);
}

ExportResponse Service::export_vectors(const ExportRequest& request) {
  const QueryEngine::Snapshot snapshot(engine_);
  ExportResponse r;
  r.space = engine_.space_info(request.space);
  r.normalized = request.normalize;
  // Normalised: the engine's cached unit rows (a zero or non-finite vector stays as stored).
  r.vectors = engine_.vectors(request.space, request.normalize);
  return r;
}

// ---- export files ----

std::string metadata_tsv(const ExportResponse& e) {
  std::string out = "name\tcategory\n";
  for (const ConceptVector& v : e.vectors) out += tsv_cell(v.name) + '\t' + tsv_cell(v.category) + '\n';
  return out;
}

std::string vectors_tsv(const ExportResponse& e) {
  std::string out;
  char buf[32];
  for (const ConceptVector& v : e.vectors) {
    for (size_t j = 0; j < v.weights.size(); ++j) {
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v.weights[j]));  // round-trips a float
      if (j) out += '\t';
      out += buf;
    }
    out += '\n';
  }
  return out;
}

// NPY format 1.0: magic, version, little-endian uint16 header length, a Python dict literal
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes, then the
// data (little-endian float32, C order).
std::string vectors_npy(const ExportResponse& e) {
  const size_t rows = e.vectors.size(), cols = static_cast<size_t>(e.space.dim);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  N2V_CHECK(header.size() <= 65535, kInternal, "NPY header too long");
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.reserve(out.size() + rows * cols * 4);
  for (const ConceptVector& v : e.vectors)
    for (float x : v.weights) {
      const uint32_t bits = std::bit_cast<uint32_t>(x);
      for (int b = 0; b < 4; ++b) out += static_cast<char>((bits >> (8 * b)) & 0xFF);
    }
  return out;
}

std::string export_bytes(const ExportResponse& e, ExportFormat format) {
  switch (format) {
    case ExportFormat::kTsv: return vectors_tsv(e);
    case ExportFormat::kMetadata: return metadata_tsv(e);
    case ExportFormat::kNpy: return vectors_npy(e);
  }
  N2V_THROW(kInternal, "unknown export format");
}

}  // namespace n2v
