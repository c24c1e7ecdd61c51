#pragma once
// Query stage: the embedding analyses of Net2Vec (Fong & Vedaldi 2018, sections 4.2 and 5)
// over the concept spaces stored in a catalog:
//   * neighbours   -- nearest concepts by cosine similarity (paper Table 2);
//   * analogies    -- vector arithmetic, 3CosAdd (paper Table 3, gensim most_similar) and
//                     3CosMul (Levy & Goldberg 2014, gensim most_similar_cosmul);
//   * compare      -- distances between spaces: D_ij, per-concept D_ijc, their means per
//                     concept category (paper Figure 10) and linear CKA;
//   * concept/filter reports -- every stored score of a concept, the filters that carry it,
//                     and the concepts a filter serves (paper 4.2, 5.2).
// Definitions, formulas and the choices made where the paper is silent: docs/QUERIES.md.
//
// Vectors are read from the catalog (the source of truth) and cached per space together with
// an exact cosine index (src/index). Each query asks the catalog's generation (PRAGMA
// data_version: no table read); only when it moved is the space read again. A long-running
// process therefore sees a new ingest or reference import as soon as it commits, and never a
// half-written one.
// Reference spaces (kind "reference": WordNet, word vectors) are queried like network
// spaces; they have no task and no stored scores. Torch-free.
//
// Errors (n2v::Error): an unknown space, concept or category is kNotFound and the message
// names the closest existing names; bad arguments (k <= 0, a vector of the wrong size or with
// a non-finite value, a zero vector, terms that cancel out, no shared concepts) are
// kInvalidArgument. k larger than the number of candidates is not an error: results are
// clamped to the candidates there are (NeighborsResult::candidates says how many).

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace n2v {

struct QueryOptions {
  enum class Index { kDefault, kBruteForce };
  // kDefault: FAISS flat inner product (GPU where the installed FAISS has it), or net2vec's
  // own flat index in builds without FAISS (src/index/vector_index.h); kBruteForce: the
  // reference loops (tests, comparisons).
  Index index = Index::kDefault;
  // Memory budget of the space cache in bytes (0: unlimited). Past it, the least recently
  // used spaces are dropped and read again from the catalog when next asked for, so a
  // server over a catalog of many spaces holds only its working set (`serve --cache-mb`).
  // A space larger than the budget is still answered; it is just the only one kept.
  size_t cache_bytes = 0;
};

// What the space cache holds and has done (QueryEngine::cache_stats).
struct CacheStats {
  int spaces = 0;         // cached now
  size_t bytes = 0;       // their estimated size (vectors, unit rows, names, index)
  int64_t loads = 0;      // spaces read from the catalog since the engine started
  int64_t evictions = 0;  // spaces dropped to stay within the budget
};

// A concept returned by a search.
struct ConceptHit {
  int concept_number = 0;  // probe-set label number
  std::string name, category;
  // neighbors and 3CosAdd: cosine similarity in [-1, 1]; 3CosMul: the 3CosMul objective.
  double score = 0;
  // neighbors: the share (0 to 100) of the space's concept pairs whose cosine is lower
  // (CosineBaseline::percentile); NaN elsewhere.
  double percentile = NAN;
};

// How the cosines between a space's concepts are spread: what a neighbour's cosine is read
// against (the demo's 95th percentiles run from 0.115 in a classification space to 0.714 in
// WordNet's). From every
// pair of distinct concepts with a direction, or from kSampledPairs pairs drawn uniformly at
// random with a fixed seed where there are more (317 concepts and up; the percentiles then
// within ~0.3 points).
struct CosineBaseline {
  static constexpr int kSampledPairs = 50000;
  int64_t pairs = 0;     // pairs the figures come from
  bool sampled = false;  // drawn at random (else every pair)
  double mean = 0, p50 = 0, p95 = 0, p99 = 0;
  std::vector<float> sorted;  // their cosines, ascending
  // The share (0 to 100) of the pairs whose cosine is below `cosine` by more than kTie.
  static constexpr double kTie = 1e-6;
  double percentile(double cosine) const;
};

struct NeighborsResult {
  std::string space;
  std::string query;                    // the concept's name; "" for a raw vector
  std::optional<std::string> category;  // the category filter, if any
  int k = 0;                            // as requested
  int candidates = 0;                   // concepts that could be returned
  std::vector<ConceptHit> hits;         // min(k, candidates), best first
  // The space's (not the category's) concept-pair cosines; null where fewer than two concepts
  // have a direction.
  std::shared_ptr<const CosineBaseline> baseline;
};

enum class AnalogyMethod { kAdd, kMul };
const char* to_string(AnalogyMethod method);                 // "add" / "mul"
AnalogyMethod parse_analogy_method(const std::string& text);  // "add"/"3cosadd", "mul"/"3cosmul"

struct AnalogyResult {
  std::string space;
  std::vector<std::string> positive, negative;
  AnalogyMethod method = AnalogyMethod::kAdd;
  std::optional<std::string> category;
  int k = 0, candidates = 0;
  std::vector<ConceptHit> hits;  // inputs excluded, best first
};

// ---- compare ----

struct CategoryDistance {
  std::string category;
  int concepts = 0;   // shared concepts of this category
  double mean = 0;    // mean D_ijc over them
};

// The permutation test of one pair (CompareOptions::permutations = R > 0): the concepts of the
// pair's second space (j) are given to its shared names in R random orders, each order's
// statistics computed from the Grams; p = (1 + #null at least as extreme) / (R + 1). At least
// as extreme: D_ij no larger, a CKA no smaller than observed. NaN where the statistic is.
struct PermutationTest {
  int permutations = 0;  // R; 0: not run
  double p_distance = 0, null_distance = 0;          // null_*: the null's mean
  double p_cka = 0, null_cka = 0;
  double p_cka_unbiased = 0, null_cka_unbiased = 0;
};

// One pair of spaces (i < j, indexes into SpaceComparison::spaces).
struct PairComparison {
  int i = 0, j = 0;
  double distance = 0;              // D_ij = ||d(W_i) - d(W_j)||_F^2
  // D_ij / (C (C - 1)): the mean squared cosine difference per ordered pair of distinct shared
  // concepts (the diagonal terms are ~0), comparable between comparisons with different C.
  double distance_per_pair = 0;
  double cka = 0;                   // linear CKA of the centred Gram matrices; NaN if undefined
  // Unbiased CKA: the unbiased HSIC estimator (Song et al. 2012) in place of the biased one
  // (Nguyen, Raghu & Kornblith 2021); NaN if undefined (fewer than 4 shared concepts, or a
  // space whose unbiased self-HSIC is not positive).
  double cka_unbiased = 0;
  std::string cka_undefined, cka_unbiased_undefined;  // why each is NaN; empty where defined
  PermutationTest permutation;      // CompareOptions::permutations > 0 only
  // D_ijc, aligned with SpaceComparison::concepts: only with CompareOptions::per_concept = -1.
  std::vector<double> per_concept;
  // (concept index, D_ijc) of the CompareOptions::per_concept = N >= 0 largest D_ijc (all of
  // them if N >= shared()), largest first, ties by index. Empty with per_concept = -1.
  std::vector<std::pair<int, double>> largest;
  std::vector<CategoryDistance> categories;  // sorted by category name
};

// The precision of compare's Gram matrices (CompareOptions::precision).
enum class ComparePrecision {
  kAuto,    // double up to CompareOptions::kAutoDoubleEntries Gram entries (m x C^2), float beyond
  kDouble,  // agrees with a float64 reference to ~1e-12 of each value (docs/QUERIES.md)
  kFloat,   // half the memory, about half the time; ~1e-5 of a value's range (a CKA near 0 of 1)
};

struct CompareOptions {
  // D_ijc kept per pair: -1 every one (PairComparison::per_concept, C doubles a pair), 0
  // none, N the N largest (PairComparison::largest).
  int per_concept = -1;
  // Memory compare may use for its own work (0: kDefaultMemoryBytes): the C x C Gram of every
  // space (held in memory when they all fit, else in an unlinked temporary file read back in
  // panels), the Grams being computed and the per-thread blocks of the pairwise pass. Not
  // counted: the result (O(m^2) pairs, each with its categories and `largest`, or C values
  // with per_concept = -1) and the engine's space cache (QueryOptions::cache_bytes). Too small
  // for one Gram of the shared concepts: kInvalidArgument naming the minimum.
  size_t memory_bytes = 0;
  static constexpr size_t kDefaultMemoryBytes = size_t{256} << 20;
  std::string temp_dir;  // where the temporary file goes; "": $TMPDIR, else /tmp
  int threads = 0;       // worker threads; 0: std::thread::hardware_concurrency()
  // Called as work is done (from worker threads, one call at a time): one unit per space's
  // Gram, then one per (block pair, concept row) of the pairwise pass; `total` is known from
  // the first call.
  std::function<void(int64_t done, int64_t total)> progress;
  // The permutation test (PairComparison::permutation): R permutations per pair (0: none),
  // drawn from `permutation_seed` (the same seed, the same p-values). Its work, R x pairs x
  // C^2 multiply-adds, above `max_permutation_work` (0: no ceiling) is kInvalidArgument, or,
  // with permutations_optional, skips the test (SpaceComparison::permutation_skipped says why).
  int permutations = 0;
  uint64_t permutation_seed = 1;
  double max_permutation_work = 0;
  bool permutations_optional = false;
  // Double Grams cost twice the memory and time of float ones, whose rounding (~6e-8 of each
  // entry) shows in values that are small remainders: a CKA of spaces whose concepts share a
  // common direction, a D_ijc of nearly equal rows. kAuto keeps double up to 2^26 entries
  // (512 MiB of Grams: 46 spaces of 1,200 concepts, where double costs ~2x float's time),
  // float for larger comparisons.
  ComparePrecision precision = ComparePrecision::kAuto;
  static constexpr double kAutoDoubleEntries = 67108864.0;
};

// Whether compare computes the Grams of m spaces sharing C concepts in double.
bool compare_in_double(ComparePrecision precision, int m, int C);

// How a comparison ran (SpaceComparison::stats): what the memory budget led to.
struct CompareStats {
  size_t budget_bytes = 0;   // CompareOptions::memory_bytes as applied
  size_t store_bytes = 0;    // m x C x C floats or doubles: every Gram
  bool temp_file = false;    // the Grams went to an unlinked temporary file (else memory)
  size_t working_bytes = 0;  // estimated peak of compare's own memory (store included if in memory)
  int threads = 0;           // workers of the pairwise pass
  int block = 0;             // B: spaces per block of the pairwise pass
  int blocks = 0;            // ceil(m / B)
  int block_pairs = 0;       // blocks x (blocks + 1) / 2, each streamed over the C concept rows
  int64_t rows_recomputed = 0;  // (pair, row) values recomputed directly (rows nearly equal)
  bool double_precision = false;  // the Grams were double (CompareOptions::precision)
  double gram_seconds = 0, pairs_seconds = 0;
  double permutation_seconds = 0;  // the permutation test (CompareOptions::permutations)
};

// A concept compare left out: the spaces that lack it, and those where its vector is zero
// (cosine undefined). At least one of the two is non-empty.
struct LeftOutConcept {
  std::string name;
  std::vector<std::string> missing_from;  // in the order the spaces were named
  std::vector<std::string> zero_in;
  bool operator==(const LeftOutConcept&) const = default;
};

struct SpaceComparison {
  std::vector<std::string> spaces;
  std::vector<SpaceInfo> space_info;    // each space's record, of the content compared
  std::vector<std::string> concepts;    // the shared concepts, sorted by name
  std::vector<std::string> categories;  // each shared concept's category (first space's)
  // Every concept of some space compared that is not among `concepts`, sorted by name, and why.
  // Without a concept list: any name of any space; with one, the names given (each is in every
  // space, or compare throws), so only zero vectors.
  std::vector<LeftOutConcept> excluded;
  int m = 0;                    // spaces.size()
  std::vector<double> distance;  // m x m row-major D_ij (symmetric, zero diagonal)
  std::vector<double> distance_per_pair;  // m x m row-major D_ij / (C (C - 1))
  std::vector<double> cka;       // m x m row-major (symmetric, diagonal 1 where defined)
  std::vector<double> cka_unbiased;  // m x m row-major, likewise
  int permutations = 0;             // R of every pair's permutation test (0: not run)
  uint64_t permutation_seed = 0;
  std::string permutation_skipped;  // why the test asked for did not run (its work ceiling)
  std::vector<PairComparison> pairs;  // every i < j, in row order
  CompareStats stats;
  int shared() const { return static_cast<int>(concepts.size()); }
  const PairComparison& pair(int i, int j) const;  // either order; throws on i == j
};

// ---- concept and filter reports ----

struct FilterWeight {
  int filter = 0;
  float weight = 0;       // w_k
  double share = 0;       // |w_k| / ||w||_1 (paper 5.2)
  double cumulative = 0;  // share of this and every higher-ranked filter
};

struct ConceptReport {
  std::string space, name, category;
  int concept_number = 0;
  SpaceKind kind = SpaceKind::kNetwork;
  std::optional<Task> task;          // network spaces only
  int dim = 0;
  int train_count = 0, val_count = 0;
  float bias = 0, alpha = 0;
  // Learned weights (all filters): set IoU (segmentation) or balanced accuracy (classification).
  std::optional<float> set_iou_train, set_iou_val, accuracy_train, accuracy_val;
  int best_filter = -1;  // best single filter, chosen on train; -1: none
  std::optional<float> best_filter_train, best_filter_val;
  // The val scores' 95 % bootstrap intervals and p-values against chance (schema version 7);
  // unset: not computed.
  ScoreStatsRecord learned_val_stats, best_filter_val_stats;
  // Their p-values corrected for the space's many concepts: Benjamini-Hochberg q over every
  // concept of the space with that p (common/false_discovery.h); NaN where p is not stored.
  double learned_val_q = NAN, best_filter_val_q = NAN;
  // Paper 5.2's second measure: best single filter's val score / the learned weights' val
  // score (set IoU or accuracy). Unset where either is missing or the denominator is 0.
  std::optional<double> single_over_learned;
  int best_filter_rank = 0;  // 1-based rank of the best filter by |w_k|; 0 when none
  std::vector<SubsetScore> subsets;  // the F sweep
  // Per-image val IoU (segmentation): images, mean over defined values, images with IoU 0.
  int image_count = 0;
  std::optional<double> mean_image_iou_learned, mean_image_iou_single;
  int zero_iou_learned = 0, zero_iou_single = 0;
  double l1_norm = 0, l2_norm = 0;
  // Fewest top-|w| filters whose shares add up to at least half / 90% of ||w||_1.
  int filters_for_half = 0, filters_for_90 = 0;
  std::vector<FilterWeight> top_filters;  // top `top` by |w_k| (= by share), ties by filter
  std::vector<float> weights;             // w as stored, size dim
  std::vector<float> filter_iou_val;      // val set IoU of every single filter; empty if not stored
  std::vector<ImageIouRecord> image_iou;  // per val image (segmentation)
};

struct FilterConcept {
  int concept_number = 0;
  std::string name, category;
  float weight = 0;    // this concept's w_k
  double share = 0;    // |w_k| / ||w||_1
  int rank = 0;        // 1-based rank of filter k among this concept's filters by |w|
  bool best = false;   // k is this concept's best single filter
  std::optional<float> best_filter_val;  // the best single filter's val score
  ScoreStatsRecord best_filter_val_stats;  // its interval and p (schema version 7; unset before)
};

struct FilterReport {
  std::string space;
  int filter = 0, dim = 0, concept_count = 0;
  std::vector<FilterConcept> best_for;      // every concept with best filter k, by val score
  std::vector<FilterConcept> top_weighted;  // top `top` concepts by share, then |w_k|
};

// Paper Figure 5: for each filter, how many concepts chose it as their best single filter.
struct FilterUsage {
  std::string space;
  int dim = 0, concept_count = 0;
  std::vector<int> concepts_per_filter;  // size dim
  int never_selected = 0;                // filters with count 0
};

// A row of the `concepts` listing.
struct ConceptSummary {
  int concept_number = 0;
  std::string name, category;
  std::optional<float> score_val;  // set IoU (seg) or balanced accuracy (cls) on val
  int best_filter = -1;
  std::optional<float> best_filter_val;
  double l2_norm = 0;
  // score_val's and best_filter_val's 95 % intervals and p-values against chance (schema
  // version 7; unset: not computed), so a listing never shows a score without them.
  ScoreStatsRecord score_val_stats, best_filter_val_stats;
};

class QueryEngine {
 public:
  // The catalog must outlive the engine. Thread-safe: queries may run concurrently.
  explicit QueryEngine(const Catalog& catalog, QueryOptions options = {});
  ~QueryEngine();
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  // Nearest concepts to a stored concept (itself excluded) or to a raw vector of the space's
  // dimension; `category` keeps only concepts of that category.
  NeighborsResult neighbors(const std::string& space, const std::string& concept_name, int k,
                            const std::optional<std::string>& category = std::nullopt);
  NeighborsResult neighbors(const std::string& space, std::span<const float> vector, int k,
                            const std::optional<std::string>& category = std::nullopt);

  // positive - negative arithmetic; inputs are excluded from the results. At least one term.
  AnalogyResult analogy(const std::string& space, const std::vector<std::string>& positive,
                        const std::vector<std::string>& negative, int k,
                        AnalogyMethod method = AnalogyMethod::kAdd,
                        const std::optional<std::string>& category = std::nullopt);

  // At least two distinct spaces; `concepts` (optional) restricts the comparison to those
  // names, each of which must be in every space. Streams: one space's vectors and Gram at a
  // time per thread, then the pairs block by block within options.memory_bytes
  // (docs/QUERIES.md). The two-argument form keeps every D_ijc (per_concept = -1) under the
  // default budget.
  SpaceComparison compare(const std::vector<std::string>& spaces,
                          const std::vector<std::string>& concepts = {});
  SpaceComparison compare(const std::vector<std::string>& spaces, const std::vector<std::string>& concepts,
                          const CompareOptions& options);

  ConceptReport concept_report(const std::string& space, const std::string& concept_name, int top = 10);
  FilterReport filter_report(const std::string& space, int filter, int top = 10);
  FilterUsage filter_usage(const std::string& space);
  std::vector<ConceptSummary> concepts(const std::string& space,
                                       const std::optional<std::string>& category = std::nullopt);

  // The stored concept vectors of a space (catalog order, duplicates by name dropped: the
  // lowest label number wins), with kNotFound suggestions for unknown spaces. `unit`: the
  // cached L2-normalised rows instead (a zero or non-finite vector stays as stored).
  std::vector<ConceptVector> vectors(const std::string& space, bool unit = false);
  // SpaceInfo or kNotFound with suggestions.
  SpaceInfo space_info(const std::string& space);

  // One snapshot per request: while a Snapshot lives, every read of a space by this thread
  // (and by the workers of a comparison it runs) sees the content of the first read, so an
  // answer built from several queries (its SpaceInfo, its hits, each entry of `examples`)
  // never mixes two versions of a space a writer replaces meanwhile. Snapshots nest: the
  // outermost one pins. Not movable; pins only spaces of this engine.
  class Snapshot {
   public:
    explicit Snapshot(QueryEngine& engine);
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    struct Pins;  // internal to src/query (detail/engine_impl.h)

   private:
    std::unique_ptr<Pins> pins_;  // null when an outer snapshot pins already
  };

  // Drops cached vectors and indexes (one space, or all with ""); the next query reloads.
  // (Not needed to see catalog changes: every commit is noticed by itself.)
  void invalidate(const std::string& space = "");
  CacheStats cache_stats() const;
  const QueryOptions& options() const;
  // Which index implementation answers searches ("faiss-flat-ip", "brute-force", ...).
  std::string index_name() const;

 private:
  SpaceComparison compare_once(const std::vector<std::string>& spaces, const std::vector<std::string>& concepts,
                               const CompareOptions& options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Up to `max` names closest to `query` (case-insensitive edit distance; substrings count as
// close), best first; empty when nothing is reasonably close. Bounded work for any query:
// one over 256 bytes gets none, and names over 256 bytes match only by containment.
std::vector<std::string> closest_names(const std::string& query, const std::vector<std::string>& names,
                                       int max = 3);

}  // namespace n2v
