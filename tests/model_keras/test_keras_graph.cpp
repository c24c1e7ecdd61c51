// The Keras graph interpreter (src/model/keras_networks.cpp) on small hand-made topologies:
// TensorFlow padding semantics, weight layouts, layer semantics, layer selection and errors.
// Expected values are computed by hand or by naive loops written from the Keras/TF docs.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/detail/keras_networks.h"
#include "model/network.h"
#include "model/detail/safetensors.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using nlohmann::json;

using test::expect_error;

// A Keras functional model_config plus its weights, written as a net2vec safetensors file.
class Graph {
 public:
  explicit Graph(int h, int w) {
    layers_.push_back({{"name", "input_1"},
                       {"class_name", "InputLayer"},
                       {"config", {{"batch_input_shape", {nullptr, h, w, 3}}, {"name", "input_1"}}},
                       {"inbound_nodes", json::array()}});
  }
  std::string add(const std::string& name, const std::string& cls, json config,
                  const std::vector<std::string>& inputs) {
    json refs = json::array();
    for (const auto& in : inputs) refs.push_back({in, 0, 0, json::object()});
    config["name"] = name;
    layers_.push_back({{"name", name}, {"class_name", cls}, {"config", config}, {"inbound_nodes", {refs}}});
    return name;
  }
  void weight(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    EXPECT_EQ(static_cast<int64_t>(values.size()), n) << name;
    weights_.push_back({name, std::move(shape), std::move(values)});
  }
  json& layers() { return layers_; }
  json model_config() const {
    return {{"class_name", "Model"},
            {"config", {{"name", "m"}, {"layers", layers_}, {"input_layers", {{"input_1", 0, 0}}},
                        {"output_layers", {{layers_.back()["name"], 0, 0}}}}}};
  }
  std::string write(const std::string& path, const std::string& architecture = "keras_functional",
                    std::map<std::string, std::string> metadata = {}) const {
    std::vector<safetensors::TensorData> tensors;
    for (const auto& w : weights_)
      tensors.push_back({w.name, "F32", w.shape, w.values.data(), w.values.size() * 4});
    metadata["architecture"] = architecture;
    if (!metadata.count("keras_model_config")) metadata["keras_model_config"] = model_config().dump();
    safetensors::write(path, tensors, metadata);
    return path;
  }

 private:
  struct W {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  json layers_ = json::array();
  std::vector<W> weights_;
};

json conv_config(int filters, std::vector<int> kernel, std::vector<int> strides, const std::string& padding,
                 bool bias = false, std::vector<int> dilation = {1, 1}) {
  return {{"filters", filters}, {"kernel_size", kernel}, {"strides", strides}, {"padding", padding},
          {"data_format", "channels_last"}, {"dilation_rate", dilation}, {"activation", "linear"},
          {"use_bias", bias}};
}

// NCHW input with value f(c, y, x).
std::vector<float> image(int n, int h, int w, const std::function<float(int, int, int, int)>& f) {
  std::vector<float> v(static_cast<size_t>(n) * 3 * h * w);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) v[((static_cast<size_t>(i) * 3 + c) * h + y) * w + x] = f(i, c, y, x);
  return v;
}

float at(const LayerActivations& a, int n, int k, int y, int x) {
  return a.values[((static_cast<size_t>(n) * a.k + k) * a.h + y) * a.w + x];
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// One-hot HWIO kernel: filter o reads input channel c at kernel offset (ky, kx).
std::vector<float> one_hot_kernel(int kh, int kw, int cin, int cout,
                                  const std::vector<std::array<int, 3>>& taps) {
  std::vector<float> k(static_cast<size_t>(kh) * kw * cin * cout, 0.0f);
  for (int o = 0; o < cout; ++o) {
    const auto [ky, kx, c] = taps[o];
    k[((static_cast<size_t>(ky) * kw + kx) * cin + c) * cout + o] = 1.0f;
  }
  return k;
}

TEST(KerasGraph, SamePaddingWithStrideTwoPadsBottomRightLikeTensorFlow) {
  test::TempDir dir;
  for (int size : {4, 5}) {
    Graph g(size, size);
    g.add("c", "Conv2D", conv_config(2, {3, 3}, {2, 2}, "same"), {"input_1"});
    g.weight("c/kernel", {3, 3, 3, 2}, one_hot_kernel(3, 3, 3, 2, {{{0, 0, 0}}, {{2, 2, 1}}}));
    auto net = load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu);
    const auto in = image(1, size, size, [](int, int c, int y, int x) { return 100.0f * c + 10 * y + x + 1; });
    const LayerActivations a = net->forward(in, 1, size, size, "c");
    const int out = (size + 1) / 2;
    ASSERT_EQ(a.k, 2);
    ASSERT_EQ(a.h, out);
    ASSERT_EQ(a.w, out);
    const auto value = [&](int c, int y, int x) {
      return y < 0 || x < 0 || y >= size || x >= size ? 0.0f : 100.0f * c + 10 * y + x + 1;
    };
    // 4 -> 2: total padding 1, all of it after (top/left 0). 5 -> 3: padding 1 on each side.
    const int before = size == 4 ? 0 : 1;
    for (int y = 0; y < out; ++y)
      for (int x = 0; x < out; ++x) {
        EXPECT_EQ(at(a, 0, 0, y, x), value(0, 2 * y - before, 2 * x - before)) << size << " " << y << x;
        EXPECT_EQ(at(a, 0, 1, y, x), value(1, 2 * y + 2 - before, 2 * x + 2 - before)) << size << " " << y << x;
      }
    if (size == 4) {
      EXPECT_EQ(at(a, 0, 0, 1, 1), 23.0f);   // in[0][2][2]
      EXPECT_EQ(at(a, 0, 1, 0, 0), 123.0f);  // in[1][2][2]
      EXPECT_EQ(at(a, 0, 1, 1, 1), 0.0f);    // bottom-right padding
    }
  }
}

TEST(KerasGraph, ZeroPaddingThenValidStrideTwoLikeMobileNetV2) {
  test::TempDir dir;
  Graph g(4, 4);
  g.add("pad", "ZeroPadding2D", {{"padding", {{0, 1}, {0, 1}}}, {"data_format", "channels_last"}}, {"input_1"});
  g.add("c", "Conv2D", conv_config(1, {3, 3}, {2, 2}, "valid"), {"pad"});
  g.weight("c/kernel", {3, 3, 3, 1}, one_hot_kernel(3, 3, 3, 1, {{{2, 2, 2}}}));
  auto net = load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), (std::vector<std::string>{"pad", "c"}));
  const auto in = image(1, 4, 4, [](int, int c, int y, int x) { return 100.0f * c + 10 * y + x + 1; });
  const LayerActivations p = net->forward(in, 1, 4, 4, "pad");
  ASSERT_EQ(p.h, 5);
  ASSERT_EQ(p.w, 5);
  EXPECT_EQ(at(p, 0, 2, 0, 0), 201.0f);
  EXPECT_EQ(at(p, 0, 2, 4, 0), 0.0f);
  EXPECT_EQ(at(p, 0, 2, 0, 4), 0.0f);
  const LayerActivations a = net->forward(in, 1, 4, 4, "c");
  ASSERT_EQ(a.h, 2);
  EXPECT_EQ(at(a, 0, 0, 0, 0), 223.0f);
  EXPECT_EQ(at(a, 0, 0, 0, 1), 0.0f);
  EXPECT_EQ(at(a, 0, 0, 1, 1), 0.0f);
}

// Naive TensorFlow convolution: NCHW input, HWIO kernel, "same"/"valid", strides, dilation.
std::vector<float> naive_conv(const std::vector<float>& in, int n, int cin, int h, int w,
                              const std::vector<float>& k, int kh, int kw, int cout, int s, int d,
                              bool same, bool depthwise, int& oh, int& ow) {
  const int keh = (kh - 1) * d + 1, kew = (kw - 1) * d + 1;
  int pt = 0, pl = 0;
  if (same) {
    oh = (h + s - 1) / s, ow = (w + s - 1) / s;
    pt = std::max((oh - 1) * s + keh - h, 0) / 2;
    pl = std::max((ow - 1) * s + kew - w, 0) / 2;
  } else {
    oh = (h - keh) / s + 1, ow = (w - kew) / s + 1;
  }
  const int mult = depthwise ? cout / cin : 0;
  std::vector<float> out(static_cast<size_t>(n) * cout * oh * ow, 0.0f);
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < cout; ++o)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          double sum = 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = y * s + ky * d - pt, ix = x * s + kx * d - pl;
              if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
              for (int c = 0; c < cin; ++c) {
                float kv;
                if (depthwise) {
                  if (c != o / mult) continue;
                  kv = k[((static_cast<size_t>(ky) * kw + kx) * cin + c) * mult + o % mult];
                } else {
                  kv = k[((static_cast<size_t>(ky) * kw + kx) * cin + c) * cout + o];
                }
                sum += kv * in[((static_cast<size_t>(i) * cin + c) * h + iy) * w + ix];
              }
            }
          out[((static_cast<size_t>(i) * cout + o) * oh + y) * ow + x] = static_cast<float>(sum);
        }
  return out;
}

TEST(KerasGraph, ConvAndDepthwiseLayoutsMatchNaiveLoops) {
  test::TempDir dir;
  struct Case {
    int h, w, kh, kw, s, d;
    std::string padding;
  };
  const std::vector<Case> cases = {{7, 6, 3, 3, 2, 1, "same"}, {6, 6, 1, 3, 1, 1, "same"},
                                   {8, 7, 3, 1, 1, 1, "same"}, {9, 9, 3, 3, 1, 2, "same"},
                                   {7, 8, 5, 5, 1, 1, "same"}, {7, 7, 3, 3, 2, 1, "valid"},
                                   {6, 7, 2, 2, 2, 1, "same"}};
  int index = 0;
  for (const Case& t : cases) {
    SCOPED_TRACE(::testing::Message() << t.h << "x" << t.w << " k" << t.kh << "x" << t.kw << " s"
                                      << t.s << " d" << t.d << " " << t.padding);
    Graph g(t.h, t.w);
    g.add("conv", "Conv2D", conv_config(4, {t.kh, t.kw}, {t.s, t.s}, t.padding, true, {t.d, t.d}), {"input_1"});
    g.add("dw", "DepthwiseConv2D",
          {{"kernel_size", {t.kh, t.kw}}, {"strides", {t.s, t.s}}, {"padding", t.padding},
           {"depth_multiplier", 2}, {"dilation_rate", {t.d, t.d}}, {"use_bias", false},
           {"activation", "linear"}, {"data_format", "channels_last"}},
          {"input_1"});
    const auto kernel = random_values(static_cast<size_t>(t.kh) * t.kw * 3 * 4, 10 + index);
    const auto bias = random_values(4, 20 + index);
    const auto dw = random_values(static_cast<size_t>(t.kh) * t.kw * 3 * 2, 30 + index);
    g.weight("conv/kernel", {t.kh, t.kw, 3, 4}, kernel);
    g.weight("conv/bias", {4}, bias);
    g.weight("dw/depthwise_kernel", {t.kh, t.kw, 3, 2}, dw);
    auto net = load_network(g.write(dir.file("g" + std::to_string(index++) + ".safetensors")), DeviceKind::kCpu);
    const auto in = random_values(static_cast<size_t>(2) * 3 * t.h * t.w, 40 + index);
    int oh = 0, ow = 0;
    auto want = naive_conv(in, 2, 3, t.h, t.w, kernel, t.kh, t.kw, 4, t.s, t.d, t.padding == "same", false, oh, ow);
    for (int i = 0; i < 2; ++i)
      for (int o = 0; o < 4; ++o)
        for (int p = 0; p < oh * ow; ++p) want[(static_cast<size_t>(i) * 4 + o) * oh * ow + p] += bias[o];
    const LayerActivations a = net->forward(in, 2, t.h, t.w, "conv");
    ASSERT_EQ(a.n, 2);
    ASSERT_EQ(a.k, 4);
    ASSERT_EQ(a.h, oh);
    ASSERT_EQ(a.w, ow);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(a.values[i], want[i], 1e-5) << i;
    const auto want_dw = naive_conv(in, 2, 3, t.h, t.w, dw, t.kh, t.kw, 6, t.s, t.d, t.padding == "same", true, oh, ow);
    const LayerActivations b = net->forward(in, 2, t.h, t.w, "dw");
    ASSERT_EQ(b.k, 6);
    ASSERT_EQ(b.h, oh);
    for (size_t i = 0; i < want_dw.size(); ++i) ASSERT_NEAR(b.values[i], want_dw[i], 1e-5) << i;
  }
}

// A BatchNormalization that only follows a linear conv is folded into the conv's weights;
// asking for the conv itself must still give the unnormalised output.
TEST(KerasGraph, ConvFollowedByBatchNormGivesBothOutputs) {
  test::TempDir dir;
  Graph g(6, 5);
  g.add("conv", "Conv2D", conv_config(4, {3, 3}, {2, 2}, "same", true), {"input_1"});
  g.add("bn", "BatchNormalization", {{"axis", -1}, {"epsilon", 1e-3}, {"scale", true}}, {"conv"});
  g.add("relu", "ReLU", {{"max_value", 6}}, {"bn"});
  g.add("dw", "DepthwiseConv2D",
        {{"kernel_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "same"}, {"depth_multiplier", 1},
         {"use_bias", false}, {"activation", "linear"}},
        {"relu"});
  g.add("dw_bn", "BatchNormalization", {{"axis", -1}, {"scale", false}}, {"dw"});
  const auto kernel = random_values(3 * 3 * 3 * 4, 1), bias = random_values(4, 2), dwk = random_values(9 * 4, 3);
  const std::vector<float> gamma = {1.5f, -0.5f, 0.0f, 2.0f}, beta = {0.1f, 0.2f, -0.3f, 0.4f},
                           mean = {0.5f, -0.25f, 0.0f, 1.0f}, var = {1.0f, 0.5f, 2.0f, 0.25f};
  g.weight("conv/kernel", {3, 3, 3, 4}, kernel);
  g.weight("conv/bias", {4}, bias);
  g.weight("bn/beta", {4}, beta);
  g.weight("bn/moving_mean", {4}, mean);
  g.weight("bn/moving_variance", {4}, var);
  g.weight("dw/depthwise_kernel", {3, 3, 4, 1}, dwk);
  g.weight("dw_bn/beta", {4}, beta);
  g.weight("dw_bn/moving_mean", {4}, mean);
  g.weight("dw_bn/moving_variance", {4}, var);
  std::vector<float> gamma_nonzero = gamma;
  gamma_nonzero[2] = 0.75f;
  for (const auto& gm : {gamma, gamma_nonzero}) {
    Graph h = g;  // gamma with a zero (that conv is not folded), then without
    h.weight("bn/gamma", {4}, gm);
    auto net = load_network(h.write(dir.file("g.safetensors")), DeviceKind::kCpu);
    const auto in = random_values(2 * 3 * 6 * 5, 4);
    int oh = 0, ow = 0;
    auto conv = naive_conv(in, 2, 3, 6, 5, kernel, 3, 3, 4, 2, 1, true, false, oh, ow);
    const int plane = oh * ow;
    for (size_t i = 0; i < conv.size(); ++i) conv[i] += bias[(i / plane) % 4];
    std::vector<float> bn(conv.size()), relu(conv.size());
    for (size_t i = 0; i < conv.size(); ++i) {
      const size_t c = (i / plane) % 4;
      bn[i] = (conv[i] - mean[c]) * gm[c] / std::sqrt(var[c] + 1e-3f) + beta[c];
      relu[i] = std::min(std::max(bn[i], 0.0f), 6.0f);
    }
    auto dw = naive_conv(relu, 2, 4, oh, ow, dwk, 3, 3, 4, 1, 1, true, true, oh, ow);
    std::vector<float> dw_bn(dw.size());
    for (size_t i = 0; i < dw.size(); ++i) {
      const size_t c = (i / plane) % 4;
      dw_bn[i] = (dw[i] - mean[c]) / std::sqrt(var[c] + 1e-3f) + beta[c];
    }
    const auto check = [](const LayerActivations& a, const std::vector<float>& want, const char* what) {
      ASSERT_EQ(a.values.size(), want.size()) << what;
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(a.values[i], want[i], 1e-4) << what << " " << i;
    };
    check(net->forward(in, 2, 6, 5, "conv"), conv, "conv");
    check(net->forward(in, 2, 6, 5, "bn"), bn, "bn");
    check(net->forward(in, 2, 6, 5, "dw"), dw, "dw");
    check(net->forward(in, 2, 6, 5, "dw_bn"), dw_bn, "dw_bn");
    const auto all = net->forward_layers(in, 2, 6, 5, {"dw_bn", "conv", "bn", "relu", "dw"});
    check(all[0], dw_bn, "all dw_bn");
    check(all[1], conv, "all conv");
    check(all[2], bn, "all bn");
    check(all[3], relu, "all relu");
    check(all[4], dw, "all dw");
  }
}

TEST(KerasGraph, PoolingFollowsTensorFlowPadding) {
  test::TempDir dir;
  Graph g(5, 5);
  g.add("avg_same", "AveragePooling2D",
        {{"pool_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "same"}, {"data_format", "channels_last"}},
        {"input_1"});
  g.add("avg_asym", "AveragePooling2D",
        {{"pool_size", {2, 2}}, {"strides", {2, 2}}, {"padding", "same"}, {"data_format", "channels_last"}},
        {"input_1"});
  g.add("max_asym", "MaxPooling2D",
        {{"pool_size", {2, 2}}, {"strides", {2, 2}}, {"padding", "same"}, {"data_format", "channels_last"}},
        {"input_1"});
  g.add("max_valid", "MaxPooling2D",
        {{"pool_size", {3, 3}}, {"strides", {2, 2}}, {"padding", "valid"}, {"data_format", "channels_last"}},
        {"input_1"});
  auto net = load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu);
  // All negative, so a zero-padded max would show up as 0.
  const auto v = [](int c, int y, int x) { return -(100.0f * c + 10 * y + x + 1); };
  const auto in = image(1, 5, 5, [&](int, int c, int y, int x) { return v(c, y, x); });

  const LayerActivations avg = net->forward(in, 1, 5, 5, "avg_same");
  ASSERT_EQ(avg.h, 5);
  // Corner: the mean of the 4 real pixels, not the sum over 9.
  EXPECT_FLOAT_EQ(at(avg, 0, 1, 0, 0), (v(1, 0, 0) + v(1, 0, 1) + v(1, 1, 0) + v(1, 1, 1)) / 4);
  EXPECT_FLOAT_EQ(at(avg, 0, 0, 2, 2), (v(0, 1, 1) + v(0, 1, 2) + v(0, 1, 3) + v(0, 2, 1) + v(0, 2, 2) +
                                        v(0, 2, 3) + v(0, 3, 1) + v(0, 3, 2) + v(0, 3, 3)) / 9);
  EXPECT_FLOAT_EQ(at(avg, 0, 0, 4, 2), (v(0, 3, 1) + v(0, 3, 2) + v(0, 3, 3) + v(0, 4, 1) + v(0, 4, 2) + v(0, 4, 3)) / 6);

  // 5 -> 3 with a 2x2 window: one padded row/column after, none before.
  const LayerActivations aa = net->forward(in, 1, 5, 5, "avg_asym");
  ASSERT_EQ(aa.h, 3);
  EXPECT_FLOAT_EQ(at(aa, 0, 2, 0, 0), (v(2, 0, 0) + v(2, 0, 1) + v(2, 1, 0) + v(2, 1, 1)) / 4);
  EXPECT_FLOAT_EQ(at(aa, 0, 2, 2, 2), v(2, 4, 4));
  EXPECT_FLOAT_EQ(at(aa, 0, 2, 2, 0), (v(2, 4, 0) + v(2, 4, 1)) / 2);

  const LayerActivations ma = net->forward(in, 1, 5, 5, "max_asym");
  ASSERT_EQ(ma.h, 3);
  EXPECT_EQ(at(ma, 0, 0, 0, 0), v(0, 0, 0));
  EXPECT_EQ(at(ma, 0, 0, 2, 2), v(0, 4, 4));
  EXPECT_EQ(at(ma, 0, 1, 2, 1), v(1, 4, 2));

  const LayerActivations mv = net->forward(in, 1, 5, 5, "max_valid");
  ASSERT_EQ(mv.h, 2);
  EXPECT_EQ(at(mv, 0, 0, 1, 1), v(0, 2, 2));
}

TEST(KerasGraph, BatchNormReluAddConcatFlattenDenseSoftmax) {
  test::TempDir dir;
  Graph g(2, 2);
  g.add("bn", "BatchNormalization",
        {{"axis", 3}, {"epsilon", 0.25}, {"center", true}, {"scale", false}}, {"input_1"});
  g.add("bn_g", "BatchNormalization", {{"axis", -1}, {"epsilon", 1e-3}}, {"input_1"});
  g.add("relu6", "ReLU", {{"max_value", 6.0}, {"negative_slope", 0.0}, {"threshold", 0.0}}, {"bn"});
  g.add("act", "Activation", {{"activation", "relu"}}, {"bn"});
  g.add("add", "Add", json::object(), {"input_1", "relu6"});
  g.add("cat", "Concatenate", {{"axis", -1}}, {"add", "act"});
  g.add("drop", "Dropout", {{"rate", 0.5}}, {"cat"});
  g.add("flat", "Flatten", {{"data_format", "channels_last"}}, {"drop"});
  g.add("dense", "Dense", {{"units", 2}, {"activation", "softmax"}, {"use_bias", true}}, {"flat"});
  g.add("gap", "GlobalAveragePooling2D", {{"data_format", "channels_last"}}, {"cat"});
  const std::vector<float> mean = {1, 2, 3}, var = {0.75f, 3.75f, 0.0f}, beta = {0.5f, 0.0f, -1.0f};
  g.weight("bn/beta", {3}, beta);
  g.weight("bn/moving_mean", {3}, mean);
  g.weight("bn/moving_variance", {3}, var);
  const std::vector<float> gamma = {2, -1, 0.5f};
  g.weight("bn_g/gamma", {3}, gamma);
  g.weight("bn_g/beta", {3}, beta);
  g.weight("bn_g/moving_mean", {3}, mean);
  g.weight("bn_g/moving_variance", {3}, var);
  // Dense over the 2x2x6 NHWC-flattened input: unit 0 reads flat index 5 (y0 x0 c5),
  // unit 1 reads flat index 6 (y0 x1 c0), each with weight 1.
  std::vector<float> kernel(24 * 2, 0.0f);
  kernel[5 * 2 + 0] = 1.0f;
  kernel[6 * 2 + 1] = 1.0f;
  g.weight("dense/kernel", {24, 2}, kernel);
  g.weight("dense/bias", {2}, {0.25f, -0.25f});
  auto net = load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), (std::vector<std::string>{"bn", "bn_g", "relu6", "act", "add", "cat",
                                                     "drop", "flat", "dense", "gap"}));

  const auto x = [](int c, int y, int xx) { return 4.0f * (c - 1) + 3.0f * y - 2.0f * xx + 0.5f; };
  const auto in = image(1, 2, 2, [&](int, int c, int y, int xx) { return x(c, y, xx); });
  const auto bn = [&](int c, int y, int xx) {
    return (x(c, y, xx) - mean[c]) / std::sqrt(var[c] + 0.25f) + beta[c];
  };
  const LayerActivations b = net->forward(in, 1, 2, 2, "bn");
  const LayerActivations bg = net->forward(in, 1, 2, 2, "bn_g");
  const LayerActivations r = net->forward(in, 1, 2, 2, "relu6");
  const LayerActivations cat = net->forward(in, 1, 2, 2, "cat");
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int xx = 0; xx < 2; ++xx) {
        EXPECT_NEAR(at(b, 0, c, y, xx), bn(c, y, xx), 1e-5);
        EXPECT_NEAR(at(bg, 0, c, y, xx),
                    (x(c, y, xx) - mean[c]) * gamma[c] / std::sqrt(var[c] + 1e-3f) + beta[c], 1e-3);
        const float relu6 = std::min(std::max(bn(c, y, xx), 0.0f), 6.0f);
        EXPECT_NEAR(at(r, 0, c, y, xx), relu6, 1e-5);
        EXPECT_NEAR(at(cat, 0, c, y, xx), x(c, y, xx) + relu6, 1e-5);
        EXPECT_NEAR(at(cat, 0, 3 + c, y, xx), std::max(bn(c, y, xx), 0.0f), 1e-5);
      }
  const LayerActivations gap = net->forward(in, 1, 2, 2, "gap");
  ASSERT_EQ(gap.k, 6);
  ASSERT_EQ(gap.h, 1);
  EXPECT_NEAR(gap.values[0], (at(cat, 0, 0, 0, 0) + at(cat, 0, 0, 0, 1) + at(cat, 0, 0, 1, 0) + at(cat, 0, 0, 1, 1)) / 4, 1e-5);

  const LayerActivations flat = net->forward(in, 1, 2, 2, "flat");
  ASSERT_EQ(flat.k, 24);
  EXPECT_EQ(flat.values[5], at(cat, 0, 5, 0, 0));  // NHWC order: (y, x, c)
  EXPECT_EQ(flat.values[6], at(cat, 0, 0, 0, 1));
  const LayerActivations d = net->forward(in, 1, 2, 2, "dense");
  ASSERT_EQ(d.k, 2);
  const float z0 = at(cat, 0, 5, 0, 0) + 0.25f, z1 = at(cat, 0, 0, 0, 1) - 0.25f;
  const float m = std::max(z0, z1);
  EXPECT_NEAR(d.values[0], std::exp(z0 - m) / (std::exp(z0 - m) + std::exp(z1 - m)), 1e-6);
  EXPECT_NEAR(d.values[0] + d.values[1], 1.0f, 1e-6);

  // One pass for several layers gives the same values; the input is never modified.
  const auto copy = in;
  const auto several = net->forward_layers(in, 1, 2, 2, {"dense", "relu6", "cat"});
  ASSERT_EQ(several.size(), 3u);
  EXPECT_EQ(several[0].values, d.values);
  EXPECT_EQ(several[1].values, r.values);
  EXPECT_EQ(several[2].values, cat.values);
  EXPECT_EQ(in, copy);
}

TEST(KerasGraph, LayersInTopologicalOrderAndForwardStopsAtTheLayer) {
  test::TempDir dir;
  Graph g(4, 4);
  g.add("c", "Conv2D", conv_config(2, {3, 3}, {1, 1}, "same"), {"input_1"});
  g.add("f", "Flatten", json::object(), {"c"});
  g.add("d", "Dense", {{"units", 3}, {"activation", "linear"}, {"use_bias", false}}, {"f"});
  g.weight("c/kernel", {3, 3, 3, 2}, random_values(54, 1));
  g.weight("d/kernel", {32, 3}, random_values(96, 2));
  // Store the layers out of order: the loader sorts them topologically.
  std::swap(g.layers()[1], g.layers()[3]);
  auto net = load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), (std::vector<std::string>{"c", "f", "d"}));
  const Preprocessing prep = net->default_preprocessing();  // no metadata: Keras [-1, 1]
  EXPECT_EQ(prep.height, 4);
  EXPECT_FLOAT_EQ(prep.scale, 2.0f / 255.0f);
  EXPECT_EQ(prep.mean[0], 1.0f);

  // At 6 x 6 the convolution runs; the dense layer (built for 4 x 4) is never reached.
  const auto in6 = random_values(3 * 36, 3);
  const LayerActivations c = net->forward(in6, 1, 6, 6, "c");
  EXPECT_EQ(c.h, 6);
  expect_error([&] { net->forward(in6, 1, 6, 6, "d"); }, ErrorCode::kInvalidArgument, {"input features"});
  EXPECT_EQ(net->forward(random_values(2 * 3 * 16, 4), 2, 4, 4, "d").k, 3);

  expect_error([&] { net->forward(in6, 1, 6, 6, "nope"); }, ErrorCode::kNotFound, {"available: c, f, d"});
  expect_error([&] { net->forward(in6, 1, 6, 6, "input_1"); }, ErrorCode::kNotFound);
  expect_error([&] { net->forward(in6, 1, 5, 6, "c"); }, ErrorCode::kInvalidArgument);
  // An input smaller than a valid window: LibTorch's error becomes kInvalidArgument.
  Graph v(4, 4);
  v.add("c", "Conv2D", conv_config(1, {3, 3}, {1, 1}, "valid"), {"input_1"});
  v.weight("c/kernel", {3, 3, 3, 1}, random_values(27, 5));
  auto small = load_network(v.write(dir.file("v.safetensors")), DeviceKind::kCpu);
  expect_error([&] { small->forward(random_values(3 * 4, 6), 1, 2, 2, "c"); }, ErrorCode::kInvalidArgument,
               {"layer 'c' (Conv2D)"});
}

TEST(KerasGraph, PreprocessingComesFromTheMetadata) {
  test::TempDir dir;
  Graph g(4, 4);
  g.add("r", "ReLU", json::object(), {"input_1"});
  const std::string json_prep =
      R"({"height":299,"width":299,"channel_order":"RGB","scale":0.003921569,"mean":[0,0,0],"std":[1,1,1]})";
  auto net = load_network(g.write(dir.file("g.safetensors"), "keras_functional", {{"preprocessing", json_prep}}),
                          DeviceKind::kCpu);
  EXPECT_EQ(net->default_preprocessing().height, 299);
  EXPECT_FLOAT_EQ(net->default_preprocessing().scale, 0.003921569f);
  EXPECT_EQ(net->device(), DeviceKind::kCpu);
  expect_error(
      [&] {
        load_network(
            g.write(dir.file("b.safetensors"), "keras_functional", {{"preprocessing", "{\"hieght\":3}"}}),
            DeviceKind::kCpu);
      },
      ErrorCode::kCorrupt, {"preprocessing"});
}

TEST(KerasGraph, WeightShapeMismatchNamesTensorAndShapes) {
  test::TempDir dir;
  Graph g(4, 4);
  g.add("block_1_expand", "Conv2D", conv_config(4, {1, 1}, {1, 1}, "same"), {"input_1"});
  g.weight("block_1_expand/kernel", {1, 1, 3, 5}, random_values(15, 1));
  expect_error([&] { load_network(g.write(dir.file("g.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kCorrupt, {"'block_1_expand/kernel'", "[1, 1, 3, 5]", "expected [1, 1, 3, 4]"});
}

TEST(KerasGraph, MissingAndExtraWeightsAreCorrupt) {
  test::TempDir dir;
  Graph g(4, 4);
  g.add("bn", "BatchNormalization", {{"axis", -1}, {"scale", true}}, {"input_1"});
  g.weight("bn/beta", {3}, {0, 0, 0});
  g.weight("bn/moving_mean", {3}, {0, 0, 0});
  g.weight("bn/moving_variance", {3}, {1, 1, 1});
  expect_error([&] { load_network(g.write(dir.file("a.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kCorrupt, {"'bn/gamma' is missing"});
  g.weight("bn/gamma", {3}, {1, 1, 1});
  g.weight("bn/extra", {1}, {1});
  expect_error([&] { load_network(g.write(dir.file("b.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kCorrupt, {"'bn/extra'"});
}

TEST(KerasGraph, FileAndTopologyErrors) {
  test::TempDir dir;
  // Missing file: not_found with the command that writes the built-in networks.
  expect_error([&] { load_network(dir.file("nsfwjs_mobilenet_v2.safetensors"), DeviceKind::kCpu); },
               ErrorCode::kNotFound, {"tools/nsfwjs/convert.mjs"});
  // Anything else goes to TorchScript.
  expect_error([&] { load_network(dir.file("model.pt"), DeviceKind::kCpu); }, ErrorCode::kNotFound);

  Graph g(4, 4);
  g.add("r", "ReLU", json::object(), {"input_1"});
  // Truncated.
  g.write(dir.file("full.safetensors"));
  {
    std::ifstream in(dir.file("full.safetensors"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(dir.file("cut.safetensors"), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  expect_error([&] { load_network(dir.file("cut.safetensors"), DeviceKind::kCpu); }, ErrorCode::kCorrupt);
  // Unknown architecture; no architecture; no topology; a bad topology.
  expect_error([&] { load_network(g.write(dir.file("a.safetensors"), "keras_resnet9"), DeviceKind::kCpu); },
               ErrorCode::kUnsupported, {"keras_mobilenet_v2"});
  safetensors::write(dir.file("plain.safetensors"), {});
  expect_error([&] { load_network(dir.file("plain.safetensors"), DeviceKind::kCpu); }, ErrorCode::kCorrupt);
  expect_error(
      [&] {
        load_network(g.write(dir.file("t.safetensors"), "keras_functional", {{"keras_model_config", "{"}}),
                     DeviceKind::kCpu);
      },
      ErrorCode::kCorrupt);
  // A claimed built-in architecture whose topology is not that architecture.
  expect_error(
      [&] { load_network(g.write(dir.file("m.safetensors"), "keras_mobilenet_v2"), DeviceKind::kCpu); },
      ErrorCode::kCorrupt, {"claims architecture keras_mobilenet_v2"});

  // A config field of the wrong JSON type.
  Graph t(4, 4);
  t.add("c", "Conv2D", {{"filters", "four"}, {"kernel_size", {1, 1}}}, {"input_1"});
  expect_error([&] { load_network(t.write(dir.file("t2.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kCorrupt, {"keras_model_config"});

  // Unsupported layer class / option; unknown inbound layer.
  Graph u(4, 4);
  u.add("lstm", "LSTM", json::object(), {"input_1"});
  expect_error([&] { load_network(u.write(dir.file("u.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kUnsupported, {"'lstm' (LSTM)"});
  Graph e(4, 4);
  e.add("a", "Activation", {{"activation", "gelu"}}, {"input_1"});
  expect_error([&] { load_network(e.write(dir.file("e.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kUnsupported);
  Graph w(4, 4);
  w.add("a", "ReLU", json::object(), {"ghost"});
  expect_error([&] { load_network(w.write(dir.file("w.safetensors")), DeviceKind::kCpu); },
               ErrorCode::kCorrupt, {"ghost"});
  // cuda without a GPU visible to LibTorch (Debian's LibTorch has none).
  if (resolve_device("auto") != DeviceKind::kCuda) {
    expect_error([&] { load_network(dir.file("full.safetensors"), DeviceKind::kCuda); },
                 ErrorCode::kUnsupported);
  }
}

TEST(KerasGraph, ArchitecturesAndClassesAreListed) {
  const auto archs = keras_architectures();
  EXPECT_NE(std::find(archs.begin(), archs.end(), "keras_mobilenet_v2"), archs.end());
  EXPECT_NE(std::find(archs.begin(), archs.end(), "keras_inception_v3"), archs.end());
  const auto classes = keras_layer_classes();
  EXPECT_NE(std::find(classes.begin(), classes.end(), "DepthwiseConv2D"), classes.end());
}

}  // namespace
}  // namespace n2v
