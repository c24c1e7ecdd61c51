// load_torchscript against TorchScript modules built and saved from C++, devices, threads.
#include <gtest/gtest.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "model/network.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;
using test::expect_error;

constexpr const char* kDictForward = R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    out: Dict[str, Tensor] = {}
    out["pool"] = torch.adaptive_avg_pool2d(x, [2, 2])
    out["inv"] = torch.relu(1.0 - x)
    out["flat"] = torch.flatten(x, 1)
    return out
)JIT";

// Saves a module with the given forward (and optionally the net2vec attributes).
std::string save_module(const test::TempDir& dir, const std::string& name, const char* forward,
                        bool with_attributes, const std::string& preprocessing_json = Preprocessing{}.to_json()) {
  torch::jit::Module m("TestNet");
  if (with_attributes) {
    c10::List<std::string> layers({"pool", "inv", "flat"});
    m.register_attribute("net2vec_layers", c10::ListType::ofStrings(), layers);
    m.register_attribute("net2vec_preprocessing", c10::StringType::get(),
                         c10::IValue(preprocessing_json));
  }
  m.define(forward);
  const std::string path = dir.file(name);
  m.save(path);
  return path;
}

Preprocessing small_prep() {
  Preprocessing p;
  p.height = 4;
  p.width = 6;
  p.channel_order = "BGR";
  p.scale = 1.0f;
  p.mean = {104.0f, 117.0f, 123.0f};
  p.std = {1.0f, 1.0f, 1.0f};
  return p;
}

// A 2 x 3 x 4 x 6 batch with distinct values.
std::vector<float> batch() {
  std::vector<float> v(2 * 3 * 4 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.02f * static_cast<float>(i) - 0.5f;
  return v;
}
float at(const std::vector<float>& v, int n, int c, int y, int x) {
  return v[((static_cast<size_t>(n) * 3 + c) * 4 + y) * 6 + x];
}

TEST(TorchScript, LayersAndPreprocessingFromAttributes) {
  test::TempDir dir;
  const std::string path =
      save_module(dir, "model.pt", kDictForward, true, small_prep().to_json());
  auto net = load_torchscript(path, DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), (std::vector<std::string>{"pool", "inv", "flat"}));
  EXPECT_EQ(net->device(), DeviceKind::kCpu);
  const Preprocessing p = net->default_preprocessing();
  EXPECT_EQ(p.height, 4);
  EXPECT_EQ(p.width, 6);
  EXPECT_EQ(p.channel_order, "BGR");
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.mean, small_prep().mean);
}

TEST(TorchScript, ForwardValuesMatchTheDefinition) {
  test::TempDir dir;
  auto net = load_torchscript(save_module(dir, "model.pt", kDictForward, true,
                                          small_prep().to_json()),
                              DeviceKind::kCpu);
  const std::vector<float> x = batch();

  const LayerActivations pool = net->forward(x, 2, 4, 6, "pool");
  ASSERT_EQ(pool.n, 2);
  ASSERT_EQ(pool.k, 3);
  ASSERT_EQ(pool.h, 2);
  ASSERT_EQ(pool.w, 2);
  ASSERT_EQ(pool.values.size(), 2u * 3 * 2 * 2);
  // adaptive_avg_pool2d 4x6 -> 2x2: each output is the mean of a 2x3 block.
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int oy = 0; oy < 2; ++oy)
        for (int ox = 0; ox < 2; ++ox) {
          double sum = 0;
          for (int y = 2 * oy; y < 2 * oy + 2; ++y)
            for (int xx = 3 * ox; xx < 3 * ox + 3; ++xx) sum += at(x, n, c, y, xx);
          EXPECT_NEAR(pool.values[((n * 3 + c) * 2 + oy) * 2 + ox], sum / 6.0, 1e-5);
        }

  const LayerActivations inv = net->forward(x, 2, 4, 6, "inv");
  ASSERT_EQ(inv.n, 2);
  ASSERT_EQ(inv.k, 3);
  ASSERT_EQ(inv.h, 4);
  ASSERT_EQ(inv.w, 6);
  ASSERT_EQ(inv.values.size(), x.size());
  int zeros = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_FLOAT_EQ(inv.values[i], std::max(0.0f, 1.0f - x[i])) << i;
    zeros += inv.values[i] == 0.0f;
  }
  EXPECT_GT(zeros, 0);  // the ReLU is exercised

  // A single image of another size works too (nothing is fixed to the default size).
  const std::vector<float> one(3 * 8 * 8, 0.25f);
  const LayerActivations p1 = net->forward(one, 1, 8, 8, "pool");
  EXPECT_EQ(p1.n, 1);
  EXPECT_EQ(p1.h, 2);
  for (float v : p1.values) EXPECT_FLOAT_EQ(v, 0.25f);
}

TEST(TorchScript, UnknownLayerListsAvailableOnes) {
  test::TempDir dir;
  const std::string path = save_module(dir, "model.pt", kDictForward, true);
  auto net = load_torchscript(path, DeviceKind::kCpu);
  expect_error([&] { net->forward(batch(), 2, 4, 6, "conv9"); }, ErrorCode::kNotFound,
               {"'conv9'", "model.pt", "available: pool, inv, flat"});
}

TEST(TorchScript, BadPreprocessingAttributeIsCorrupt) {
  test::TempDir dir;
  const std::string path = save_module(dir, "model.pt", kDictForward, true, "not json");
  expect_error([&] { load_torchscript(path, DeviceKind::kCpu); }, ErrorCode::kCorrupt,
               {"net2vec_preprocessing"});
}

TEST(TorchScript, NonFourDimensionalLayerIsUnsupported) {
  test::TempDir dir;
  auto net = load_torchscript(save_module(dir, "model.pt", kDictForward, true),
                              DeviceKind::kCpu);
  expect_error([&] { net->forward(batch(), 2, 4, 6, "flat"); }, ErrorCode::kUnsupported,
               {"'flat'", "[2, 72]"});
}

TEST(TorchScript, PlainTensorOutputIsLayerOutput) {
  test::TempDir dir;
  const std::string path = save_module(dir, "plain.pt", R"JIT(
def forward(self, x: Tensor) -> Tensor:
    return x * 2.0
)JIT",
                                       false);
  auto net = load_torchscript(path, DeviceKind::kCpu);
  EXPECT_EQ(net->layers(), std::vector<std::string>{"output"});
  const LayerActivations a = net->forward(batch(), 2, 4, 6, "output");
  ASSERT_EQ(a.values.size(), batch().size());
  EXPECT_EQ(a.k, 3);
  EXPECT_FLOAT_EQ(a.values[5], 2.0f * batch()[5]);
  expect_error([&] { net->forward(batch(), 2, 4, 6, "conv1"); }, ErrorCode::kNotFound, {"available: output"});
}

TEST(TorchScript, LayersDiscoveredByRunningWithoutAttributes) {
  test::TempDir dir;
  // This forward only accepts the default 224 x 224 size: discovery must use it.
  const std::string path = save_module(dir, "bare.pt", R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    assert x.size(2) == 224 and x.size(3) == 224
    return {"zeta": torch.relu(x), "alpha": torch.adaptive_avg_pool2d(x, [1, 1])}
)JIT",
                                       false);
  auto net = load_torchscript(path, DeviceKind::kCpu);
  // Insertion order, not sorted.
  EXPECT_EQ(net->layers(), (std::vector<std::string>{"zeta", "alpha"}));
  const Preprocessing p = net->default_preprocessing();
  EXPECT_EQ(p.height, 224);
  EXPECT_EQ(p.width, 224);
  EXPECT_EQ(p.channel_order, "RGB");
}

TEST(TorchScript, DiscoveryFailureIsUnsupported) {
  test::TempDir dir;
  const std::string path = save_module(dir, "picky.pt", R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    return {"a": x.view(1, 3, 2, 2)}
)JIT",
                                       false);
  auto net = load_torchscript(path, DeviceKind::kCpu);
  expect_error([&] { net->layers(); }, ErrorCode::kUnsupported, {"net2vec_layers", "picky.pt"});
  // The module still works on the input it accepts.
  EXPECT_EQ(net->forward(std::vector<float>(12, 1.0f), 1, 2, 2, "a").values.size(), 12u);
}

TEST(TorchScript, WrongInputIsInvalidArgumentNotC10Error) {
  test::TempDir dir;
  torch::jit::Module m("ConvNet");
  m.register_parameter("weight", torch::ones({4, 3, 3, 3}), false);
  m.define(R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    return {"conv": torch.conv2d(x, self.weight)}
)JIT");
  const std::string path = dir.file("conv.pt");
  m.save(path);
  auto net = load_torchscript(path, DeviceKind::kCpu);
  // 3x3 ones kernel on a 3-channel constant image of 1.0: every output is 27.
  const LayerActivations ok = net->forward(std::vector<float>(3 * 5 * 5, 1.0f), 1, 5, 5, "conv");
  EXPECT_EQ(ok.k, 4);
  EXPECT_EQ(ok.h, 3);
  for (float v : ok.values) EXPECT_FLOAT_EQ(v, 27.0f);
  // A 2x2 image is smaller than the kernel.
  const Error e = test::thrown_by([&] { net->forward(std::vector<float>(3 * 2 * 2), 1, 2, 2, "conv"); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(e.message(), "conv.pt")) << e.message();
  EXPECT_TRUE(contains(e.message(), "ernel size")) << e.message();
  EXPECT_TRUE(contains(e.message(), "1 x 3 x 2 x 2")) << e.message();
  EXPECT_FALSE(contains(e.message(), "\n")) << e.message();
  // Wrong buffer size is caught before LibTorch sees it.
  expect_error([&] { net->forward(std::vector<float>(10), 1, 5, 5, "conv"); }, ErrorCode::kInvalidArgument);
}

TEST(TorchScript, MissingFileIsNotFound) {
  test::TempDir dir;
  const std::string path = dir.file("nope.pt");
  expect_error([&] { load_torchscript(path, DeviceKind::kCpu); }, ErrorCode::kNotFound, {path});
}

TEST(TorchScript, GarbageFileIsCorrupt) {
  test::TempDir dir;
  const std::string path = dir.file("garbage.pt");
  {
    std::ofstream f(path, std::ios::binary);
    f << "this is not a TorchScript archive\n";
    for (int i = 0; i < 1000; ++i) f.put(static_cast<char>(i * 37));
  }
  const Error e = test::thrown_by([&] { load_torchscript(path, DeviceKind::kCpu); });
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(e.message(), path)) << e.message();
  EXPECT_FALSE(contains(e.message(), "\n")) << e.message();

  const std::string empty = dir.file("empty.pt");
  std::ofstream(empty).close();
  expect_error([&] { load_torchscript(empty, DeviceKind::kCpu); }, ErrorCode::kCorrupt);
}

TEST(Device, Resolve) {
  EXPECT_EQ(resolve_device("cpu"), DeviceKind::kCpu);
  EXPECT_STREQ(to_string(DeviceKind::kCpu), "cpu");
  EXPECT_STREQ(to_string(DeviceKind::kCuda), "cuda");
  expect_error([] { resolve_device("gpu"); }, ErrorCode::kInvalidArgument);
  expect_error([] { resolve_device(""); }, ErrorCode::kInvalidArgument);
  if (torch::cuda::is_available()) {
    EXPECT_EQ(resolve_device("auto"), DeviceKind::kCuda);
    EXPECT_EQ(resolve_device("cuda"), DeviceKind::kCuda);
  } else {
    EXPECT_EQ(resolve_device("auto"), DeviceKind::kCpu);
    expect_error([] { resolve_device("cuda"); }, ErrorCode::kUnsupported, {"cuda"});
  }
}

TEST(Device, ConfigureThreads) {
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  const int all = configure_threads(0);
  EXPECT_EQ(all, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(at::get_num_threads(), all);
  expect_error([] { configure_threads(-1); }, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace n2v
