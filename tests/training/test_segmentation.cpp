// Segmentation training on activations and masks built in the test, against values worked
// out by hand (see the comments) and a plain-loop reference of the bilinear upsampling.
#include "training/training.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "training/activations_fixture.h"

namespace n2v {
namespace {

// Builds ProbeActivations of n images, k filters, h x w positions from a list of set bits.
struct Bit {
  int image, filter, y, x;
};
ProbeActivations make_acts(int n, int k, int h, int w, const std::vector<Bit>& on) {
  ProbeActivations a = test::blank_activations(n, k, h, w);
  for (const Bit& b : on) test::set_bit(a, b.image, b.filter, b.y * w + b.x);
  return a;
}

// A mask of size mh x mw with the rectangle [y0,y1) x [x0,x1) set.
PackedMask rect_mask(int mh, int mw, int y0, int x0, int y1, int x1) {
  std::vector<uint8_t> px(mh * mw, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) px[y * mw + x] = 1;
  return pack_mask(px);
}

// The fixture of the hand computation: 2x2 activations, 4x4 masks, 2 filters, concept 7.
//   image 0 (train): filter 0 on at (0,0), filter 1 on at (1,1); target: top-left 2x2 block
//   image 1 (val):   filter 0 on at (0,1), filter 1 on at (1,1); target: top two rows
struct Toy {
  ProbeActivations acts;
  ProbeAnnotations ann;
};
Toy toy() {
  Toy t;
  t.acts = make_acts(2, 2, 2, 2, {{0, 0, 0, 0}, {0, 1, 1, 1}, {1, 0, 0, 1}, {1, 1, 1, 1}});
  t.ann.mask_height = t.ann.mask_width = 4;
  t.ann.rows = {0, 1};
  t.ann.splits = {Split::kTrain, Split::kVal};
  t.ann.masks.push_back({0, 7, rect_mask(4, 4, 0, 0, 2, 2)});
  t.ann.masks.push_back({1, 7, rect_mask(4, 4, 0, 0, 2, 4)});
  t.ann.present = {{7}, {7}};
  return t;
}

SegmentationOptions one_step(double lr) {
  SegmentationOptions o;
  o.sgd.epochs = 1;
  o.sgd.lr = lr;
  o.subsets = {};
  return o;
}

TEST(Segmentation, SingleFilterIouAlphaAndOneSgdStepByHand) {
  Toy t = toy();
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, one_step(0.1));
  ASSERT_EQ(out.size(), 1u);
  const ConceptEmbedding& e = out[0];
  EXPECT_EQ(e.concept_number, 7);
  EXPECT_EQ(e.train_count, 1);
  EXPECT_EQ(e.val_count, 1);
  // alpha = 1 - 4 concept pixels / 16 pixels over the train image.
  EXPECT_FLOAT_EQ(e.alpha, 0.75f);

  // Bilinear 2 -> 4 (align_corners false) of [1, 0] is [1, .75, .25, 0]; in 2-D the product,
  // and > 1/2 keeps the 2x2 block under the active position. Train: filter 0 covers the
  // target exactly (IoU 1), filter 1 covers the bottom-right block (IoU 0).
  EXPECT_EQ(e.best_filter, 0);
  EXPECT_FLOAT_EQ(e.best_filter_train, 1.0f);
  // Val: filter 0 covers the top-right block: 4 of the 8 target pixels, union 8 -> 0.5.
  // Filter 1 (bottom-right block) misses: 0 / (4 + 8).
  EXPECT_FLOAT_EQ(e.best_filter_val, 0.5f);
  ASSERT_EQ(e.filter_iou_val.size(), 2u);
  EXPECT_FLOAT_EQ(e.filter_iou_val[0], 0.5f);
  EXPECT_FLOAT_EQ(e.filter_iou_val[1], 0.0f);

  // One SGD step from w = 0 (z = 0, M = 1/2, dM/dz = 1/4), batch of one image:
  //   dL/dz_p = -(a t_p - (1 - a)(1 - t_p)) / 4 = -0.1875 on target pixels, +0.0625 elsewhere.
  //   grad_0 = sum_p dL/dz_p * S(I_0)_p; S(I_0) = u u^T, u = [1,.75,.25,0]: its sum is 4,
  //            its sum over the target block (1.75)^2 = 3.0625
  //          = -0.1875 * 3.0625 + 0.0625 * (4 - 3.0625) = -0.515625
  //   grad_1 with v = [0,.25,.75,1]: block sum (0.25)^2 = 0.0625, total 4
  //          = -0.1875 * 0.0625 + 0.0625 * 3.9375 = 0.234375
  //   w = -lr * grad (first momentum step: v = g) with lr = 0.1.
  ASSERT_EQ(e.weights.size(), 2u);
  EXPECT_NEAR(e.weights[0], 0.0515625, 1e-7);
  EXPECT_NEAR(e.weights[1], -0.0234375, 1e-7);
  EXPECT_EQ(e.bias, 0.0f);

  // The learned masks are checked against a plain-loop reference in the next test.
  ASSERT_EQ(e.image_iou.size(), 1u);
  EXPECT_EQ(e.image_iou[0].image, 1);
  EXPECT_FLOAT_EQ(e.image_iou[0].single, 0.5f);
}

// Plain-loop reference: upsample (bilinear, align_corners false) a 2-D map.
std::vector<double> upsample(const std::vector<double>& in, int h, int w, int oh, int ow) {
  std::vector<double> out(oh * ow);
  auto coord = [](int o, int n_in, int n_out, int& i0, int& i1, double& f) {
    double s = (o + 0.5) * n_in / n_out - 0.5;
    if (s < 0) s = 0;
    i0 = static_cast<int>(std::floor(s));
    if (i0 > n_in - 1) i0 = n_in - 1;
    i1 = std::min(i0 + 1, n_in - 1);
    f = s - i0;
  };
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      int y0, y1, x0, x1;
      double fy, fx;
      coord(y, h, oh, y0, y1, fy);
      coord(x, w, ow, x0, x1, fx);
      out[y * ow + x] = (1 - fy) * ((1 - fx) * in[y0 * w + x0] + fx * in[y0 * w + x1]) +
                        fy * ((1 - fx) * in[y1 * w + x0] + fx * in[y1 * w + x1]);
    }
  return out;
}

// --align-corners: bilinear 2 -> 4 with align_corners = true samples at 0, 1/3, 2/3, 1, so
// u = [1, 2/3, 1/3, 0] and the upsampled single filter at (0,0) exceeds 1/2 on 3 pixels of
// the 2x2 block ((1,1) gets 4/9), not on all 4 as with align_corners = false: train set IoU
// 3/4 instead of 1.
TEST(Segmentation, AlignCornersMovesTheSamplePoints) {
  Toy t = toy();
  SegmentationOptions o = one_step(0.1);
  o.align_corners = true;
  const std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, o);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].best_filter, 0);
  EXPECT_FLOAT_EQ(out[0].best_filter_train, 0.75f);
}

// A concept no filter overlaps on train (the bottom-left block; filters 0 and 1 fire on the
// top row) has no best filter: -1, not filter 0 (which would over-count filter 0 in the
// paper's Figure 5). Its per-filter val IoUs are still stored.
TEST(Segmentation, NoOverlapOnTrainMeansNoBestFilter) {
  Toy t;
  t.acts = make_acts(2, 2, 2, 2, {{0, 0, 0, 0}, {0, 1, 0, 1}, {1, 0, 1, 0}, {1, 1, 0, 1}});
  t.ann.mask_height = t.ann.mask_width = 4;
  t.ann.rows = {0, 1};
  t.ann.splits = {Split::kTrain, Split::kVal};
  t.ann.masks.push_back({0, 7, rect_mask(4, 4, 2, 0, 4, 2)});
  t.ann.masks.push_back({1, 7, rect_mask(4, 4, 2, 0, 4, 2)});
  t.ann.present = {{7}, {7}};
  const std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, one_step(0.1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].best_filter, -1);
  ASSERT_EQ(out[0].filter_iou_val.size(), 2u);
  // Val: filter 0 fires on the bottom-left block, exactly the target.
  EXPECT_FLOAT_EQ(out[0].filter_iou_val[0], 1.0f);
  EXPECT_FLOAT_EQ(out[0].filter_iou_val[1], 0.0f);
  // Per-image IoU of "no filter" is that of an empty mask: 0.
  ASSERT_EQ(out[0].image_iou.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].image_iou[0].single, 0.0f);
}

// The paper's eq. 2 has no bias, and here that, not the loss, decides (docs/METHOD.md "A
// bias, not the loss"). Filter 0 reproduces the concept's mask (the top-left 2x2 block of a
// 4x4 mask) and filter 1 fires on the top row of the 2x2 activations, a superset (the top
// half). Bilinear upsampling (u = [1, .75, .25, 0]) gives at pixel (1,1) S0 = .5625,
// S1 = .75 and at (2,0) S0 = S1 = .25: keeping (1,1) needs .5625 w0 + .75 w1 > 0, dropping
// (2,0) needs w0 + w1 < 0 -- impossible together without a bias. So both losses stop short
// of IoU 1 without a bias, and both reach it with one.
struct LossCase {
  Toy t;
  LossCase() {
    std::vector<Bit> on;
    for (int i = 0; i < 8; ++i) {
      on.push_back({i, 0, 0, 0});
      on.push_back({i, 1, 0, 0});
      on.push_back({i, 1, 0, 1});
      t.ann.rows.push_back(i);
      t.ann.splits.push_back(i < 6 ? Split::kTrain : Split::kVal);
      t.ann.masks.push_back({i, 7, rect_mask(4, 4, 0, 0, 2, 2)});
      t.ann.present.push_back({7});
    }
    t.acts = make_acts(8, 2, 2, 2, on);
    t.ann.mask_height = t.ann.mask_width = 4;
  }
  // lr 0.1 for 300 epochs: long enough to converge on 6 train images.
  float val_set_iou(bool log_loss, bool bias) {
    SegmentationOptions o;
    o.sgd.epochs = 300;
    o.sgd.lr = 0.1;
    o.log_loss = log_loss;
    o.bias = bias;
    o.subsets = {};
    const std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, o);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? -1.0f : out[0].score_val;
  }
};

TEST(Segmentation, WithoutABiasNeitherLossSeparatesASuperset) {
  LossCase c;
  EXPECT_LT(c.val_set_iou(false, false), 0.9f);  // eq. 4 as printed, eq. 2 as printed: 0.667 here
  EXPECT_LT(c.val_set_iou(true, false), 0.9f);   // --log-loss alone does not help
  EXPECT_FLOAT_EQ(c.val_set_iou(false, true), 1.0f);  // --seg-bias does, with either loss
  EXPECT_FLOAT_EQ(c.val_set_iou(true, true), 1.0f);
}

TEST(Segmentation, LearnedMaskScoresMatchPlainLoopReference) {
  Toy t = toy();
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, one_step(0.1));
  const ConceptEmbedding& e = out[0];
  // Recompute set IoU on train and val from the learned weights with the reference.
  auto iou_of = [&](int image, int y0, int x0, int y1, int x1, double& inter, double& uni) {
    std::vector<double> z(16, 0.0);
    for (int f = 0; f < 2; ++f) {
      std::vector<double> map(4);
      for (int p = 0; p < 4; ++p) map[p] = t.acts.bit(image, f, p) ? 1.0 : 0.0;
      std::vector<double> up = upsample(map, 2, 2, 4, 4);
      for (int p = 0; p < 16; ++p) z[p] += e.weights[f] * up[p];
    }
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        bool pred = z[y * 4 + x] > 0, tgt = y >= y0 && y < y1 && x >= x0 && x < x1;
        inter += pred && tgt;
        uni += pred || tgt;
      }
  };
  double i0 = 0, u0 = 0, i1 = 0, u1 = 0;
  iou_of(0, 0, 0, 2, 2, i0, u0);
  iou_of(1, 0, 0, 2, 4, i1, u1);
  EXPECT_FLOAT_EQ(e.score_train, static_cast<float>(i0 / u0));
  EXPECT_FLOAT_EQ(e.score_val, static_cast<float>(i1 / u1));
  EXPECT_FLOAT_EQ(e.image_iou[0].learned, static_cast<float>(i1 / u1));
  // The reference itself reproduces the hand-computed profile.
  std::vector<double> up = upsample({1, 0, 0, 0}, 2, 2, 4, 4);
  EXPECT_DOUBLE_EQ(up[0 * 4 + 1], 0.75);
  EXPECT_DOUBLE_EQ(up[1 * 4 + 1], 0.5625);
  EXPECT_DOUBLE_EQ(up[2 * 4 + 2], 0.0625);
}

// Figure 8: the predicted masks of the decile images. The toy has one val image (image 1),
// so every decile of either distribution is that image: one entry. Its single-filter mask
// is filter 0's upsampled block at (0,1): the top-right 2x2 block of the 4x4 mask; its
// learned mask is z > 0 of the plain-loop reference.
TEST(Segmentation, DecileImagesKeepTheirPredictedMasks) {
  Toy t = toy();
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, one_step(0.1));
  const ConceptEmbedding& e = out[0];
  EXPECT_EQ(e.mask_height, 4);
  EXPECT_EQ(e.mask_width, 4);
  ASSERT_EQ(e.decile_masks.size(), 1u);
  const PredictedMask& m = e.decile_masks[0];
  EXPECT_EQ(m.image, 1);
  const PackedMask top_right = rect_mask(4, 4, 0, 2, 2, 4);
  EXPECT_EQ(m.single, top_right.bytes);
  std::vector<double> z(16, 0.0);
  for (int f = 0; f < 2; ++f) {
    std::vector<double> map(4);
    for (int p = 0; p < 4; ++p) map[p] = t.acts.bit(1, f, p) ? 1.0 : 0.0;
    const std::vector<double> up = upsample(map, 2, 2, 4, 4);
    for (int p = 0; p < 16; ++p) z[p] += e.weights[f] * up[p];
  }
  std::vector<uint8_t> learned(16);
  for (int p = 0; p < 16; ++p) learned[p] = z[p] > 0;
  EXPECT_EQ(m.learned, pack_mask(learned).bytes);
  EXPECT_GT(std::count(learned.begin(), learned.end(), 1), 0);  // not trivially empty

  // A concept whose val images all score 0 has no deciles and stores no masks.
  Toy none = toy();
  none.ann.masks[1].mask = rect_mask(4, 4, 3, 0, 4, 1);  // val target: a corner nothing covers
  std::vector<ConceptEmbedding> miss = train_segmentation(none.acts, none.ann, one_step(0.1));
  ASSERT_EQ(miss[0].image_iou.size(), 1u);
  if (miss[0].image_iou[0].learned == 0 && miss[0].image_iou[0].single == 0) {
    EXPECT_TRUE(miss[0].decile_masks.empty());
  } else {
    ADD_FAILURE() << "the corner target was meant to score 0: " << miss[0].image_iou[0].learned << ", "
                  << miss[0].image_iou[0].single;
  }
}

TEST(Segmentation, LogLossGradientDiffersAndIsByHand) {
  // Log form at z = 0: d/dz [a t log s(z) + (1-a)(1-t) log s(-z)] = a t (1 - s) - (1-a)(1-t) s
  // = a t / 2 - (1 - a)(1 - t) / 2, so dL/dz_p = -0.375 on target pixels, +0.125 elsewhere:
  // exactly twice the linear form's (whose factor is s' = 1/4), hence w doubles.
  Toy t = toy();
  SegmentationOptions o = one_step(0.1);
  o.log_loss = true;
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, o);
  EXPECT_NEAR(out[0].weights[0], 2 * 0.0515625, 1e-7);
  EXPECT_NEAR(out[0].weights[1], 2 * -0.0234375, 1e-7);
}

TEST(Segmentation, MomentumSecondStepByHand) {
  // Two epochs over one image: step 2 uses v2 = 0.9 v1 + g2. Checked against a float64
  // re-computation of the gradient at w1 with the reference upsampling.
  Toy t = toy();
  SegmentationOptions o = one_step(0.1);
  o.sgd.epochs = 2;
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, o);
  const double w1[2] = {0.0515625, -0.0234375}, g1[2] = {-0.515625, 0.234375};
  std::vector<std::vector<double>> S(2);
  for (int f = 0; f < 2; ++f) {
    std::vector<double> map(4);
    for (int p = 0; p < 4; ++p) map[p] = t.acts.bit(0, f, p) ? 1.0 : 0.0;
    S[f] = upsample(map, 2, 2, 4, 4);
  }
  double g2[2] = {0, 0};
  for (int p = 0; p < 16; ++p) {
    double z = w1[0] * S[0][p] + w1[1] * S[1][p];
    double s = 1 / (1 + std::exp(-z));
    bool tgt = (p / 4) < 2 && (p % 4) < 2;
    double dz = -(0.75 * tgt - 0.25 * (1 - tgt)) * s * (1 - s);
    for (int f = 0; f < 2; ++f) g2[f] += dz * S[f][p];
  }
  for (int f = 0; f < 2; ++f) {
    double v2 = 0.9 * g1[f] + g2[f];
    EXPECT_NEAR(out[0].weights[f], w1[f] - 0.1 * v2, 1e-6) << "filter " << f;
  }
}

TEST(Segmentation, ConceptsWithoutValImagesAreLeftOut) {
  Toy t = toy();
  t.ann.masks.push_back({0, 9, rect_mask(4, 4, 0, 0, 1, 1)});  // concept 9: train only
  std::vector<ConceptEmbedding> out = train_segmentation(t.acts, t.ann, one_step(0.1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].concept_number, 7);
}

TEST(Segmentation, ConceptsTrainTogetherAsIfAlone) {
  // Two concepts on the same images: training them together must give each exactly the
  // weights it gets alone (independent rows, per-concept batches and momentum).
  Toy t = toy();
  t.ann.masks.push_back({0, 8, rect_mask(4, 4, 2, 2, 4, 4)});
  t.ann.masks.push_back({1, 8, rect_mask(4, 4, 2, 0, 4, 4)});
  std::sort(t.ann.masks.begin(), t.ann.masks.end(),
            [](const ConceptMask& a, const ConceptMask& b) {
              return std::tie(a.image, a.label) < std::tie(b.image, b.label);
            });
  SegmentationOptions o = one_step(0.05);
  o.sgd.epochs = 5;
  std::vector<ConceptEmbedding> both = train_segmentation(t.acts, t.ann, o);
  ASSERT_EQ(both.size(), 2u);
  Toy alone = toy();
  std::vector<ConceptEmbedding> only7 = train_segmentation(alone.acts, alone.ann, o);
  for (int f = 0; f < 2; ++f) EXPECT_FLOAT_EQ(both[0].weights[f], only7[0].weights[f]);
  EXPECT_NE(both[1].weights[0], both[0].weights[0]);
}

TEST(Segmentation, SubsetsKeepTopFiltersOnly) {
  // 3 filters; concept 7 is exactly filter 0's map. With F = 1 the retrained weights use
  // filter 0 alone, which segments the concept perfectly.
  ProbeActivations acts = make_acts(2, 3, 2, 2,
                                    {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 2, 0, 1},
                                     {1, 0, 1, 0}, {1, 1, 0, 0}, {1, 2, 1, 1}});
  ProbeAnnotations ann;
  ann.mask_height = ann.mask_width = 2;  // no upsampling: filters separate perfectly
  ann.rows = {0, 1};
  ann.splits = {Split::kTrain, Split::kVal};
  ann.masks.push_back({0, 7, rect_mask(2, 2, 0, 0, 1, 1)});
  ann.masks.push_back({1, 7, rect_mask(2, 2, 1, 0, 2, 1)});
  ann.present = {{7}, {7}};
  SegmentationOptions o;
  o.sgd.epochs = 3;
  o.sgd.lr = 0.5;
  o.subsets = {1, 2, 3};
  std::vector<ConceptEmbedding> out = train_segmentation(acts, ann, o);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].subsets.size(), 2u);  // F = 3 = K is the full model, not retrained
  EXPECT_EQ(out[0].subsets[0].first, 1);
  EXPECT_FLOAT_EQ(out[0].subsets[0].second, 1.0f);
  EXPECT_FLOAT_EQ(out[0].score_val, 1.0f);
  EXPECT_EQ(out[0].best_filter, 0);
  EXPECT_FLOAT_EQ(out[0].best_filter_val, 1.0f);
}

TEST(Segmentation, MismatchedInputsAreAnInternalError) {
  Toy t = toy();
  t.ann.rows.push_back(2);
  t.ann.splits.push_back(Split::kVal);
  t.ann.present.push_back({});
  EXPECT_THROW(train_segmentation(t.acts, t.ann, one_step(0.1)), Error);
}

}  // namespace
}  // namespace n2v
