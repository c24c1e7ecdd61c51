// NetDissect's top images per filter (ActivationOptions::top_images): the images with the
// largest max of the filter's map, largest first, ties by the larger mean, then by image, each
// with its map a_k > T_k. Checked against a brute-force oracle over the values a synthetic
// network returned, on both placements; ties; saturated maxima; N above the image count;
// N = 0 (off).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "activations/activations.h"
#include "support/broden_writer.h"
#include "support/synthetic_network.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

// The oracle: per filter, every image sorted by (max desc, mean desc, image asc), cut to n.
// `means` empty: the max alone.
std::vector<std::vector<std::pair<int, float>>> brute_force(const std::vector<float>& maxima, int images, int filters,
                                                            int n, const std::vector<float>& means = {}) {
  std::vector<std::vector<std::pair<int, float>>> out(filters);
  for (int f = 0; f < filters; ++f) {
    std::vector<int> order(images);
    std::iota(order.begin(), order.end(), 0);
    std::vector<int> finite;
    for (int i : order)
      if (!std::isnan(maxima[static_cast<size_t>(i) * filters + f])) finite.push_back(i);
    std::stable_sort(finite.begin(), finite.end(), [&](int a, int b) {
      const float ma = maxima[static_cast<size_t>(a) * filters + f], mb = maxima[static_cast<size_t>(b) * filters + f];
      if (ma != mb || means.empty()) return ma > mb;
      return means[static_cast<size_t>(a) * filters + f] > means[static_cast<size_t>(b) * filters + f];
    });
    for (int r = 0; r < std::min<int>(n, finite.size()); ++r)
      out[f].push_back({finite[r], maxima[static_cast<size_t>(finite[r]) * filters + f]});
  }
  return out;
}

TEST(TopImageSelector, EqualsTheOracleWithTiesNanAndFewImages) {
  test::FastRng rng(7);
  for (const int images : {1, 5, 40})
    for (const int n : {1, 3, 10, 60}) {
      constexpr int kFilters = 6;
      std::vector<float> scores(static_cast<size_t>(images) * kFilters);
      for (size_t i = 0; i < scores.size(); ++i) {
        const float u = rng.uniform();
        // Few distinct values (ties everywhere), some NaN, some negative.
        scores[i] = u < 0.05f ? std::numeric_limits<float>::quiet_NaN() : std::floor(u * 6) - 2;
      }
      TopImageSelector selector(kFilters, n);
      for (int i = 0; i < images; ++i) selector.add(i, scores.data() + static_cast<size_t>(i) * kFilters);
      EXPECT_EQ(selector.result(), brute_force(scores, images, kFilters, n)) << images << " images, N = " << n;
    }
  // With a second score: few distinct maxima and few distinct seconds, so both keys decide.
  for (const int n : {1, 4, 40}) {
    constexpr int kImages = 40, kFilters = 5;
    std::vector<float> scores(static_cast<size_t>(kImages) * kFilters), seconds(scores.size());
    for (size_t i = 0; i < scores.size(); ++i) {
      scores[i] = std::floor(rng.uniform() * 3);
      seconds[i] = std::floor(rng.uniform() * 4);
    }
    TopImageSelector selector(kFilters, n);
    for (int i = 0; i < kImages; ++i)
      selector.add(i, scores.data() + static_cast<size_t>(i) * kFilters, seconds.data() + static_cast<size_t>(i) * kFilters);
    EXPECT_EQ(selector.result(), brute_force(scores, kImages, kFilters, n, seconds)) << "N = " << n;
  }
  TopImageSelector off(3, 0);
  const float s[3] = {1, 2, 3};
  off.add(0, s);
  for (const auto& filter : off.result()) EXPECT_TRUE(filter.empty());
}

// SyntheticNetwork that keeps every map it returned, in image order, for the oracle.
class RecordingNetwork : public test::SyntheticNetwork {
 public:
  using SyntheticNetwork::SyntheticNetwork;
  LayerActivations forward(const std::vector<float>& pixels, int n, int height, int width,
                           const std::string& layer) override {
    LayerActivations a = SyntheticNetwork::forward(pixels, n, height, width, layer);
    values.insert(values.end(), a.values.begin(), a.values.end());
    return a;
  }
  std::vector<at::Tensor> forward_tensors(const at::Tensor& input, const std::vector<std::string>& layers) override {
    std::vector<at::Tensor> t = SyntheticNetwork::forward_tensors(input, layers);
    const at::Tensor cpu = t[0].to(at::kCPU, at::kFloat).contiguous();
    values.insert(values.end(), cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
    return t;
  }
  std::vector<float> values;
};

class TopImagesPass : public ::testing::Test {
 protected:
  void SetUp() override {
    test::BrodenFixture f;
    f.categories = {"object"};
    f.labels = {{1, "thing", "object", ""}};
    f.mask_height = f.mask_width = 4;
    for (int i = 0; i < kImages; ++i) {
      test::FixtureImage img;
      img.name = "img" + std::to_string(i);
      img.split = i % 2 ? "val" : "train";
      img.image = test::solid_image(4, 4, 10, 20, 30);
      img.masks = {{test::empty_map(4, 4)}};
      img.image_labels = {{}};
      f.images.push_back(img);
    }
    write_broden(dir_.path(), f);
    for (int i = 0; i < kImages; ++i) rows_.push_back(i);
  }

  ActivationOptions options(Placement placement, int top) const {
    ActivationOptions o;
    o.layer = "conv5";
    o.preprocessing.height = o.preprocessing.width = 4;
    o.tau = 0.01;
    o.batch_size = 7;  // batches that do not divide the images
    o.placement = placement;
    o.top_images = top;
    return o;
  }

  // Runs the pass and checks every filter's top images against the oracle over the recorded
  // values: images, maxima, and maps bit for bit (a_k > T_k with the pass's own T_k).
  void check(Placement placement, int top) {
    SCOPED_TRACE(std::string(to_string(placement)) + ", N = " + std::to_string(top));
    RecordingNetwork net(kFilters, kH, kW, 99);
    ProbeSet probe = ProbeSet::open(dir_.path());
    const ProbeActivations a = extract_activations(net, probe, rows_, options(placement, top));
    ASSERT_EQ(a.n, kImages);
    ASSERT_EQ(net.values.size(), static_cast<size_t>(kImages) * kFilters * kH * kW);
    if (top == 0) {
      EXPECT_TRUE(a.top_images.empty());
      return;
    }
    const int hw = kH * kW;
    std::vector<float> maxima(static_cast<size_t>(kImages) * kFilters), means(maxima.size());
    for (int i = 0; i < kImages; ++i)
      for (int f = 0; f < kFilters; ++f) {
        const float* map = net.values.data() + (static_cast<size_t>(i) * kFilters + f) * hw;
        maxima[static_cast<size_t>(i) * kFilters + f] = *std::max_element(map, map + hw);
        means[static_cast<size_t>(i) * kFilters + f] = a.pooled[static_cast<size_t>(i) * kFilters + f];
      }
    const auto expected = brute_force(maxima, kImages, kFilters, top, means);
    ASSERT_EQ(a.top_images.size(), static_cast<size_t>(kFilters));
    for (int f = 0; f < kFilters; ++f) {
      ASSERT_EQ(a.top_images[f].size(), expected[f].size()) << "filter " << f;
      ASSERT_EQ(a.top_images[f].size(), static_cast<size_t>(std::min(top, kImages)));
      for (size_t r = 0; r < expected[f].size(); ++r) {
        const TopImage& t = a.top_images[f][r];
        EXPECT_EQ(t.image, expected[f][r].first) << "filter " << f << " rank " << r;
        EXPECT_EQ(t.max_activation, expected[f][r].second);
        ASSERT_EQ(t.map.size(), static_cast<size_t>((hw + 7) / 8));
        const float* map = net.values.data() + (static_cast<size_t>(t.image) * kFilters + f) * hw;
        int on = 0;
        for (int p = 0; p < hw; ++p) {
          const bool bit = (t.map[p / 8] >> (p % 8)) & 1;
          EXPECT_EQ(bit, map[p] > a.thresholds[f]) << "filter " << f << " rank " << r << " position " << p;
          on += bit;
        }
        if (r == 0) EXPECT_GT(on, 0) << "the top image of filter " << f << " should pass T_k somewhere";
      }
    }
  }

  static constexpr int kImages = 30, kFilters = 12, kH = 5, kW = 6;
  test::TempDir dir_;
  std::vector<size_t> rows_;
};

TEST_F(TopImagesPass, HostPlacementEqualsTheOracle) {
  for (const int top : {0, 1, 4, 30, 50}) check(Placement::kHost, top);  // 50: more than the images
}

TEST_F(TopImagesPass, DevicePlacementEqualsTheOracle) {
  for (const int top : {0, 4, 50}) check(Placement::kDevice, top);
}

// Ties: images whose maps are equal everywhere tie on every filter; the earlier image ranks
// first, on both placements.
class ConstantNetwork : public test::SyntheticNetwork {
 public:
  ConstantNetwork() : SyntheticNetwork(3, 2, 2, 1) {}
  LayerActivations forward(const std::vector<float>&, int n, int, int, const std::string&) override {
    LayerActivations a{n, 3, 2, 2, {}};
    for (int i = 0; i < n; ++i, ++seen_)
      for (int f = 0; f < 3; ++f)
        for (int p = 0; p < 4; ++p) a.values.push_back(f == 0 ? static_cast<float>(seen_ % 3) : p == 0 ? 1.0f : 0.0f);
    return a;
  }
  std::vector<at::Tensor> forward_tensors(const at::Tensor& input, const std::vector<std::string>& layers) override {
    const int n = static_cast<int>(input.size(0));
    const LayerActivations a = forward({}, n, 0, 0, layers[0]);
    return {at::tensor(a.values).view({n, 3, 2, 2})};
  }

 private:
  int seen_ = 0;
};

TEST_F(TopImagesPass, TiesKeepTheEarlierImage) {
  for (const Placement placement : {Placement::kHost, Placement::kDevice}) {
    SCOPED_TRACE(to_string(placement));
    ConstantNetwork net;
    ProbeSet probe = ProbeSet::open(dir_.path());
    const ProbeActivations a = extract_activations(net, probe, rows_, options(placement, 4));
    // Filter 0: image i has max i % 3: the 2s come first (images 2, 5, 8, 11).
    std::vector<int> images;
    for (const TopImage& t : a.top_images[0]) images.push_back(t.image);
    EXPECT_EQ(images, (std::vector<int>{2, 5, 8, 11}));
    // Filters 1 and 2: every image ties at 1: the first four.
    for (int f : {1, 2}) {
      images.clear();
      for (const TopImage& t : a.top_images[f]) {
        images.push_back(t.image);
        EXPECT_EQ(t.max_activation, 1.0f);
      }
      EXPECT_EQ(images, (std::vector<int>{0, 1, 2, 3}));
    }
  }
}

// Saturated maxima (ReLU6): every image's map peaks at exactly 6, on a number of positions
// that cycles 1, 2, 3, 4 with the image; the images where the filter is at 6 on the most
// positions (the largest mean) rank first, on both placements -- not the first four files.
class SaturatingNetwork : public test::SyntheticNetwork {
 public:
  SaturatingNetwork() : SyntheticNetwork(1, 2, 2, 1) {}
  LayerActivations forward(const std::vector<float>&, int n, int, int, const std::string&) override {
    LayerActivations a{n, 1, 2, 2, {}};
    for (int i = 0; i < n; ++i, ++seen_)
      for (int p = 0; p < 4; ++p) a.values.push_back(p <= seen_ % 4 ? 6.0f : 0.5f);
    return a;
  }
  std::vector<at::Tensor> forward_tensors(const at::Tensor& input, const std::vector<std::string>& layers) override {
    const int n = static_cast<int>(input.size(0));
    const LayerActivations a = forward({}, n, 0, 0, layers[0]);
    return {at::tensor(a.values).view({n, 1, 2, 2})};
  }

 private:
  int seen_ = 0;
};

TEST_F(TopImagesPass, SaturatedMaximaRankByTheMean) {
  for (const Placement placement : {Placement::kHost, Placement::kDevice}) {
    SCOPED_TRACE(to_string(placement));
    SaturatingNetwork net;
    ProbeSet probe = ProbeSet::open(dir_.path());
    const ProbeActivations a = extract_activations(net, probe, rows_, options(placement, 5));
    std::vector<int> images;
    for (const TopImage& t : a.top_images[0]) {
      images.push_back(t.image);
      EXPECT_EQ(t.max_activation, 6.0f);
    }
    // Four positions at 6: images 3, 7, 11, 15, ...; then three: 2, 6, ...
    EXPECT_EQ(images, (std::vector<int>{3, 7, 11, 15, 19}));
  }
}

TEST_F(TopImagesPass, NegativeCountIsRefused) {
  RecordingNetwork net(kFilters, kH, kW, 1);
  ProbeSet probe = ProbeSet::open(dir_.path());
  EXPECT_THROW(extract_activations(net, probe, rows_, options(Placement::kHost, -1)), Error);
}

}  // namespace
}  // namespace n2v
