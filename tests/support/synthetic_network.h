#pragma once
// A synthetic network for benchmarks and tests (net2vec-bench's activations stage; GPU tests
// that need activations of a known shape without a real model): it ignores its input and
// returns random post-ReLU maps of K x h x w at its one layer, "conv5". Header-only; needs
// LibTorch (it is a TensorForward network, so the device activations path runs it too).

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/tensor_forward.h"
#include "model/network.h"

namespace n2v::test {

// Fast generator for bulk synthetic values (xoshiro256**, seeded by splitmix64).

class FastRng {
 public:
  explicit FastRng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }  // [0,1)

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Post-ReLU-like activations: 60% exact zeros, the rest exponential with a per-filter scale.
void fill_activations(float* out, int n, int k, int hw, FastRng& rng) {
  for (int i = 0; i < n; ++i)
    for (int f = 0; f < k; ++f) {
      const float gain = 0.5f + 0.1f * static_cast<float>(f % 11);
      float* map = out + (static_cast<size_t>(i) * k + f) * hw;
      for (int p = 0; p < hw; ++p) {
        const float u = rng.uniform();
        map[p] = u < 0.6f ? 0.0f : -gain * std::log(1.0f - (u - 0.6f) * 2.5f + 1e-7f);
      }
    }
}

// A network that ignores its input and returns random post-ReLU maps of K x h x w: the
// activations stage is measured without any real model's cost (reported separately).
// On a device (the GPU path) it draws the maps there: relu(N(0, 1)), ~half the positions
// positive, as a network's post-ReLU layer.
class SyntheticNetwork : public n2v::Network, public n2v::detail::TensorForward {
 public:
  SyntheticNetwork(int k, int h, int w, uint64_t seed, n2v::DeviceKind device = n2v::DeviceKind::kCpu)
      : k_(k), h_(h), w_(w), rng_(seed), device_(device) {}
  std::vector<at::Tensor> forward_tensors(const at::Tensor& input, const std::vector<std::string>& layers) override {
    const auto t0 = std::chrono::steady_clock::now();
    N2V_CHECK(layers.size() == 1 && layers[0] == "conv5", kNotFound, "synthetic network: layer conv5 only");
    const auto options = torch::TensorOptions()
                             .dtype(n2v::detail::scalar_type(precision_))
                             .device(device_ == n2v::DeviceKind::kCuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU));
    at::Tensor maps = torch::randn({input.size(0), k_, h_, w_}, options).relu_();
    if (device_ == n2v::DeviceKind::kCuda) torch::cuda::synchronize();
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {maps};
  }
  void set_precision(n2v::Precision precision) override { precision_ = precision; }
  std::vector<std::string> layers() const override { return {"conv5"}; }
  n2v::Preprocessing default_preprocessing() const override { return {}; }
  n2v::LayerActivations forward(const std::vector<float>& pixels, int n, int height, int width,
                                const std::string& layer) override {
    const auto t0 = std::chrono::steady_clock::now();
    N2V_CHECK(layer == "conv5", kNotFound, "synthetic network: no layer " << layer);
    N2V_CHECK(pixels.size() == static_cast<size_t>(n) * 3 * height * width, kInternal,
              "synthetic network: input of " << pixels.size() << " floats for " << n << " images");
    n2v::LayerActivations a{n, k_, h_, w_, {}};
    a.values.resize(static_cast<size_t>(n) * k_ * h_ * w_);
    fill_activations(a.values.data(), n, k_, h_ * w_, rng_);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return a;
  }
  n2v::DeviceKind device() const override { return device_; }
  double seconds() const { return seconds_; }

 private:
  int k_, h_, w_;
  FastRng rng_;
  n2v::DeviceKind device_;
  n2v::Precision precision_ = n2v::Precision::kFloat32;
  double seconds_ = 0;
};

}  // namespace n2v::test
