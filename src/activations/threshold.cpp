#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "activations/activations.h"
#include "common/error.h"

namespace n2v {

void check_tau(double tau) {
  N2V_CHECK(tau > 0 && tau < 1, kInvalidArgument, "tau, the activation quantile, must be in (0, 1), got " << tau);
}

int64_t ThresholdSelector::top_count(int64_t positions, double tau) {
  // floor with a small tolerance so tau * N that is an integer in exact arithmetic
  // (0.005 * 2000) is not lost to rounding (9.999999).
  return static_cast<int64_t>(std::floor(tau * static_cast<double>(positions) + 1e-9));
}

ThresholdSelector::ThresholdSelector(int filters, int64_t max_positions, double tau)
    : filters_(filters), tau_(tau) {
  check_tau(tau);
  N2V_CHECK(filters > 0 && max_positions > 0, kInvalidArgument,
            "threshold selection needs filters and positions");
  keep_ = std::min(max_positions, top_count(max_positions, tau) + 1);
  candidates_.resize(filters);
  floor_.assign(filters, -std::numeric_limits<float>::infinity());
}

void ThresholdSelector::add(int filter, const float* values, int64_t count, uint64_t first_location) {
  N2V_ASSERT(filter >= 0 && filter < filters_);
  std::vector<Candidate>& c = candidates_[filter];
  const float floor = floor_[filter];
  for (int64_t i = 0; i < count; ++i) {
    // Values equal to the floor cannot change the keep_-th largest value either.
    if (values[i] > floor) c.push_back({values[i], first_location + static_cast<uint64_t>(i)});
  }
  if (static_cast<int64_t>(c.size()) >= 2 * keep_ + 1024) compact(filter);
}

void ThresholdSelector::compact(int filter) {
  std::vector<Candidate>& c = candidates_[filter];
  if (static_cast<int64_t>(c.size()) <= keep_) return;
  std::nth_element(c.begin(), c.begin() + (keep_ - 1), c.end(),
                   [](const Candidate& a, const Candidate& b) { return a.value > b.value; });
  c.resize(keep_);
  floor_[filter] = c[keep_ - 1].value;  // the keep_-th largest so far
}

std::vector<float> ThresholdSelector::thresholds(int64_t positions) {
  N2V_CHECK(positions > 0, kInvalidArgument, "no activations to threshold");
  const int64_t rank = top_count(positions, tau_) + 1;  // T = rank-th largest
  N2V_ASSERT(rank <= keep_ || positions <= keep_);
  std::vector<float> out(filters_);
  for (int f = 0; f < filters_; ++f) {
    const std::vector<Candidate>& c = candidates_[f];
    N2V_ASSERT(!c.empty());
    // Select on a copy of the values: the candidates keep their order (cheap next to the
    // pass, and for_each_above reads them after).
    std::vector<float> v(c.size());
    for (size_t i = 0; i < c.size(); ++i) v[i] = c[i].value;
    int64_t r = std::min<int64_t>(rank, static_cast<int64_t>(v.size()));
    std::nth_element(v.begin(), v.begin() + (r - 1), v.end(), std::greater<float>());
    out[f] = v[r - 1];
  }
  return out;
}

}  // namespace n2v
