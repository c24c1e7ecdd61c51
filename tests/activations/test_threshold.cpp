// ThresholdSelector against a full sort (the brute-force oracle).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "activations/activations.h"
#include "common/error.h"
#include "support/expect.h"

namespace n2v {
namespace {

float oracle(std::vector<float> v, double tau) {
  std::sort(v.begin(), v.end(), std::greater<float>());
  int64_t m = ThresholdSelector::top_count(static_cast<int64_t>(v.size()), tau);
  return v[std::min<int64_t>(m, v.size() - 1)];
}

TEST(Threshold, TopCountIsFloorOfTauN) {
  EXPECT_EQ(ThresholdSelector::top_count(2000, 0.005), 10);  // not 9 from 9.9999
  EXPECT_EQ(ThresholdSelector::top_count(1999, 0.005), 9);
  EXPECT_EQ(ThresholdSelector::top_count(100, 0.005), 0);
}

TEST(Threshold, ExactOnRandomStreamsWithManyCompactions) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int filters = 3;
  const int64_t n = 200000;
  for (double tau : {0.005, 0.01, 0.2}) {
    ThresholdSelector sel(filters, n, tau);
    std::vector<std::vector<float>> all(filters);
    for (int64_t begin = 0; begin < n; begin += 169) {  // 13x13 maps, like AlexNet conv5
      for (int f = 0; f < filters; ++f) {
        std::vector<float> chunk;
        for (int64_t i = begin; i < std::min(n, begin + 169); ++i)
          chunk.push_back(std::max(0.0f, normal(rng) + f));  // post-ReLU: many exact zeros
        sel.add(f, chunk.data(), static_cast<int64_t>(chunk.size()));
        all[f].insert(all[f].end(), chunk.begin(), chunk.end());
      }
    }
    std::vector<float> t = sel.thresholds(n);
    for (int f = 0; f < filters; ++f) {
      EXPECT_EQ(t[f], oracle(all[f], tau)) << "tau " << tau << " filter " << f;
      // Exactly m values exceed T (continuous values: no ties at T).
      int64_t above = std::count_if(all[f].begin(), all[f].end(), [&](float v) { return v > t[f]; });
      EXPECT_EQ(above, ThresholdSelector::top_count(n, tau));
    }
  }
}

TEST(Threshold, FewerPositionsThanPlannedStillExact) {
  // Images dropped after the selector was sized: thresholds() uses the real count.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  ThresholdSelector sel(1, 10000, 0.01);
  std::vector<float> v(6000);
  for (float& x : v) x = u(rng);
  sel.add(0, v.data(), 6000);
  EXPECT_EQ(sel.thresholds(6000)[0], oracle(v, 0.01));
}

TEST(Threshold, TiesAtTheThreshold) {
  // 10 values of 5 and 990 zeros; tau = 0.005 -> m = 5: T is the 6th largest = 5, so no
  // value exceeds it (ties are never broken at random).
  std::vector<float> v(1000, 0.0f);
  for (int i = 0; i < 10; ++i) v[i * 97] = 5.0f;
  ThresholdSelector sel(1, 1000, 0.005);
  sel.add(0, v.data(), 1000);
  EXPECT_EQ(sel.thresholds(1000)[0], 5.0f);
}

TEST(Threshold, RejectsBadTau) {
  for (double tau : {0.0, 1.0, -0.1}) {
    const std::string m = test::error_of([&] { ThresholdSelector(1, 10, tau); }, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(test::contains(m, "tau")) << m;
  }
}

}  // namespace
}  // namespace n2v
