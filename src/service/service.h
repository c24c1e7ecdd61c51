#pragma once
// Service stage: every question a front end asks of a catalog -- the `net2vec` CLI, the HTTP
// API of `net2vec serve` and through it the web page -- as a typed request and a typed
// response over the query engine (src/query). One vocabulary for all front ends:
//   * to_json(response)      -- the JSON document (json.h; the same for `--json` and HTTP);
//   * render_text(response)  -- the CLI's tables (render.h);
//   * request_from_json(...) -- request bodies (json.h).
// Keys and their meanings: docs/API.md. Torch-free and network-free: the HTTP server
// (src/server) only routes, parses query strings and calls this.
//
// Thread-safe: one Service may answer requests from many threads at once (the catalog reads
// through a connection pool, the engine's cache is shared).
//
// Errors are n2v::Error; messages describe the value ("k must be between 1 and 5000, got 0"),
// never a front end's flag, so each front end can show them as they are.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/analysis.h"
#include "catalog/catalog.h"
#include "query/query.h"
#include "service/limits.h"

namespace n2v {

// Largest k a search accepts (more than BRODEN's 1,197 concepts; a bound for the server).
inline constexpr int kMaxK = 5000;
// Largest `top` of the concept and filter reports.
inline constexpr int kMaxTop = 5000;

// What a space's scores mean: "set_iou" (segmentation), "balanced_accuracy"
// (classification); nullopt for reference spaces, which have no scores.
std::optional<std::string> score_metric(const SpaceInfo& space);

// ---- requests ----

struct ConceptsRequest {
  std::string space;
  std::optional<std::string> category;
};

struct NeighborsRequest {
  std::string space;
  std::optional<std::string> concept_name;   // exactly one of concept_name and vector
  std::optional<std::vector<float>> vector;  // one value per dimension
  int k = 10;
  std::optional<std::string> category;
};

struct AnalogyRequest {
  std::string space;
  std::vector<std::string> positive, negative;
  int k = 10;
  AnalogyMethod method = AnalogyMethod::kAdd;
  std::optional<std::string> category;
};

struct CompareRequest {
  std::vector<std::string> spaces;  // two or more; empty with all = true
  bool all = false;                 // every space of the catalog
  std::vector<std::string> concepts;  // only these (each in every space); empty: all shared
  // Per pair, the concepts with the largest D_ijc: this many; 0: none; kAll: every one.
  static constexpr int kAll = -1;
  int per_concept = 5;
  int memory_mb = 0;  // compare's memory budget in MiB (CompareOptions::memory_bytes; 0: 256 MiB)
  // The permutation test's R (CompareOptions::permutations; 0: none) and seed. Unset: the
  // default R, skipped (SpaceComparison::permutation_skipped) where its work would pass
  // kDefaultPermutationWork (docs/QUERIES.md: the cost measured).
  std::optional<int> permutations;
  static constexpr int kDefaultPermutations = 99;
  static constexpr double kDefaultPermutationWork = 1e9;
  int64_t seed = 1;
  ComparePrecision precision = ComparePrecision::kAuto;  // of the Grams (CompareOptions::precision)
  // Called as the comparison advances (CompareOptions::progress); may be empty.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct ConceptRequest {
  std::string space, name;
  int top = 10;  // filters listed by |w_k|
};

struct FilterRequest {
  std::string space;
  std::optional<int> filter;  // none: how many concepts pick each filter (Figure 5)
  int top = 10;
};

struct ConceptImagesRequest {
  std::string space, name;
  int limit = 12;  // images listed (1 to 500)
  int offset = 0;  // images skipped first, for paging (0 or more)
  bool worst_first = false;  // by the learned weights' IoU: lowest first (failures) instead of best
};

struct MapRequest {
  std::string space;
  MapOptions options;  // perplexity 2..100, iterations 250..5000, clusters 1..50
};

enum class ExportFormat { kTsv, kMetadata, kNpy };
ExportFormat parse_export_format(const std::string& text);  // "tsv", "metadata", "npy"

struct ExportRequest {
  std::string space;
  bool normalize = false;  // L2-normalised rows instead of the stored weights
};

// ---- responses ----

struct HealthResponse {
  std::string version;
  int schema_version = 0;
  int spaces = 0;
  std::string index;  // the index implementation ("faiss-flat-ip", ...)
  uint64_t generation = 0;
  CacheStats cache;   // the space cache: spaces, bytes, loads, evictions
  size_t cache_budget = 0;  // bytes; 0: unlimited
};

struct SpacesResponse {
  std::vector<SpaceInfo> spaces;  // by id
  std::map<int64_t, RunRecord> runs;  // the network spaces' runs (their provenance), by run id
};

struct ConceptsResponse {
  SpaceInfo space;
  std::optional<std::string> category;
  std::vector<ConceptSummary> concepts;
};

struct NeighborsResponse {
  SpaceInfo space;
  NeighborsResult result;
};

struct AnalogyResponse {
  SpaceInfo space;
  AnalogyResult result;
};

struct CompareResponse {
  std::vector<SpaceInfo> spaces;  // as compared, in request order
  SpaceComparison comparison;
  // Per pair (aligned with comparison.pairs): (index into comparison.concepts, D_ijc),
  // largest D_ijc first (ties by index), as many as the request's per_concept asked.
  std::vector<std::vector<std::pair<int, double>>> differing;
};

// Paper Tables 2 and 3 for one space: the nearest concepts of a list of queries and the
// vector arithmetic of a list of sums. Empty lists mean the paper's own examples
// (paper_examples()). An example whose concepts the space lacks is listed in `missing`
// rather than failing the whole request: the paper's list is a wish list for any catalog.
struct ConceptSum {
  std::vector<std::string> positive, negative;
};
struct ExamplesRequest {
  std::string space;
  std::vector<std::string> queries;
  std::vector<ConceptSum> sums;
  int k = 5;
};
struct ExamplesResponse {
  SpaceInfo space;
  int k = 5;
  std::vector<NeighborsResponse> nearest;
  std::vector<AnalogyResponse> arithmetic;
  std::vector<std::string> missing;  // each example left out, as written ("dog", "grass + blue-c - green-c")
};
// The examples of the paper's Tables 2 and 3 (BRODEN names colours "<colour>-c").
const std::vector<std::string>& paper_nearest_examples();
const std::vector<ConceptSum>& paper_arithmetic_examples();
// "grass + blue-c - green-c" for a sum; parse_concept_sum reads "grass,blue-c/green-c"
// (positives, then after '/' the negatives), the API's form.
std::string to_string(const ConceptSum& sum);
ConceptSum parse_concept_sum(const std::string& text);

// Per-image val IoU (segmentation) as a histogram over [0, 1].
struct ImageIouHistogram {
  std::vector<double> edges;               // bins + 1 edges, 0 .. 1
  std::vector<int> learned, single;        // counts per bin (IoU 1 falls in the last bin)
};

struct ConceptResponse {
  SpaceInfo space;
  ConceptReport report;
  ImageIouHistogram image_iou;  // empty edges where the concept has no per-image IoU
  ImageIouDistribution distribution;  // Figures 7 and 8: the non-zero part and its deciles
  std::vector<int> predicted_rows;    // rows whose predicted masks are stored (Figure 8)
};

// The masks predicted on one val image of a concept (Figure 8): learned weights or best
// single filter, as stored by ingest for the decile images.
struct PredictedMaskRequest {
  std::string space, name;
  int row = -1;       // index.csv data row
};

// A concept's val images of the probe set, best first by the learned weights' IoU (images
// with no defined IoU last), at most `limit` of `total`.
struct ConceptImagesResponse {
  SpaceInfo space;
  std::string name;
  ConceptImages images;
  int total = 0;
  int offset = 0;  // as requested
  bool worst_first = false;
};

// The paper's per-space analyses (src/analysis): Table 1, Figures 2, 3 and 9, failures.
struct AnalysesResponse {
  SpaceInfo space;
  std::vector<ShareRow> learned_vs_single;      // Table 1 (overall first)
  std::vector<CategoryScores> category_scores;  // Figure 2
  std::vector<SubsetCurve> subset_curves;       // Figure 3
  WeightIouCorrelation correlation;             // Figure 9 (segmentation spaces)
  FailureAnalysis failures;
};

// A 2-D t-SNE map of a space's concepts and their k-means clusters (analysis.h map_space).
struct MapResponse {
  SpaceInfo space;
  MapOptions options;
  std::vector<ConceptVector> concepts;  // the rows mapped (weights dropped)
  SpaceMap map;
};

struct FilterUsageResponse {
  SpaceInfo space;
  FilterUsage usage;
  // Figure 5's histogram: (concepts, filters) -- how many filters are picked by that many
  // concepts -- by concepts ascending.
  std::vector<std::pair<int, int>> histogram;
  std::vector<int> most_selected;  // up to `top` filters picked at least once, most first
};

struct FilterResponse {
  SpaceInfo space;
  FilterReport report;
  // The filter's top images (NetDissect: where it fires most) as the space's run stored them.
  Catalog::FilterTopImages top_images;
};

struct ExportResponse {
  SpaceInfo space;
  bool normalized = false;
  std::vector<ConceptVector> vectors;  // catalog order, one row per concept name
};

// The files of an export, as bytes: the TensorBoard Embedding Projector's vectors.tsv and
// metadata.tsv, and numpy's vectors.npy (NPY 1.0, little-endian float32, C order).
std::string vectors_tsv(const ExportResponse& e);
std::string metadata_tsv(const ExportResponse& e);
std::string vectors_npy(const ExportResponse& e);
const char* export_file_name(ExportFormat format);  // "vectors.tsv", "metadata.tsv", "vectors.npy"
std::string export_bytes(const ExportResponse& e, ExportFormat format);

class ProbeLibrary;  // the probe folders the probe browser reads (probe_browser.h)

class Service {
 public:
  // The catalog must outlive the service. `limits`: what one request may ask (limits.h).
  explicit Service(const Catalog& catalog, QueryOptions options = {}, ServiceLimits limits = {});

  HealthResponse health();
  SpacesResponse spaces();
  ConceptsResponse concepts(const ConceptsRequest& request);
  NeighborsResponse neighbors(const NeighborsRequest& request);
  AnalogyResponse analogy(const AnalogyRequest& request);
  CompareResponse compare(const CompareRequest& request);
  ExamplesResponse examples(const ExamplesRequest& request);
  ConceptResponse concept_detail(const ConceptRequest& request);
  ConceptImagesResponse concept_images(const ConceptImagesRequest& request);
  // kNotFound (with suggestions for the name) when the space, the concept or a mask stored
  // for that row is missing.
  PredictedMaskRecord predicted_mask(const PredictedMaskRequest& request);
  // One image of a space's probe set by index.csv row (the server serves its file); kNotFound
  // naming the row when the catalog knows no such image.
  Catalog::ProbeImageRef probe_image(const std::string& space, int row);
  // The thresholded map stored with one of a filter's top images (by index.csv row);
  // kNotFound naming the filter and row when the run stored none for them.
  FilterTopImageRecord filter_top_image(const std::string& space, int filter, int row);
  // A network space's analyses; kInvalidArgument for a reference space (it has no scores).
  AnalysesResponse analyses(const std::string& space);
  // Computed once per space, options and catalog generation, then cached (t-SNE is
  // O(n^2) per iteration: ~0.2 s for 200 concepts, seconds for BRODEN's 1,200). Identical
  // requests arriving while one computes wait for it (single flight); the cache keeps the
  // kMapCacheSize most recently used maps.
  MapResponse map(const MapRequest& request);
  FilterUsageResponse filter_usage(const FilterRequest& request);  // request.filter unset
  FilterResponse filter(const FilterRequest& request);             // request.filter set
  ExportResponse export_vectors(const ExportRequest& request);

  // The probe folders the probe browser may read (probe_browser.h); none until a front end
  // sets them. Set before answering requests.
  void set_probe_library(std::shared_ptr<const ProbeLibrary> probes) { probes_ = std::move(probes); }
  const ProbeLibrary* probe_library() const { return probes_.get(); }

  QueryEngine& engine() { return engine_; }
  const Catalog& catalog() const { return catalog_; }
  const ServiceLimits& limits() const { return limits_; }
  int64_t maps_computed() const { return maps_computed_; }  // maps computed, not from the cache

  static constexpr size_t kMapCacheSize = 64;

 private:
  struct MapSlot;  // one map, computed once (service.cpp)
  const Catalog& catalog_;
  QueryEngine engine_;
  ServiceLimits limits_;
  std::mutex map_mutex_;
  uint64_t map_tick_ = 0;  // LRU clock of maps_
  std::atomic<int64_t> maps_computed_{0};
  std::map<std::string, std::shared_ptr<MapSlot>> maps_;  // key: space, options, generation
  std::shared_ptr<const ProbeLibrary> probes_;
};

}  // namespace n2v
