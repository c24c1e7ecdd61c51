// The index stage's own implementations: the brute-force oracle and net2vec's flat index (the
// default where the build has no FAISS), plus what every implementation shares
// (detail/search_rows.h). FAISS itself is in faiss_index.cpp, compiled only with
// NET2VEC_WITH_FAISS (N2V_WITH_FAISS=1).

#include "index/vector_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "index/detail/search_rows.h"

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

namespace detail {

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

SearchResult empty_result(const VectorIndex& index, int64_t nq, int k) {
  SearchResult r;
  r.nq = nq;
  r.k = static_cast<int>(std::min<int64_t>(k, index.size()));
  r.ids.assign(static_cast<size_t>(nq * r.k), -1);
  r.scores.assign(r.ids.size(), -std::numeric_limits<float>::infinity());
  return r;
}

namespace {
// Hit order: higher score first, ties by lower id.
bool better(const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

}  // namespace

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

void top_k_rows(const float* scores, int64_t nq, int64_t n, const IdSelection* allowed, int k, int64_t* ids,
                float* out) {
  std::vector<std::pair<float, int64_t>> hits;
  hits.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < nq; ++i) {
    hits.clear();
    const float* row = scores + i * n;
    for (int64_t id = 0; id < n; ++id)
      if (!allowed || allowed->contains(id)) hits.emplace_back(row[id], id);
    finish_row(hits, k, ids + i * k, out + i * k);
  }
}

}  // namespace detail

namespace {

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
    const std::vector<float> rows = detail::normalized_rows(n, d, x, "vector");
    data_.insert(data_.end(), rows.begin(), rows.end());
  }

  SearchResult search(int64_t nq, const float* queries, int k, const IdSelection* allowed) const override {
    detail::check_search_args(*this, nq, k, allowed);
    const std::vector<float> q = detail::normalized_rows(nq, dim_, queries, "query");
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
      detail::finish_row(all, r.k, r.ids.data() + i * r.k, r.scores.data() + i * r.k);
    }
    return r;
  }

 private:
  int dim_;
  std::vector<float> data_;
};

// ---- net2vec's flat index ----

// Exact inner product over normalised float rows with inner_products() (AVX2+FMA where the
// CPU has it), then the top k: what the FAISS index does below its BLAS threshold, for every
// batch size. The default index of builds without FAISS.
class FlatIndex final : public VectorIndex {
 public:
  explicit FlatIndex(int dim) : dim_(dim) {
    N2V_CHECK(dim > 0, kInvalidArgument, "index dimension must be positive, got " << dim);
  }
  std::string name() const override { return "flat-ip"; }
  int dim() const override { return dim_; }
  int64_t size() const override { return static_cast<int64_t>(data_.size()) / dim_; }

  void add(int64_t n, int d, const float* x) override {
    N2V_CHECK(d == dim_, kInvalidArgument, "vectors of dimension " << d << " added to an index of dimension " << dim_);
    N2V_CHECK(n >= 0, kInvalidArgument, "negative vector count " << n);
    const std::vector<float> rows = detail::normalized_rows(n, d, x, "vector");
    data_.insert(data_.end(), rows.begin(), rows.end());
  }

  SearchResult search(int64_t nq, const float* queries, int k, const IdSelection* allowed) const override {
    detail::check_search_args(*this, nq, k, allowed);
    const std::vector<float> q = detail::normalized_rows(nq, dim_, queries, "query");
    SearchResult r = detail::empty_result(*this, nq, k);
    if (nq == 0 || r.k == 0) return r;
    // Queries in blocks, so that the score matrix stays small for large batches.
    constexpr int64_t kBlock = 64;
    const int64_t n = size();
    std::vector<float> scores(static_cast<size_t>(std::min(nq, kBlock) * n));
    for (int64_t first = 0; first < nq; first += kBlock) {
      const int64_t m = std::min(kBlock, nq - first);
      inner_products(data_.data(), n, dim_, q.data() + first * dim_, static_cast<int>(m), scores.data());
      detail::top_k_rows(scores.data(), m, n, allowed, r.k, r.ids.data() + first * r.k, r.scores.data() + first * r.k);
    }
    return r;
  }

 private:
  int dim_;
  std::vector<float> data_;
};

}  // namespace

std::unique_ptr<VectorIndex> make_brute_force_index(int dim) { return std::make_unique<BruteForceIndex>(dim); }

std::unique_ptr<VectorIndex> make_flat_index(int dim) { return std::make_unique<FlatIndex>(dim); }

std::unique_ptr<VectorIndex> make_default_index(int dim) {
  return faiss_compiled() ? make_faiss_index(dim) : make_flat_index(dim);
}

#if !N2V_WITH_FAISS
// This build has no FAISS (NET2VEC_WITH_FAISS=OFF): faiss_index.cpp is not compiled.
bool faiss_compiled() { return false; }
bool faiss_gpu_support_compiled() { return false; }
bool faiss_gpu_available() { return false; }
std::unique_ptr<VectorIndex> make_faiss_index(int, const FaissIndexOptions&) {
  N2V_THROW(kUnsupported, "this build of net2vec has no FAISS (configured with NET2VEC_WITH_FAISS=OFF); "
                          "use make_default_index()");
}
#endif

}  // namespace n2v
