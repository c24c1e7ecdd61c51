#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "activations/activations.h"
#include "common/error.h"

namespace n2v {

int64_t ThresholdSelector::top_count(int64_t positions, double tau) {
  // floor with a small tolerance so tau * N that is an integer in exact arithmetic
  // (0.005 * 2000) is not lost to rounding (9.999999).
  return static_cast<int64_t>(std::floor(tau * static_cast<double>(positions) + 1e-9));
}

ThresholdSelector::ThresholdSelector(int filters, int64_t max_positions, double tau)
    : filters_(filters), tau_(tau) {
  N2V_CHECK(tau > 0 && tau < 1, kInvalidArgument, "quantile tau must be in (0, 1), got " << tau);
  N2V_CHECK(filters > 0 && max_positions > 0, kInvalidArgument,
            "threshold selection needs filters and positions");
  keep_ = std::min(max_positions, top_count(max_positions, tau) + 1);
  candidates_.resize(filters);
  floor_.assign(filters, -std::numeric_limits<float>::infinity());
}

void ThresholdSelector::add(int filter, const float* values, int64_t count) {
  N2V_ASSERT(filter >= 0 && filter < filters_);
  std::vector<float>& c = candidates_[filter];
  const float floor = floor_[filter];
  for (int64_t i = 0; i < count; ++i) {
    // Values equal to the floor cannot change the keep_-th largest value either.
    if (values[i] > floor) c.push_back(values[i]);
  }
  if (static_cast<int64_t>(c.size()) >= 2 * keep_ + 1024) compact(filter);
}

void ThresholdSelector::compact(int filter) {
  std::vector<float>& c = candidates_[filter];
  if (static_cast<int64_t>(c.size()) <= keep_) return;
  std::nth_element(c.begin(), c.begin() + (keep_ - 1), c.end(), std::greater<float>());
  c.resize(keep_);
  floor_[filter] = c[keep_ - 1];  // the keep_-th largest so far
}

std::vector<float> ThresholdSelector::thresholds(int64_t positions) {
  N2V_CHECK(positions > 0, kInvalidArgument, "no activations to threshold");
  const int64_t rank = top_count(positions, tau_) + 1;  // T = rank-th largest
  N2V_ASSERT(rank <= keep_ || positions <= keep_);
  std::vector<float> out(filters_);
  for (int f = 0; f < filters_; ++f) {
    std::vector<float>& c = candidates_[f];
    N2V_ASSERT(!c.empty());
    int64_t r = std::min<int64_t>(rank, c.size());
    std::nth_element(c.begin(), c.begin() + (r - 1), c.end(), std::greater<float>());
    out[f] = c[r - 1];
  }
  return out;
}

}  // namespace n2v
