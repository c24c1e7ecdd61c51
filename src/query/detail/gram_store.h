#pragma once
// Internal to src/query: compare's Grams (query/compare.cpp, its pass 1): one space's C x C
// Gram with the statistics pass 2 needs, and the store of every space's Gram, in memory when it
// fits the budget, else in an unlinked temporary file. In float (large comparisons, the wide
// kernels of query/gemm.h) or in double (CompareOptions::precision: to agree with a float64
// reference to 1e-6 of every value, not only of its range).

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "query/gemm.h"
#include "query/detail/space_data.h"

namespace n2v {
class TempFile;
}

namespace n2v::detail {

// A space's Gram statistics (the Gram itself goes to a buffer of the caller's, then the store):
// what pass 2 needs of the space.
struct GramSummary {
  Eigen::VectorXd row_mean;
  std::vector<double> row_norm2;  // ||G[c]||^2 per row, in double
  std::vector<double> diag;       // G[c][c] (~1: unit rows), for the unbiased HSIC (detail/similarity.h)
  double grand_mean = 0, frob2 = 0, hsic = 0;  // ||G||_F^2, <HGH, HGH>_F
};

// The Gram of the space's unit rows `rows` (C x C, row-major) into g, its statistics returned;
// u: scratch, resized to the C x d unit rows (kept by the caller between spaces, as g is).
// Float: the stored unit rows (SpaceData::unit), the product on `path`. Double: the stored rows
// divided by their double norms (SpaceData::norms), Eigen's double product (`path` unused).
GramSummary space_gram(const SpaceData& s, const std::vector<int>& rows, GemmPath path, std::vector<float>& u,
                       float* g);
GramSummary space_gram(const SpaceData& s, const std::vector<int>& rows, GemmPath path, std::vector<double>& u,
                       double* g);

// Every space's C x C Gram, row-interleaved: row c of space s at ((c * m + s) * C) floats, so
// rows c of spaces s0 .. s0+n-1 are one contiguous n x C panel. Memory, or an unlinked
// temporary file (in `dir`) written with pwrite and read back with pread into the caller's
// buffers (not mapped, so the process's resident memory stays within the budget).
// T: float or double (instantiated for both in gram_store.cpp).
template <class T>
class GramStore {
 public:
  using Scalar = T;
  GramStore(int m, int C, bool in_file, const std::string& dir);
  ~GramStore();
  GramStore(const GramStore&) = delete;
  GramStore& operator=(const GramStore&) = delete;

  bool in_file() const { return file_ != nullptr; }

  // Stores space s's Gram (C x C row-major). Thread-safe for distinct s.
  void put(int s, const T* g);

  // Rows c of spaces s0 .. s0+n-1 (n x C values): in memory, a pointer into the store;
  // else read into `buffer` (n x C values) and returned. Thread-safe.
  const T* panel(int c, int s0, int n, T* buffer) const {
    return in_file() ? read(offset(c, s0), static_cast<size_t>(n) * C_, buffer) : memory_.data() + offset(c, s0);
  }

  // Space s's whole Gram (C x C row-major) in float, rounded from double where the store is
  // (the permutation test's null needs no more: detail/similarity.h). `row`: C values of scratch.
  void gram_as_float(int s, float* out, std::vector<T>& row) const;

 private:
  size_t offset(int c, int s) const { return (static_cast<size_t>(c) * m_ + s) * C_; }
  void write(size_t at, const T* values, size_t n);
  const T* read(size_t at, size_t n, T* buffer) const;

  int m_, C_;
  std::vector<T> memory_;
  std::unique_ptr<TempFile> file_;  // null: in memory
};

}  // namespace n2v::detail
