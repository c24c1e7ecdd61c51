#pragma once
// Internal to src/query: compare's Grams (query/compare.cpp, its pass 1): one space's C x C
// Gram with the statistics pass 2 needs, and the store of every space's Gram, in memory when it
// fits the budget, else in an unlinked temporary file.

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
GramSummary space_gram(const SpaceData& s, const std::vector<int>& rows, GemmPath path, std::vector<float>& u,
                       float* g);

// Every space's C x C Gram, row-interleaved: row c of space s at ((c * m + s) * C) floats, so
// rows c of spaces s0 .. s0+n-1 are one contiguous n x C panel. Memory, or an unlinked
// temporary file (in `dir`) written with pwrite and read back with pread into the caller's
// buffers (not mapped, so the process's resident memory stays within the budget).
class GramStore {
 public:
  GramStore(int m, int C, bool in_file, const std::string& dir);
  ~GramStore();
  GramStore(const GramStore&) = delete;
  GramStore& operator=(const GramStore&) = delete;

  bool in_file() const { return file_ != nullptr; }

  // Stores space s's Gram (C x C row-major). Thread-safe for distinct s.
  void put(int s, const float* g);

  // Rows c of spaces s0 .. s0+n-1 (n x C floats): in memory, a pointer into the store;
  // else read into `buffer` (n x C floats) and returned. Thread-safe.
  const float* panel(int c, int s0, int n, float* buffer) const {
    return in_file() ? read(offset(c, s0), static_cast<size_t>(n) * C_, buffer) : memory_.data() + offset(c, s0);
  }

 private:
  size_t offset(int c, int s) const { return (static_cast<size_t>(c) * m_ + s) * C_; }
  void write(size_t at, const float* values, size_t n);
  const float* read(size_t at, size_t n, float* buffer) const;

  int m_, C_;
  std::vector<float> memory_;
  std::unique_ptr<TempFile> file_;  // null: in memory
};

}  // namespace n2v::detail
