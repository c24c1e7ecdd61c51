// preprocess_image (bilinear resize like F.interpolate(align_corners=False), normalisation,
// channel order) and the Preprocessing JSON record.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/network.h"
#include "support/expect.h"

namespace n2v {
namespace {

using test::expect_error;

Preprocessing identity(int h, int w) {
  Preprocessing p;
  p.height = h;
  p.width = w;
  p.scale = 1.0f;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  return p;
}

// A single-channel image replicated into R, G, B.
std::vector<uint8_t> gray(const std::vector<uint8_t>& v) {
  std::vector<uint8_t> out;
  for (uint8_t x : v) out.insert(out.end(), {x, x, x});
  return out;
}

TEST(Preprocess, ExactValues2x2RGB) {
  // HWC: (y, x) -> (R, G, B)
  const std::vector<uint8_t> img = {
      10, 20, 30,    40, 50, 60,     // row 0
      70, 80, 90,    100, 110, 120,  // row 1
  };
  Preprocessing p;
  p.height = 2;
  p.width = 2;
  p.scale = 2.0f;
  p.mean = {1.0f, 2.0f, 3.0f};
  p.std = {2.0f, 4.0f, 8.0f};
  std::vector<float> out = {-7.0f};  // appended to, not overwritten
  preprocess_image(img.data(), 2, 2, p, out);
  const std::vector<float> expected = {
      -7.0f,
      // R: (v*2 - 1) / 2
      9.5f, 39.5f, 69.5f, 99.5f,
      // G: (v*2 - 2) / 4
      9.5f, 24.5f, 39.5f, 54.5f,
      // B: (v*2 - 3) / 8
      7.125f, 14.625f, 22.125f, 29.625f,
  };
  ASSERT_EQ(out.size(), expected.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
}

TEST(Preprocess, BgrOrderSwapsChannelsAndMeanFollowsOutputChannel) {
  const std::vector<uint8_t> img = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  Preprocessing p;
  p.height = 2;
  p.width = 2;
  p.channel_order = "BGR";
  p.scale = 2.0f;
  p.mean = {1.0f, 2.0f, 3.0f};
  p.std = {2.0f, 4.0f, 8.0f};
  std::vector<float> out;
  preprocess_image(img.data(), 2, 2, p, out);
  const std::vector<float> expected = {
      // channel 0 = B: (v*2 - 1) / 2 with B = 30, 60, 90, 120
      29.5f, 59.5f, 89.5f, 119.5f,
      // channel 1 = G: (v*2 - 2) / 4
      9.5f, 24.5f, 39.5f, 54.5f,
      // channel 2 = R: (v*2 - 3) / 8 with R = 10, 40, 70, 100
      2.125f, 9.625f, 17.125f, 24.625f,
  };
  ASSERT_EQ(out.size(), expected.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
}

TEST(Preprocess, ImageNetDefaults) {
  const std::vector<uint8_t> img = {255, 0, 128};
  Preprocessing p;  // ImageNet defaults
  p.height = 1;
  p.width = 1;
  std::vector<float> out;
  preprocess_image(img.data(), 1, 1, p, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_NEAR(out[0], (1.0f - 0.485f) / 0.229f, 1e-5);
  EXPECT_NEAR(out[1], (0.0f - 0.456f) / 0.224f, 1e-5);
  EXPECT_NEAR(out[2], (128.0f / 255.0f - 0.406f) / 0.225f, 1e-5);
}

TEST(Preprocess, ResizeOfConstantImageStaysConstant) {
  std::vector<uint8_t> img;
  for (int i = 0; i < 5 * 7; ++i) img.insert(img.end(), {200, 100, 50});
  Preprocessing p = identity(224, 224);
  std::vector<float> out;
  preprocess_image(img.data(), 5, 7, p, out);
  ASSERT_EQ(out.size(), 3u * 224 * 224);
  for (size_t i = 0; i < out.size(); ++i) {
    const float want = i < 224 * 224 ? 200.0f : i < 2 * 224 * 224 ? 100.0f : 50.0f;
    ASSERT_FLOAT_EQ(out[i], want) << i;
  }
  // Downscaling too.
  out.clear();
  preprocess_image(img.data(), 5, 7, identity(2, 3), out);
  ASSERT_EQ(out.size(), 18u);
  EXPECT_FLOAT_EQ(out[0], 200.0f);
  EXPECT_FLOAT_EQ(out[17], 50.0f);
}

// Expected values: torch.nn.functional.interpolate(x, size, mode="bilinear",
// align_corners=False), src = (dst + 0.5) * in/out - 0.5 clamped at 0.
TEST(Preprocess, BilinearUpscaleWidth2To4MatchesTorch) {
  const auto img = gray({0, 100});  // 1 x 2
  std::vector<float> out;
  preprocess_image(img.data(), 1, 2, identity(1, 4), out);
  ASSERT_EQ(out.size(), 12u);
  const float want[4] = {0.0f, 25.0f, 75.0f, 100.0f};
  for (int c = 0; c < 3; ++c)
    for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(out[c * 4 + x], want[x]) << c << "," << x;
}

TEST(Preprocess, BilinearUpscaleHeight2To4MatchesTorch) {
  const auto img = gray({0, 100});  // 2 x 1
  std::vector<float> out;
  preprocess_image(img.data(), 2, 1, identity(4, 1), out);
  ASSERT_EQ(out.size(), 12u);
  const float want[4] = {0.0f, 25.0f, 75.0f, 100.0f};
  for (int y = 0; y < 4; ++y) EXPECT_FLOAT_EQ(out[y], want[y]) << y;
}

TEST(Preprocess, BilinearNonIntegerScalesMatchTorch) {
  {  // 3 -> 5: [0, 50, 250] -> [0, 20, 50, 170, 250]
    const auto img = gray({0, 50, 250});
    std::vector<float> out;
    preprocess_image(img.data(), 1, 3, identity(1, 5), out);
    const float want[5] = {0, 20, 50, 170, 250};
    for (int x = 0; x < 5; ++x) EXPECT_NEAR(out[x], want[x], 1e-4) << x;
  }
  {  // 4 -> 2: [0, 40, 100, 200] -> [20, 150]
    const auto img = gray({0, 40, 100, 200});
    std::vector<float> out;
    preprocess_image(img.data(), 1, 4, identity(1, 2), out);
    EXPECT_NEAR(out[0], 20.0f, 1e-4);
    EXPECT_NEAR(out[1], 150.0f, 1e-4);
  }
  {  // 2 x 3 -> 3 x 2, both axes at once
    const auto img = gray({10, 20, 30, 40, 60, 80});
    std::vector<float> out;
    preprocess_image(img.data(), 2, 3, identity(3, 2), out);
    const float want[6] = {12.5f, 27.5f, 28.75f, 51.25f, 45.0f, 75.0f};
    ASSERT_EQ(out.size(), 18u);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], want[i], 1e-4) << i;
  }
}

TEST(Preprocess, RejectsBadInput) {
  const std::vector<uint8_t> img(12, 0);
  std::vector<float> out;
  expect_error([&] { preprocess_image(img.data(), 0, 2, identity(2, 2), out); }, ErrorCode::kInvalidArgument);
  expect_error([&] { preprocess_image(nullptr, 2, 2, identity(2, 2), out); }, ErrorCode::kInvalidArgument);
  Preprocessing p = identity(2, 2);
  p.channel_order = "RBG";
  expect_error([&] { preprocess_image(img.data(), 2, 2, p, out); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

TEST(PreprocessingJson, RoundTrip) {
  Preprocessing p;
  p.height = 227;
  p.width = 113;
  p.channel_order = "BGR";
  p.scale = 1.0f;
  p.mean = {104.0f, 116.669f, 122.679f};
  p.std = {1.0f, 0.5f, 2.0f};
  const std::string json = p.to_json();
  const Preprocessing q = Preprocessing::from_json(json);
  EXPECT_EQ(q.height, 227);
  EXPECT_EQ(q.width, 113);
  EXPECT_EQ(q.channel_order, "BGR");
  EXPECT_EQ(q.scale, 1.0f);
  EXPECT_EQ(q.mean, p.mean);
  EXPECT_EQ(q.std, p.std);
  // Floats are written in their shortest form.
  EXPECT_NE(json.find("116.669"), std::string::npos) << json;

  const Preprocessing d = Preprocessing::from_json(Preprocessing{}.to_json());
  EXPECT_EQ(d.scale, 1.0f / 255.0f);
  EXPECT_EQ(d.mean, (std::array<float, 3>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(d.std, (std::array<float, 3>{0.229f, 0.224f, 0.225f}));
}

TEST(PreprocessingJson, ReadsPythonExportAndDefaultsMissingFields) {
  const Preprocessing p = Preprocessing::from_json(
      R"({"height": 227, "width": 227, "channel_order": "RGB", "scale": 0.00392156862745098,)"
      R"( "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})");
  EXPECT_EQ(p.height, 227);
  EXPECT_EQ(p.width, 227);
  EXPECT_FLOAT_EQ(p.scale, 1.0f / 255.0f);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);
  const Preprocessing q = Preprocessing::from_json(R"({"height": 64})");
  EXPECT_EQ(q.height, 64);
  EXPECT_EQ(q.width, 224);
  EXPECT_EQ(q.channel_order, "RGB");
}

TEST(PreprocessingJson, ValidationNamesTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {R"({"channel_order": "RBG"})", "channel_order"},
      {R"({"channel_order": 3})", "channel_order"},
      {R"({"height": 0})", "height"},
      {R"({"width": -5})", "width"},
      {R"({"width": 2.5})", "width"},
      {R"({"std": [1, 0, 1]})", "std[1]"},
      {R"({"std": [1, 1]})", "std"},
      {R"({"mean": [0, "a", 0]})", "mean[1]"},
      {R"({"scale": 0})", "scale"},
      {R"({"hieght": 3})", "hieght"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    expect_error([&] { Preprocessing::from_json(c.json); }, ErrorCode::kInvalidArgument, {c.field});
  }
  expect_error([] { Preprocessing::from_json("{not json"); }, ErrorCode::kInvalidArgument);
  expect_error([] { Preprocessing::from_json("[1, 2]"); }, ErrorCode::kInvalidArgument);
}

TEST(Preprocess, OneChannelIsTheLuminanceOfTheResizedImage) {
  // 2 x 1 image (R, G, B) = (100, 150, 200), (0, 0, 255); luminance 0.299 R + 0.587 G + 0.114 B.
  const uint8_t rgb[] = {100, 150, 200, 0, 0, 255};
  Preprocessing p;
  p.channels = 1;
  p.height = 1;
  p.width = 2;
  p.scale = 1.0f;
  p.mean = {10, 10, 10};
  p.std = {2, 2, 2};
  std::vector<float> out;
  preprocess_image(rgb, 1, 2, p, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0], (0.299f * 100 + 0.587f * 150 + 0.114f * 200 - 10) / 2);
  EXPECT_FLOAT_EQ(out[1], (0.114f * 255 - 10) / 2);
  // Resized to 1 x 1 first (the mean of both pixels per channel), then the luminance.
  p.width = 1;
  out.clear();
  preprocess_image(rgb, 1, 2, p, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0], (0.299f * 50 + 0.587f * 75 + 0.114f * 227.5f - 10) / 2);
}

TEST(PreprocessingJson, OneChannelRoundTripAndRefusals) {
  const Preprocessing p = Preprocessing::from_json(R"({"channels": 1, "mean": [0.5], "std": [0.25], "height": 28, "width": 28})");
  EXPECT_EQ(p.channels, 1);
  EXPECT_EQ(p.mean[0], 0.5f);
  EXPECT_EQ(p.std[0], 0.25f);
  EXPECT_EQ(p.to_json(), R"({"channel_order":"RGB","channels":1,"height":28,"mean":[0.5],"scale":0.003921569,"std":[0.25],"width":28})");
  EXPECT_EQ(Preprocessing::from_json(p.to_json()).to_json(), p.to_json());
  EXPECT_EQ(Preprocessing().to_json().find("channels"), std::string::npos);  // colour records unchanged
  expect_error([] { Preprocessing::from_json(R"({"channels": 2})"); }, ErrorCode::kInvalidArgument);
  expect_error([] { Preprocessing::from_json(R"({"mean": [0.5]})"); }, ErrorCode::kInvalidArgument);
  expect_error([] { Preprocessing::from_json(R"({"channels": 1, "std": [0.5, 0.5]})"); },
               ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace n2v
