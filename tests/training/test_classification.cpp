// Classification training on pooled activations built in the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "training/training.h"

namespace n2v {
namespace {

// n images, 3 filters. Concept 5 is present iff filter 0's mean is high (perfectly
// separable); concept 6 depends on nothing (noise); scene 9 is in every other image.
struct Data {
  ProbeActivations acts;
  ProbeAnnotations ann;
};
Data make(int n, unsigned seed) {
  Data d;
  d.acts.n = n;
  d.acts.k = 3;
  d.acts.h = d.acts.w = 1;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> low(0.0f, 0.4f), high(0.6f, 1.0f), any(0.0f, 1.0f);
  for (int i = 0; i < n; ++i) {
    bool has5 = i % 4 == 0;  // 25% positives: unbalanced on purpose
    d.acts.pooled.push_back(10.0f * (has5 ? high(rng) : low(rng)));  // raw scale 10
    d.acts.pooled.push_back(10.0f * any(rng));
    d.acts.pooled.push_back(10.0f * any(rng));
    d.acts.rows.push_back(i);
    d.ann.rows.push_back(i);
    d.ann.splits.push_back(i % 3 == 2 ? Split::kVal : Split::kTrain);
    std::vector<int> present;
    if (has5) present.push_back(5);
    if (rng() % 2) present.push_back(6);
    if (i % 2) present.push_back(9);
    d.ann.present.push_back(present);
  }
  d.acts.kept.assign(n, true);
  d.acts.thresholds.assign(3, 0);
  d.acts.bits.assign(d.acts.bytes_per_image() * n, 0);
  return d;
}

// The authors' budget on features every positive (and every negative) shares, so a step's
// gradient is known whatever the sampling: 12 train images, concept 5 in 2 of them
// (P = 2, N = 10), batch 4 -> ceil(2 min(P, N) / 4) = 1 step per epoch, on raw features.
// From w = 0, b = 0 (logits 0, sigmoid 1/2) the loss 0.5 mean softplus(-z_pos) + 0.5 mean
// softplus(z_neg) has gradient 0.25 (x_neg - x_pos) for w and 0 for b; one step of lr 0.01
// with momentum 0 gives w = 0.0025 (x_pos - x_neg) = 0.0025 (3, -1).
TEST(Classification, AuthorsBudgetStepsPerConceptOnRawFeatures) {
  Data d;
  d.acts.n = 16;
  d.acts.k = 2;
  d.acts.h = d.acts.w = 1;
  for (int i = 0; i < 16; ++i) {
    const bool train = i < 12, pos = i % 6 == 0;  // train positives: 0, 6; val: 12
    d.acts.pooled.push_back(pos ? 4.0f : 1.0f);
    d.acts.pooled.push_back(pos ? 2.0f : 3.0f);
    d.acts.rows.push_back(i);
    d.ann.rows.push_back(i);
    d.ann.splits.push_back(train ? Split::kTrain : Split::kVal);
    d.ann.present.push_back(pos ? std::vector<int>{5} : std::vector<int>{});
  }
  d.acts.kept.assign(16, true);
  d.acts.thresholds.assign(2, 0);
  d.acts.bits.assign(d.acts.bytes_per_image() * 16, 0);
  ClassificationOptions o;
  o.sgd = {1, 2, 0.01, 0.0};
  o.subsets = {};
  o.authors_budget = true;
  o.sgd.batch_size = 4;
  std::vector<ConceptEmbedding> out = train_classification(d.acts, d.ann, o);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].weights[0], 0.0025f * 3.0f, 1e-7);
  EXPECT_NEAR(out[0].weights[1], -0.0025f * 1.0f, 1e-7);
  EXPECT_NEAR(out[0].bias, 0.0f, 1e-7);
  // Our budget runs ceil(12 / 4) = 3 steps on centred, scaled features: other weights.
  o.authors_budget = false;
  out = train_classification(d.acts, d.ann, o);
  EXPECT_GT(std::fabs(out[0].weights[0] - 0.0075f), 1e-4);
}

float raw_balanced_accuracy(const Data& d, const ConceptEmbedding& e, Split split) {
  double tp = 0, p = 0, tn = 0, q = 0;
  for (int i = 0; i < d.acts.n; ++i) {
    if (d.ann.splits[i] != split) continue;
    double z = e.bias;
    for (int k = 0; k < 3; ++k) z += e.weights[k] * d.acts.pooled[i * 3 + k];
    bool present = std::count(d.ann.present[i].begin(), d.ann.present[i].end(), e.concept_number) > 0;
    if (present) {
      ++p;
      tp += z > 0;
    } else {
      ++q;
      tn += z <= 0;
    }
  }
  return static_cast<float>(0.5 * (tp / p + tn / q));
}

TEST(Classification, SeparableConceptReachesHighBalancedAccuracy) {
  Data d = make(240, 1);
  ClassificationOptions o;
  o.subsets = {1, 2};
  std::vector<ConceptEmbedding> out = train_classification(d.acts, d.ann, o);
  ASSERT_EQ(out.size(), 3u);  // concepts 5, 6, 9 in label order
  const ConceptEmbedding& c5 = out[0];
  EXPECT_EQ(c5.concept_number, 5);
  EXPECT_EQ(c5.train_count + c5.val_count, 60);
  EXPECT_GE(c5.score_val, 0.95f);
  EXPECT_GE(c5.score_train, 0.95f);
  EXPECT_EQ(c5.best_filter, 0);  // the top |w| filter is the informative one
  EXPECT_GE(c5.best_filter_val, 0.95f);
  ASSERT_EQ(c5.subsets.size(), 2u);
  EXPECT_EQ(c5.subsets[0].first, 1);
  EXPECT_FLOAT_EQ(c5.subsets[0].second, c5.best_filter_val);
  // The stored w and b act on raw pooled activations: they reproduce the reported scores.
  EXPECT_FLOAT_EQ(raw_balanced_accuracy(d, c5, Split::kVal), c5.score_val);
  EXPECT_FLOAT_EQ(raw_balanced_accuracy(d, c5, Split::kTrain), c5.score_train);
  // Noise concepts stay near chance on val.
  EXPECT_LT(out[1].score_val, 0.8f);
}

TEST(Classification, UntrainedModelScoresExactlyOneHalf) {
  // epochs = 0: w = 0, b = 0, every logit is 0 -> predicted absent: TPR 0, TNR 1, mean 0.5.
  Data d = make(60, 2);
  ClassificationOptions o;
  o.sgd.epochs = 0;
  o.subsets = {};
  std::vector<ConceptEmbedding> out = train_classification(d.acts, d.ann, o);
  ASSERT_FALSE(out.empty());
  for (const auto& e : out) {
    EXPECT_FLOAT_EQ(e.score_val, 0.5f);
    EXPECT_FLOAT_EQ(e.score_train, 0.5f);
  }
}

TEST(Classification, ConceptsWithoutNegativesAreLeftOut) {
  Data d = make(60, 3);
  for (auto& p : d.ann.present) p.push_back(11);  // in every image: no negatives
  ClassificationOptions o;
  o.sgd.epochs = 1;
  o.subsets = {};
  std::vector<ConceptEmbedding> out = train_classification(d.acts, d.ann, o);
  for (const auto& e : out) EXPECT_NE(e.concept_number, 11);
}

TEST(Classification, SameSeedSameWeights) {
  Data d = make(120, 4);
  ClassificationOptions o;
  o.sgd.epochs = 3;
  o.subsets = {};
  auto a = train_classification(d.acts, d.ann, o);
  auto b = train_classification(d.acts, d.ann, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t c = 0; c < a.size(); ++c) EXPECT_EQ(a[c].weights, b[c].weights);
  o.seed = 99;
  auto c = train_classification(d.acts, d.ann, o);
  EXPECT_NE(a[0].weights, c[0].weights);
}

// The CPU's explicit gradients (positives as dot products, negatives as two products) and
// autograd (the GPU's path) draw the same batches and must learn the same weights, scores,
// best filters and F sweep, within float rounding: a wider random layer (K = 40, 5 concepts),
// both budgets, subsets on.
TEST(Classification, ExplicitGradientsEqualAutograd) {
  std::mt19937 rng(17);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  ProbeActivations acts;
  ProbeAnnotations ann;
  const int n = 300, k = 40;
  acts.n = n;
  acts.k = k;
  acts.h = acts.w = 1;
  for (int i = 0; i < n; ++i) {
    std::vector<float> f(k);
    for (float& v : f) v = std::max(0.0f, gauss(rng) + 0.5f);
    std::vector<int> present;
    for (int c = 0; c < 5; ++c)
      if (f[c] + 0.3f * gauss(rng) > 0.9f) present.push_back(10 + c);
    acts.pooled.insert(acts.pooled.end(), f.begin(), f.end());
    acts.rows.push_back(i);
    ann.rows.push_back(i);
    ann.splits.push_back(i % 4 == 3 ? Split::kVal : Split::kTrain);
    ann.present.push_back(present);
  }
  acts.kept.assign(n, true);
  acts.thresholds.assign(k, 0);
  acts.bits.assign(acts.bytes_per_image() * n, 0);
  for (bool authors : {false, true}) {
    SCOPED_TRACE(authors ? "authors' budget" : "our budget");
    ClassificationOptions o;
    o.sgd.epochs = 4;
    o.sgd.batch_size = 16;
    o.authors_budget = authors;
    if (authors) o.sgd.lr = 0.05;
    o.subsets = {1, 3, 10};
    const auto fast = train_classification(acts, ann, o);
    o.autograd = true;
    const auto reference = train_classification(acts, ann, o);
    ASSERT_EQ(fast.size(), reference.size());
    ASSERT_GE(fast.size(), 4u);
    double scale = 0;
    for (const auto& e : reference)
      for (float w : e.weights) scale = std::max(scale, static_cast<double>(std::fabs(w)));
    ASSERT_GT(scale, 1e-3) << "the weights did not move";
    for (size_t c = 0; c < fast.size(); ++c) {
      SCOPED_TRACE("concept " + std::to_string(reference[c].concept_number));
      EXPECT_EQ(fast[c].concept_number, reference[c].concept_number);
      for (int j = 0; j < k; ++j) EXPECT_NEAR(fast[c].weights[j], reference[c].weights[j], 1e-4 * scale) << "w_" << j;
      EXPECT_NEAR(fast[c].bias, reference[c].bias, 1e-4 * std::max(1.0, scale));
      EXPECT_NEAR(fast[c].score_val, reference[c].score_val, 0.02);
      EXPECT_EQ(fast[c].best_filter, reference[c].best_filter);
      ASSERT_EQ(fast[c].subsets.size(), reference[c].subsets.size());
      for (size_t i = 0; i < fast[c].subsets.size(); ++i)
        EXPECT_NEAR(fast[c].subsets[i].second, reference[c].subsets[i].second, 0.02);
    }
  }
}

}  // namespace
}  // namespace n2v
