// The FAISS backend of the index stage (make_faiss_index), compiled only with
// NET2VEC_WITH_FAISS: FAISS lives here and nowhere else. Foreign errors
// (faiss::FaissException) become n2v::Error (kInternal: a FAISS failure on valid input is a
// bug on one side or the other).

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>

#include <omp.h>

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "index/detail/search_rows.h"
#include "index/vector_index.h"

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
namespace {

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
    const std::vector<float> rows = detail::normalized_rows(n, d, x, "vector");
    try {
      index_->add(static_cast<faiss::Index::idx_t>(n), rows.data());
    } catch (const faiss::FaissException& e) {
      N2V_THROW(kInternal, "FAISS add: " << e.what());
    }
  }

  SearchResult search(int64_t nq, const float* queries, int k, const IdSelection* allowed) const override {
    detail::check_search_args(*this, nq, k, allowed);
    const std::vector<float> q = detail::normalized_rows(nq, dim_, queries, "query");
    SearchResult r = detail::empty_result(*this, nq, k);
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
    detail::top_k_rows(scores.data(), nq, n, allowed, r.k, r.ids.data(), r.scores.data());
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
      detail::finish_row(hits, r.k, r.ids.data() + i * r.k, r.scores.data() + i * r.k);
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

bool faiss_compiled() { return true; }

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
