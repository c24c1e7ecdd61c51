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
// The products (query/gemm.h, chosen once per comparison by the CPU and NET2VEC_SIMD):
//   - AVX-512 or AVX2+FMA (bit-identical to each other): both passes through gemm_abt's
//     packed micro-kernels, the Gram as its upper triangle; row statistics in double lanes;
//   - portable (NET2VEC_SIMD=portable, or a CPU without AVX2+FMA): as before this kernel
//     existed, bit for bit: the Gram with the inner_products kernel (itself AVX2 or SSE2),
//     the pairs with Eigen's GEMM (SSE2 in a baseline x86-64 build).
// The wide kernels' packing buffers (about 1.1 MiB per thread, kept by the thread) are not
// counted in the memory budget.
// Accuracy: float Grams; D_ijc to ~1e-5 relative where P is used (float GEMM),
// <G_i, G_j> per row in float. The two kinds of path differ in the last float digits (their
// summation orders differ). Results do not depend on the number of threads; the block size
// can change the last digits on the portable path (Eigen's GEMM summation order), not on the
// wide ones (each entry is one FMA chain in k-blocks of 256 whatever the shapes).

#include <Eigen/Dense>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/temp_file.h"
#include "query/engine_impl.h"
#include "query/gemm.h"

namespace n2v {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

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

// A space's Gram statistics; the Gram itself goes to a buffer of the caller's.
struct SpaceGram {
  Eigen::VectorXd row_mean;
  std::vector<double> row_norm2;  // ||G[c]||^2 per row, in double
  double grand_mean = 0, frob2 = 0, hsic = 0;  // ||G||_F^2, <HGH, HGH>_F
};

// The lower triangle of a C x C matrix from its upper one, in 32 x 32 tiles (the column reads
// of a whole-row loop would miss the cache at every step).
void mirror_upper(float* g, int C) {
  constexpr int kTile = 32;
  for (int i0 = 0; i0 < C; i0 += kTile)
    for (int j0 = 0; j0 <= i0; j0 += kTile)
      for (int i = i0; i < std::min(i0 + kTile, C); ++i)
        for (int j = j0; j < std::min(j0 + kTile, i); ++j)
          g[static_cast<size_t>(i) * C + j] = g[static_cast<size_t>(j) * C + i];
}

// The Gram of the space's unit rows `rows` (C x C, row-major) into g; u: scratch, resized to
// the C x d unit rows (kept by the caller between spaces, as g is).
SpaceGram gram(const detail::SpaceData& s, const std::vector<int>& rows, GemmPath path, std::vector<float>& u, float* g) {
  const int C = static_cast<int>(rows.size()), d = s.d;
  u.resize(static_cast<size_t>(C) * d);
  for (int c = 0; c < C; ++c)
    std::copy_n(s.unit.begin() + static_cast<std::ptrdiff_t>(rows[c]) * d, d, u.begin() + static_cast<std::ptrdiff_t>(c) * d);
  SpaceGram out;
  out.row_norm2.resize(C);
  if (path != GemmPath::kPortable) {
    // The upper triangle as one product (query/gemm.h), mirrored; the row statistics in one
    // pass (double lanes).
    gemm_abt(path, u.data(), d, u.data(), d, C, C, d, g, C, /*upper=*/true);
    mirror_upper(g, C);
    std::vector<double> sum(C);
    row_sums_avx2(g, C, C, sum.data(), out.row_norm2.data());
    out.row_mean.resize(C);
    for (int c = 0; c < C; ++c) {
      out.row_mean[c] = sum[c] / C;
      out.grand_mean += out.row_mean[c];
      out.frob2 += out.row_norm2[c];
    }
    out.grand_mean /= C;
  } else {
    std::fill_n(g, static_cast<size_t>(C) * C, 0.0f);
    std::vector<float> block(static_cast<size_t>(4) * C);
    for (int i = 0; i < C; i += 4) {
      const int b = std::min(4, C - i), n = C - i;
      // <u_{i+r}, u_{i+j}> for r >= 0: the upper triangle from row i on.
      inner_products(u.data() + static_cast<size_t>(i) * d, n, d, u.data() + static_cast<size_t>(i) * d, b, block.data());
      for (int j = 0; j < b; ++j)
        for (int r = j; r < n; ++r) {
          const float v = block[static_cast<size_t>(j) * n + r];
          g[static_cast<size_t>(i + j) * C + (i + r)] = v;
          g[static_cast<size_t>(i + r) * C + (i + j)] = v;
        }
    }
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> G(g, C, C);
    out.row_mean = G.cast<double>().rowwise().mean();
    out.grand_mean = out.row_mean.mean();
    out.frob2 = G.cast<double>().squaredNorm();
    for (int c = 0; c < C; ++c) {
      const float* r = g + static_cast<size_t>(c) * C;
      double n2 = 0;
      for (int b = 0; b < C; ++b) n2 += static_cast<double>(r[b]) * r[b];
      out.row_norm2[c] = n2;
    }
  }
  out.hsic = std::max(0.0, out.frob2 - 2.0 * C * out.row_mean.squaredNorm() +
                               static_cast<double>(C) * C * out.grand_mean * out.grand_mean);
  return out;
}

// What pass 2 needs of a space once its Gram is in the store.
struct GramSummary {
  Eigen::VectorXd row_mean;
  std::vector<double> row_norm2;  // ||G[c]||^2 per row, in double
  double grand_mean = 0, frob2 = 0, hsic = 0;
};

// Every space's C x C Gram, row-interleaved: row c of space s at ((c * m + s) * C) floats, so
// rows c of spaces s0 .. s0+n-1 are one contiguous n x C panel. Memory, or an unlinked
// temporary file written with pwrite and read with pread.
class GramStore {
 public:
  GramStore(int m, int C, bool in_file, const std::string& dir) : m_(m), C_(C) {
    const size_t floats = static_cast<size_t>(m) * C * C;
    if (!in_file) {
      memory_.assign(floats, 0.0f);
      return;
    }
    file_ = std::make_unique<TempFile>(dir, "net2vec-compare", floats * sizeof(float), "compare's Gram file",
                                       "give another folder: CompareOptions::temp_dir, or a larger memory budget");
  }
  GramStore(const GramStore&) = delete;
  GramStore& operator=(const GramStore&) = delete;

  bool in_file() const { return file_ != nullptr; }

  // Stores space s's Gram (C x C row-major). Thread-safe for distinct s.
  void put(int s, const float* g) {
    for (int c = 0; c < C_; ++c) {
      const size_t at = offset(c, s);
      const float* row = g + static_cast<size_t>(c) * C_;
      if (!in_file()) {
        std::copy_n(row, C_, memory_.data() + at);
        continue;
      }
      const char* p = reinterpret_cast<const char*>(row);
      size_t left = static_cast<size_t>(C_) * sizeof(float);
      off_t pos = static_cast<off_t>(at * sizeof(float));
      while (left > 0) {
        const ssize_t n = pwrite(file_->fd(), p, left, pos);
        if (n < 0 && errno == EINTR) continue;
        N2V_CHECK(n > 0, kIo, "cannot write compare's Gram file: " << std::strerror(errno));
        p += n;
        pos += n;
        left -= static_cast<size_t>(n);
      }
    }
  }

  // Rows c of spaces s0 .. s0+n-1 (n x C floats): in memory, a pointer into the store;
  // else read into `buffer` (n x C floats) and returned.
  const float* panel(int c, int s0, int n, float* buffer) const {
    const size_t at = offset(c, s0);
    if (!in_file()) return memory_.data() + at;
    char* p = reinterpret_cast<char*>(buffer);
    size_t left = static_cast<size_t>(n) * C_ * sizeof(float);
    off_t pos = static_cast<off_t>(at * sizeof(float));
    while (left > 0) {
      const ssize_t got = pread(file_->fd(), p, left, pos);
      if (got < 0 && errno == EINTR) continue;
      N2V_CHECK(got > 0, kIo, "cannot read compare's Gram file: " << (got == 0 ? "unexpected end" : std::strerror(errno)));
      p += got;
      pos += got;
      left -= static_cast<size_t>(got);
    }
    return buffer;
  }

 private:
  size_t offset(int c, int s) const { return (static_cast<size_t>(c) * m_ + s) * C_; }
  int m_, C_;
  std::vector<float> memory_;
  std::unique_ptr<TempFile> file_;  // null: in memory
};

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

// Fraction of n_ic + n_jc below which D_ijc is recomputed directly (see the file comment).
constexpr double kRecomputeBelow = 1.0 / 16;

}  // namespace

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
  using Clock = std::chrono::steady_clock;
  std::vector<std::string> spaces;  // stored ids, whichever spelling of a layer was given
  for (const std::string& name : named) spaces.push_back(canonical_space_id(name));
  N2V_CHECK(spaces.size() >= 2, kInvalidArgument,
            "compare needs at least two spaces, got " << spaces.size());
  for (size_t i = 0; i < spaces.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      N2V_CHECK(spaces[i] != spaces[j], kInvalidArgument, "space '" << spaces[i] << "' is named twice");
  N2V_CHECK(options.per_concept >= -1, kInvalidArgument,
            "per_concept must be -1 (all), 0 (none) or a count of concepts, got " << options.per_concept);
  const int m = static_cast<int>(spaces.size());
  const int hardware = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int workers = options.threads > 0 ? options.threads : hardware;
  const GemmPath path = gemm_path();  // the products' kernel (query/gemm.h): one per comparison

  // 0. The names to compare: every name of the first space that all others have, or the subset
  // given (each must be in every space). The first space fixes the candidates; every other is
  // read once (in parallel) for which of them it has, and with a direction.
  std::vector<std::string> names;
  // Each space's content as first read; every later read must find the same (SpaceChanged).
  std::vector<uint64_t> fingerprint(m, 0);
  const auto load = [&](int s) {
    std::shared_ptr<const detail::SpaceData> data = impl_->load(spaces[s]);
    if (data->fingerprint != fingerprint[s]) throw detail::SpaceChanged{spaces[s]};
    return data;
  };
  {
    const std::shared_ptr<const detail::SpaceData> first = impl_->load(spaces[0]);
    fingerprint[0] = first->fingerprint;
    if (concepts.empty()) {
      names = first->names;
    } else {
      std::set<std::string> seen;
      for (const std::string& name : concepts)
        if (seen.insert(name).second) names.push_back(name);
    }
  }
  const int candidates = static_cast<int>(names.size());
  // status[s * candidates + k]: 0 absent, 1 present, 2 present with a zero vector.
  std::vector<uint8_t> status(static_cast<size_t>(m) * candidates, 0);
  std::vector<int> dims(m, 0);
  {
    std::vector<std::exception_ptr> failed(m);
    parallel_for(m, workers, [&](int s, int) {
      try {
        std::shared_ptr<const detail::SpaceData> data;
        if (s == 0) {
          data = load(0);
        } else {
          data = impl_->load(spaces[s]);
          fingerprint[s] = data->fingerprint;
        }
        dims[s] = data->d;
        for (int k = 0; k < candidates; ++k) {
          const auto it = data->row_of.find(names[k]);
          if (it != data->row_of.end()) status[static_cast<size_t>(s) * candidates + k] = data->valid[it->second] ? 1 : 2;
        }
      } catch (...) {
        failed[s] = std::current_exception();
      }
    });
    for (const std::exception_ptr& e : failed)  // the first space in order, as a serial read would
      if (e) std::rethrow_exception(e);
  }
  const auto has = [&](int s, int k) { return status[static_cast<size_t>(s) * candidates + k] != 0; };
  if (!concepts.empty()) {
    for (int k = 0; k < candidates; ++k) {
      const std::string& name = names[k];
      std::vector<std::string> lacking;
      for (int s = 0; s < m; ++s)
        if (!has(s, k)) lacking.push_back(spaces[s]);
      if (static_cast<int>(lacking.size()) == m) {
        std::vector<std::string> all;
        for (const std::string& id : spaces) {
          const auto data = impl_->load(id);
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

  SpaceComparison out;
  out.spaces = spaces;
  out.m = m;
  for (int s = 0; s < m; ++s) out.space_info.push_back(load(s)->info);
  for (int k = 0; k < candidates; ++k) {
    bool everywhere = true;
    for (int s = 1; s < m && everywhere; ++s) everywhere = has(s, k);
    if (!everywhere) continue;
    std::string zero_in;
    for (int s = 0; s < m && zero_in.empty(); ++s)
      if (status[static_cast<size_t>(s) * candidates + k] == 2) zero_in = spaces[s];
    if (!zero_in.empty()) {
      out.excluded.push_back(names[k] + " (" + zero_in + ")");
      continue;
    }
    out.concepts.push_back(names[k]);
  }
  status = {};
  std::sort(out.concepts.begin(), out.concepts.end());
  const int C = out.shared();
  const std::string which = "spaces " + detail::quoted_list(spaces, "and");
  const std::string left_out = out.excluded.empty()
                                   ? std::string()
                                   : " (after leaving out " + std::to_string(out.excluded.size()) +
                                         " with a zero vector)";
  N2V_CHECK(C > 0, kInvalidArgument, "no concept is shared by all of " << which << left_out);
  N2V_CHECK(C > 1, kInvalidArgument,
            "only one concept ('" << out.concepts[0] << "') is shared by all of " << which << left_out
                                  << ": comparing spaces needs at least two");

  // Categories: the first space's, as an index per row into the sorted distinct names.
  {
    const auto first = load(0);
    for (const std::string& name : out.concepts) out.categories.push_back(first->categories[first->row_of.at(name)]);
  }
  std::map<std::string, int> category_size;
  for (const std::string& cat : out.categories) ++category_size[cat];
  std::vector<std::string> category_names;
  for (const auto& [cat, n] : category_size) category_names.push_back(cat);
  const int K = static_cast<int>(category_names.size());
  std::vector<int> category_count;
  for (const auto& [cat, n] : category_size) category_count.push_back(n);
  std::vector<int> category_of(C);
  for (int c = 0; c < C; ++c)
    category_of[c] = static_cast<int>(std::lower_bound(category_names.begin(), category_names.end(), out.categories[c]) -
                                      category_names.begin());

  // The budget. Fixed: the per-space summaries (row means and norms). Pass 1, per thread: its
  // Gram and its unit rows. Pass 2, per task (block pair of b spaces each): two panels read
  // from the file, Eigen's packed copies of them, P, and the pairs' accumulators.
  const int keep = options.per_concept < 0 ? 0 : std::min(options.per_concept, C);
  const size_t budget = options.memory_bytes ? options.memory_bytes : CompareOptions::kDefaultMemoryBytes;
  const size_t row_bytes = static_cast<size_t>(C) * sizeof(float);
  const size_t gram_bytes = row_bytes * C;
  const size_t store_bytes = gram_bytes * m;
  const size_t fixed = static_cast<size_t>(m) * C * 2 * sizeof(double);
  const size_t pass1_thread = gram_bytes + row_bytes * static_cast<size_t>(*std::max_element(dims.begin(), dims.end()));
  // Per local pair: D_ij, <G_i, G_j>, the K category sums; with N largest kept, the heap (N
  // values and indexes) and its weakest value.
  const size_t pair_bytes = (2 + K) * sizeof(double) + keep * (sizeof(double) + sizeof(int)) + (keep > 0 ? sizeof(double) : 0);
  const auto task_bytes = [&](size_t b, bool file) {
    return (file ? 2 : 0) * b * row_bytes + 2 * b * row_bytes + b * b * (sizeof(float) + pair_bytes);
  };
  const size_t minimum = fixed + std::max(pass1_thread, task_bytes(1, true));
  N2V_CHECK(budget >= minimum, kInvalidArgument,
            "compare's memory budget of " << budget << " bytes is too small for " << m << " spaces of " << C
                                          << " shared concepts: it needs at least " << minimum
                                          << " bytes (one " << C << " x " << C << " Gram matrix, its space's unit rows and "
                                          << "the per-space row statistics)");
  const bool in_file = fixed + store_bytes + std::max(pass1_thread, task_bytes(1, false)) > budget;
  const size_t avail = budget - fixed - (in_file ? 0 : store_bytes);
  const int threads1 = static_cast<int>(std::clamp<size_t>(avail / pass1_thread, 1, std::min(workers, m)));

  // Pass 2's block size: as large as `threads` tasks allow, but small enough that there are
  // at least two tasks per thread.
  const auto largest_block = [&](int threads) {
    int lo = 0, hi = m;  // largest b in [0, m] with threads * task_bytes(b) <= avail
    while (lo < hi) {
      const int mid = lo + (hi - lo + 1) / 2;
      if (threads * task_bytes(mid, in_file) <= avail) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  int threads2 = std::min(workers, m * (m + 1) / 2);
  while (threads2 > 1 && largest_block(threads2) < 1) --threads2;
  int wanted_blocks = 1;
  if (threads2 > 1)
    while (wanted_blocks * (wanted_blocks + 1) / 2 < 2 * threads2) ++wanted_blocks;
  const int B = std::max(1, std::min(largest_block(threads2), (m + wanted_blocks - 1) / wanted_blocks));
  const int nb = (m + B - 1) / B;
  std::vector<std::pair<int, int>> tasks;
  for (int I = 0; I < nb; ++I)
    for (int J = I; J < nb; ++J) tasks.emplace_back(I, J);
  threads2 = std::min<int>(threads2, static_cast<int>(tasks.size()));

  CompareStats& stats = out.stats;
  stats.budget_bytes = budget;
  stats.store_bytes = store_bytes;
  stats.temp_file = in_file;
  stats.threads = threads2;
  stats.block = B;
  stats.blocks = nb;
  stats.block_pairs = static_cast<int>(tasks.size());
  stats.working_bytes = fixed + (in_file ? 0 : store_bytes) +
                        std::max(threads1 * pass1_thread, threads2 * task_bytes(B, in_file));

  const int64_t total_work = m + static_cast<int64_t>(tasks.size()) * C;
  std::atomic<int64_t> done{0};
  std::mutex progress_mutex;
  const auto advance = [&](int64_t units) {
    if (!options.progress) return;
    // Counted under the lock, so that the calls see `done` increase (counted outside it, a
    // thread could report a larger count before another reported a smaller one).
    std::lock_guard lock(progress_mutex);
    const int64_t now = done.fetch_add(units) + units;
    options.progress(now, total_work);
  };

  // 1. Grams, one space per thread at a time.
  const auto t1 = Clock::now();
  GramStore store(m, C, in_file, options.temp_dir);
  std::vector<GramSummary> summary(m);
  // Per worker: its space's unit rows and its Gram, reused from space to space (fresh
  // multi-megabyte buffers would each be mapped and faulted in again).
  std::vector<std::vector<float>> unit_rows(threads1);
  std::vector<std::unique_ptr<float[]>> grams(threads1);
  parallel_for(m, threads1, [&](int s, int worker) {
    std::vector<int> rows;
    {
      const std::shared_ptr<const detail::SpaceData> data = load(s);
      rows.reserve(C);
      for (const std::string& name : out.concepts) rows.push_back(data->row_of.at(name));
      if (!grams[worker]) grams[worker].reset(new float[static_cast<size_t>(C) * C]);
      float* const g_buffer = grams[worker].get();
      SpaceGram g = gram(*data, rows, path, unit_rows[worker], g_buffer);
      GramSummary& sum = summary[s];
      sum.row_mean = std::move(g.row_mean);
      sum.grand_mean = g.grand_mean;
      sum.frob2 = g.frob2;
      sum.hsic = g.hsic;
      sum.row_norm2 = std::move(g.row_norm2);
      store.put(s, g_buffer);
    }
    advance(1);
  });
  stats.gram_seconds = std::chrono::duration<double>(Clock::now() - t1).count();

  // 2. Pairs, block pair by block pair, each streamed over the C rows.
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j) {
      PairComparison pair;
      pair.i = i;
      pair.j = j;
      out.pairs.push_back(std::move(pair));
    }
  const auto pair_index = [m](int i, int j) {  // i < j, row order
    return static_cast<size_t>(i) * m - static_cast<size_t>(i) * (i + 1) / 2 + (j - i - 1);
  };
  if (options.per_concept < 0)
    for (PairComparison& p : out.pairs) p.per_concept.assign(C, 0.0);
  const double tiny = 1e-12;  // CKA is undefined when a centred Gram is zero (all concepts alike)
  std::atomic<int64_t> recomputed{0};
  const auto t2 = Clock::now();
  parallel_for(static_cast<int>(tasks.size()), threads2, [&](int t, int) {
    const auto [I, J] = tasks[t];
    const bool diagonal = I == J;
    const int i0 = I * B, bi = std::min(B, m - i0), j0 = J * B, bj = std::min(B, m - j0);
    const size_t np = static_cast<size_t>(bi) * bj;  // local pair (a, b) at a * bj + b
    std::vector<float> panel_i(in_file ? static_cast<size_t>(bi) * C : 0);
    std::vector<float> panel_j(in_file && !diagonal ? static_cast<size_t>(bj) * C : 0);
    RowMatrix P(bi, bj);
    std::vector<double> distance(np, 0.0), inner(np, 0.0), category_sum(np * K, 0.0);
    std::vector<double> top_value(np * keep, -std::numeric_limits<double>::infinity());
    std::vector<int> top_index(np * keep, std::numeric_limits<int>::max());
    // The weakest value in each pair's heap (top_value[q * keep]), contiguous: most D_ijc are
    // turned away by this one comparison, without touching the heaps' lines.
    std::vector<double> weakest(keep > 0 ? np : 0, -std::numeric_limits<double>::infinity());
    std::vector<double> norm_j(bj);
    int64_t direct = 0;
    for (int c = 0; c < C; ++c) {
      const float* xi = store.panel(c, i0, bi, panel_i.data());
      const float* xj = diagonal ? xi : store.panel(c, j0, bj, panel_j.data());
      const Eigen::Map<const RowMatrix> Xi(xi, bi, C), Xj(xj, bj, C);
      if (path != GemmPath::kPortable) gemm_abt(path, xi, C, xj, C, bi, bj, C, P.data(), bj, /*upper=*/diagonal);
      else if (diagonal) P.triangularView<Eigen::Upper>() = Xi * Xi.transpose();
      else P.noalias() = Xi * Xj.transpose();
      double* category_row = category_sum.data() + static_cast<size_t>(category_of[c]) * np;
      for (int b = 0; b < bj; ++b) norm_j[b] = summary[j0 + b].row_norm2[c];
      for (int a = 0; a < bi; ++a) {
        const int i = i0 + a;
        const double ni = summary[i].row_norm2[c];
        const size_t q0 = static_cast<size_t>(a) * bj;  // this row of local pairs
        const float* p_row = P.data() + q0;
        double* const distance_row = distance.data() + q0;
        double* const inner_row = inner.data() + q0;
        double* const category_pair = category_row + q0;
        for (int b = diagonal ? a + 1 : 0; b < bj; ++b) {
          const double nij = ni + norm_j[b];
          double dot = p_row[b];
          double d = nij - 2.0 * dot;
          if (d < kRecomputeBelow * nij) {
            squared_distance_and_dot(xi + static_cast<size_t>(a) * C, xj + static_cast<size_t>(b) * C, C, &d, &dot);
            ++direct;
          }
          d = std::max(d, 0.0);
          distance_row[b] += d;
          inner_row[b] += dot;
          category_pair[b] += d;
          const size_t q = q0 + b;
          if (keep > 0) {
            if (d >= weakest[q]) {  // may enter (equal values: the heap decides by index)
              Largest::offer(top_value.data() + q * keep, top_index.data() + q * keep, keep, d, c);
              weakest[q] = top_value[q * keep];
            }
          } else if (options.per_concept < 0) {
            out.pairs[pair_index(i, j0 + b)].per_concept[c] = d;
          }
        }
      }
      advance(1);
    }
    recomputed += direct;
    for (int a = 0; a < bi; ++a)
      for (int b = diagonal ? a + 1 : 0; b < bj; ++b) {
        const int i = i0 + a, j = j0 + b;
        const size_t q = static_cast<size_t>(a) * bj + b;
        PairComparison& pair = out.pairs[pair_index(i, j)];
        const GramSummary& x = summary[i];
        const GramSummary& y = summary[j];
        pair.distance = distance[q];
        const double hsic = inner[q] - 2.0 * C * x.row_mean.dot(y.row_mean) +
                            static_cast<double>(C) * C * x.grand_mean * y.grand_mean;
        pair.cka = x.hsic > tiny * x.frob2 && y.hsic > tiny * y.frob2 ? hsic / std::sqrt(x.hsic * y.hsic) : NAN;
        for (int k = 0; k < K; ++k) {
          const int n = category_count[k];
          pair.categories.push_back({category_names[k], n, category_sum[static_cast<size_t>(k) * np + q] / n});
        }
        if (keep > 0) {
          for (int e = 0; e < keep; ++e)
            if (top_index[q * keep + e] != std::numeric_limits<int>::max())
              pair.largest.emplace_back(top_index[q * keep + e], top_value[q * keep + e]);
          std::sort(pair.largest.begin(), pair.largest.end(), [](const auto& u, const auto& v) {
            return Largest::better(u.second, u.first, v.second, v.first);
          });
        }
      }
  });
  stats.pairs_seconds = std::chrono::duration<double>(Clock::now() - t2).count();
  stats.rows_recomputed = recomputed;

  out.distance.assign(static_cast<size_t>(m) * m, 0.0);
  out.cka.assign(static_cast<size_t>(m) * m, 0.0);
  for (int s = 0; s < m; ++s)
    out.cka[static_cast<size_t>(s) * m + s] = summary[s].hsic > tiny * summary[s].frob2 ? 1.0 : NAN;
  for (const PairComparison& p : out.pairs) {
    out.distance[static_cast<size_t>(p.i) * m + p.j] = out.distance[static_cast<size_t>(p.j) * m + p.i] = p.distance;
    out.cka[static_cast<size_t>(p.i) * m + p.j] = out.cka[static_cast<size_t>(p.j) * m + p.i] = p.cka;
  }
  return out;
}

}  // namespace n2v
