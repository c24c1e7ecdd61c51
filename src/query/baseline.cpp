// CosineBaseline (query/query.h): how a space's concept-pair cosines are spread, the reading of
// a neighbour's cosine. Built once per loaded space, on the first neighbours query.

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "query/detail/engine_impl.h"

namespace n2v {
namespace {

// SplitMix64: the pairs drawn are the same on every machine and build.
uint64_t next(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Of two unit rows (index/vector_index.h's kernel: float lanes, double sum).
double cosine(const detail::SpaceData& s, int a, int b) {
  double squared = 0, dot = 0;
  squared_distance_and_dot(s.unit.data() + static_cast<size_t>(a) * s.d, s.unit.data() + static_cast<size_t>(b) * s.d,
                           s.d, &squared, &dot);
  return dot;
}

// The q-quantile of ascending values, interpolating between order statistics.
double quantile(const std::vector<float>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double frac = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] + frac * (sorted[i + 1] - sorted[i]) : sorted[i];
}

std::shared_ptr<const CosineBaseline> build(const detail::SpaceData& s) {
  std::vector<int> rows;
  for (int r = 0; r < s.n; ++r)
    if (s.valid[r]) rows.push_back(r);
  const int64_t v = static_cast<int64_t>(rows.size());
  if (v < 2) return nullptr;
  auto out = std::make_shared<CosineBaseline>();
  const int64_t all = v * (v - 1) / 2;
  out->sampled = all > CosineBaseline::kSampledPairs;
  out->pairs = out->sampled ? CosineBaseline::kSampledPairs : all;
  out->sorted.reserve(static_cast<size_t>(out->pairs));
  if (!out->sampled) {
    for (int64_t a = 0; a < v; ++a)
      for (int64_t b = a + 1; b < v; ++b) out->sorted.push_back(static_cast<float>(cosine(s, rows[a], rows[b])));
  } else {
    // Ordered pairs (a, b), a != b, uniformly: each unordered pair equally likely.
    uint64_t state = 0x6E657432766563ull;  // "net2vec"
    for (int64_t k = 0; k < out->pairs; ++k) {
      int64_t a, b;
      do {
        a = static_cast<int64_t>(next(state) % static_cast<uint64_t>(v));
        b = static_cast<int64_t>(next(state) % static_cast<uint64_t>(v));
      } while (a == b);
      out->sorted.push_back(static_cast<float>(cosine(s, rows[a], rows[b])));
    }
  }
  std::sort(out->sorted.begin(), out->sorted.end());
  out->mean = std::accumulate(out->sorted.begin(), out->sorted.end(), 0.0) / static_cast<double>(out->pairs);
  out->p50 = quantile(out->sorted, 0.50);
  out->p95 = quantile(out->sorted, 0.95);
  out->p99 = quantile(out->sorted, 0.99);
  return out;
}

}  // namespace

double CosineBaseline::percentile(double cosine) const {
  if (sorted.empty()) return NAN;
  // A pair within float rounding of the cosine (the hit's own pair, computed by the index's
  // kernel) is not lower.
  const double below_this = cosine - kTie;
  const auto below = std::lower_bound(sorted.begin(), sorted.end(), below_this,
                                      [](float x, double c) { return static_cast<double>(x) < c; });
  return 100.0 * static_cast<double>(below - sorted.begin()) / static_cast<double>(sorted.size());
}

std::shared_ptr<const CosineBaseline> QueryEngine::Impl::baseline(const detail::SpaceData& s) const {
  std::lock_guard lock(s.lazy);
  if (!s.baseline_done) {
    s.baseline = build(s);
    s.baseline_done = true;
  }
  return s.baseline;
}

}  // namespace n2v
