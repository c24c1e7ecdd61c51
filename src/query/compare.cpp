// compare(): distances between concept spaces (paper section 5.3, Figure 10) and linear CKA.
//
// On the C concepts shared by all named spaces (matched by name, sorted by name), with W'_s
// the C x K_s matrix of L2-normalised rows of space s:
//   G_s    = d(W_s) = W'_s W'_s^T                       (C x C cosine matrix)
//   D_ij   = ||G_i - G_j||_F^2
//   D_ijc  = sum_b (G_i[c,b] - G_j[c,b])^2              (row c; sum_c D_ijc = D_ij)
//   CKA_ij = <H G_i H, H G_j H>_F / (||H G_i H||_F ||H G_j H||_F),  H = I - 11^T / C
// with <H G_i H, H G_j H>_F = <G_i, G_j>_F - 2C r_i.r_j + C^2 g_i g_j, where r_s = G_s 1 / C
// (row means) and g_s = 1^T G_s 1 / C^2 (grand mean), so no centred copy is stored.
//
// It streams, so that m = 1,000 spaces of C = 1,200 concepts (5.8 GB of Grams, 600 M values
// of D_ijc) run within a memory budget:
//   0. names: each space is read once for its names (in parallel), the shared ones kept;
//   1. Grams: one space per thread at a time (read, Gram in float, upper triangle mirrored,
//      dropped), written into a store laid out row-interleaved,
//      [c][s][b]: row c of every space together, so row c of a block of B spaces is one
//      contiguous B x C panel. Per space only r_s, the row norms n_sc = ||G_s[c]||^2, g_s,
//      ||G_s||_F^2 and its HSIC term stay. The store is memory when it fits the budget, else an
//      unlinked temporary file read back with pread into fixed buffers (not mapped, so the
//      process's resident memory stays within the budget; the page cache holds what it can);
//   2. pairs: blocks of B spaces, B from the budget; for each block pair I <= J (a task of
//      the thread pool) and each row c, P = X_Ic X_Jc^T (float GEMM, inner dimension C)
//      gives <G_i[c], G_j[c]> for all of its pairs, and D_ijc = n_ic + n_jc - 2 P_ij
//      (double, clamped at 0). Where that difference cancels (D_ijc < (n_ic + n_jc) / 16:
//      rows nearly equal, relative float error of P would show) the row pair is recomputed
//      directly (squared_distance_and_dot: float lanes, double sum), so identical spaces give
//      exactly 0. Per pair D_ij, <G_i, G_j> and the per-category sums add up in double in row
//      order; D_ijc is kept whole (per_concept = -1) or as the N largest (a small heap).
// The float products (query/gemm.h, chosen once per comparison by the CPU and NET2VEC_SIMD):
//   - AVX-512 or AVX2+FMA (bit-identical to each other): both passes through gemm_abt's
//     packed micro-kernels, the Gram as its upper triangle; row statistics in double lanes;
//   - portable (NET2VEC_SIMD=portable, or a CPU without AVX2+FMA): as before this kernel
//     existed, bit for bit: the Gram with the inner_products kernel (itself AVX2 or SSE2),
//     the pairs with Eigen's GEMM (SSE2 in a baseline x86-64 build).
// The wide kernels' packing buffers (about 1.1 MiB per thread, kept by the thread) are not
// counted in the memory budget.
// Precision (CompareOptions::precision): the Grams, store and pairwise products are double up
// to kAutoDoubleEntries Gram entries, float beyond (or as asked). Double: unit rows from the
// stored floats over their double norms, Eigen's double GEMM for both passes; values agree
// with a float64 reference to ~1e-12 of themselves (~4e-9 for a CKA whose centring cancels
// 1e6-fold: cosines ~0.999). Float (the products below): D_ijc to ~1e-5 relative where P is
// used, <G_i, G_j> per row in float; a CKA to ~1e-6 of its range, but a CKA that is a small
// remainder of centring loses what the Grams' rounding (~6e-8 of each entry near 1) hides:
// ~1e-2 of itself at cosines ~0.999. The kinds of float path differ in the last float digits
// (their summation orders differ). Results do not depend on the number of threads; the block
// size can change the last digits on the portable and double paths (Eigen's GEMM summation
// order), not on the wide ones (each entry is one FMA chain in k-blocks of 256 whatever the
// shapes).
//
// In the code, compare_once() runs four units in order: names_pass() (step 0: the shared
// concepts, their categories, the exclusions), plan_budget() (the budget: store in memory or in
// a file, block size, threads), gram_pass() (step 1: space_gram() of each space into the
// GramStore, both in query/detail/gram_store.h) and PairPass (step 2). Every read of a space
// after its first goes through SpaceReader's fingerprint check, so a space replaced between two
// reads throws detail::SpaceChanged and compare() starts again.

#include <Eigen/Dense>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>

#include "common/error.h"
#include "query/detail/gram_store.h"
#include "query/detail/engine_impl.h"
#include "query/detail/similarity.h"
#include "query/gemm.h"

namespace n2v {
namespace {

using detail::GramStore;
using detail::GramSummary;
template <class T>
using GramRows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Runs fn(i, worker) for i = 0..n-1 on up to `workers` threads, worker = 0 .. workers-1 the
// thread running it (for per-thread buffers); std::thread rather than OpenMP: libgomp's
// spinning workers would compete with OpenBLAS threads in FAISS searches later. The first
// error (by time) is rethrown once all have stopped.
template <class Fn>
void parallel_for(int n, int workers, Fn fn) {
  workers = std::max(1, std::min(n, workers));
  if (workers <= 1) {
    for (int i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  QueryEngine::Snapshot::Pins* const pins = detail::current_pins;  // the caller's snapshot, if any
  auto work = [&](int worker) {
    const detail::AdoptPins adopt(pins);
    for (int i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i, worker);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < workers; ++t) threads.emplace_back(work, t);
  work(0);
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

// The N largest (value, index) of a stream, in N slots kept as a heap whose top is the
// weakest; ties go to the lower index. Slots start empty (-inf).
struct Largest {
  static bool better(double v, int c, double w, int e) { return v > w || (v == w && c < e); }
  // Offers (v, c) to the heap in slots[0..n).
  static void offer(double* value, int* index, int n, double v, int c) {
    if (!better(v, c, value[0], index[0])) return;
    // Replace the top and sift it down.
    int k = 0;
    for (;;) {
      const int l = 2 * k + 1, r = l + 1;
      int weakest = k;
      double wv = v;
      int wc = c;
      if (l < n && better(wv, wc, value[l], index[l])) weakest = l, wv = value[l], wc = index[l];
      if (r < n && better(wv, wc, value[r], index[r])) weakest = r, wv = value[r], wc = index[r];
      if (weakest == k) break;
      value[k] = value[weakest];
      index[k] = index[weakest];
      k = weakest;
    }
    value[k] = v;
    index[k] = c;
  }
};

// ||x - y||^2 and x.y of two Gram rows, summed in double: float rows in float lanes
// (index/vector_index.h), double rows in order.
void row_distance_and_dot(const float* x, const float* y, int n, double* sq, double* dot) {
  squared_distance_and_dot(x, y, n, sq, dot);
}
void row_distance_and_dot(const double* x, const double* y, int n, double* sq, double* dot) {
  double s = 0, p = 0;
  for (int k = 0; k < n; ++k) {
    const double d = x[k] - y[k];
    s += d * d;
    p += x[k] * y[k];
  }
  *sq = s;
  *dot = p;
}

// Fraction of n_ic + n_jc below which D_ijc is recomputed directly (see the file comment).
constexpr double kRecomputeBelow = 1.0 / 16;

// CKA is undefined when a centred Gram is zero (all concepts alike): hsic <= kTiny * frob2.
constexpr double kTiny = 1e-12;

// The spaces of one comparison. first_read(s) reads space s and records its content's
// fingerprint; every later read, operator()(s), must find the same content, else it throws
// detail::SpaceChanged (a writer replaced the space between two reads).
class SpaceReader {
 public:
  using Load = std::function<std::shared_ptr<const detail::SpaceData>(const std::string&)>;
  SpaceReader(const std::vector<std::string>& spaces, Load load)
      : spaces_(spaces), load_(std::move(load)), fingerprint_(spaces.size(), 0) {}

  int size() const { return static_cast<int>(spaces_.size()); }
  const std::vector<std::string>& spaces() const { return spaces_; }

  // Thread-safe for distinct s.
  std::shared_ptr<const detail::SpaceData> first_read(int s) {
    std::shared_ptr<const detail::SpaceData> data = load_(spaces_[s]);
    fingerprint_[s] = data->fingerprint;
    return data;
  }
  std::shared_ptr<const detail::SpaceData> operator()(int s) const {
    std::shared_ptr<const detail::SpaceData> data = load_(spaces_[s]);
    if (data->fingerprint != fingerprint_[s]) throw detail::SpaceChanged{spaces_[s]};
    return data;
  }
  // Unchecked: only for an error message's suggestions.
  std::shared_ptr<const detail::SpaceData> for_message(int s) const { return load_(spaces_[s]); }

 private:
  const std::vector<std::string>& spaces_;
  Load load_;
  std::vector<uint64_t> fingerprint_;  // each space's content as first read
};

// ---- Step 0: the names pass ----

// The shared concepts' categories: the first space's, as an index per concept into the sorted
// distinct names.
struct Categories {
  std::vector<std::string> names;  // distinct, sorted
  std::vector<int> count;          // shared concepts of each
  std::vector<int> of;             // per shared concept (row c), its index into names
  int size() const { return static_cast<int>(names.size()); }
};

// What the names pass found besides what it wrote into the SpaceComparison.
struct SharedNames {
  Categories categories;
  int max_dim = 0;  // the widest space's dimension (pass 1's unit rows)
};

// Which spaces have which candidate names, from one read of every space.
struct Presence {
  int candidates = 0;
  std::vector<uint8_t> status;  // [s * candidates + k]: 0 absent, 1 present, 2 present with a zero vector
  std::vector<int> dims;        // each space's dimension
  // Without a concept list: each space's names that are not candidates (not in the first space).
  std::vector<std::vector<std::string>> others;
  uint8_t at(int s, int k) const { return status[static_cast<size_t>(s) * candidates + k]; }
  bool has(int s, int k) const { return at(s, k) != 0; }
};

// The candidates: every name of the first space, or the subset given (each once, in order).
// The first read of the first space.
std::vector<std::string> candidate_names(SpaceReader& read, const std::vector<std::string>& concepts) {
  const std::shared_ptr<const detail::SpaceData> first = read.first_read(0);
  if (concepts.empty()) return first->names;
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const std::string& name : concepts)
    if (seen.insert(name).second) names.push_back(name);
  return names;
}

// Every space read (in parallel) for which candidates it has, and with a direction: the first
// read of each but the first. The first error in space order is rethrown, as a serial read would.
// With `all_names`, also each space's names that are not candidates (Presence::others).
Presence presence(SpaceReader& read, const std::vector<std::string>& names, bool all_names, int workers) {
  const int m = read.size();
  Presence p;
  p.candidates = static_cast<int>(names.size());
  p.status.assign(static_cast<size_t>(m) * p.candidates, 0);
  p.dims.assign(m, 0);
  p.others.resize(m);
  const std::set<std::string> candidate_set(names.begin(), names.end());
  std::vector<std::exception_ptr> failed(m);
  parallel_for(m, workers, [&](int s, int) {
    try {
      const std::shared_ptr<const detail::SpaceData> data = s == 0 ? read(0) : read.first_read(s);
      p.dims[s] = data->d;
      for (int k = 0; k < p.candidates; ++k) {
        const auto it = data->row_of.find(names[k]);
        if (it == data->row_of.end()) continue;
        p.status[static_cast<size_t>(s) * p.candidates + k] = data->valid[it->second] ? 1 : 2;
      }
      if (all_names)
        for (const std::string& name : data->names)
          if (!candidate_set.count(name)) p.others[s].push_back(name);
    } catch (...) {
      failed[s] = std::current_exception();
    }
  });
  for (const std::exception_ptr& e : failed)
    if (e) std::rethrow_exception(e);
  return p;
}

// With names given: each must be in every space (kNotFound naming the spaces without it, or
// with suggestions when no space has it).
void check_given(const SpaceReader& read, const std::vector<std::string>& names, const Presence& p) {
  const int m = read.size();
  for (int k = 0; k < p.candidates; ++k) {
    const std::string& name = names[k];
    std::vector<std::string> lacking;
    for (int s = 0; s < m; ++s)
      if (!p.has(s, k)) lacking.push_back(read.spaces()[s]);
    if (static_cast<int>(lacking.size()) == m) {
      std::vector<std::string> all;
      for (int s = 0; s < m; ++s) {
        const auto data = read.for_message(s);
        all.insert(all.end(), data->names.begin(), data->names.end());
      }
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      const std::vector<std::string> close = closest_names(name, all);
      N2V_THROW_SUGGESTING(kNotFound, close, "no concept '" << name << "' in any of the spaces compared"
                                          << (close.empty() ? "" : "; did you mean " + detail::quoted_list(close) + "?"));
    }
    N2V_CHECK(lacking.empty(), kNotFound,
              "concept '" << name << "' is not in space" << (lacking.size() > 1 ? "s " : " ")
                          << detail::quoted_list(lacking, "and") << ": a comparison needs it in every space");
  }
}

// out.concepts (sorted by name): the candidates in every space with a direction in each; the
// rest, and every name only other spaces have, go to out.excluded (sorted by name) with the
// spaces that lack them and those where their vector is zero.
void choose_shared(const std::vector<std::string>& spaces, const std::vector<std::string>& names, const Presence& p,
                   SpaceComparison& out) {
  const int m = static_cast<int>(spaces.size());
  for (int k = 0; k < p.candidates; ++k) {
    LeftOutConcept left{names[k], {}, {}};
    for (int s = 0; s < m; ++s) {
      if (p.at(s, k) == 0) left.missing_from.push_back(spaces[s]);
      else if (p.at(s, k) == 2) left.zero_in.push_back(spaces[s]);
    }
    if (left.missing_from.empty() && left.zero_in.empty()) out.concepts.push_back(names[k]);
    else out.excluded.push_back(std::move(left));
  }
  // Names the first space lacks (it gave the candidates): missing from it and from every other
  // space without them. Presence does not record their zero vectors: they are left out anyway.
  std::map<std::string, std::vector<bool>> elsewhere;
  for (int s = 1; s < m; ++s)
    for (const std::string& name : p.others[s]) {
      std::vector<bool>& in = elsewhere[name];
      in.resize(m, false);
      in[s] = true;
    }
  for (const auto& [name, in] : elsewhere) {
    LeftOutConcept left{name, {}, {}};
    for (int s = 0; s < m; ++s)
      if (!in[s]) left.missing_from.push_back(spaces[s]);
    out.excluded.push_back(std::move(left));
  }
  std::sort(out.concepts.begin(), out.concepts.end());
  std::sort(out.excluded.begin(), out.excluded.end(),
            [](const LeftOutConcept& a, const LeftOutConcept& b) { return a.name < b.name; });
}

// kInvalidArgument unless at least two concepts are shared.
void check_two_shared(const std::vector<std::string>& spaces, const SpaceComparison& out) {
  const int C = out.shared();
  const std::string which = "spaces " + detail::quoted_list(spaces, "and");
  size_t zero = 0;
  for (const LeftOutConcept& left : out.excluded) zero += left.missing_from.empty() ? 1 : 0;
  const std::string left_out =
      zero == 0 ? std::string() : " (after leaving out " + std::to_string(zero) + " with a zero vector)";
  N2V_CHECK(C > 0, kInvalidArgument, "no concept is shared by all of " << which << left_out);
  N2V_CHECK(C > 1, kInvalidArgument,
            "only one concept ('" << out.concepts[0] << "') is shared by all of " << which << left_out
                                  << ": comparing spaces needs at least two");
}

// out.categories (the first space's category of each shared concept) and their index.
Categories categories_of(const SpaceReader& read, SpaceComparison& out) {
  {
    const auto first = read(0);
    for (const std::string& name : out.concepts) out.categories.push_back(first->categories[first->row_of.at(name)]);
  }
  std::map<std::string, int> category_size;
  for (const std::string& cat : out.categories) ++category_size[cat];
  Categories k;
  for (const auto& [cat, n] : category_size) k.names.push_back(cat);
  for (const auto& [cat, n] : category_size) k.count.push_back(n);
  k.of.resize(out.concepts.size());
  for (size_t c = 0; c < k.of.size(); ++c)
    k.of[c] = static_cast<int>(std::lower_bound(k.names.begin(), k.names.end(), out.categories[c]) - k.names.begin());
  return k;
}

// Step 0: the names to compare (every name of the first space that all others have, or the
// subset given, each of which must be in every space), out.space_info, out.concepts,
// out.excluded and out.categories. The first read of every space.
SharedNames names_pass(SpaceReader& read, const std::vector<std::string>& concepts, int workers, SpaceComparison& out) {
  SharedNames shared;
  {
    const std::vector<std::string> names = candidate_names(read, concepts);
    const Presence present = presence(read, names, concepts.empty(), workers);
    if (!concepts.empty()) check_given(read, names, present);
    for (int s = 0; s < read.size(); ++s) out.space_info.push_back(read(s)->info);
    choose_shared(read.spaces(), names, present, out);
    shared.max_dim = *std::max_element(present.dims.begin(), present.dims.end());
  }
  check_two_shared(read.spaces(), out);
  shared.categories = categories_of(read, out);
  return shared;
}

// ---- The budget ----

// What the memory budget allows. Fixed: the per-space summaries (row means and norms). Pass 1,
// per thread: its Gram and its unit rows. Pass 2, per task (block pair of b spaces each): two
// panels read from the file, Eigen's packed copies of them, P, and the pairs' accumulators.
struct Plan {
  int m = 0, C = 0, K = 0;
  size_t scalar = sizeof(float);  // bytes of a Gram entry: float or double (CompareOptions::precision)
  int keep = 0;  // D_ijc kept per pair in a heap (per_concept = N > 0)
  size_t budget = 0, row_bytes = 0, store_bytes = 0, fixed = 0, pass1_thread = 0, pair_bytes = 0;
  bool in_file = false;  // the store goes to a temporary file
  size_t avail = 0;      // the budget less the fixed part and the store if in memory
  int threads1 = 1;      // pass 1's threads
  int threads2 = 1, B = 1, nb = 1;  // pass 2's threads, block size and blocks
  std::vector<std::pair<int, int>> tasks;  // block pairs I <= J

  size_t task_bytes(size_t b, bool file) const {
    return (file ? 2 : 0) * b * row_bytes + 2 * b * row_bytes + b * b * (scalar + pair_bytes);
  }
  // The largest b in [0, m] with threads * task_bytes(b) <= avail.
  int largest_block(int threads) const {
    int lo = 0, hi = m;
    while (lo < hi) {
      const int mid = lo + (hi - lo + 1) / 2;
      if (threads * task_bytes(mid, in_file) <= avail) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  void record(CompareStats& stats) const {
    stats.budget_bytes = budget;
    stats.store_bytes = store_bytes;
    stats.temp_file = in_file;
    stats.threads = threads2;
    stats.block = B;
    stats.blocks = nb;
    stats.block_pairs = static_cast<int>(tasks.size());
    stats.working_bytes = fixed + (in_file ? 0 : store_bytes) +
                          std::max(threads1 * pass1_thread, threads2 * task_bytes(B, in_file));
  }
};

// kInvalidArgument naming the minimum when the budget cannot hold one Gram.
Plan plan_budget(int m, int C, int K, int max_dim, bool in_double, const CompareOptions& options, int workers) {
  Plan p;
  p.m = m, p.C = C, p.K = K;
  p.scalar = in_double ? sizeof(double) : sizeof(float);
  p.keep = options.per_concept < 0 ? 0 : std::min(options.per_concept, C);
  p.budget = options.memory_bytes ? options.memory_bytes : CompareOptions::kDefaultMemoryBytes;
  p.row_bytes = static_cast<size_t>(C) * p.scalar;
  const size_t gram_bytes = p.row_bytes * C;
  p.store_bytes = gram_bytes * m;
  p.fixed = static_cast<size_t>(m) * C * 2 * sizeof(double);
  p.pass1_thread = gram_bytes + p.row_bytes * static_cast<size_t>(max_dim);
  // Per local pair: D_ij, <G_i, G_j>, the K category sums; with N largest kept, the heap (N
  // values and indexes) and its weakest value.
  p.pair_bytes = (2 + K) * sizeof(double) + p.keep * (sizeof(double) + sizeof(int)) + (p.keep > 0 ? sizeof(double) : 0);
  const size_t minimum = p.fixed + std::max(p.pass1_thread, p.task_bytes(1, true));
  N2V_CHECK(p.budget >= minimum, kInvalidArgument,
            "compare's memory budget of " << p.budget << " bytes is too small for " << m << " spaces of " << C
                                          << " shared concepts: it needs at least " << minimum
                                          << " bytes (one " << C << " x " << C << " Gram matrix, its space's unit rows and "
                                          << "the per-space row statistics)");
  p.in_file = p.fixed + p.store_bytes + std::max(p.pass1_thread, p.task_bytes(1, false)) > p.budget;
  p.avail = p.budget - p.fixed - (p.in_file ? 0 : p.store_bytes);
  p.threads1 = static_cast<int>(std::clamp<size_t>(p.avail / p.pass1_thread, 1, std::min(workers, m)));

  // Pass 2's block size: as large as `threads` tasks allow, but small enough that there are
  // at least two tasks per thread.
  p.threads2 = std::min(workers, m * (m + 1) / 2);
  while (p.threads2 > 1 && p.largest_block(p.threads2) < 1) --p.threads2;
  int wanted_blocks = 1;
  if (p.threads2 > 1)
    while (wanted_blocks * (wanted_blocks + 1) / 2 < 2 * p.threads2) ++wanted_blocks;
  p.B = std::max(1, std::min(p.largest_block(p.threads2), (m + wanted_blocks - 1) / wanted_blocks));
  p.nb = (m + p.B - 1) / p.B;
  for (int I = 0; I < p.nb; ++I)
    for (int J = I; J < p.nb; ++J) p.tasks.emplace_back(I, J);
  p.threads2 = std::min<int>(p.threads2, static_cast<int>(p.tasks.size()));
  return p;
}

// CompareOptions::progress: one unit per space's Gram, then one per (block pair, row).
class Progress {
 public:
  Progress(const std::function<void(int64_t, int64_t)>& report, int64_t total) : report_(report), total_(total) {}
  void advance(int64_t units) {
    if (!report_) return;
    // Counted under the lock, so that the calls see `done` increase (counted outside it, a
    // thread could report a larger count before another reported a smaller one).
    std::lock_guard lock(mutex_);
    const int64_t now = done_.fetch_add(units) + units;
    report_(now, total_);
  }

 private:
  const std::function<void(int64_t, int64_t)>& report_;
  const int64_t total_;
  std::atomic<int64_t> done_{0};
  std::mutex mutex_;
};

// ---- Step 1: Grams into the store ----

// Every space's Gram of the shared concepts into the store, one space per thread at a time;
// their summaries, by space.
template <class T>
std::vector<GramSummary> gram_pass(const SpaceReader& read, const std::vector<std::string>& concepts, GemmPath path,
                                   int threads, GramStore<T>& store, Progress& progress) {
  const int m = read.size(), C = static_cast<int>(concepts.size());
  std::vector<GramSummary> summary(m);
  // Per worker: its space's unit rows and its Gram, reused from space to space (fresh
  // multi-megabyte buffers would each be mapped and faulted in again).
  std::vector<std::vector<T>> unit_rows(threads);
  std::vector<std::unique_ptr<T[]>> grams(threads);
  parallel_for(m, threads, [&](int s, int worker) {
    {
      const std::shared_ptr<const detail::SpaceData> data = read(s);
      std::vector<int> rows;
      rows.reserve(C);
      for (const std::string& name : concepts) rows.push_back(data->row_of.at(name));
      if (!grams[worker]) grams[worker].reset(new T[static_cast<size_t>(C) * C]);
      T* const g_buffer = grams[worker].get();
      summary[s] = space_gram(*data, rows, path, unit_rows[worker], g_buffer);
      store.put(s, g_buffer);
    }
    progress.advance(1);
  });
  return summary;
}

// ---- Step 2: pairs, block pair by block pair ----

// Every pair i < j in row order; per_concept sized C where every D_ijc is kept.
std::vector<PairComparison> empty_pairs(int m, int C, int per_concept) {
  std::vector<PairComparison> pairs;
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) {
      PairComparison pair;
      pair.i = i;
      pair.j = j;
      if (per_concept < 0) pair.per_concept.assign(C, 0.0);
      pairs.push_back(std::move(pair));
    }
  return pairs;
}

// Step 2 over the store: each task (block pair I <= J) streamed over the C rows, its pairs'
// D_ij, <G_i, G_j>, category sums and kept D_ijc accumulated in row order, then written to
// their PairComparison (distance, CKA, categories, largest; per_concept as it goes).
template <class T>
class PairPass {
 public:
  PairPass(const GramStore<T>& store, const std::vector<GramSummary>& summary,
           const std::vector<detail::UnbiasedTerms>& unbiased, const detail::UnbiasedRows& unbiased_rows,
           const Plan& plan, const Categories& categories,
           GemmPath path, int per_concept, std::vector<PairComparison>& pairs)
      : store_(store), summary_(summary), unbiased_(unbiased), unbiased_rows_(unbiased_rows), plan_(plan), categories_(categories), path_(path),
        per_concept_(per_concept), pairs_(pairs) {}

  // Every task on the plan's threads; the (pair, row) values recomputed directly.
  int64_t run(Progress& progress) {
    std::atomic<int64_t> recomputed{0};
    parallel_for(static_cast<int>(plan_.tasks.size()), plan_.threads2, [&](int t, int) {
      recomputed += block_pair(plan_.tasks[t].first, plan_.tasks[t].second, progress);
    });
    return recomputed;
  }

 private:
  // One task: spaces i0 .. i0+bi-1 against j0 .. j0+bj-1, local pair (a, b) at a * bj + b.
  struct Task {
    Task(const Plan& plan, int I, int J)
        : diagonal(I == J), i0(I * plan.B), bi(std::min(plan.B, plan.m - i0)), j0(J * plan.B),
          bj(std::min(plan.B, plan.m - j0)), np(static_cast<size_t>(bi) * bj), distance(np, 0.0), inner(np, 0.0),
          category_sum(np * plan.K, 0.0), top_value(np * plan.keep, -std::numeric_limits<double>::infinity()),
          top_index(np * plan.keep, std::numeric_limits<int>::max()),
          weakest(plan.keep > 0 ? np : 0, -std::numeric_limits<double>::infinity()) {}
    bool diagonal;
    int i0, bi, j0, bj;
    size_t np;
    std::vector<double> distance, inner;
    std::vector<double> category_sum;  // category k's sum for local pair q at k * np + q
    std::vector<double> top_value;     // each pair's heap of its `keep` largest D_ijc
    std::vector<int> top_index;
    // The weakest value in each pair's heap (top_value[q * keep]), contiguous: most D_ijc are
    // turned away by this one comparison, without touching the heaps' lines.
    std::vector<double> weakest;
  };

  size_t pair_index(int i, int j) const {  // i < j, row order
    const size_t m = static_cast<size_t>(plan_.m);
    return static_cast<size_t>(i) * m - static_cast<size_t>(i) * (i + 1) / 2 + (j - i - 1);
  }

  int64_t block_pair(int I, int J, Progress& progress) {
    Task t(plan_, I, J);
    const int C = plan_.C;
    std::vector<T> panel_i(plan_.in_file ? static_cast<size_t>(t.bi) * C : 0);
    std::vector<T> panel_j(plan_.in_file && !t.diagonal ? static_cast<size_t>(t.bj) * C : 0);
    GramRows<T> P(t.bi, t.bj);
    std::vector<double> norm_j(t.bj);
    int64_t direct = 0;
    for (int c = 0; c < C; ++c) {
      const T* xi = store_.panel(c, t.i0, t.bi, panel_i.data());
      const T* xj = t.diagonal ? xi : store_.panel(c, t.j0, t.bj, panel_j.data());
      const Eigen::Map<const GramRows<T>> Xi(xi, t.bi, C), Xj(xj, t.bj, C);
      bool wide = false;  // the float kernels of query/gemm.h; else Eigen's GEMM (float or double)
      if constexpr (std::is_same_v<T, float>) {
        wide = path_ != GemmPath::kPortable;
        if (wide) gemm_abt(path_, xi, C, xj, C, t.bi, t.bj, C, P.data(), t.bj, /*upper=*/t.diagonal);
      }
      if (!wide && t.diagonal) P.template triangularView<Eigen::Upper>() = Xi * Xi.transpose();
      else if (!wide) P.noalias() = Xi * Xj.transpose();
      for (int b = 0; b < t.bj; ++b) norm_j[b] = summary_[t.j0 + b].row_norm2[c];
      direct += add_row(t, c, xi, xj, P.data(), norm_j.data());
      progress.advance(1);
    }
    finish(t);
    return direct;
  }

  // Row c's D_ijc of every pair of the task from P = X_Ic X_Jc^T; the values recomputed directly.
  int64_t add_row(Task& t, int c, const T* xi, const T* xj, const T* P, const double* norm_j) {
    const int C = plan_.C, keep = plan_.keep, i0 = t.i0, j0 = t.j0, bi = t.bi, bj = t.bj;
    const bool diagonal = t.diagonal, all = per_concept_ < 0;
    double* category_row = t.category_sum.data() + static_cast<size_t>(categories_.of[c]) * t.np;
    int64_t direct = 0;
    for (int a = 0; a < bi; ++a) {
      const int i = i0 + a;
      const double ni = summary_[i].row_norm2[c];
      const size_t q0 = static_cast<size_t>(a) * bj;  // this row of local pairs
      const T* p_row = P + q0;
      double* const distance_row = t.distance.data() + q0;
      double* const inner_row = t.inner.data() + q0;
      double* const category_pair = category_row + q0;
      for (int b = diagonal ? a + 1 : 0; b < bj; ++b) {
        const double nij = ni + norm_j[b];
        double dot = p_row[b];
        double d = nij - 2.0 * dot;
        if (d < kRecomputeBelow * nij) {
          row_distance_and_dot(xi + static_cast<size_t>(a) * C, xj + static_cast<size_t>(b) * C, C, &d, &dot);
          ++direct;
        }
        d = std::max(d, 0.0);
        distance_row[b] += d;
        inner_row[b] += dot;
        category_pair[b] += d;
        const size_t q = q0 + b;
        if (keep > 0) {
          if (d >= t.weakest[q]) {  // may enter (equal values: the heap decides by index)
            Largest::offer(t.top_value.data() + q * keep, t.top_index.data() + q * keep, keep, d, c);
            t.weakest[q] = t.top_value[q * keep];
          }
        } else if (all) {
          pairs_[pair_index(i, j0 + b)].per_concept[c] = d;
        }
      }
    }
    return direct;
  }

  // The task's pairs' distance, CKA, category means and largest D_ijc.
  void finish(const Task& t) {
    const int C = plan_.C, K = plan_.K, keep = plan_.keep;
    const Eigen::MatrixXd pair_terms =
        C >= 4 ? detail::unbiased_pair_terms(unbiased_rows_, t.i0, t.bi, t.j0, t.bj, C) : Eigen::MatrixXd();
    for (int a = 0; a < t.bi; ++a)
      for (int b = t.diagonal ? a + 1 : 0; b < t.bj; ++b) {
        const int i = t.i0 + a, j = t.j0 + b;
        const size_t q = static_cast<size_t>(a) * t.bj + b;
        PairComparison& pair = pairs_[pair_index(i, j)];
        const GramSummary& x = summary_[i];
        const GramSummary& y = summary_[j];
        pair.distance = t.distance[q];
        pair.distance_per_pair = t.distance[q] / (static_cast<double>(C) * (C - 1));  // C >= 2
        const double hsic = t.inner[q] - 2.0 * C * x.row_mean.dot(y.row_mean) +
                            static_cast<double>(C) * C * x.grand_mean * y.grand_mean;
        pair.cka = x.hsic > kTiny * x.frob2 && y.hsic > kTiny * y.frob2 ? hsic / std::sqrt(x.hsic * y.hsic) : NAN;
        pair.cka_unbiased = unbiased_cka(t.inner[q], C >= 4 ? pair_terms(a, b) : 0.0, i, j);
        for (int k = 0; k < K; ++k) {
          const int n = categories_.count[k];
          pair.categories.push_back({categories_.names[k], n, t.category_sum[static_cast<size_t>(k) * t.np + q] / n});
        }
        if (keep > 0) {
          for (int e = 0; e < keep; ++e)
            if (t.top_index[q * keep + e] != std::numeric_limits<int>::max())
              pair.largest.emplace_back(t.top_index[q * keep + e], t.top_value[q * keep + e]);
          std::sort(pair.largest.begin(), pair.largest.end(), [](const auto& u, const auto& v) {
            return Largest::better(u.second, u.first, v.second, v.first);
          });
        }
      }
  }

  // Unbiased CKA of spaces i, j from <G_i, G_j>_F and their pair terms (query/detail/similarity.h);
  // NaN where undefined.
  double unbiased_cka(double inner, double pair_terms, int i, int j) const {
    const detail::UnbiasedTerms& u = unbiased_[i];
    const detail::UnbiasedTerms& v = unbiased_[j];
    if (plan_.C < 4 || !u.defined || !v.defined) return NAN;
    return detail::unbiased_hsic(inner, pair_terms, u, v, plan_.C) / std::sqrt(u.self * v.self);
  }

  const GramStore<T>& store_;
  const std::vector<GramSummary>& summary_;
  const std::vector<detail::UnbiasedTerms>& unbiased_;
  const detail::UnbiasedRows& unbiased_rows_;
  const Plan& plan_;
  const Categories& categories_;
  const GemmPath path_;
  const int per_concept_;
  std::vector<PairComparison>& pairs_;
};

// The m x m distance and CKA matrices from the pairs; why each undefined CKA is. Both CKA
// matrices are symmetric by construction and their diagonal is exactly 1 where defined.
void fill_matrices(const std::vector<GramSummary>& summary, const std::vector<detail::UnbiasedTerms>& unbiased,
                   SpaceComparison& out) {
  const int m = out.m;
  out.distance.assign(static_cast<size_t>(m) * m, 0.0);
  out.distance_per_pair.assign(static_cast<size_t>(m) * m, 0.0);
  out.cka.assign(static_cast<size_t>(m) * m, 0.0);
  for (int s = 0; s < m; ++s)
    out.cka[static_cast<size_t>(s) * m + s] = summary[s].hsic > kTiny * summary[s].frob2 ? 1.0 : NAN;
  for (const PairComparison& p : out.pairs) {
    out.distance[static_cast<size_t>(p.i) * m + p.j] = out.distance[static_cast<size_t>(p.j) * m + p.i] = p.distance;
    out.distance_per_pair[static_cast<size_t>(p.i) * m + p.j] =
        out.distance_per_pair[static_cast<size_t>(p.j) * m + p.i] = p.distance_per_pair;
    out.cka[static_cast<size_t>(p.i) * m + p.j] = out.cka[static_cast<size_t>(p.j) * m + p.i] = p.cka;
  }
  std::vector<bool> linear_defined(m);
  for (int s = 0; s < m; ++s) linear_defined[s] = !std::isnan(out.cka[static_cast<size_t>(s) * m + s]);
  const int C = out.shared();
  out.cka_unbiased.assign(static_cast<size_t>(m) * m, 0.0);
  for (int s = 0; s < m; ++s)
    out.cka_unbiased[static_cast<size_t>(s) * m + s] = C >= 4 && unbiased[s].defined ? 1.0 : NAN;
  for (PairComparison& p : out.pairs) {
    out.cka_unbiased[static_cast<size_t>(p.i) * m + p.j] = out.cka_unbiased[static_cast<size_t>(p.j) * m + p.i] =
        p.cka_unbiased;
    if (std::isnan(p.cka)) p.cka_undefined = detail::linear_cka_undefined(out.spaces, linear_defined, p.i, p.j);
    if (std::isnan(p.cka_unbiased))
      p.cka_unbiased_undefined = detail::unbiased_cka_undefined(out.spaces, unbiased, C, p.i, p.j);
  }
}

// The stored ids of the spaces named (whichever spelling of a layer was given); kInvalidArgument
// for fewer than two, one named twice, or a bad per_concept.
std::vector<std::string> checked_spaces(const std::vector<std::string>& named, const CompareOptions& options) {
  std::vector<std::string> spaces;
  for (const std::string& name : named) spaces.push_back(canonical_space_id(name));
  N2V_CHECK(spaces.size() >= 2, kInvalidArgument,
            "compare needs at least two spaces, got " << spaces.size());
  for (size_t i = 0; i < spaces.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      N2V_CHECK(spaces[i] != spaces[j], kInvalidArgument, "space '" << spaces[i] << "' is named twice");
  N2V_CHECK(options.per_concept >= -1, kInvalidArgument,
            "per_concept must be -1 (all), 0 (none) or a count of concepts, got " << options.per_concept);
  N2V_CHECK(options.permutations >= 0, kInvalidArgument,
            "permutations must be 0 (no permutation test) or more, got " << options.permutations);
  return spaces;
}

// Steps 1 to 3 with Grams of T (float or double): the Grams, the pairs, the matrices, the
// permutation test.
template <class T>
void grams_and_pairs(const SpaceReader& read, const Plan& plan, const SharedNames& shared, GemmPath path,
                     const CompareOptions& options, SpaceComparison& out) {
  using Clock = std::chrono::steady_clock;
  const int m = plan.m, C = plan.C;
  Progress progress(options.progress, m + static_cast<int64_t>(plan.tasks.size()) * C);

  // 1. Grams, one space per thread at a time.
  const auto t1 = Clock::now();
  GramStore<T> store(m, C, plan.in_file, options.temp_dir);
  const std::vector<GramSummary> summary = gram_pass(read, out.concepts, path, plan.threads1, store, progress);
  out.stats.gram_seconds = std::chrono::duration<double>(Clock::now() - t1).count();

  // 2. Pairs, block pair by block pair, each streamed over the C rows.
  out.pairs = empty_pairs(m, C, options.per_concept);
  const auto t2 = Clock::now();
  std::vector<detail::UnbiasedTerms> unbiased(m);
  for (int s = 0; s < m; ++s) unbiased[s] = detail::unbiased_terms(summary[s], C);
  const detail::UnbiasedRows unbiased_rows = detail::unbiased_rows(summary, unbiased, C);
  PairPass<T> pairs(store, summary, unbiased, unbiased_rows, plan, shared.categories, path, options.per_concept,
                    out.pairs);
  out.stats.rows_recomputed = pairs.run(progress);
  out.stats.pairs_seconds = std::chrono::duration<double>(Clock::now() - t2).count();

  fill_matrices(summary, unbiased, out);

  // 3. The permutation test, from the Grams still in the store (in float: detail/similarity.h).
  if (detail::permutation_test_runs(options, m, C, out)) {
    const auto t3 = Clock::now();
    std::vector<bool> linear_defined(m);
    for (int s = 0; s < m; ++s) linear_defined[s] = !std::isnan(out.cka[static_cast<size_t>(s) * m + s]);
    std::vector<std::vector<float>> scratch(plan.threads1);
    const detail::ParallelFor parallel = [&](int n, const std::function<void(int, std::vector<float>&)>& fn) {
      parallel_for(n, plan.threads1, [&](int task, int worker) { fn(task, scratch[worker]); });
    };
    const detail::ReadGram read_gram = [&store](int s, float* g) {
      std::vector<T> row;
      store.gram_as_float(s, g, row);
    };
    detail::permutation_test(read_gram, summary, linear_defined, unbiased, C, options.permutations,
                             options.permutation_seed, parallel, out.pairs);
    out.permutations = options.permutations;
    out.permutation_seed = options.permutation_seed;
    out.stats.permutation_seconds = std::chrono::duration<double>(Clock::now() - t3).count();
  }
}

}  // namespace

bool compare_in_double(ComparePrecision precision, int m, int C) {
  switch (precision) {
    case ComparePrecision::kDouble: return true;
    case ComparePrecision::kFloat: return false;
    case ComparePrecision::kAuto: break;
  }
  return static_cast<double>(m) * C * C <= CompareOptions::kAutoDoubleEntries;
}

SpaceComparison QueryEngine::compare(const std::vector<std::string>& spaces, const std::vector<std::string>& concepts) {
  return compare(spaces, concepts, CompareOptions{});
}

SpaceComparison QueryEngine::compare(const std::vector<std::string>& named, const std::vector<std::string>& concepts,
                                     const CompareOptions& options) {
  // A comparison reads each space more than once (to stay within its memory budget it keeps
  // no space between its passes). Should a writer replace one meanwhile, the answer would
  // mix two versions: it starts again on the new content instead, a few times at most.
  constexpr int kAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    try {
      return compare_once(named, concepts, options);
    } catch (const detail::SpaceChanged& changed) {
      N2V_CHECK(attempt < kAttempts, kUnavailable,
                "space '" << changed.space << "' was replaced while it was being compared, " << kAttempts
                          << " times in a row; try again when the writer has finished");
    }
  }
}

SpaceComparison QueryEngine::compare_once(const std::vector<std::string>& named,
                                          const std::vector<std::string>& concepts, const CompareOptions& options) {
  SpaceComparison out;
  out.spaces = checked_spaces(named, options);
  out.m = static_cast<int>(out.spaces.size());
  const int m = out.m;
  const int hardware = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int workers = options.threads > 0 ? options.threads : hardware;
  const GemmPath path = gemm_path();  // the products' kernel (query/gemm.h): one per comparison
  SpaceReader read(out.spaces, [this](const std::string& id) { return impl_->load(id); });

  // 0. The shared concepts (the first read of every space).
  const SharedNames shared = names_pass(read, concepts, workers, out);
  const int C = out.shared();

  // The Grams' precision, then the budget: where the Grams go, pass 1's threads, pass 2's
  // blocks and threads.
  const bool in_double = compare_in_double(options.precision, m, C);
  const Plan plan = plan_budget(m, C, shared.categories.size(), shared.max_dim, in_double, options, workers);
  plan.record(out.stats);
  out.stats.double_precision = in_double;
  if (in_double) grams_and_pairs<double>(read, plan, shared, path, options, out);
  else grams_and_pairs<float>(read, plan, shared, path, options, out);
  return out;
}

}  // namespace n2v
