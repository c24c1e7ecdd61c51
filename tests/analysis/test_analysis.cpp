#include "analysis/analysis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace n2v {
namespace {

ScoredConcept concept_of(const std::string& name, const std::string& category, std::optional<float> learned,
                         std::optional<float> single, bool segmentation = true) {
  ScoredConcept c;
  c.name = name;
  c.category = category;
  (segmentation ? c.embedding.set_iou_val : c.embedding.accuracy_val) = learned;
  c.embedding.best_filter_val = single;
  return c;
}

// x = 1..4, y = (2, 4, 5, 4): sxy = 3.5, sxx = 5, syy = 4.75, r = 3.5 / sqrt(23.75). With
// n - 2 = 2 degrees of freedom t / sqrt(t^2 + 2) = |r|, so the two-sided p is 1 - |r|.
TEST(Pearson, TwoDegreesOfFreedomInClosedForm) {
  const Correlation c = pearson({1, 2, 3, 4}, {2, 4, 5, 4});
  EXPECT_EQ(c.n, 4);
  EXPECT_NEAR(c.r, 3.5 / std::sqrt(23.75), 1e-12);
  EXPECT_NEAR(c.p, 1 - 3.5 / std::sqrt(23.75), 1e-9);
}

// x = 1..3, y = (1, 3, 2): r = 0.5; one degree of freedom is the Cauchy distribution:
// t = 0.5 sqrt(1 / 0.75) = tan(pi / 6), p = 1 - (2 / pi) atan(t) = 2 / 3.
TEST(Pearson, OneDegreeOfFreedomIsCauchy) {
  const Correlation c = pearson({1, 2, 3}, {1, 3, 2});
  EXPECT_NEAR(c.r, 0.5, 1e-12);
  EXPECT_NEAR(c.p, 2.0 / 3.0, 1e-9);
}

TEST(Pearson, UndefinedAndPerfectCases) {
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3}).r));  // constant input
  EXPECT_TRUE(std::isnan(pearson({1, 2}, {1, 2}).r));        // too few values
  const Correlation perfect = pearson({1, 2, 3, 4}, {-2, -4, -6, -8});
  EXPECT_NEAR(perfect.r, -1.0, 1e-12);
  EXPECT_EQ(perfect.p, 0.0);
  // A large sample with a strong relation: p far below 0.01.
  std::vector<double> x, y;
  for (int i = 0; i < 100; ++i) {
    x.push_back(i);
    y.push_back(i + (i % 7) * 3.0);
  }
  EXPECT_LT(pearson(x, y).p, 1e-10);
}

TEST(MeanSe, SampleStandardError) {
  const MeanSe m = mean_se({1, 2, 3, 4});
  EXPECT_EQ(m.n, 4);
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.se, std::sqrt(5.0 / 3.0) / 2.0, 1e-12);  // sd sqrt(5/3), sqrt(n) = 2
  EXPECT_TRUE(std::isnan(mean_se({7}).se));
  EXPECT_TRUE(std::isnan(mean_se({}).mean));
}

// Table 1: 3 objects (learned beats single, ties, loses) and 2 colours (one beats, one has no
// single score and is left out): overall 3 of 4, objects 2 of 3, colour 1 of 1.
TEST(LearnedVsSingle, SharesOverallAndPerCategory) {
  const std::vector<ScoredConcept> c = {
      concept_of("dog", "object", 0.5f, 0.2f), concept_of("cat", "object", 0.3f, 0.3f),
      concept_of("car", "object", 0.1f, 0.4f), concept_of("red-c", "color", 0.2f, 0.1f),
      concept_of("blue-c", "color", 0.2f, std::nullopt)};
  const std::vector<ShareRow> rows = learned_vs_single(c);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].category, "");
  EXPECT_EQ(rows[0].concepts, 4);
  EXPECT_EQ(rows[0].learned_at_least_single, 3);
  EXPECT_DOUBLE_EQ(rows[0].share, 0.75);
  EXPECT_EQ(rows[1].category, "color");
  EXPECT_DOUBLE_EQ(rows[1].share, 1.0);
  EXPECT_EQ(rows[2].category, "object");
  EXPECT_NEAR(rows[2].share, 2.0 / 3.0, 1e-12);
  // Classification scores count the same way.
  EXPECT_DOUBLE_EQ(learned_vs_single({concept_of("x", "object", 0.6f, 0.7f, false)})[0].share, 0.0);
}

TEST(CategoryScores, MeansAndErrorsOfEachScore) {
  std::vector<ScoredConcept> c = {concept_of("dog", "object", 0.5f, 0.2f), concept_of("cat", "object", 0.3f, 0.4f)};
  c[0].embedding.set_iou_train = 0.6f;
  c[1].embedding.set_iou_train = 0.4f;
  c[0].embedding.best_filter_train = 0.25f;
  const std::vector<CategoryScores> s = category_scores(c);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_NEAR(s[0].learned_val.mean, 0.4, 1e-7);
  EXPECT_NEAR(s[0].learned_val.se, 0.1, 1e-7);  // sd 0.1414, / sqrt(2)
  EXPECT_NEAR(s[0].single_val.mean, 0.3, 1e-7);
  EXPECT_NEAR(s[0].learned_train.mean, 0.5, 1e-7);
  EXPECT_EQ(s[0].single_train.n, 1);
}

TEST(SubsetCurves, MeanScorePerF) {
  std::vector<ScoredConcept> c = {concept_of("dog", "object", 0.5f, 0.2f), concept_of("cat", "object", 0.3f, 0.4f),
                                  concept_of("red-c", "color", 0.3f, 0.4f)};
  c[0].embedding.subsets = {{1, 0.2f}, {4, 0.4f}};
  c[1].embedding.subsets = {{1, 0.4f}};
  const std::vector<SubsetCurve> curves = subset_curves(c);
  ASSERT_EQ(curves.size(), 1u);  // colour has no sweep
  EXPECT_EQ(curves[0].filters, (std::vector<int>{1, 4}));
  EXPECT_NEAR(curves[0].score[0].mean, 0.3, 1e-7);
  EXPECT_EQ(curves[0].score[0].n, 2);
  EXPECT_NEAR(curves[0].score[1].mean, 0.4, 1e-7);
}

// max(w, 0) is what is correlated: negative weights count as 0.
TEST(WeightIouCorrelation, ClipsNegativeWeightsAndCountsSignificance) {
  ScoredConcept a = concept_of("dog", "object", 0.5f, 0.2f);
  a.embedding.weights = {1, -5, 2, 3};
  a.embedding.filter_iou_val = {2, 0, 5, 4};  // against (1, 0, 2, 3): x = 1..4 shuffled as in the closed form
  ScoredConcept b = concept_of("cat", "object", 0.5f, 0.2f);  // strong: 50 filters, iou = w / 10
  for (int k = 0; k < 50; ++k) {
    b.embedding.weights.push_back(static_cast<float>(k));
    b.embedding.filter_iou_val.push_back(k / 10.0f + (k % 3) * 0.01f);
  }
  ScoredConcept cls = concept_of("car", "object", 0.5f, 0.2f, false);  // no per-filter IoU: skipped
  cls.embedding.weights = {1, 2};
  const WeightIouCorrelation w = weight_iou_correlation({a, b, cls});
  ASSERT_EQ(w.concepts.size(), 2u);
  const Correlation expect_a = pearson({1, 0, 2, 3}, {2, 0, 5, 4});
  EXPECT_NEAR(w.concepts[0].c.r, expect_a.r, 1e-9);
  EXPECT_NE(w.concepts[0].c.r, pearson({1, -5, 2, 3}, {2, 0, 5, 4}).r);
  EXPECT_GT(w.concepts[0].c.p, 0.01);  // 4 filters: not significant
  EXPECT_LT(w.concepts[1].c.p, 0.01);
  EXPECT_EQ(w.defined, 2);
  EXPECT_EQ(w.significant, 1);
  EXPECT_DOUBLE_EQ(w.share_significant, 0.5);
  EXPECT_DOUBLE_EQ(w.share_positive, 0.5);
}

TEST(FailureAnalysis, BinsByTrainImagesAndAlpha) {
  std::vector<ScoredConcept> c = {concept_of("a", "object", 0.1f, 0.0f), concept_of("b", "object", 0.3f, 0.0f),
                                  concept_of("c", "object", 0.6f, 0.0f)};
  c[0].embedding.train_count = 5;   // bin [0, 10)
  c[1].embedding.train_count = 8;   // bin [0, 10)
  c[2].embedding.train_count = 500;  // bin [320, 640)
  c[0].embedding.alpha = 0.995f;    // tiny concept
  c[1].embedding.alpha = 0.995f;
  c[2].embedding.alpha = 0.7f;
  const FailureAnalysis f = failure_analysis(c);
  ASSERT_EQ(f.by_train_count.size(), 1u);
  EXPECT_NEAR(f.by_train_count[0].bins[0].mean, 0.2, 1e-7);
  EXPECT_EQ(f.by_train_count[0].bins[0].n, 2);
  EXPECT_EQ(f.by_train_count[0].bins[6].n, 1);
  ASSERT_EQ(f.by_alpha.size(), 1u);
  EXPECT_EQ(f.by_alpha[0].bins.back().n, 2);  // [0.99, 1]
  EXPECT_NEAR(f.by_alpha[0].bins[1].mean, 0.6, 1e-7);  // [0.5, 0.8)
}

}  // namespace
}  // namespace n2v

namespace n2v {
namespace {

// Learned IoUs 0, 0.1, ..., 1.0 on rows 0..10 (and one undefined): the non-zero part is
// 0.1 .. 1.0, mean 0.55, sd sqrt(sum (x - 0.55)^2 / 9) = sqrt(0.0916667) = 0.302765; its
// nearest-rank deciles are the values themselves, 0.1 on row 1 ... 1.0 on row 10. Single:
// all zero -> no deciles.
TEST(ImageIouDistribution, NonZeroPartAndDeciles) {
  std::vector<ImageIouRecord> images;
  for (int i = 0; i <= 10; ++i) images.push_back({i, i / 10.0f, 0.0f});
  images.push_back({11, NAN, NAN});
  const ImageIouDistribution d = image_iou_distribution(images);
  EXPECT_EQ(d.learned.images, 11);
  EXPECT_EQ(d.learned.nonzero, 10);
  EXPECT_NEAR(d.learned.mean, 0.55, 1e-6);
  EXPECT_NEAR(d.learned.sd, std::sqrt(0.825 / 9), 1e-6);
  ASSERT_EQ(d.learned_deciles.size(), 10u);
  for (int q = 0; q < 10; ++q) {
    EXPECT_NEAR(d.learned_deciles[q].quantile, (q + 1) / 10.0, 1e-12);
    EXPECT_NEAR(d.learned_deciles[q].iou, (q + 1) / 10.0, 1e-6);
    EXPECT_EQ(d.learned_deciles[q].row, q + 1);
  }
  EXPECT_EQ(d.single.nonzero, 0);
  EXPECT_TRUE(std::isnan(d.single.mean));
  EXPECT_TRUE(d.single_deciles.empty());
  // Four values: the 10% .. 25% deciles take the first, 30% .. 50% the second, and so on.
  const ImageIouDistribution four = image_iou_distribution({{5, 0.4f, 0}, {6, 0.2f, 0}, {7, 0.8f, 0}, {8, 0.6f, 0}});
  EXPECT_EQ(four.learned_deciles[1].row, 6);   // 20%: rank ceil(0.8) = 1 -> 0.2
  EXPECT_EQ(four.learned_deciles[2].row, 5);   // 30%: rank ceil(1.2) = 2 -> 0.4
  EXPECT_EQ(four.learned_deciles[9].row, 7);   // 100%: the best
}

}  // namespace
}  // namespace n2v

namespace n2v {
namespace {

// Three well-separated clusters of 20 points in 10-D (directions e0, e1, e2 plus small noise).
std::vector<float> three_clusters(std::vector<int>& truth) {
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> rows;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 20; ++i) {
      for (int j = 0; j < 10; ++j) rows.push_back((j == c ? 1.0f : 0.0f) + noise(rng));
      truth.push_back(c);
    }
  return rows;
}

TEST(MapSpace, KMeansFindsSeparatedClusters) {
  std::vector<int> truth;
  const std::vector<float> rows = three_clusters(truth);
  MapOptions o;
  o.clusters = 3;
  o.iterations = 300;
  const SpaceMap m = map_space(rows, 60, 10, o);
  ASSERT_EQ(m.cluster.size(), 60u);
  EXPECT_EQ(m.k, 3);
  // Each true cluster maps to exactly one found cluster, and different ones to different.
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 20; ++i) EXPECT_EQ(m.cluster[c * 20 + i], m.cluster[c * 20]) << c << " " << i;
  EXPECT_NE(m.cluster[0], m.cluster[20]);
  EXPECT_NE(m.cluster[0], m.cluster[40]);
  EXPECT_NE(m.cluster[20], m.cluster[40]);
}

// t-SNE keeps separated clusters apart: every point's nearest map neighbour is from its own
// cluster, and each cluster's centre is farther from the others than its points are from it.
// The same seed gives the same map.
TEST(MapSpace, TsneKeepsClustersApartAndIsReproducible) {
  std::vector<int> truth;
  const std::vector<float> rows = three_clusters(truth);
  MapOptions o;
  o.perplexity = 10;
  o.iterations = 500;
  const SpaceMap m = map_space(rows, 60, 10, o);
  int same = 0;
  for (int i = 0; i < 60; ++i) {
    int best = -1;
    double best_d = INFINITY;
    for (int j = 0; j < 60; ++j) {
      if (j == i) continue;
      const double d = std::hypot(m.x[i] - m.x[j], m.y[i] - m.y[j]);
      if (d < best_d) {
        best_d = d;
        best = j;
      }
    }
    same += truth[best] == truth[i];
  }
  EXPECT_EQ(same, 60);
  double cx[3] = {}, cy[3] = {}, spread = 0;
  for (int i = 0; i < 60; ++i) {
    cx[truth[i]] += m.x[i] / 20;
    cy[truth[i]] += m.y[i] / 20;
  }
  for (int i = 0; i < 60; ++i) spread = std::max(spread, std::hypot(m.x[i] - cx[truth[i]], m.y[i] - cy[truth[i]]));
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) EXPECT_GT(std::hypot(cx[a] - cx[b], cy[a] - cy[b]), 2 * spread);
  const SpaceMap again = map_space(rows, 60, 10, o);
  EXPECT_EQ(again.x, m.x);
  EXPECT_EQ(again.y, m.y);
  EXPECT_TRUE(std::isfinite(m.kl));
  o.seed = 2;
  EXPECT_NE(map_space(rows, 60, 10, o).x, m.x);
}

}  // namespace
}  // namespace n2v
