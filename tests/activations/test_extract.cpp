// extract_activations with a network whose activations are a known function of the pixels.
#include <gtest/gtest.h>

#include "activations/activations.h"
#include "common/error.h"
#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;
// Layer "grid": 2 filters on a 2x2 grid; filter 0 = mean red of each quadrant (in [0,1]),
// filter 1 = 1 - filter 0. Preprocessing: scale 1/255, mean 0, std 1, 4x4 input.
class QuadrantNetwork : public Network {
 public:
  std::vector<std::string> layers() const override { return {"grid"}; }
  Preprocessing default_preprocessing() const override { return prep(); }
  static Preprocessing prep() {
    Preprocessing p;
    p.height = p.width = 4;
    p.scale = 1.0f / 255;
    p.mean = {0, 0, 0};
    p.std = {1, 1, 1};
    return p;
  }
  LayerActivations forward(const std::vector<float>& x, int n, int h, int w,
                           const std::string& layer) override {
    if (layer != "grid") N2V_THROW(kNotFound, "no layer " << layer);
    ++calls;
    LayerActivations a{n, 2, 2, 2, {}};
    for (int i = 0; i < n; ++i) {
      std::vector<float> red(4, 0);
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < w; ++xx) red[(y / 2) * 2 + xx / 2] += x[((i * 3 + 0) * h + y) * w + xx] / 4;
      for (float r : red) a.values.push_back(r);
      for (float r : red) a.values.push_back(1 - r);
    }
    return a;
  }
  DeviceKind device() const override { return DeviceKind::kCpu; }
  int calls = 0;
};

test::BrodenFixture fixture(int n) {
  test::BrodenFixture f;
  f.categories = {"object"};
  f.labels = {{1, "thing", "object", ""}};
  f.mask_height = f.mask_width = 4;
  for (int i = 0; i < n; ++i) {
    test::FixtureImage img;
    img.name = "img" + std::to_string(i);
    img.split = i % 2 ? "val" : "train";
    img.image = test::solid_image(4, 4, 0, 0, 0);
    // Image i: the top-left quadrant has red 10 * (i + 1), others 0.
    test::fill_rect(img.image, 0, 0, 2, 2, static_cast<uint8_t>(10 * (i + 1)), 0, 0);
    LabelMap m = test::empty_map(4, 4);
    test::fill_rect(m, 0, 0, 2, 2, 1);
    img.masks = {{m}};
    img.image_labels = {{}};
    f.images.push_back(img);
  }
  return f;
}

TEST(Extract, ThresholdsBitsAndPooledAreExact) {
  test::TempDir dir;
  write_broden(dir.path(), fixture(10));
  ProbeSet probe = ProbeSet::open(dir.path());
  QuadrantNetwork net;
  ActivationOptions o;
  o.layer = "grid";
  o.preprocessing = QuadrantNetwork::prep();
  o.tau = 0.1;  // 40 positions per filter -> m = 4: T_k = 5th largest
  o.batch_size = 3;
  std::vector<size_t> rows = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ProbeActivations a = extract_activations(net, probe, rows, o);
  EXPECT_EQ(net.calls, 4);  // ceil(10 / 3) batches
  ASSERT_EQ(a.n, 10);
  EXPECT_EQ(a.k, 2);
  EXPECT_EQ(a.h, 2);
  // Filter 0: top-left values 10..100 / 255 plus 30 zeros; 5th largest = 60/255.
  EXPECT_FLOAT_EQ(a.thresholds[0], 60.0f / 255);
  // Filter 1: 30 ones and 1 - r; 5th largest = 1.
  EXPECT_FLOAT_EQ(a.thresholds[1], 1.0f);
  for (int i = 0; i < 10; ++i) {
    // Filter 0 fires on the top-left position of images whose red exceeds 60: i >= 6.
    EXPECT_EQ(a.bit(i, 0, 0), i >= 6) << i;
    EXPECT_FALSE(a.bit(i, 0, 3));
    for (int p = 0; p < 4; ++p) EXPECT_FALSE(a.bit(i, 1, p));  // nothing exceeds 1
    EXPECT_NEAR(a.pooled[i * 2 + 0], 10.0f * (i + 1) / 255 / 4, 1e-6);
    EXPECT_NEAR(a.pooled[i * 2 + 1], 1 - 10.0f * (i + 1) / 255 / 4, 1e-6);
  }
}

TEST(Extract, MissingImageStopsOrIsSkipped) {
  test::TempDir dir;
  write_broden(dir.path(), fixture(6));
  std::remove((dir.path() + "/images/img2.png").c_str());
  QuadrantNetwork net;
  ActivationOptions o;
  o.layer = "grid";
  o.preprocessing = QuadrantNetwork::prep();
  o.tau = 0.1;
  std::vector<size_t> rows = {0, 1, 2, 3, 4, 5};
  {
    ProbeSet probe = ProbeSet::open(dir.path());
    expect_error([&] { extract_activations(net, probe, rows, o); }, ErrorCode::kNotFound, {"img2.png"});
  }
  ProbeSet probe = ProbeSet::open(dir.path());
  o.skip_bad = true;
  ProbeActivations a = extract_activations(net, probe, rows, o);
  EXPECT_EQ(a.n, 5);
  EXPECT_EQ(a.kept, (std::vector<bool>{true, true, false, true, true, true}));
  EXPECT_EQ(a.rows, (std::vector<size_t>{0, 1, 3, 4, 5}));
  ASSERT_EQ(probe.skipped().size(), 1u);
  EXPECT_NE(probe.skipped()[0].file.find("img2.png"), std::string::npos);
}

TEST(Extract, UnknownLayerIsNotFound) {
  test::TempDir dir;
  write_broden(dir.path(), fixture(2));
  ProbeSet probe = ProbeSet::open(dir.path());
  QuadrantNetwork net;
  ActivationOptions o;
  o.layer = "conv9";
  o.preprocessing = QuadrantNetwork::prep();
  EXPECT_THROW(extract_activations(net, probe, {0, 1}, o), Error);
}

}  // namespace
}  // namespace n2v
