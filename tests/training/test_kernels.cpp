// The dense segmentation kernel (the GPU's: maps unpacked and multiplied on the device)
// against the sparse one (the CPU's: host-built index lists) on random activations and
// masks: same concepts, single-filter IoUs, weights, scores, per-image IoUs, predicted
// masks and subset scores, within float tolerance. With NET2VEC_TEST_DEVICE=cuda the dense
// kernel runs on the GPU (tools/gpu-check), the sparse one on the CPU as the reference.
#include <gtest/gtest.h>

#include <array>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "common/error.h"
#include "support/test_device.h"
#include "training/activations_fixture.h"
#include "training/training.h"

namespace n2v {
namespace {

using test::test_device;

struct Random {
  ProbeActivations acts;
  ProbeAnnotations ann;
};

// n images, k filters at h x w (about 6 % of positions on, in clumps), masks mh x mw,
// `concepts` labels each present in a random subset of images as a random rectangle.
Random random_probe(int n, int k, int h, int w, int mh, int mw, int concepts, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Random r;
  ProbeActivations& a = r.acts = test::blank_activations(n, k, h, w);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < n; ++i)
    for (int f = 0; f < k; ++f)
      for (int p = 0; p < h * w; ++p)
        if (u(rng) < 0.06 || (p > 0 && a.bit(i, f, p - 1) && u(rng) < 0.5)) test::set_bit(a, i, f, p);
  r.ann.mask_height = mh;
  r.ann.mask_width = mw;
  r.ann.present.resize(n);
  for (int i = 0; i < n; ++i) {
    r.ann.rows.push_back(i);
    r.ann.splits.push_back(i % 3 == 2 ? Split::kVal : Split::kTrain);
    for (int c = 1; c <= concepts; ++c) {
      if (u(rng) > 0.3 + 0.4 * c / concepts) continue;
      std::uniform_int_distribution<int> y(0, mh - 2), x(0, mw - 2);
      const int y0 = y(rng), x0 = x(rng);
      const int y1 = std::min(mh, y0 + 1 + static_cast<int>(u(rng) * mh / 2));
      const int x1 = std::min(mw, x0 + 1 + static_cast<int>(u(rng) * mw / 2));
      std::vector<uint8_t> px(mh * mw, 0);
      for (int yy = y0; yy < y1; ++yy)
        for (int xx = x0; xx < x1; ++xx) px[yy * mw + xx] = 1;
      r.ann.masks.push_back({i, c, pack_mask(px)});
      r.ann.present[i].push_back(c);
    }
  }
  return r;
}

SegmentationOptions options(SegmentationKernel kernel, DeviceKind device) {
  SegmentationOptions o;
  o.sgd.epochs = 3;
  o.sgd.batch_size = 8;
  o.sgd.lr = 0.05;  // large enough that the weights move far from zero in 3 epochs
  o.subsets = {1, 3};
  o.pairs_per_chunk = 37;  // chunks that split rounds and images
  o.kernel = kernel;
  o.device = device;
  return o;
}

void expect_same(const std::vector<ConceptEmbedding>& a, const std::vector<ConceptEmbedding>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 2u);
  double weight_scale = 0;
  for (const ConceptEmbedding& e : a)
    for (float w : e.weights) weight_scale = std::max(weight_scale, static_cast<double>(std::fabs(w)));
  ASSERT_GT(weight_scale, 1e-3) << "the weights did not move: the comparison would be empty";
  for (size_t c = 0; c < a.size(); ++c) {
    SCOPED_TRACE("concept " + std::to_string(a[c].concept_number));
    EXPECT_EQ(a[c].concept_number, b[c].concept_number);
    EXPECT_EQ(a[c].best_filter, b[c].best_filter);
    EXPECT_NEAR(a[c].best_filter_train, b[c].best_filter_train, 1e-6);
    EXPECT_NEAR(a[c].best_filter_val, b[c].best_filter_val, 1e-6);
    ASSERT_EQ(a[c].filter_iou_val.size(), b[c].filter_iou_val.size());
    for (size_t k = 0; k < a[c].filter_iou_val.size(); ++k)
      EXPECT_NEAR(a[c].filter_iou_val[k], b[c].filter_iou_val[k], 1e-6) << "filter " << k;
    ASSERT_EQ(a[c].weights.size(), b[c].weights.size());
    for (size_t k = 0; k < a[c].weights.size(); ++k)
      EXPECT_NEAR(a[c].weights[k], b[c].weights[k], 1e-5 * weight_scale + 1e-7) << "w_" << k;
    EXPECT_NEAR(a[c].score_train, b[c].score_train, 1e-4);
    EXPECT_NEAR(a[c].score_val, b[c].score_val, 1e-4);
    ASSERT_EQ(a[c].image_iou.size(), b[c].image_iou.size());
    for (size_t i = 0; i < a[c].image_iou.size(); ++i) {
      EXPECT_EQ(a[c].image_iou[i].image, b[c].image_iou[i].image);
      EXPECT_NEAR(a[c].image_iou[i].learned, b[c].image_iou[i].learned, 1e-4);
      EXPECT_NEAR(a[c].image_iou[i].single, b[c].image_iou[i].single, 1e-6);
    }
    ASSERT_EQ(a[c].decile_masks.size(), b[c].decile_masks.size());
    for (size_t i = 0; i < a[c].decile_masks.size(); ++i) {
      EXPECT_EQ(a[c].decile_masks[i].image, b[c].decile_masks[i].image);
      EXPECT_EQ(a[c].decile_masks[i].single, b[c].decile_masks[i].single);
    }
    ASSERT_EQ(a[c].subsets.size(), b[c].subsets.size());
    for (size_t i = 0; i < a[c].subsets.size(); ++i) EXPECT_NEAR(a[c].subsets[i].second, b[c].subsets[i].second, 1e-3);
  }
}

TEST(SegmentationKernels, DenseEqualsSparse) {
  const Random r = random_probe(60, 9, 5, 6, 17, 19, 7, 11);
  const std::vector<ConceptEmbedding> sparse =
      train_segmentation(r.acts, r.ann, options(SegmentationKernel::kSparse, DeviceKind::kCpu));
  const std::vector<ConceptEmbedding> dense =
      train_segmentation(r.acts, r.ann, options(SegmentationKernel::kDense, test_device()));
  expect_same(sparse, dense);
}

// Maps larger than the masks (VGG's conv1_1 at 224 on BRODEN's 112 masks is 2x; an exported
// 32 x 32 layer on 8 x 8 masks is 4x): bilinear resampling then skips some map positions, which
// the sparse kernel's single-filter splat once indexed (a crash). Both kernels must agree.
// Whole ratios (4x, 2x): their bilinear weights are exact in float and double alike, so no
// sum lands on either side of the 1/2 threshold by rounding.
TEST(SegmentationKernels, DenseEqualsSparseWithMapsLargerThanMasks) {
  for (const auto& [h, w, mh, mw] : {std::array<int, 4>{32, 32, 8, 8}, std::array<int, 4>{24, 20, 6, 5}, std::array<int, 4>{12, 10, 6, 5}}) {
    SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w) + " maps on " + std::to_string(mh) + "x" +
                 std::to_string(mw) + " masks");
    const Random r = random_probe(40, 5, h, w, mh, mw, 5, 31);
    expect_same(train_segmentation(r.acts, r.ann, options(SegmentationKernel::kSparse, DeviceKind::kCpu)),
                train_segmentation(r.acts, r.ann, options(SegmentationKernel::kDense, test_device())));
  }
}

TEST(SegmentationKernels, DenseEqualsSparseWithBiasAndLogLoss) {
  const Random r = random_probe(45, 6, 4, 4, 12, 12, 5, 23);
  SegmentationOptions s = options(SegmentationKernel::kSparse, DeviceKind::kCpu);
  s.bias = true;
  s.log_loss = true;
  s.align_corners = true;
  SegmentationOptions d = s;
  d.kernel = SegmentationKernel::kDense;
  d.device = test_device();
  expect_same(train_segmentation(r.acts, r.ann, s), train_segmentation(r.acts, r.ann, d));
}

// The filter-subset sweep trains as one run of replicas (one copy of every concept per F);
// it must equal one run per F, for either kernel.
TEST(SegmentationKernels, SubsetSweepAsOneRunEqualsOneRunPerF) {
  const Random r = random_probe(50, 8, 4, 5, 13, 11, 6, 5);
  for (SegmentationKernel kernel : {SegmentationKernel::kSparse, SegmentationKernel::kDense}) {
    SCOPED_TRACE(to_string(kernel));
    SegmentationOptions all = options(kernel, kernel == SegmentationKernel::kDense ? test_device() : DeviceKind::kCpu);
    all.subsets = {1, 2, 5, 8, 3};  // 8 = K: the full model, not retrained
    const std::vector<ConceptEmbedding> together = train_segmentation(r.acts, r.ann, all);
    ASSERT_GT(together.size(), 2u);
    for (int f : {1, 2, 5, 3}) {
      SegmentationOptions one = all;
      one.subsets = {f};
      const std::vector<ConceptEmbedding> alone = train_segmentation(r.acts, r.ann, one);
      ASSERT_EQ(alone.size(), together.size());
      for (size_t c = 0; c < alone.size(); ++c) {
        ASSERT_EQ(alone[c].subsets.size(), 1u);
        const auto it = std::find_if(together[c].subsets.begin(), together[c].subsets.end(),
                                     [&](const auto& s) { return s.first == f; });
        ASSERT_NE(it, together[c].subsets.end()) << "F = " << f;
        EXPECT_NEAR(it->second, alone[c].subsets[0].second, 1e-4) << "concept " << alone[c].concept_number << ", F = " << f;
      }
    }
    for (const ConceptEmbedding& e : together) EXPECT_EQ(e.subsets.size(), 4u);  // F = 8 = K left out
  }
}

TEST(SegmentationKernels, NamesParse) {
  EXPECT_EQ(parse_segmentation_kernel("dense"), SegmentationKernel::kDense);
  EXPECT_STREQ(to_string(parse_segmentation_kernel("sparse")), "sparse");
  EXPECT_THROW(parse_segmentation_kernel("fast"), Error);
}

}  // namespace
}  // namespace n2v
