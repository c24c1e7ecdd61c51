#pragma once
// The paper's decile sampling (Figures 7 and 8): one example at each decile of the non-zero
// part of a concept's per-image IoU distribution. One rule for the two places that apply it:
// training picks the images whose predicted masks ingest stores, the analyses report the
// deciles; both must pick the same images.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace n2v {

// For d = 1..10, the index into `values` of the nearest-rank d/10 quantile of the finite
// values > 0: the smallest value with at least d/10 of them at or below it. Ties are broken
// by `keys` (the image's index.csv row, or any order-preserving index of it), so the pick
// does not depend on the order the values come in. Empty when no value is > 0.
inline std::vector<size_t> nonzero_decile_picks(const std::vector<float>& values,
                                                const std::vector<int64_t>& keys) {
  std::vector<size_t> nonzero;
  for (size_t i = 0; i < values.size(); ++i)
    if (std::isfinite(values[i]) && values[i] > 0) nonzero.push_back(i);
  std::sort(nonzero.begin(), nonzero.end(), [&](size_t a, size_t b) {
    return std::pair(values[a], keys[a]) < std::pair(values[b], keys[b]);
  });
  std::vector<size_t> picks;
  const size_t n = nonzero.size();
  if (n == 0) return picks;
  for (int d = 1; d <= 10; ++d) {
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(d / 10.0 * n - 1e-9)));
    picks.push_back(nonzero[rank - 1]);
  }
  return picks;
}

// The images Figure 8 shows for a concept: the picks of both columns (learned weights and
// best single filter), each image once, in index order. At most 20.
inline std::vector<size_t> decile_images(const std::vector<float>& learned, const std::vector<float>& single,
                                         const std::vector<int64_t>& keys) {
  std::vector<size_t> picks = nonzero_decile_picks(learned, keys);
  for (size_t i : nonzero_decile_picks(single, keys)) picks.push_back(i);
  std::sort(picks.begin(), picks.end());
  picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
  return picks;
}

}  // namespace n2v
