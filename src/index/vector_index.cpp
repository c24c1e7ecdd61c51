// FAISS lives here and nowhere else. Foreign errors (faiss::FaissException) become
// n2v::Error (kInternal: a FAISS failure on valid input is a bug on one side or the other).

#include "index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"

// GPU support is a property of the installed FAISS: a GPU build ships faiss/gpu/ headers
// and links CUDA through its CMake target. Debian 12's libfaiss-dev does not (CPU only).
// -DN2V_DISABLE_FAISS_GPU turns the GPU path off even where it exists.
#if !defined(N2V_DISABLE_FAISS_GPU) && __has_include(<faiss/gpu/GpuIndexFlat.h>)
#define N2V_FAISS_GPU 1
#include <faiss/gpu/GpuIndexFlat.h>
#include <faiss/gpu/StandardGpuResources.h>
#include <faiss/gpu/utils/DeviceUtils.h>
#else
#define N2V_FAISS_GPU 0
#endif

namespace n2v {

// ---- IdSelection / SearchResult ----

IdSelection::IdSelection(int64_t n, bool allowed) : n_(n) {
  N2V_CHECK(n >= 0, kInvalidArgument, "id selection of negative size " << n);
  bits_.assign(static_cast<size_t>((n + 7) / 8), allowed ? 0xFF : 0x00);
  if (allowed && (n & 7)) bits_.back() = static_cast<uint8_t>((1u << (n & 7)) - 1);
}

void IdSelection::set(int64_t id, bool allowed) {
  N2V_CHECK(id >= 0 && id < n_, kInvalidArgument, "id " << id << " outside a selection of " << n_);
  const uint8_t bit = static_cast<uint8_t>(1u << (id & 7));
  uint8_t& byte = bits_[static_cast<size_t>(id >> 3)];
  byte = allowed ? (byte | bit) : (byte & ~bit);
}

int64_t IdSelection::count() const {
  int64_t total = 0;
  for (uint8_t b : bits_) total += std::popcount(b);
  return total;
}

int SearchResult::count(int64_t q) const {
  int c = 0;
  while (c < k && ids[static_cast<size_t>(q * k + c)] >= 0) ++c;
  return c;
}

// ---- shared helpers ----

double l2_norm(const float* x, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s);
}

double normalize(const float* x, int d, float* out) {
  const double norm = l2_norm(x, d);
  if (norm > 0 && std::isfinite(norm))
    for (int i = 0; i < d; ++i) out[i] = static_cast<float>(x[i] / norm);
  return norm;
}

namespace {

// Normalised copy of n rows; throws on a non-finite value or a zero row.
std::vector<float> normalized_rows(int64_t n, int d, const float* x, const char* what) {
  std::vector<float> out(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * d;
    for (int j = 0; j < d; ++j)
      N2V_CHECK(std::isfinite(row[j]), kInvalidArgument,
                what << " " << i << " has a non-finite value (" << row[j] << ") at dimension " << j);
    const double norm = normalize(row, d, out.data() + i * d);
    N2V_CHECK(norm > 0, kInvalidArgument, what << " " << i << " is the zero vector: cosine similarity is undefined");
  }
  return out;
}

void check_search_args(const VectorIndex& index, int64_t nq, int k, const IdSelection* allowed) {
  N2V_CHECK(nq >= 0, kInvalidArgument, "negative query count " << nq);
  N2V_CHECK(k > 0, kInvalidArgument, "k must be positive, got " << k);
  if (allowed)
    N2V_CHECK(allowed->size() == index.size(), kInvalidArgument,
              "id selection covers " << allowed->size() << " ids, the index holds " << index.size());
}

// Hit order: higher score first, ties by lower id.
bool better(const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

// Writes the best k of `hits` into one result row, padding with -1 / -inf.
void finish_row(std::vector<std::pair<float, int64_t>>& hits, int k, int64_t* ids, float* scores) {
  const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(), better);
  for (int j = 0; j < k; ++j) {
    if (j < static_cast<int>(keep)) {
      ids[j] = hits[j].second;
      scores[j] = hits[j].first;
    } else {
      ids[j] = -1;
      scores[j] = -std::numeric_limits<float>::infinity();
    }
  }
}

// FAISS parallelises its heap loops with OpenMP while OpenBLAS (pthreads) runs the GEMM; on
// few cores libgomp's spinning workers then starve OpenBLAS's (a 20-query search took 1.6 ms
// per query instead of 0.1 ms on 2 cores). FAISS calls made here run with one OpenMP thread:
// the GEMM still uses every core. The setting is per calling thread and restored after.
class SingleOmpThread {
 public:
  SingleOmpThread() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleOmpThread() { omp_set_num_threads(previous_); }
  SingleOmpThread(const SingleOmpThread&) = delete;
  SingleOmpThread& operator=(const SingleOmpThread&) = delete;

 private:
  int previous_;
};

// ---- brute force (the oracle) ----

class BruteForceIndex final : public VectorIndex {
 public:
  explicit BruteForceIndex(int dim) : dim_(dim) {
    N2V_CHECK(dim > 0, kInvalidArgument, "index dimension must be positive, got " << dim);
  }
  std::string name() const override { return "brute-force"; }
  int dim() const override { return dim_; }
  int64_t size() const override { return static_cast<int64_t>(data_.size()) / dim_; }

  void add(int64_t n, int d, const float* x) override {
    N2V_CHECK(d == dim_, kInvalidArgument, "vectors of dimension " << d << " added to an index of dimension " << dim_);
    N2V_CHECK(n >= 0, kInvalidArgument, "negative vector count " << n);
    const std::vector<float> rows = normalized_rows(n, d, x, "vector");
    data_.insert(data_.end(), rows.begin(), rows.end());
  }

  SearchResult search(int64_t nq, const float* queries, int k, const IdSelection* allowed) const override {
    check_search_args(*this, nq, k, allowed);
    const std::vector<float> q = normalized_rows(nq, dim_, queries, "query");
    SearchResult r;
    r.nq = nq;
    r.k = static_cast<int>(std::min<int64_t>(k, size()));
    r.ids.resize(static_cast<size_t>(nq * r.k));
    r.scores.resize(r.ids.size());
    std::vector<std::pair<float, int64_t>> all;
    for (int64_t i = 0; i < nq; ++i) {
      all.clear();
      for (int64_t id = 0; id < size(); ++id) {
        if (allowed && !allowed->contains(id)) continue;
        double dot = 0;
        for (int j = 0; j < dim_; ++j)
          dot += static_cast<double>(q[static_cast<size_t>(i * dim_ + j)]) * data_[static_cast<size_t>(id * dim_ + j)];
        all.emplace_back(static_cast<float>(dot), id);
      }
      finish_row(all, r.k, r.ids.data() + i * r.k, r.scores.data() + i * r.k);
    }
    return r;
  }

 private:
  int dim_;
  std::vector<float> data_;
};

// ---- FAISS ----

class FaissIndex final : public VectorIndex {
 public:
  FaissIndex(int dim, const FaissIndexOptions& options)
      : dim_(dim), native_(options.native_search), post_filter_(options.post_filter) {
    N2V_CHECK(dim > 0, kInvalidArgument, "index dimension must be positive, got " << dim);
    try {
#if N2V_FAISS_GPU
      if (options.allow_gpu && faiss::gpu::getNumDevices() > 0) {
        gpu_resources_ = std::make_unique<faiss::gpu::StandardGpuResources>();
        index_ = std::make_unique<faiss::gpu::GpuIndexFlatIP>(gpu_resources_.get(), dim);
        gpu_ = true;
        native_ = true;       // the vectors live on the device
        post_filter_ = true;  // GPU indexes take no IDSelector
        return;
      }
#endif
      auto flat = std::make_unique<faiss::IndexFlatIP>(dim);
      flat_ = flat.get();
      index_ = std::move(flat);
    } catch (const faiss::FaissException& e) {
      N2V_THROW(kInternal, "FAISS: " << e.what());
    }
  }

  std::string name() const override { return gpu_ ? "faiss-gpu-flat-ip" : "faiss-flat-ip"; }
  int dim() const override { return dim_; }
  int64_t size() const override { return index_->ntotal; }

  void add(int64_t n, int d, const float* x) override {
    N2V_CHECK(d == dim_, kInvalidArgument, "vectors of dimension " << d << " added to an index of dimension " << dim_);
    N2V_CHECK(n >= 0, kInvalidArgument, "negative vector count " << n);
    const std::vector<float> rows = normalized_rows(n, d, x, "vector");
    try {
      index_->add(static_cast<faiss::Index::idx_t>(n), rows.data());
    } catch (const faiss::FaissException& e) {
      N2V_THROW(kInternal, "FAISS add: " << e.what());
    }
  }

  SearchResult search(int64_t nq, const float* queries, int k, const IdSelection* allowed) const override {
    check_search_args(*this, nq, k, allowed);
    const std::vector<float> q = normalized_rows(nq, dim_, queries, "query");
    SearchResult r;
    r.nq = nq;
    r.k = static_cast<int>(std::min<int64_t>(k, size()));
    r.ids.assign(static_cast<size_t>(nq * r.k), -1);
    r.scores.assign(r.ids.size(), -std::numeric_limits<float>::infinity());
    if (nq == 0 || r.k == 0) return r;
    if (!native_ && flat_ && nq < faiss::distance_compute_blas_threshold)
      search_small(nq, q.data(), allowed, r);
    else
      search_native(nq, q.data(), allowed, r);
    return r;
  }

 private:
  // inner_products() over FAISS's storage, then the top k of the allowed ids.
  void search_small(int64_t nq, const float* q, const IdSelection* allowed, SearchResult& r) const {
    const int64_t n = size();
    std::vector<float> scores(static_cast<size_t>(nq * n));
    inner_products(flat_->get_xb(), n, dim_, q, static_cast<int>(nq), scores.data());
    std::vector<std::pair<float, int64_t>> hits;
    hits.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < nq; ++i) {
      hits.clear();
      const float* row = scores.data() + i * n;
      for (int64_t id = 0; id < n; ++id)
        if (!allowed || allowed->contains(id)) hits.emplace_back(row[id], id);
      finish_row(hits, r.k, r.ids.data() + i * r.k, r.scores.data() + i * r.k);
    }
  }

  void search_native(int64_t nq, const float* q, const IdSelection* allowed, SearchResult& r) const {
    // How many to ask FAISS for: k, or with post-filtering k plus every excluded id (at
    // most that many of the hits can be dropped).
    int64_t fetch = r.k;
    std::unique_ptr<faiss::IDSelectorBitmap> selector;
    faiss::SearchParameters params;
    if (allowed) {
      if (post_filter_) {
        fetch = std::min<int64_t>(size(), r.k + (size() - allowed->count()));
      } else {
        selector = std::make_unique<faiss::IDSelectorBitmap>(allowed->bitmap_bytes(), allowed->bitmap());
        params.sel = selector.get();
      }
    }
    std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(nq * fetch));
    std::vector<float> scores(ids.size());
    try {
      SingleOmpThread one_thread;
      index_->search(static_cast<faiss::Index::idx_t>(nq), q, static_cast<faiss::Index::idx_t>(fetch),
                     scores.data(), ids.data(), params.sel ? &params : nullptr);
    } catch (const faiss::FaissException& e) {
      N2V_THROW(kInternal, "FAISS search: " << e.what());
    }
    std::vector<std::pair<float, int64_t>> hits;
    for (int64_t i = 0; i < nq; ++i) {
      hits.clear();
      for (int64_t j = 0; j < fetch; ++j) {
        const int64_t id = ids[static_cast<size_t>(i * fetch + j)];
        if (id < 0 || (allowed && !allowed->contains(id))) continue;
        hits.emplace_back(scores[static_cast<size_t>(i * fetch + j)], id);
      }
      finish_row(hits, r.k, r.ids.data() + i * r.k, r.scores.data() + i * r.k);
    }
  }

  int dim_;
  bool native_ = false;
  bool post_filter_ = true;
  bool gpu_ = false;
  faiss::IndexFlat* flat_ = nullptr;  // index_ when it is a CPU flat index
#if N2V_FAISS_GPU
  std::unique_ptr<faiss::gpu::StandardGpuResources> gpu_resources_;  // outlives index_
#endif
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace

std::unique_ptr<VectorIndex> make_faiss_index(int dim, const FaissIndexOptions& options) {
  return std::make_unique<FaissIndex>(dim, options);
}

std::unique_ptr<VectorIndex> make_brute_force_index(int dim) { return std::make_unique<BruteForceIndex>(dim); }

bool faiss_gpu_support_compiled() { return N2V_FAISS_GPU != 0; }

bool faiss_gpu_available() {
#if N2V_FAISS_GPU
  try {
    return faiss::gpu::getNumDevices() > 0;
  } catch (...) {
    return false;
  }
#else
  return false;
#endif
}

}  // namespace n2v
