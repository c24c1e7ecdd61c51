#pragma once
// Index stage: exact k-nearest-neighbour search by cosine similarity, behind one small
// FAISS-style interface. Three implementations:
//   * make_faiss_index(): FAISS IndexFlatIP over L2-normalised vectors (exact; BLAS for
//     batches). A GPU flat index is used instead when the installed FAISS was built with GPU
//     support and a device is visible -- detected at compile time from the FAISS headers
//     (Debian 12's libfaiss-dev 1.7.3 is CPU-only, so net2vec's Debian build never has it;
//     gpu_support_compiled() says which). Only in builds with FAISS (NET2VEC_WITH_FAISS,
//     the default): elsewhere it throws kUnsupported and faiss_compiled() is false.
//   * make_flat_index(): net2vec's own exact flat index (inner_products() below, then top
//     k), the backend of builds without FAISS.
//   * make_brute_force_index(): plain loops in double precision (hnswlib's BruteforceSearch
//     style), the test oracle.
// make_default_index() is FAISS where the build has it, the flat index otherwise.
// Indexes are caches derived from the catalog (src/query builds one per space on first use
// and rebuilds it when the space changes); they are never needed for correctness.
// FAISS appears only in faiss_index.cpp: nothing here includes it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace n2v {

// Which stored ids a search may return: one bit per id, LSB first (bit i of byte i / 8),
// the layout of faiss::IDSelectorBitmap. Ids at or past size() bits are not allowed.
class IdSelection {
 public:
  IdSelection() = default;
  // `n` ids, all allowed (or none).
  explicit IdSelection(int64_t n, bool allowed = true);
  int64_t size() const { return n_; }
  bool contains(int64_t id) const {
    return id >= 0 && id < n_ && ((bits_[static_cast<size_t>(id >> 3)] >> (id & 7)) & 1);
  }
  void set(int64_t id, bool allowed);
  int64_t count() const;  // allowed ids
  const uint8_t* bitmap() const { return bits_.data(); }
  size_t bitmap_bytes() const { return bits_.size(); }

 private:
  int64_t n_ = 0;
  std::vector<uint8_t> bits_;
};

// FAISS layout: nq rows of k entries, best first. Where fewer than k stored vectors are
// allowed, a row ends with id -1 and score -infinity.
struct SearchResult {
  int64_t nq = 0;
  int k = 0;                    // per row: min(requested k, size())
  std::vector<int64_t> ids;     // nq * k
  std::vector<float> scores;    // nq * k: cosine similarity in [-1, 1]
  // Valid entries of row q (those with id >= 0).
  int count(int64_t q) const;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual std::string name() const = 0;  // "faiss-flat-ip", "faiss-gpu-flat-ip", "flat-ip", "brute-force"
  virtual int dim() const = 0;
  virtual int64_t size() const = 0;

  // Appends n vectors of dimension d (row-major n x d); the i-th gets id size() + i.
  // Each is L2-normalised on the way in, so scores are cosines. Throws kInvalidArgument when
  // d != dim(), or a vector has a non-finite value or zero norm (cosine undefined): callers
  // leave such vectors out.
  virtual void add(int64_t n, int d, const float* x) = 0;

  // For each of nq queries (row-major nq x dim(), normalised here), the k stored vectors of
  // highest cosine, best first. k is clamped to size(); k <= 0 and queries with a non-finite
  // value or zero norm throw kInvalidArgument. `allowed` (size() ids; nullptr: all) limits
  // the ids returned. Exact: every implementation returns the same ids (up to ties) and
  // scores (to float rounding).
  virtual SearchResult search(int64_t nq, const float* queries, int k,
                              const IdSelection* allowed = nullptr) const = 0;
};

struct FaissIndexOptions {
  // Use a GPU index when FAISS has GPU support compiled in and a device is visible.
  bool allow_gpu = true;
  // How a CPU index answers fewer than faiss::distance_compute_blas_threshold (20) queries:
  //   false (default): inner_products() below over the index's own storage (get_xb()), then
  //     top-k. Debian's FAISS 1.7.3 is compiled for baseline x86-64, where its per-query
  //     kernels (fvec_inner_product) are scalar: ~1 ms per query at 1,200 x 1,024 against
  //     ~60 us here (docs/PERFORMANCE.md).
  //   true: FAISS's own search for every batch size (tests and the benchmark use it).
  // Batches of 20 or more always go through FAISS (BLAS GEMM).
  bool native_search = false;
  // With an IdSelection, FAISS's own search filters by over-fetching (k + excluded ids) and
  // dropping disallowed hits, instead of passing a faiss::IDSelectorBitmap (which forces
  // FAISS's scalar path). GPU indexes take no selector and always post-filter.
  bool post_filter = true;
};

std::unique_ptr<VectorIndex> make_faiss_index(int dim, const FaissIndexOptions& options = {});
std::unique_ptr<VectorIndex> make_flat_index(int dim);
std::unique_ptr<VectorIndex> make_brute_force_index(int dim);
// FAISS's flat index where this build has FAISS, make_flat_index() otherwise.
std::unique_ptr<VectorIndex> make_default_index(int dim);

// Whether this build has the FAISS backend (NET2VEC_WITH_FAISS).
bool faiss_compiled();

// Whether this build's FAISS has GPU indexes (compile time), and whether one would be used
// now (compiled in and at least one device visible).
bool faiss_gpu_support_compiled();
bool faiss_gpu_available();

// out[j * n + i] = <x_i, q_j> for n rows x (row-major n x d) and m queries q (m x d), in
// float. Runtime dispatch: AVX2+FMA where the CPU has it, SSE2 otherwise. The small-batch
// search kernel of the FAISS index, also used by src/query (3CosMul).
void inner_products(const float* x, int64_t n, int d, const float* queries, int m, float* out);
// For two float arrays of length n: *sq = sum (x_i - y_i)^2 and *dot = sum x_i y_i (float
// lanes, summed in double at the end; same dispatch as inner_products). compare's inner loop.
void squared_distance_and_dot(const float* x, const float* y, int64_t n, double* sq, double* dot);

// Which inner_products() kernel this CPU runs: "avx2-fma" or "sse2".
const char* inner_products_kernel();
// Tests: run the SSE2 kernel even where AVX2 is available (process-wide).
void force_sse2_kernel_for_testing(bool on);

// L2 norm in double precision; normalize() writes x / ||x|| to out (float) and returns the
// norm (0 or non-finite: out is left unspecified; callers check).
double l2_norm(const float* x, int d);
double normalize(const float* x, int d, float* out);

}  // namespace n2v
