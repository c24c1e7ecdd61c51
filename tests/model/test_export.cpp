// tools/export_torchvision.py end to end: export each architecture with random weights using
// Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14), load it through
// load_torchscript, check the layer list and run one random image.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/network.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

// Debian's Python; NET2VEC_PYTHON overrides it (e.g. to check the skip path).
std::string python() {
  const char* env = std::getenv("NET2VEC_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

bool python_has_torchvision() {
  static const bool has = [] {
    const std::string cmd =
        python() + " -c 'import torch, torchvision' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }();
  return has;
}

struct Expect {
  std::string layer;
  int k, h, w;
};

struct Arch {
  std::string name;
  int size;  // input height = width
  std::vector<std::string> layers;
  std::vector<Expect> shapes;  // checked layers
};

std::vector<Arch> archs() {
  return {
      {"alexnet", 227, {"conv1", "conv2", "conv3", "conv4", "conv5"},
       {{"conv1", 64, 56, 56}, {"conv2", 192, 27, 27}, {"conv5", 256, 13, 13}}},
      {"resnet18", 224, {"conv1", "layer1", "layer2", "layer3", "layer4"},
       {{"conv1", 64, 112, 112}, {"layer3", 256, 14, 14}, {"layer4", 512, 7, 7}}},
      {"googlenet", 224,
       {"conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a", "inception4b",
        "inception4c", "inception4d", "inception4e", "inception5a", "inception5b"},
       {{"conv3", 192, 56, 56}, {"inception4e", 832, 14, 14}, {"inception5b", 1024, 7, 7}}},
      {"vgg16", 224,
       {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1",
        "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "pool5"},
       {{"conv1_1", 64, 224, 224}, {"conv5_3", 512, 14, 14}, {"pool5", 512, 7, 7}}},
  };
}

// Exports `arch_name` and checks it; run by one TEST per architecture below.
void export_and_run(const std::string& arch_name) {
  if (!python_has_torchvision())
    GTEST_SKIP() << python() << " cannot import torch and torchvision (apt-get install "
                 << "python3-torchvision); export test skipped";
  Arch arch;
  for (const Arch& a : archs())
    if (a.name == arch_name) arch = a;
  ASSERT_EQ(arch.name, arch_name);
  configure_threads(0);
  test::TempDir dir;
  const std::string out = dir.file(arch.name + ".pt");
  const std::string cmd = python() + " " NET2VEC_SOURCE_DIR
                          "/tools/export_torchvision.py --arch " + arch.name +
                          " --random-weights --out " + out;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto t1 = std::chrono::steady_clock::now();

  auto net = load_torchscript(out, DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), arch.layers);
  const Preprocessing p = net->default_preprocessing();
  EXPECT_EQ(p.height, arch.size);
  EXPECT_EQ(p.width, arch.size);
  EXPECT_EQ(p.channel_order, "RGB");
  EXPECT_FLOAT_EQ(p.scale, 1.0f / 255.0f);
  EXPECT_FLOAT_EQ(p.mean[0], 0.485f);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);

  // One random image through the real preprocessing path.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> img(static_cast<size_t>(arch.size) * arch.size * 3);
  for (auto& v : img) v = static_cast<uint8_t>(byte(rng));
  std::vector<float> pixels;
  preprocess_image(img.data(), arch.size, arch.size, p, pixels);

  for (const Expect& e : arch.shapes) {
    const LayerActivations a = net->forward(pixels, 1, arch.size, arch.size, e.layer);
    EXPECT_EQ(a.n, 1) << e.layer;
    EXPECT_EQ(a.k, e.k) << e.layer;
    EXPECT_EQ(a.h, e.h) << e.layer;
    EXPECT_EQ(a.w, e.w) << e.layer;
    ASSERT_EQ(a.values.size(), static_cast<size_t>(a.n) * a.k * a.h * a.w) << e.layer;
    float lo = a.values[0], hi = a.values[0];
    for (float v : a.values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_GE(lo, 0.0f) << arch.name << " " << e.layer << " is not post-ReLU";
    EXPECT_GT(hi, 0.0f) << arch.name << " " << e.layer << " is all zeros";
  }
  const auto t2 = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  std::cout << arch.name << ": export " << std::chrono::duration_cast<ms>(t1 - t0).count()
            << " ms, load + " << arch.shapes.size() << " forwards "
            << std::chrono::duration_cast<ms>(t2 - t1).count() << " ms\n";
}

TEST(Export, Alexnet) { export_and_run("alexnet"); }
TEST(Export, Resnet18) { export_and_run("resnet18"); }
TEST(Export, Googlenet) { export_and_run("googlenet"); }
TEST(Export, Vgg16) { export_and_run("vgg16"); }

}  // namespace
}  // namespace n2v
