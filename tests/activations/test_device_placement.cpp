// The device placement (the GPU path: maps kept, thresholded and bit-packed where the network
// computed them) against the host placement (the CPU path) on the toy TorchScript network:
// the same thresholds and bits exactly, the same spatial means within float rounding. Both
// run the network on the same device (NET2VEC_TEST_DEVICE, cpu by default; tools/gpu-check
// sets cuda), so their float maps are the same values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "activations/activations.h"
#include "common/error.h"
#include "support/temp_dir.h"
#include "support/test_device.h"
#include "support/toy_fixture.h"

namespace n2v {
namespace {

using test::test_device;

struct Toy {
  test::TempDir dir;
  ProbeSet probe;
  std::unique_ptr<Network> net;
  std::vector<size_t> rows;
  Toy() : probe((test::write_toy(dir.path()), ProbeSet::open(dir.path() + "/probe"))) {
    net = load_network(dir.path() + "/model.pt", test_device());
    for (size_t i = 0; i < probe.images().size(); ++i) rows.push_back(i);
  }
  ActivationOptions options(Placement placement) const {
    ActivationOptions o;
    o.preprocessing = net->default_preprocessing();
    o.tau = test::kToyTau;
    o.batch_size = 7;  // batches that do not divide the 48 images
    o.placement = placement;
    return o;
  }
};

TEST(DevicePlacement, SameThresholdsBitsAndMeansAsHost) {
  Toy t;
  const std::vector<std::string> layers = {"features", "coarse"};
  const std::vector<ProbeActivations> host =
      extract_activations(*t.net, t.probe, t.rows, layers, t.options(Placement::kHost));
  ActivationOptions o = t.options(Placement::kDevice);
  o.device_chunk_bytes = 3000;  // several top-k and packing blocks even at the toy's size
  const std::vector<ProbeActivations> device = extract_activations(*t.net, t.probe, t.rows, layers, o);
  ASSERT_EQ(host.size(), 2u);
  ASSERT_EQ(device.size(), 2u);
  for (size_t l = 0; l < layers.size(); ++l) {
    SCOPED_TRACE(layers[l]);
    const ProbeActivations& h = host[l];
    const ProbeActivations& d = device[l];
    EXPECT_FALSE(h.device_bits);
    ASSERT_TRUE(d.device_bits);
    EXPECT_TRUE(d.bits.empty());
    ASSERT_EQ(d.n, h.n);
    ASSERT_EQ(d.k, h.k);
    ASSERT_EQ(d.h, h.h);
    ASSERT_EQ(d.w, h.w);
    EXPECT_EQ(d.rows, h.rows);
    EXPECT_EQ(d.thresholds, h.thresholds);  // exact: the same values, the same rank
    const std::vector<uint8_t> bits = host_bits(d);
    ASSERT_EQ(bits.size(), h.bits.size());
    size_t on = 0;
    for (uint8_t b : h.bits) on += __builtin_popcount(b);
    EXPECT_GT(on, 0u);
    EXPECT_EQ(bits, h.bits);
    ASSERT_EQ(d.pooled.size(), h.pooled.size());
    for (size_t i = 0; i < h.pooled.size(); ++i) EXPECT_NEAR(d.pooled[i], h.pooled[i], 1e-6) << i;
  }
}

TEST(DevicePlacement, AutoIsHostOnTheCpu) {
  Toy t;
  if (t.net->device() != DeviceKind::kCpu) GTEST_SKIP() << "the network runs on CUDA here";
  const ProbeActivations a = extract_activations(*t.net, t.probe, t.rows, {"features"}, t.options(Placement::kAuto)).front();
  EXPECT_FALSE(a.device_bits);
  EXPECT_FALSE(a.bits.empty());
}

// Reduced precision: bfloat16 keeps 8 significant bits, float16 11, so values near a threshold
// can move across it. On the toy (pixel / 255 averages) the thresholds stay within the
// rounding and few bits change; the counts are printed (tools/gpu-check records them, and
// docs/GPU.md). A precision this LibTorch cannot run on this device is skipped, saying so.
void check_reduced(Precision precision, int significant_bits) {
  Toy t;
  const ProbeActivations exact = extract_activations(*t.net, t.probe, t.rows, {"features"}, t.options(Placement::kHost)).front();
  ActivationOptions o = t.options(Placement::kDevice);
  o.precision = precision;
  ProbeActivations reduced;
  try {
    reduced = extract_activations(*t.net, t.probe, t.rows, {"features"}, o).front();
  } catch (const Error& e) {
    GTEST_SKIP() << to_string(precision) << " forward not available in this LibTorch on this device: " << e.message();
  }
  const uint32_t low = (1u << (24 - significant_bits)) - 1;  // float32 has 24 significant bits
  for (int k = 0; k < exact.k; ++k) {
    EXPECT_NEAR(reduced.thresholds[k], exact.thresholds[k], std::fabs(exact.thresholds[k]) / (1 << (significant_bits - 1)) + 1e-6) << k;
    // The forward really ran in the reduced precision: its values (the thresholds among
    // them) carry at most that many significant bits.
    uint32_t word;
    std::memcpy(&word, &reduced.thresholds[k], sizeof word);
    EXPECT_EQ(word & low, 0u) << "threshold " << k << " = " << reduced.thresholds[k] << " is not a " << to_string(precision);
  }
  const std::vector<uint8_t> bits = host_bits(reduced);
  size_t changed = 0, total = 0;
  for (size_t i = 0; i < bits.size(); ++i) {
    changed += __builtin_popcount(bits[i] ^ exact.bits[i]);
    total += __builtin_popcount(exact.bits[i]);
  }
  std::printf("%s vs float32 on %s: %zu of %zu set bits changed\n", to_string(precision),
              to_string(t.net->device()), changed, total);
  EXPECT_GT(total, 0u);
  EXPECT_LT(changed, total / 4);
}

TEST(DevicePlacement, BFloat16ChangesFewBits) { check_reduced(Precision::kBFloat16, 8); }
TEST(DevicePlacement, Float16ChangesFewBits) { check_reduced(Precision::kFloat16, 11); }

TEST(DevicePlacement, NamesParse) {
  EXPECT_EQ(parse_placement("device"), Placement::kDevice);
  EXPECT_STREQ(to_string(parse_placement("host")), "host");
  EXPECT_THROW(parse_placement("gpu"), Error);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::kBFloat16);
  EXPECT_THROW(parse_precision("fp8"), Error);
}

}  // namespace
}  // namespace n2v
