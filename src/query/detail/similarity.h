#pragma once
// Internal to src/query: compare's measures beyond D_ij and linear CKA (query/compare.cpp):
// unbiased CKA and the permutation test of every pair (docs/QUERIES.md).
//
// Unbiased CKA (Nguyen, Raghu & Kornblith 2021) replaces the biased HSIC of linear CKA with
// the unbiased estimator of Song et al. (2012). For n x n Grams K, L with their diagonals set
// to zero (K~, L~):
//   HSIC_u(K, L) = [ tr(K~ L~) + (1'K~1)(1'L~1) / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1 ] / (n(n-3))
//   CKA_u        = HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L))
// with tr(K~ L~) = <K, L>_F - sum_c K_cc L_cc and 1'K~L~1 = (K~1).(L~1): from <K, L>_F (the
// pairwise pass's sum) and O(n) terms per space, so nothing more is stored. Defined for n >= 4.
//
// The permutation test: the null statistics of a pair are those of K against P L P' for R
// random permutations P of the shared concepts. Permuting L's rows and columns changes only
// <K, P L P'>_F (O(n^2)) and the O(n) cross terms (r_K.(P r_L), diag and K~1 products): its
// Frobenius norm, grand mean and self-HSICs stay.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "query/detail/gram_store.h"
#include "query/query.h"

namespace n2v::detail {

// One space's terms of the unbiased HSIC, from its Gram summary (C = n shared concepts).
struct UnbiasedTerms {
  std::vector<double> tilde_row_sum;  // (K~ 1)_c = sum_b K_cb - K_cc
  double tilde_sum = 0;               // 1' K~ 1
  double self = 0;                    // HSIC_u(K, K); meaningful for C >= 4
  bool defined = false;               // C >= 4 and self clearly positive
};
UnbiasedTerms unbiased_terms(const GramSummary& s, int C);

// HSIC_u(K, L) from inner = <K, L>_F and pair_terms = -sum_c K_cc L_cc - 2/(C-2) (K~1).(L~1).
double unbiased_hsic(double inner, double pair_terms, const UnbiasedTerms& k, const UnbiasedTerms& l, int C);

// Every space's diagonal and K~1 side by side, row s = [K_cc ..., (K~1)_c ...] (m x 2C), so that
// pass 2 gets a block pair's pair_terms as two GEMMs (unbiased_pair_terms) instead of two
// scattered O(C) dot products per pair.
using UnbiasedRows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
UnbiasedRows unbiased_rows(const std::vector<GramSummary>& summary, const std::vector<UnbiasedTerms>& terms, int C);
// pair_terms of spaces i0 .. i0+bi-1 (rows) against j0 .. j0+bj-1 (columns); C >= 4.
Eigen::MatrixXd unbiased_pair_terms(const UnbiasedRows& rows, int i0, int bi, int j0, int bj, int C);

// Why CKA / unbiased CKA of spaces i and j is undefined ("" where defined). `linear_defined`:
// each space's centred Gram is non-zero.
std::string linear_cka_undefined(const std::vector<std::string>& spaces, const std::vector<bool>& linear_defined,
                                 int i, int j);
std::string unbiased_cka_undefined(const std::vector<std::string>& spaces, const std::vector<UnbiasedTerms>& terms,
                                   int C, int i, int j);

// Every pair's permutation test (PairComparison::permutation) from the Grams in the store, in float:
// R = options.permutations, permutation r of space j drawn from (seed, j, r) by splitmix64 and
// Fisher-Yates (the same on every platform and thread count). Each pair's observed statistics
// are recomputed on the same path as the null's, so ties compare like with like.
// `linear_defined`, `terms`: per space. `parallel(n, fn)` runs fn(task, scratch) for every
// task 0..n-1, scratch a buffer of the worker's own, kept between its tasks (compare's
// thread pool). Memory: per worker one Gram, up to 4 MiB of permuted Grams and as much of
// partners'. <K, P L P'>_F comes from compare's float GEMM (query/gemm.h) over rows of C^2: float
// sums, ~1e-6 relative, ample for a null whose Monte Carlo error is ~1/sqrt(R).
// `read_gram(s, out)`: space s's whole Gram, C x C row-major floats (GramStore::gram_as_float);
// called from the workers at once.
using ParallelFor = std::function<void(int n, const std::function<void(int task, std::vector<float>& scratch)>& fn)>;
using ReadGram = std::function<void(int s, float* out)>;
void permutation_test(const ReadGram& read_gram, const std::vector<GramSummary>& summary,
                      const std::vector<bool>& linear_defined, const std::vector<UnbiasedTerms>& terms, int C, int R,
                      uint64_t seed, const ParallelFor& parallel, std::vector<PairComparison>& pairs);

// Whether the permutation test runs: asked for (options.permutations > 0), and within its work
// ceiling (R x pairs x C^2 multiply-adds); over it, kInvalidArgument, or with
// options.permutations_optional, false with out.permutation_skipped saying why.
bool permutation_test_runs(const CompareOptions& options, int m, int C, SpaceComparison& out);

// Permutation r of 0..n-1 for space j under `seed` (tests: the test's draws).
std::vector<int> concept_permutation(uint64_t seed, int j, int r, int n);

}  // namespace n2v::detail
