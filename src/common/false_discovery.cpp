#include "common/false_discovery.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace n2v {

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i)
    if (!std::isnan(p[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> q(p.size(), NAN);
  const double m = static_cast<double>(order.size());
  double running = 1.0;  // the minimum from the largest p down
  for (size_t k = order.size(); k-- > 0;) {
    running = std::min(running, p[order[k]] * m / static_cast<double>(k + 1));
    q[order[k]] = running;
  }
  return q;
}

}  // namespace n2v
