// Fidelity of the built-in Keras networks: nsfwjs@4.4.0's MobileNetV2 and InceptionV3,
// converted by tools/nsfwjs/convert.mjs, against activations that the nsfwjs package computes
// under @tensorflow/tfjs's CPU backend (tools/nsfwjs/reference.mjs). Both files are written
// into NET2VEC_KERAS_MODELS_DIR by the ctest fixture model_keras_nsfwjs_setup
// (tests/model_keras/prepare_nsfwjs.cmake). Skipped only when node/npm are absent.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/detail/keras_networks.h"
#include "model/network.h"
#include "model/detail/safetensors.h"
#include "support/expect.h"
#include "support/temp_dir.h"

#ifndef NET2VEC_KERAS_MODELS_DIR
#error "NET2VEC_KERAS_MODELS_DIR must be defined"
#endif
#ifndef NET2VEC_HAVE_NODE
#define NET2VEC_HAVE_NODE 0
#endif

namespace n2v {
namespace {

using nlohmann::json;
using test::expect_error;
namespace fs = std::filesystem;

std::string weights_path(const std::string& model) {
  return std::string(NET2VEC_KERAS_MODELS_DIR) + "/nsfwjs_" + model + ".safetensors";
}
std::string reference_path(const std::string& model) {
  return std::string(NET2VEC_KERAS_MODELS_DIR) + "/reference_" + model + ".safetensors";
}

// Whether the converted model and its reference exist; skips (no node/npm) or fails.
bool have_files(const std::string& model) {
  if (fs::exists(weights_path(model)) && fs::exists(reference_path(model))) return true;
  if (!NET2VEC_HAVE_NODE) {
    return false;
  }
  ADD_FAILURE() << weights_path(model) << " or " << reference_path(model)
                << " is missing although node and npm were found; the ctest fixture "
                   "model_keras_nsfwjs_setup writes them (ctest -R model_keras)";
  return false;
}

#define REQUIRE_FILES(model)                                                              \
  do {                                                                                    \
    if (!have_files(model)) {                                                             \
      if (!NET2VEC_HAVE_NODE) GTEST_SKIP() << "node/npm not found: cannot convert nsfwjs"; \
      return;                                                                             \
    }                                                                                     \
  } while (0)

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Expected {
  std::string model;
  size_t layer_count;
  std::string first, last;
  std::vector<std::string> probed;  // timed
};

void check_against_tfjs(const Expected& e) {
  const int threads = configure_threads(0);
  auto start = std::chrono::steady_clock::now();
  auto net = load_network(weights_path(e.model), DeviceKind::kCpu);
  const double load_s = seconds_since(start);
  const safetensors::File ref = safetensors::File::read(reference_path(e.model));
  const safetensors::File weights = safetensors::File::read(weights_path(e.model));

  // Layers: every Keras layer but the input, in the stored (forward) order.
  const std::vector<std::string> names = net->layers();
  EXPECT_EQ(names.size(), e.layer_count);
  EXPECT_EQ(names.front(), e.first);
  EXPECT_EQ(names.back(), e.last);
  for (const auto& l : e.probed) EXPECT_NE(std::find(names.begin(), names.end(), l), names.end()) << l;

  // Preprocessing: the file's, and preprocess_image reproduces the reference input.
  const Preprocessing prep = net->default_preprocessing();
  const Preprocessing ref_prep = Preprocessing::from_json(ref.metadata("preprocessing", "{}"));
  EXPECT_EQ(prep.height, ref_prep.height);
  EXPECT_EQ(prep.width, ref_prep.width);
  EXPECT_FLOAT_EQ(prep.scale, ref_prep.scale);
  EXPECT_EQ(prep.mean, ref_prep.mean);
  EXPECT_EQ(prep.std, ref_prep.std);
  const auto& input_info = ref.at("input");
  ASSERT_EQ(input_info.shape.size(), 4u);
  const int n = static_cast<int>(input_info.shape[0]);
  const int h = static_cast<int>(input_info.shape[2]), w = static_cast<int>(input_info.shape[3]);
  EXPECT_EQ(h, prep.height);
  const std::vector<float> input = ref.floats("input");
  {
    const auto& px = ref.at("pixels");
    ASSERT_EQ(px.shape, (std::vector<int64_t>{n, h, w, 3}));
    std::vector<float> ours;
    for (int i = 0; i < n; ++i) preprocess_image(ref.data(px) + static_cast<size_t>(i) * h * w * 3, h, w, prep, ours);
    ASSERT_EQ(ours.size(), input.size());
    double err = 0;
    for (size_t i = 0; i < ours.size(); ++i) err = std::max(err, std::fabs(double(ours[i]) - input[i]));
    EXPECT_LE(err, 1e-6) << "preprocess_image differs from the reference input";
  }

  // Every reference layer in one pass.
  const json layers = json::parse(ref.metadata("layers", "[]"));
  std::vector<std::string> wanted;
  for (const auto& l : layers) wanted.push_back(l.get<std::string>());
  ASSERT_FALSE(wanted.empty());
  start = std::chrono::steady_clock::now();
  const std::vector<LayerActivations> outs = net->forward_layers(input, n, h, w, wanted);
  const double all_s = seconds_since(start);
  ASSERT_EQ(outs.size(), wanted.size());

  std::printf("\n%s (%d threads; load %.2f s): max |net2vec - tfjs| per layer over %d images\n",
              e.model.c_str(), threads, load_s, n);
  std::printf("  %-24s %-18s %12s %12s %10s\n", "layer", "shape", "max abs err", "max |act|", "ratio");
  for (size_t li = 0; li < wanted.size(); ++li) {
    const auto& info = ref.at("layer/" + wanted[li]);
    const std::vector<float> want = ref.floats("layer/" + wanted[li]);
    const LayerActivations& got = outs[li];
    const int64_t k = info.shape[1];
    const int64_t hh = info.shape.size() == 4 ? info.shape[2] : 1, ww = info.shape.size() == 4 ? info.shape[3] : 1;
    ASSERT_EQ(got.n, n) << wanted[li];
    ASSERT_EQ(got.k, k) << wanted[li];
    ASSERT_EQ(got.h, hh) << wanted[li];
    ASSERT_EQ(got.w, ww) << wanted[li];
    ASSERT_EQ(got.values.size(), want.size());
    double err = 0, scale = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err = std::max(err, std::fabs(double(got.values[i]) - want[i]));
      scale = std::max(scale, std::fabs(double(want[i])));
    }
    const std::string shape = std::to_string(k) + "x" + std::to_string(hh) + "x" + std::to_string(ww);
    std::printf("  %-24s %-18s %12.3e %12.4g %10.2e\n", wanted[li].c_str(), shape.c_str(), err, scale,
                scale > 0 ? err / scale : 0.0);
    EXPECT_GT(scale, 0) << wanted[li];
    EXPECT_LE(err, 1e-3 * scale) << wanted[li] << ": max abs error " << err << ", max |activation| " << scale;
  }

  // Predicted classes: the 5-way softmax (the model's output layer) gives tfjs's argmax.
  const std::string output = weights.metadata("output_layer", "");
  const auto out_it = std::find(wanted.begin(), wanted.end(), output);
  ASSERT_NE(out_it, wanted.end()) << "the reference lacks the output layer " << output;
  const LayerActivations& probs = outs[out_it - wanted.begin()];
  const json classes = json::parse(weights.metadata("classes", "[]"));
  EXPECT_EQ(classes, json::parse(ref.metadata("classes", "[]")));
  ASSERT_EQ(static_cast<size_t>(probs.k), classes.size());
  const json predicted = json::parse(ref.metadata("predicted", "[]"));
  ASSERT_EQ(predicted.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const float* p = probs.values.data() + static_cast<size_t>(i) * probs.k;
    const int best = static_cast<int>(std::max_element(p, p + probs.k) - p);
    std::printf("  image %d: net2vec %s (%.4f), tfjs %s\n", i, classes[best].get<std::string>().c_str(), p[best],
                classes[predicted[i].get<int>()].get<std::string>().c_str());
    EXPECT_EQ(best, predicted[i].get<int>()) << "image " << i;
  }

  // Forward time per image, stopping at each probed layer (batch of n; the best of 3 runs
  // after a warm-up, since the machine may be shared).
  std::printf("  forward, all %zu reference layers in one pass: %.0f ms per image (first call)\n",
              wanted.size(), 1000 * all_s / n);
  for (const std::string& layer : e.probed) {
    net->forward(input, n, h, w, layer);
    double best = 1e30;
    for (int r = 0; r < 3; ++r) {
      start = std::chrono::steady_clock::now();
      net->forward(input, n, h, w, layer);
      best = std::min(best, seconds_since(start));
    }
    std::printf("  forward to %-22s %7.1f ms per image\n", layer.c_str(), 1000 * best / n);
  }
  std::fflush(stdout);
}

TEST(KerasFidelity, MobileNetV2MatchesTfjs) {
  REQUIRE_FILES("mobilenet_v2");
  check_against_tfjs({"mobilenet_v2", 161, "Conv1_pad", "dense_3",
                      {"block_6_expand_relu", "block_10_expand_relu", "out_relu", "dense_3"}});
}

TEST(KerasFidelity, InceptionV3MatchesTfjs) {
  REQUIRE_FILES("inception_v3");
  check_against_tfjs({"inception_v3", 317, "conv2d_1", "dense_3", {"mixed2", "mixed5", "mixed10", "dense_3"}});
}

// The converted file, damaged: a reshaped weight and a truncated copy.
TEST(KerasFidelity, DamagedConvertedFileIsCorrupt) {
  REQUIRE_FILES("mobilenet_v2");
  test::TempDir dir;
  const safetensors::File f = safetensors::File::read(weights_path("mobilenet_v2"));
  std::vector<safetensors::TensorData> tensors;
  for (const auto& t : f.tensors()) {
    auto shape = t.shape;
    if (t.name == "block_10_expand/kernel") std::swap(shape[2], shape[3]);
    tensors.push_back({t.name, t.dtype, shape, f.data(t), t.bytes});
  }
  safetensors::write(dir.file("swapped.safetensors"), tensors, f.metadata());
  expect_error([&] { load_network(dir.file("swapped.safetensors"), DeviceKind::kCpu); }, ErrorCode::kCorrupt,
               {"'block_10_expand/kernel' has shape [1, 1, 384, 64], expected [1, 1, 64, 384]"});

  std::ifstream in(weights_path("mobilenet_v2"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.file("cut.safetensors"), std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 1000));
  expect_error([&] { load_network(dir.file("cut.safetensors"), DeviceKind::kCpu); }, ErrorCode::kCorrupt,
               {"truncated"});
}

}  // namespace
}  // namespace n2v
