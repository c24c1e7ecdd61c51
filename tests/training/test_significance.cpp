// Intervals and chance levels of the val scores (training/detail/significance.h) against
// answers known without running them: a constant score's interval is that constant, a
// perfect predictor's permutation p is 1/(R+1), a random predictor's p is uniform (mean 1/2
// over many seeds), and the null of balanced accuracy is centred on 1/2.
#include "training/detail/significance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "training/activations_fixture.h"
#include "training/training.h"

namespace n2v::detail {
namespace {

using n2v::ConceptEmbedding;

constexpr int kR = 999;

// n random masks of `bytes` bytes, each bit on with probability `on`.
std::vector<std::vector<uint8_t>> random_masks(size_t n, size_t bytes, double on, std::mt19937_64& gen) {
  std::bernoulli_distribution bit(on);
  std::vector<std::vector<uint8_t>> out(n, std::vector<uint8_t>(bytes, 0));
  for (auto& m : out)
    for (size_t i = 0; i < bytes * 8; ++i)
      if (bit(gen)) m[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  return out;
}

std::vector<const uint8_t*> pointers(const std::vector<std::vector<uint8_t>>& masks) {
  std::vector<const uint8_t*> out;
  for (const auto& m : masks) out.push_back(m.data());
  return out;
}

// Every popcount path the CPU runs gives the bit-by-bit count, at every tail length (the
// AVX-512 path loads the last partial 64 bytes masked) and at both BRODEN mask sizes.
TEST(Popcount, EveryPathCountsLikeTheBits) {
  std::mt19937_64 gen(3);
  std::printf("[ info ] this CPU's popcount path: %d (0 portable, 1 popcnt, 2 avx512)\n",
              static_cast<int>(popcount_path()));
  for (size_t bytes : {1, 7, 8, 9, 63, 64, 65, 127, 128, 200, 1568, 1597}) {
    const auto masks = random_masks(2, bytes, 0.4, gen);
    int64_t both = 0, one = 0;
    for (size_t i = 0; i < bytes * 8; ++i) {
      const bool a = masks[0][i / 8] >> (i % 8) & 1, b = masks[1][i / 8] >> (i % 8) & 1;
      both += a && b;
      one += a;
    }
    EXPECT_EQ(popcount_bytes(masks[0].data(), bytes), one) << bytes;
    EXPECT_EQ(popcount_and(masks[0].data(), masks[1].data(), bytes), both) << bytes;
    for (PopcountPath path : {PopcountPath::kPortable, PopcountPath::kPopcnt, PopcountPath::kAvx512}) {
      if (!popcount_path_supported(path)) continue;
      EXPECT_EQ(popcount_and(path, masks[0].data(), masks[1].data(), bytes), both)
          << bytes << " bytes, path " << static_cast<int>(path);
    }
  }
  // The bytes past `bytes` are not read into the count: a buffer longer than asked, all ones.
  std::vector<uint8_t> ones(256, 0xff);
  for (PopcountPath path : {PopcountPath::kPortable, PopcountPath::kPopcnt, PopcountPath::kAvx512})
    if (popcount_path_supported(path)) EXPECT_EQ(popcount_and(path, ones.data(), ones.data(), 70), 560);
}

TEST(StatRng, SameKeySameDrawsOtherKeyOthers) {
  StatRng a(7, 3), b(7, 3), c(7, 4), d(8, 3);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    same_c += x == c.next();
    same_d += x == d.next();
  }
  EXPECT_EQ(same_c, 0);
  EXPECT_EQ(same_d, 0);
  // Bounded draws stay in range and reach both ends.
  StatRng r(1, 1);
  int seen_low = 0, seen_high = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = r.below(7);
    ASSERT_LT(v, 7u);
    seen_low += v == 0;
    seen_high += v == 6;
  }
  EXPECT_GT(seen_low, 1000);
  EXPECT_GT(seen_high, 1000);
}

TEST(BootstrapInterval, OfAConstantSetIouIsThatConstant) {
  // Every image has intersection 3 and union 10: any resample scores 0.3.
  const std::vector<float> inter(40, 3.0f), uni(40, 10.0f);
  StatRng rng(1, 0);
  const Interval ci = bootstrap_set_iou(inter, uni, kR, rng);
  EXPECT_FLOAT_EQ(ci.low, 0.3f);
  EXPECT_FLOAT_EQ(ci.high, 0.3f);
}

TEST(BootstrapInterval, OfAConstantBalancedAccuracyIsThatConstant) {
  StatRng rng(1, 0);
  const Interval perfect = bootstrap_balanced_accuracy({30, 30, 70, 70}, kR, rng);
  EXPECT_EQ(perfect.low, 1.0f);
  EXPECT_EQ(perfect.high, 1.0f);
  const Interval wrong = bootstrap_balanced_accuracy({0, 30, 0, 70}, kR, rng);
  EXPECT_EQ(wrong.low, 0.0f);
  EXPECT_EQ(wrong.high, 0.0f);
  // All positives right, all negatives wrong: (1 + 0) / 2 whatever the resample.
  const Interval half = bootstrap_balanced_accuracy({30, 30, 0, 70}, kR, rng);
  EXPECT_EQ(half.low, 0.5f);
  EXPECT_EQ(half.high, 0.5f);
}

TEST(BootstrapInterval, NoImagesOrNoResamplesIsNotComputed) {
  StatRng rng(1, 0);
  EXPECT_TRUE(std::isnan(bootstrap_set_iou({}, {}, kR, rng).low));
  const std::vector<float> one(3, 1.0f);
  EXPECT_TRUE(std::isnan(bootstrap_set_iou(one, one, 0, rng).high));
  EXPECT_TRUE(std::isnan(permutation_balanced_accuracy({1, 2, 3, 4}, 0, rng).p));
}

TEST(BootstrapInterval, CoversTheTruthAboutNineteenTimesInTwenty) {
  // Balanced accuracy of a classifier with true TPR 0.7 and TNR 0.8 (truth 0.75), measured on
  // 200 positives and 400 negatives: the percentile interval should cover 0.75 in ~95 % of
  // repeated measurements (a wrong width -- a bug in the resampling -- moves this far off).
  std::mt19937_64 gen(42);
  std::binomial_distribution<int64_t> tp(200, 0.7), tn(400, 0.8);
  int covered = 0;
  const int trials = 400;
  for (int t = 0; t < trials; ++t) {
    StatRng rng(static_cast<uint64_t>(t), 0);
    const Interval ci = bootstrap_balanced_accuracy({tp(gen), 200, tn(gen), 400}, kR, rng);
    covered += ci.low <= 0.75f && 0.75f <= ci.high;
  }
  EXPECT_GE(covered, trials * 90 / 100);
  EXPECT_LE(covered, trials * 99 / 100);
}

TEST(PermutationTest, PerfectSegmentationPredictorHasTheSmallestP) {
  std::mt19937_64 gen(5);
  const auto targets = random_masks(25, 32, 0.3, gen);  // distinct masks
  StatRng rng(1, 1);
  double observed = 0;
  const Chance c = permutation_set_iou(pointers(targets), pointers(targets), 32, kR, rng, &observed);
  EXPECT_DOUBLE_EQ(observed, 1.0);
  EXPECT_FLOAT_EQ(c.p, 1.0f / (kR + 1));
  // Independent masks with 30 % of pixels on overlap with IoU ~ 0.09 / 0.51.
  EXPECT_NEAR(c.null_mean, 0.09 / 0.51, 0.03);
}

TEST(PermutationTest, PerfectClassifierHasTheSmallestP) {
  StatRng rng(1, 1);
  const Chance c = permutation_balanced_accuracy({40, 40, 160, 160}, kR, rng);
  EXPECT_FLOAT_EQ(c.p, 1.0f / (kR + 1));
  EXPECT_NEAR(c.null_mean, 0.5, 0.01);  // E[balanced accuracy] under permuted labels is 1/2
}

TEST(PermutationTest, RandomSegmentationPredictorHasUniformP) {
  // Predictions independent of the targets: p is uniform on (0, 1], mean ~1/2.
  const int seeds = 200, R = 199;
  double sum = 0;
  int below_05 = 0;
  for (int s = 0; s < seeds; ++s) {
    std::mt19937_64 gen(1000 + s);
    const auto pred = random_masks(20, 16, 0.4, gen), target = random_masks(20, 16, 0.4, gen);
    StatRng rng(static_cast<uint64_t>(s), 1);
    const Chance c = permutation_set_iou(pointers(pred), pointers(target), 16, R, rng);
    sum += c.p;
    below_05 += c.p <= 0.05;
  }
  // E[p] = 1/2 + 1/(2(R + 1)) for a continuous statistic.
  EXPECT_NEAR(sum / seeds, 0.5 + 0.5 / (R + 1), 0.06);
  EXPECT_LE(below_05, 25);  // ~5 % expected (10 of 200)
}

TEST(PermutationTest, RandomClassifierHasUniformP) {
  const int seeds = 300, R = 199;
  double sum = 0;
  for (int s = 0; s < seeds; ++s) {
    std::mt19937_64 gen(2000 + s);
    // 500 val images, 100 positives; predictions positive with probability 0.3, independently.
    std::binomial_distribution<int64_t> tp(100, 0.3), fp(400, 0.3);
    const int64_t t = tp(gen), f = fp(gen);
    StatRng rng(static_cast<uint64_t>(s), 1);
    sum += permutation_balanced_accuracy({t, 100, 400 - f, 400}, R, rng).p;
  }
  // Balanced accuracy takes discrete values, so ties make p slightly conservative (> 1/2).
  EXPECT_NEAR(sum / seeds, 0.5, 0.06);
}

TEST(PermutationTest, SameSeedSameAnswer) {
  std::mt19937_64 gen(9);
  const auto pred = random_masks(30, 24, 0.3, gen), target = random_masks(30, 24, 0.3, gen);
  StatRng a(3, 1), b(3, 1);
  const Chance x = permutation_set_iou(pointers(pred), pointers(target), 24, 200, a);
  const Chance y = permutation_set_iou(pointers(pred), pointers(target), 24, 200, b);
  EXPECT_EQ(x.p, y.p);
  EXPECT_EQ(x.null_mean, y.null_mean);
}

TEST(PermutationTest, RandomPredictorHasUniformPWithoutTheProductTable) {
  // n > R: each permutation multiplies its own pairs instead of reading the n x n table.
  const int seeds = 200, R = 39;
  double sum = 0;
  for (int s = 0; s < seeds; ++s) {
    std::mt19937_64 gen(3000 + s);
    const auto pred = random_masks(60, 16, 0.4, gen), target = random_masks(60, 16, 0.4, gen);
    StatRng rng(static_cast<uint64_t>(s), 1);
    sum += permutation_set_iou(pointers(pred), pointers(target), 16, R, rng).p;
  }
  EXPECT_NEAR(sum / seeds, 0.5 + 0.5 / (R + 1), 0.06);
}

// ---- Through training ----

// 32 images (even: train, odd: val), 2 filters at 4 x 4, masks 8 x 8. Concept 7 is in every
// image: a 2 x 2 block where filter 0 fires (at a position that moves with the image), so the
// best single filter and the learned weights localise it; filter 1 fires at a fixed corner.
struct SegToy {
  ProbeActivations acts;
  ProbeAnnotations ann;
};
SegToy seg_toy() {
  SegToy t;
  const int n = 32;
  t.acts = test::blank_activations(n, 2, 4, 4);
  t.ann.mask_height = t.ann.mask_width = 8;
  for (int i = 0; i < n; ++i) {
    const int p = (i * 7) % 16, y = p / 4, x = p % 4;
    test::set_bit(t.acts, i, 0, p);
    test::set_bit(t.acts, i, 1, 0);
    std::vector<uint8_t> px(64, 0);
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) px[(2 * y + dy) * 8 + 2 * x + dx] = 1;
    t.ann.rows.push_back(i);
    t.ann.splits.push_back(i % 2 ? Split::kVal : Split::kTrain);
    t.ann.masks.push_back({i, 7, pack_mask(px)});
    t.ann.present.push_back({7});
  }
  return t;
}

SegmentationOptions seg_options(int resamples, int permutations) {
  SegmentationOptions o;
  o.sgd.epochs = 20;
  o.sgd.lr = 0.05;
  o.subsets = {};
  o.stats = {resamples, permutations};
  return o;
}

TEST(ScoreStatsTraining, SegmentationScoresFromStoredIntersectionsAndUnions) {
  const SegToy t = seg_toy();
  const auto out = train_segmentation(t.acts, t.ann, seg_options(kR, kR));
  ASSERT_EQ(out.size(), 1u);
  const ConceptEmbedding& e = out[0];
  ASSERT_EQ(e.best_filter, 0);
  // The per-image intersections and unions give back both set IoUs.
  double li = 0, lu = 0, si = 0, su = 0;
  for (const ImageIou& r : e.image_iou) {
    li += r.learned_inter;
    lu += r.learned_union;
    si += r.single_inter;
    su += r.single_union;
    EXPECT_FLOAT_EQ(r.single, r.single_union > 0 ? r.single_inter / r.single_union : 0.0f);
  }
  EXPECT_NEAR(li / lu, e.score_val, 1e-6);
  EXPECT_NEAR(si / su, e.best_filter_val, 1e-6);
  for (const auto& [score, st] : {std::pair{e.score_val, e.score_stats}, std::pair{e.best_filter_val, e.best_filter_stats}}) {
    EXPECT_LE(st.low, score);
    EXPECT_GE(st.high, score);
    // The filter follows the concept from image to image: no permutation of the masks does
    // as well, so p is the smallest possible and the null far below the score.
    EXPECT_FLOAT_EQ(st.p, 1.0f / (kR + 1));
    EXPECT_LT(st.null_mean, score);
  }
}

TEST(ScoreStatsTraining, SeededAndOffWhenAskedTo) {
  const SegToy t = seg_toy();
  const auto a = train_segmentation(t.acts, t.ann, seg_options(200, 200));
  const auto b = train_segmentation(t.acts, t.ann, seg_options(200, 200));
  EXPECT_EQ(a[0].score_stats.low, b[0].score_stats.low);
  EXPECT_EQ(a[0].score_stats.high, b[0].score_stats.high);
  EXPECT_EQ(a[0].best_filter_stats.null_mean, b[0].best_filter_stats.null_mean);
  const auto off = train_segmentation(t.acts, t.ann, seg_options(0, 0));
  EXPECT_TRUE(std::isnan(off[0].score_stats.low));
  EXPECT_TRUE(std::isnan(off[0].score_stats.p));
  EXPECT_TRUE(std::isnan(off[0].best_filter_stats.high));
  EXPECT_EQ(off[0].score_val, a[0].score_val);  // the scores themselves do not change
}

TEST(ScoreStatsTraining, ClassificationOfASeparableConcept) {
  // Concept 5 in every third image, exactly where filter 0's mean is high.
  ProbeActivations acts;
  ProbeAnnotations ann;
  const int n = 300;
  acts.n = n;
  acts.k = 2;
  acts.h = acts.w = 1;
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int i = 0; i < n; ++i) {
    const bool has = i % 3 == 0;
    acts.pooled.push_back(has ? 1.0f + u(gen) : u(gen) - 1.0f);
    acts.pooled.push_back(u(gen));
    acts.rows.push_back(i);
    ann.rows.push_back(i);
    ann.splits.push_back(i % 2 ? Split::kVal : Split::kTrain);
    ann.present.push_back(has ? std::vector<int>{5} : std::vector<int>{});
  }
  acts.kept.assign(n, true);
  ClassificationOptions o;
  o.sgd.epochs = 10;
  o.subsets = {};
  o.stats = {kR, kR};
  const auto out = train_classification(acts, ann, o);
  ASSERT_EQ(out.size(), 1u);
  for (const auto& [score, st] :
       {std::pair{out[0].score_val, out[0].score_stats}, std::pair{out[0].best_filter_val, out[0].best_filter_stats}}) {
    EXPECT_EQ(score, 1.0f);
    EXPECT_EQ(st.low, 1.0f);  // no error to resample
    EXPECT_EQ(st.high, 1.0f);
    EXPECT_FLOAT_EQ(st.p, 1.0f / (kR + 1));
    EXPECT_NEAR(st.null_mean, 0.5, 0.01);
  }
}

}  // namespace
}  // namespace n2v::detail
