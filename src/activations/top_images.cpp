// NetDissect's top images per filter: the selection (TopImageSelector) and the maps' bits.

#include <algorithm>
#include <cmath>

#include "activations/activations.h"
#include "activations/detail/top_images.h"
#include "common/error.h"

namespace n2v {

TopImageSelector::TopImageSelector(int filters, int per_filter) : filters_(filters), n_(per_filter) {
  N2V_CHECK(filters > 0 && per_filter >= 0, kInvalidArgument,
            "top images: need filters and a count >= 0, got " << filters << " and " << per_filter);
  best_.resize(filters);
  for (auto& b : best_) b.reserve(static_cast<size_t>(n_) + 1);
}

void TopImageSelector::add(int image, const float* scores, const float* seconds) {
  if (n_ == 0) return;
  // Images arrive in order: entries equal on both scores keep arrival order. A NaN second
  // score counts as the lowest.
  const auto before = [](const Entry& a, const Entry& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.second > b.second || (!std::isnan(a.second) && std::isnan(b.second));
  };
  for (int f = 0; f < filters_; ++f) {
    const Entry entry{image, scores[f], seconds ? seconds[f] : 0.0f};
    std::vector<Entry>& b = best_[f];
    // Full: only an entry strictly before the N-th enters (an equal one came later).
    if (std::isnan(entry.score) || (static_cast<int>(b.size()) == n_ && !before(entry, b.back()))) continue;
    b.insert(std::upper_bound(b.begin(), b.end(), entry, before), entry);
    if (static_cast<int>(b.size()) > n_) b.pop_back();
  }
}

std::vector<std::vector<std::pair<int, float>>> TopImageSelector::result() const {
  std::vector<std::vector<std::pair<int, float>>> out(best_.size());
  for (size_t f = 0; f < best_.size(); ++f)
    for (const Entry& e : best_[f]) out[f].push_back({e.image, e.score});
  return out;
}

namespace detail {

void fill_top_images(ProbeActivations& out, const TopImageSelector& selector,
                     const std::function<const uint8_t*(int image)>& record) {
  const size_t hw = static_cast<size_t>(out.h) * out.w;
  out.top_images.assign(out.k, {});
  const auto picks = selector.result();
  for (int f = 0; f < out.k; ++f)
    for (const auto& [image, value] : picks[f]) {
      const uint8_t* bytes = record(image);
      TopImage t{image, value, std::vector<uint8_t>((hw + 7) / 8, 0)};
      const size_t first = static_cast<size_t>(f) * hw;
      for (size_t p = 0; p < hw; ++p) {
        const size_t b = first + p;
        if ((bytes[b >> 3] >> (b & 7)) & 1) t.map[p >> 3] |= static_cast<uint8_t>(1u << (p & 7));
      }
      out.top_images[f].push_back(std::move(t));
    }
}

}  // namespace detail
}  // namespace n2v
