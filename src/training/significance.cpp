// Bootstrap intervals and permutation tests of the val scores (detail/significance.h).

#include "training/detail/significance.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>

namespace n2v::detail {

namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A discrete distribution on lo..lo+size-1 from its log pmf, drawn by inverse CDF.
class DiscreteCdf {
 public:
  DiscreteCdf(int64_t lo, const std::vector<double>& log_pmf) : lo_(lo), cdf_(log_pmf.size()) {
    const double top = *std::max_element(log_pmf.begin(), log_pmf.end());
    double sum = 0;
    for (size_t i = 0; i < log_pmf.size(); ++i) cdf_[i] = sum += std::exp(log_pmf[i] - top);
    for (double& v : cdf_) v /= sum;
    cdf_.back() = 1.0;
  }
  int64_t draw(StatRng& rng) const {
    const double u = rng.unit();
    return lo_ + (std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  int64_t lo_;
  std::vector<double> cdf_;
};

double log_choose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

// Binomial(n, p); degenerate (a point) when p is 0 or 1.
DiscreteCdf binomial(int64_t n, int64_t successes) {
  if (successes <= 0 || successes >= n) return DiscreteCdf(successes <= 0 ? 0 : n, {0.0});
  const double p = static_cast<double>(successes) / static_cast<double>(n);
  std::vector<double> log_pmf(n + 1);
  for (int64_t k = 0; k <= n; ++k)
    log_pmf[k] = log_choose(n, k) + k * std::log(p) + (n - k) * std::log1p(-p);
  return DiscreteCdf(0, log_pmf);
}

// Successes among `draws` taken without replacement from `total` holding `marked`.
DiscreteCdf hypergeometric(int64_t total, int64_t marked, int64_t draws) {
  const int64_t lo = std::max<int64_t>(0, draws + marked - total), hi = std::min(draws, marked);
  std::vector<double> log_pmf(hi - lo + 1);
  for (int64_t x = lo; x <= hi; ++x)
    log_pmf[x - lo] = log_choose(marked, x) + log_choose(total - marked, draws - x);
  return DiscreteCdf(lo, log_pmf);
}

Chance chance_of(double observed, const std::vector<double>& null) {
  // Scores are float32 when stored; a null equal to the observed score up to rounding counts
  // as reaching it (a tie must not look significant).
  const double eps = 1e-9 * std::max(1.0, std::abs(observed));
  int64_t reach = 0;
  double sum = 0;
  for (double v : null) {
    reach += v >= observed - eps;
    sum += v;
  }
  Chance out;
  out.p = static_cast<float>(static_cast<double>(1 + reach) / static_cast<double>(null.size() + 1));
  out.null_mean = static_cast<float>(sum / static_cast<double>(null.size()));
  return out;
}

}  // namespace

StatRng::StatRng(uint64_t seed, uint64_t stream) : state_(mix(seed * 0x9e3779b97f4a7c15ULL + mix(stream + 1))) {}

uint64_t StatRng::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return mix(state_);
}

uint64_t StatRng::below(uint64_t n) {
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t floor = (0 - n) % n;
    while (low < floor) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double StatRng::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

uint64_t stat_stream(int concept_number, StatPurpose purpose) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(concept_number)) << 8) | static_cast<uint64_t>(purpose);
}

Interval percentile_interval(std::vector<double> values) {
  Interval out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const double pos = q * static_cast<double>(values.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    const double frac = pos - static_cast<double>(i);
    return i + 1 < values.size() ? values[i] + frac * (values[i + 1] - values[i]) : values[i];
  };
  out.low = static_cast<float>(at(0.025));
  out.high = static_cast<float>(at(0.975));
  return out;
}

double set_iou_of(std::span<const float> inter, std::span<const float> uni) {
  const double i = std::accumulate(inter.begin(), inter.end(), 0.0);
  const double u = std::accumulate(uni.begin(), uni.end(), 0.0);
  return u > 0 ? i / u : 0.0;
}

Interval bootstrap_set_iou(std::span<const float> inter, std::span<const float> uni, int resamples, StatRng& rng) {
  const size_t n = inter.size();
  if (n == 0 || resamples <= 0) return {};
  std::vector<double> values(resamples);
  for (int r = 0; r < resamples; ++r) {
    double i = 0, u = 0;
    for (size_t d = 0; d < n; ++d) {
      const size_t at = rng.below(n);
      i += inter[at];
      u += uni[at];
    }
    values[r] = u > 0 ? i / u : 0.0;
  }
  return percentile_interval(std::move(values));
}

double balanced_accuracy_of(const Confusion& c) {
  const double tpr = c.pos > 0 ? static_cast<double>(c.tp) / static_cast<double>(c.pos) : 0.0;
  const double tnr = c.neg > 0 ? static_cast<double>(c.tn) / static_cast<double>(c.neg) : 0.0;
  return 0.5 * (tpr + tnr);
}

Interval bootstrap_balanced_accuracy(const Confusion& c, int resamples, StatRng& rng) {
  if (c.pos + c.neg == 0 || resamples <= 0) return {};
  const DiscreteCdf tp = binomial(c.pos, c.tp), tn = binomial(c.neg, c.tn);
  std::vector<double> values(resamples);
  for (int r = 0; r < resamples; ++r) {
    Confusion s = c;
    s.tp = tp.draw(rng);
    s.tn = tn.draw(rng);
    values[r] = balanced_accuracy_of(s);
  }
  return percentile_interval(std::move(values));
}

Chance permutation_balanced_accuracy(const Confusion& c, int permutations, StatRng& rng) {
  if (c.pos + c.neg == 0 || permutations <= 0) return {};
  const int64_t q = c.predicted_positive();
  const DiscreteCdf tp = hypergeometric(c.pos + c.neg, c.pos, q);
  std::vector<double> null(permutations);
  for (int r = 0; r < permutations; ++r) {
    Confusion s = c;
    s.tp = tp.draw(rng);
    s.tn = c.neg - (q - s.tp);
    null[r] = balanced_accuracy_of(s);
  }
  return chance_of(balanced_accuracy_of(c), null);
}

namespace {

int64_t and_count_portable(const uint8_t* a, const uint8_t* b, size_t bytes) {
  int64_t n = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    n += std::popcount(x & y);
  }
  for (; i < bytes; ++i) n += std::popcount(static_cast<unsigned>(a[i] & b[i]));
  return n;
}

// The same loop compiled with the POPCNT instruction (the baseline build calls libgcc's
// __popcountdi2 for each word instead).
__attribute__((target("popcnt"))) int64_t and_count_popcnt(const uint8_t* a, const uint8_t* b, size_t bytes) {
  int64_t n = 0;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    n += __builtin_popcountll(x & y);
  }
  for (; i < bytes; ++i) n += __builtin_popcount(static_cast<unsigned>(a[i] & b[i]));
  return n;
}

// 64 bytes at a time: 8 per-word counts summed in 8 lanes; the tail (a 112 x 112 mask is 1,568
// bytes, 113 x 113 1,597) by a masked load of the bytes left.
__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,bmi2"))) int64_t and_count_avx512(const uint8_t* a,
                                                                                     const uint8_t* b,
                                                                                     size_t bytes) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    const __m512i x = _mm512_loadu_si512(a + i), y = _mm512_loadu_si512(b + i);
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
  }
  if (i < bytes) {
    const __mmask64 left = _bzhi_u64(~0ULL, static_cast<unsigned>(bytes - i));
    const __m512i x = _mm512_maskz_loadu_epi8(left, a + i), y = _mm512_maskz_loadu_epi8(left, b + i);
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
  }
  // The lanes summed from memory: GCC 12's _mm512_reduce_add_epi64 warns of an uninitialised
  // (unused) register in its own header.
  alignas(64) int64_t lanes[8];
  _mm512_store_si512(lanes, acc);
  int64_t n = 0;
  for (int64_t v : lanes) n += v;
  return n;
}

using AndCount = int64_t (*)(const uint8_t*, const uint8_t*, size_t);

AndCount and_count_of(PopcountPath path) {
  switch (path) {
    case PopcountPath::kAvx512: return and_count_avx512;
    case PopcountPath::kPopcnt: return and_count_popcnt;
    case PopcountPath::kPortable: break;
  }
  return and_count_portable;
}

const AndCount and_count = and_count_of(popcount_path());

}  // namespace

bool popcount_path_supported(PopcountPath path) {
  __builtin_cpu_init();
  switch (path) {
    case PopcountPath::kAvx512:
      // __builtin_cpu_supports also asks the OS (XGETBV) whether it saves the zmm registers.
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("bmi2");
    case PopcountPath::kPopcnt: return __builtin_cpu_supports("popcnt");
    case PopcountPath::kPortable: return true;
  }
  return false;
}

PopcountPath popcount_path() {
  static const PopcountPath path = popcount_path_supported(PopcountPath::kAvx512)   ? PopcountPath::kAvx512
                                   : popcount_path_supported(PopcountPath::kPopcnt) ? PopcountPath::kPopcnt
                                                                                    : PopcountPath::kPortable;
  return path;
}

int64_t popcount_bytes(const uint8_t* a, size_t bytes) { return and_count(a, a, bytes); }

int64_t popcount_and(const uint8_t* a, const uint8_t* b, size_t bytes) { return and_count(a, b, bytes); }

int64_t popcount_and(PopcountPath path, const uint8_t* a, const uint8_t* b, size_t bytes) {
  return and_count_of(popcount_path_supported(path) ? path : PopcountPath::kPortable)(a, b, bytes);
}

Chance permutation_set_iou(const std::vector<const uint8_t*>& pred, const std::vector<const uint8_t*>& target,
                           size_t bytes, int permutations, StatRng& rng, double* observed) {
  const size_t n = pred.size();
  if (n == 0 || n != target.size() || permutations <= 0) return {};
  double fixed = 0, inter = 0;  // sum |P| + sum |G|; the observed intersection
  std::vector<size_t> lit;      // images whose prediction has pixels: the others add nothing
  for (size_t i = 0; i < n; ++i) {
    const int64_t p = popcount_bytes(pred[i], bytes);
    fixed += static_cast<double>(p + popcount_bytes(target[i], bytes));
    inter += static_cast<double>(popcount_and(pred[i], target[i], bytes));
    if (p > 0) lit.push_back(i);
  }
  const double score = fixed - inter > 0 ? inter / (fixed - inter) : 0.0;
  if (observed) *observed = score;
  // With n <= R, every lit prediction against every target (lit x n products) costs no more
  // than R permutations' (R x lit): the products are taken once and permutations add them up.
  const bool table = n <= static_cast<size_t>(permutations);
  std::vector<int32_t> products;
  if (table) {
    products.resize(lit.size() * n);
    for (size_t a = 0; a < lit.size(); ++a)
      for (size_t j = 0; j < n; ++j)
        products[a * n + j] = static_cast<int32_t>(popcount_and(pred[lit[a]], target[j], bytes));
  }
  // Permutations in blocks: without the table, each lit prediction is set against its target
  // under every permutation of the block while it is in L1, instead of streamed once per
  // permutation (the masks of a concept in thousands of images fill the last-level cache). The
  // permutations are drawn in the same order, so the null is the same.
  constexpr int kBlock = 16;
  std::vector<size_t> perms(static_cast<size_t>(kBlock) * n);
  std::vector<double> null(permutations);
  for (int r0 = 0; r0 < permutations; r0 += kBlock) {
    const int block = std::min(kBlock, permutations - r0);
    for (int e = 0; e < block; ++e) {
      size_t* perm = perms.data() + static_cast<size_t>(e) * n;
      std::iota(perm, perm + n, size_t{0});
      for (size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);  // Fisher-Yates
    }
    double sum[kBlock] = {};
    for (size_t a = 0; a < lit.size(); ++a) {
      const size_t i = lit[a];
      for (int e = 0; e < block; ++e) {
        const size_t j = perms[static_cast<size_t>(e) * n + i];
        sum[e] += table ? products[a * n + j] : static_cast<double>(popcount_and(pred[i], target[j], bytes));
      }
    }
    for (int e = 0; e < block; ++e) null[r0 + e] = fixed - sum[e] > 0 ? sum[e] / (fixed - sum[e]) : 0.0;
  }
  return chance_of(score, null);
}

}  // namespace n2v::detail
