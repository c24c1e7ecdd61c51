#include "query/detail/similarity.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/error.h"
#include "query/gemm.h"

namespace n2v::detail {
namespace {

// A self-HSIC at most this fraction of its scale (||K||_F^2 / (n (n - 3)) for the unbiased
// form) is rounding of a zero: every shared concept points the same way.
constexpr double kZeroSelf = 1e-12;

// Permutations per task of the permutation pass: each task builds its permuted Grams once and
// sets every partner space against them, so a larger chunk reads the partners fewer times.
// Bounded by memory: kChunkFloats floats of permuted Grams per worker, and as many of partners'
// Grams (a larger chunk gained nothing measurable and cost page faults: 16 MiB buffers doubled
// the system time of a 10-space comparison).
constexpr size_t kChunkFloats = size_t{1} << 20;  // 4 MiB

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without bias (Lemire 2019: multiply, reject the short interval).
uint32_t below(uint64_t& state, uint32_t n) {
  uint64_t m = static_cast<uint64_t>(static_cast<uint32_t>(splitmix64(state))) * n;
  uint32_t low = static_cast<uint32_t>(m);
  if (low < n) {
    const uint32_t threshold = static_cast<uint32_t>(-n) % n;
    while (low < threshold) {
      m = static_cast<uint64_t>(static_cast<uint32_t>(splitmix64(state))) * n;
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32);
}

// One pair's statistics for one order of space j's concepts (`perm`: nullptr for the stored
// order): D_ij, linear CKA and unbiased CKA from <K, P L P'>_F and the O(C) cross terms.
struct Statistics {
  double distance, cka, cka_unbiased;
};

struct PairTerms {
  const GramSummary& x;
  const GramSummary& y;
  const UnbiasedTerms& tx;
  const UnbiasedTerms& ty;
  int C;
  Statistics operator()(double inner, const int* perm) const {
    double rr = 0, dd = 0, tt = 0;
    for (int a = 0; a < C; ++a) {
      const int b = perm ? perm[a] : a;
      rr += x.row_mean[a] * y.row_mean[b];
      dd += x.diag[a] * y.diag[b];
      tt += tx.tilde_row_sum[a] * ty.tilde_row_sum[b];
    }
    Statistics s;
    s.distance = x.frob2 + y.frob2 - 2.0 * inner;
    const double hsic = inner - 2.0 * C * rr + static_cast<double>(C) * C * x.grand_mean * y.grand_mean;
    s.cka = hsic / std::sqrt(x.hsic * y.hsic);
    s.cka_unbiased =
        C >= 4 ? unbiased_hsic(inner, -dd - 2.0 / (C - 2) * tt, tx, ty, C) / std::sqrt(tx.self * ty.self) : NAN;
    return s;
  }
};

// Partial counts and sums of one pair over one chunk of permutations.
struct Partial {
  int extreme_distance = 0, extreme_cka = 0, extreme_unbiased = 0;
  double sum_distance = 0, sum_cka = 0, sum_unbiased = 0;
};

}  // namespace

UnbiasedTerms unbiased_terms(const GramSummary& s, int C) {
  UnbiasedTerms t;
  t.tilde_row_sum.resize(C);
  double diag_sum = 0, diag2 = 0;
  for (int c = 0; c < C; ++c) {
    t.tilde_row_sum[c] = s.row_mean[c] * C - s.diag[c];
    diag_sum += s.diag[c];
    diag2 += s.diag[c] * s.diag[c];
  }
  t.tilde_sum = s.grand_mean * C * C - diag_sum;
  if (C < 4) return t;
  double cross = 0;
  for (double v : t.tilde_row_sum) cross += v * v;
  t.self = unbiased_hsic(s.frob2, -diag2 - 2.0 / (C - 2) * cross, t, t, C);
  t.defined = t.self > kZeroSelf * s.frob2 / (static_cast<double>(C) * (C - 3));
  return t;
}

double unbiased_hsic(double inner, double pair_terms, const UnbiasedTerms& k, const UnbiasedTerms& l, int C) {
  const double n = C;
  return (inner + pair_terms + k.tilde_sum * l.tilde_sum / ((n - 1) * (n - 2))) / (n * (n - 3));
}

UnbiasedRows unbiased_rows(const std::vector<GramSummary>& summary, const std::vector<UnbiasedTerms>& terms, int C) {
  UnbiasedRows rows(static_cast<Eigen::Index>(summary.size()), 2 * C);
  for (size_t s = 0; s < summary.size(); ++s)
    for (int c = 0; c < C; ++c) {
      rows(s, c) = summary[s].diag[c];
      rows(s, C + c) = terms[s].tilde_row_sum[c];
    }
  return rows;
}

Eigen::MatrixXd unbiased_pair_terms(const UnbiasedRows& rows, int i0, int bi, int j0, int bj, int C) {
  const auto a = rows.middleRows(i0, bi), b = rows.middleRows(j0, bj);
  Eigen::MatrixXd out(bi, bj);
  out.noalias() = -(a.leftCols(C) * b.leftCols(C).transpose());
  out.noalias() -= (2.0 / (C - 2)) * (a.rightCols(C) * b.rightCols(C).transpose());
  return out;
}

std::string linear_cka_undefined(const std::vector<std::string>& spaces, const std::vector<bool>& linear_defined,
                                 int i, int j) {
  for (int s : {i, j})
    if (!linear_defined[s])
      return "the centred Gram of '" + spaces[s] + "' is zero: its shared concepts all point the same way";
  return "";
}

std::string unbiased_cka_undefined(const std::vector<std::string>& spaces, const std::vector<UnbiasedTerms>& terms,
                                   int C, int i, int j) {
  if (C < 4)
    return "unbiased CKA needs at least 4 shared concepts, got " + std::to_string(C);
  for (int s : {i, j})
    if (!terms[s].defined) {
      std::ostringstream why;
      why << "the unbiased HSIC of '" << spaces[s] << "' with itself is not positive (" << terms[s].self
          << "): its shared concepts are (nearly) all alike";
      return why.str();
    }
  return "";
}

bool permutation_test_runs(const CompareOptions& options, int m, int C, SpaceComparison& out) {
  if (options.permutations <= 0) return false;
  const double work = static_cast<double>(options.permutations) * (m * (m - 1.0) / 2) * C * C;
  if (options.max_permutation_work <= 0 || work <= options.max_permutation_work) return true;
  std::ostringstream why;
  why << "the permutation test of " << options.permutations << " permutations over " << m * (m - 1) / 2
      << " pairs of " << C << " concepts is " << work << " multiply-adds, over this server's ceiling of "
      << options.max_permutation_work << ": ask for fewer permutations or spaces";
  N2V_CHECK(options.permutations_optional, kInvalidArgument, why.str());
  out.permutation_skipped = why.str();
  return false;
}

std::vector<int> concept_permutation(uint64_t seed, int j, int r, int n) {
  // The stream of (seed, j, r): each key mixed in turn, so nearby keys give unrelated streams.
  uint64_t state = seed;
  state = splitmix64(state) ^ static_cast<uint64_t>(j);
  state = splitmix64(state) ^ static_cast<uint64_t>(r);
  std::vector<int> perm(n);
  for (int c = 0; c < n; ++c) perm[c] = c;
  for (int c = n - 1; c > 0; --c) std::swap(perm[c], perm[below(state, static_cast<uint32_t>(c + 1))]);
  return perm;
}

void permutation_test(const ReadGram& read_gram, const std::vector<GramSummary>& summary,
                      const std::vector<bool>& linear_defined, const std::vector<UnbiasedTerms>& terms, int C, int R,
                      uint64_t seed, const ParallelFor& parallel, std::vector<PairComparison>& pairs) {
  const int m = static_cast<int>(summary.size());
  const size_t gram = static_cast<size_t>(C) * C;
  const int chunk = static_cast<int>(std::clamp<size_t>(kChunkFloats / gram, 1, static_cast<size_t>(R)));
  const int chunks = (R + chunk - 1) / chunk;
  auto pair_index = [m](int i, int j) {
    return static_cast<size_t>(i) * m - static_cast<size_t>(i) * (i + 1) / 2 + (j - i - 1);
  };
  auto terms_of = [&](int i, int j) { return PairTerms{summary[i], summary[j], terms[i], terms[j], C}; };

  // <K, P L P'>_F of many (permutation, partner) pairs at once: C = A B^T over rows of C^2
  // floats (query/gemm.h; the wide paths at ~100 GFLOP/s, where per-row dots ran at ~2). On the
  // wide paths every entry is the same FMA chain whatever the shapes, so the observed value
  // (the identity as A's one row) is bit for bit what the identity would give among the null.
  const GemmPath path = gemm_path();
  const int k_len = static_cast<int>(gram);

  // The observed statistics, on the null's path.
  std::vector<Statistics> observed(pairs.size());
  parallel(static_cast<int>(pairs.size()), [&](int p, std::vector<float>& scratch) {
    scratch.resize(2 * gram);
    const int i = pairs[p].i, j = pairs[p].j;
    read_gram(j, scratch.data());
    read_gram(i, scratch.data() + gram);
    float inner = 0;
    gemm_abt(path, scratch.data(), k_len, scratch.data() + gram, k_len, 1, 1, k_len, &inner, 1);
    observed[p] = terms_of(i, j)(inner, nullptr);
  });

  // Tasks (j, chunk): space j's Gram permuted `chunk` times, each set against every i < j.
  std::vector<std::pair<int, int>> tasks;
  for (int j = 1; j < m; ++j)
    for (int k = 0; k < chunks; ++k) tasks.emplace_back(j, k);
  std::vector<Partial> partial(pairs.size() * chunks);  // [pair][chunk]: summed in chunk order
  parallel(static_cast<int>(tasks.size()), [&](int t, std::vector<float>& scratch) {
    const auto [j, k] = tasks[t];
    const int r0 = k * chunk, n = std::min(chunk, R - r0);
    // Partners in blocks of up to `block` Grams (as much memory as the permuted ones).
    const int block = static_cast<int>(std::clamp<size_t>(kChunkFloats / gram, 1, static_cast<size_t>(j)));
    scratch.resize((1 + static_cast<size_t>(n) + block) * gram);
    float* const l = scratch.data();
    float* const permuted = l + gram;
    float* const others = permuted + static_cast<size_t>(n) * gram;
    std::vector<float> inner(static_cast<size_t>(n) * block);
    read_gram(j, l);
    std::vector<std::vector<int>> perms(n);
    for (int e = 0; e < n; ++e) {
      perms[e] = concept_permutation(seed, j, r0 + e, C);
      const int* perm = perms[e].data();
      float* out = permuted + e * gram;
      for (int a = 0; a < C; ++a) {
        const float* src = l + static_cast<size_t>(perm[a]) * C;
        for (int b = 0; b < C; ++b) out[static_cast<size_t>(a) * C + b] = src[perm[b]];
      }
    }
    for (int i0 = 0; i0 < j; i0 += block) {
      const int bi = std::min(block, j - i0);
      for (int b = 0; b < bi; ++b) read_gram(i0 + b, others + static_cast<size_t>(b) * gram);
      gemm_abt(path, permuted, k_len, others, k_len, n, bi, k_len, inner.data(), bi);
      for (int b = 0; b < bi; ++b) {
        const int i = i0 + b;
        const size_t p = pair_index(i, j);
        const PairTerms pt = terms_of(i, j);
        const Statistics& obs = observed[p];
        Partial& acc = partial[p * chunks + k];
        for (int e = 0; e < n; ++e) {
          const Statistics s = pt(inner[static_cast<size_t>(e) * bi + b], perms[e].data());
          acc.extreme_distance += s.distance <= obs.distance;
          acc.extreme_cka += s.cka >= obs.cka;
          acc.extreme_unbiased += s.cka_unbiased >= obs.cka_unbiased;
          acc.sum_distance += s.distance;
          acc.sum_cka += s.cka;
          acc.sum_unbiased += s.cka_unbiased;
        }
      }
    }
  });

  for (size_t p = 0; p < pairs.size(); ++p) {
    Partial all;
    for (int k = 0; k < chunks; ++k) {
      const Partial& part = partial[p * chunks + k];
      all.extreme_distance += part.extreme_distance;
      all.extreme_cka += part.extreme_cka;
      all.extreme_unbiased += part.extreme_unbiased;
      all.sum_distance += part.sum_distance;
      all.sum_cka += part.sum_cka;
      all.sum_unbiased += part.sum_unbiased;
    }
    PairComparison& pair = pairs[p];
    PermutationTest& test = pair.permutation;
    test.permutations = R;
    const auto p_value = [R](int extreme) { return (1.0 + extreme) / (R + 1.0); };
    test.p_distance = p_value(all.extreme_distance);
    test.null_distance = all.sum_distance / R;
    const bool linear = linear_defined[pair.i] && linear_defined[pair.j];
    test.p_cka = linear ? p_value(all.extreme_cka) : NAN;
    test.null_cka = linear ? all.sum_cka / R : NAN;
    const bool unbiased = C >= 4 && terms[pair.i].defined && terms[pair.j].defined;
    test.p_cka_unbiased = unbiased ? p_value(all.extreme_unbiased) : NAN;
    test.null_cka_unbiased = unbiased ? all.sum_unbiased / R : NAN;
  }
}

}  // namespace n2v::detail
