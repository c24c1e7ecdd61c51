#pragma once
// Internal to src/query: one space's vectors as the queries use them, cached by
// QueryEngine. Not part of the public interface (query.h).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "query/query.h"
#include "index/vector_index.h"

namespace n2v::detail {

// A concept's stored scores, as far as listings and filter reports need them.
struct ConceptScores {
  std::optional<float> score_val;  // set IoU (seg) or balanced accuracy (cls), val
  int best_filter = -1;
  std::optional<float> best_filter_val;
  // Their 95 % intervals and p-values against chance (schema version 7; unset before).
  ScoreStatsRecord score_val_stats, best_filter_val_stats;
};

struct SpaceData {
  SpaceInfo info;
  int n = 0, d = 0;  // concepts (distinct names) x dimension
  // FNV-1a of the names, numbers and stored rows: two loads of a space hold the same content
  // exactly when their fingerprints agree (a reload after eviction keeps it, a writer's
  // replacement changes it). Queries that load a space more than once check it.
  uint64_t fingerprint = 0;
  std::vector<int> numbers;
  std::vector<std::string> names, categories;
  std::vector<float> weights;  // n x d, as stored
  std::vector<float> unit;     // n x d, rows L2-normalised; zero rows where !valid
  std::vector<double> norms;   // L2 norm of each stored row
  std::vector<uint8_t> valid;  // finite and non-zero: has a direction
  std::unordered_map<std::string, int> row_of;   // name -> row
  std::vector<std::string> category_names;       // distinct, sorted
  std::vector<int64_t> id_of_row;                // index id, -1 for invalid rows
  std::vector<int> row_of_id;

  // Built on first need, under `lazy`.
  mutable std::mutex lazy;
  mutable std::unique_ptr<VectorIndex> index;
  mutable std::unique_ptr<std::vector<ConceptScores>> scores;
  mutable std::shared_ptr<const CosineBaseline> baseline;  // null until asked (and where undefined)
  mutable bool baseline_done = false;
};

// Builds the cached form of a space from the catalog's rows (duplicate names: the first,
// i.e. the lowest label number, wins).
std::shared_ptr<SpaceData> build_space(const SpaceInfo& info, std::vector<ConceptVector> vectors);

// Thrown by a query that found a space's content changed between two of its loads (a writer
// committed meanwhile); the query starts again on the new content.
struct SpaceChanged {
  std::string space;
};

// "'a', 'b' or 'c'" (or "and")
std::string quoted_list(const std::vector<std::string>& names, const char* conjunction = "or");

}  // namespace n2v::detail
