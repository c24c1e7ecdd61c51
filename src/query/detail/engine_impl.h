#pragma once
// Internal to src/query: QueryEngine's state (the per-space cache) and the lookups every
// query shares. Split out so compare.cpp and reports.cpp see it.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "query/query.h"
#include "query/detail/space_data.h"

namespace n2v {

struct QueryEngine::Impl {
  const Catalog& catalog;
  QueryOptions options;
  struct Cached {
    std::shared_ptr<const detail::SpaceData> data;
    uint64_t generation = 0;  // the catalog generation at which it was last confirmed
    uint64_t last_used = 0;   // tick of the last query (LRU order)
    size_t bytes = 0;
  };
  mutable std::mutex mutex;  // guards cache and the counters
  std::unordered_map<std::string, Cached> cache;
  uint64_t tick = 0;
  size_t cached_bytes = 0;
  int64_t loads = 0, evictions = 0;

  // Drops least recently used spaces, never `keep`, until the cache fits options.cache_bytes.
  // Under `mutex`.
  void evict_for(const std::string& keep);

  Impl(const Catalog& c, QueryOptions o) : catalog(c), options(o) {}

  // The space, from the cache when the catalog's record of it is unchanged; kNotFound with
  // suggestions when the catalog has no such space. Within a Snapshot: the pinned content.
  std::shared_ptr<const detail::SpaceData> load(const std::string& space);
  std::shared_ptr<const detail::SpaceData> load_current(const std::string& space);
  [[noreturn]] void throw_unknown_space(const std::string& space) const;

  // Row of a concept by name; kNotFound with suggestions.
  static int row(const detail::SpaceData& s, const std::string& name);
  // Row of a concept that has a direction (kInvalidArgument for a zero vector).
  static int valid_row(const detail::SpaceData& s, const std::string& name);
  // kNotFound with suggestions unless the space has concepts of this category.
  static void check_category(const detail::SpaceData& s, const std::string& category);

  const VectorIndex& index(const detail::SpaceData& s) const;
  const std::vector<detail::ConceptScores>& scores(const detail::SpaceData& s) const;
  std::shared_ptr<const CosineBaseline> baseline(const detail::SpaceData& s) const;  // query/baseline.cpp
};

// The spaces a Snapshot pinned, and the thread's current pins (compare's workers adopt their
// caller's: detail::AdoptPins).
struct QueryEngine::Snapshot::Pins {
  const QueryEngine::Impl* engine = nullptr;
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const detail::SpaceData>> spaces;
};

namespace detail {

extern thread_local QueryEngine::Snapshot::Pins* current_pins;

// Sets this thread's pins for its lifetime (a worker thread running part of a query).
class AdoptPins {
 public:
  explicit AdoptPins(QueryEngine::Snapshot::Pins* pins) : saved_(current_pins) { current_pins = pins; }
  ~AdoptPins() { current_pins = saved_; }
  AdoptPins(const AdoptPins&) = delete;
  AdoptPins& operator=(const AdoptPins&) = delete;

 private:
  QueryEngine::Snapshot::Pins* saved_;
};

}  // namespace detail

}  // namespace n2v
