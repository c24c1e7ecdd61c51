// The device placement of the activations stage (see activations.h): the layer tensors stay
// where the network computed them. On a GPU this removes the host round trip of every map
// (BRODEN at 13x13 x 256 filters: 11 GB of float32) and runs the threshold selection and the
// bit-packing as a few large kernels. Run on the CPU, the same code is what the tests compare
// with the host path.

#include <ATen/ATen.h>

#include <algorithm>

#include "activations/device_maps.h"
#include "activations/detail/device_pass.h"
#include "activations/detail/top_images.h"
#include "common/clock.h"
#include "common/enum_names.h"
#include "common/error.h"
#include "model/tensor_forward.h"

namespace n2v {

namespace {
constexpr EnumName<Placement> kPlacementNames[] = {
    {Placement::kAuto, "auto"}, {Placement::kHost, "host"}, {Placement::kDevice, "device"}};
}  // namespace

Placement parse_placement(const std::string& name) { return parse_enum(kPlacementNames, name, "placement"); }

const char* to_string(Placement placement) { return enum_name(kPlacementNames, placement); }

std::vector<uint8_t> host_bits(const ProbeActivations& acts) {
  if (!acts.device_bits) return acts.bits;
  const at::Tensor cpu = acts.device_bits->bits.to(at::kCPU).contiguous();
  const uint8_t* p = cpu.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + cpu.numel());
}

namespace detail {
namespace {

detail::TensorForward& tensor_forward(Network& network) {
  auto* forward = dynamic_cast<detail::TensorForward*>(&network);
  N2V_CHECK(forward, kUnsupported,
            "this network cannot keep its activations on the device (not a LibTorch network); "
            "use the host placement");
  return *forward;
}

// Bit-packs rows of a bool tensor [n, bits] as ProbeActivations::bits: bit j of byte i is
// element 8i + j; the last byte is padded with zeros.
at::Tensor pack_bits(const at::Tensor& on, int64_t bytes) {
  const int64_t n = on.size(0), bits = on.size(1);
  at::Tensor padded = on;
  if (bytes * 8 > bits) padded = at::constant_pad_nd(on.to(at::kByte), {0, bytes * 8 - bits}, 0);
  static const uint8_t kWeights[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  const at::Tensor weights =
      at::from_blob(const_cast<uint8_t*>(kWeights), {8}, at::TensorOptions().dtype(at::kByte)).to(on.device());
  // Each byte's weighted bits are disjoint powers of two: the sum is their OR, below 256.
  return (padded.to(at::kByte).view({n, bytes, 8}) * weights).sum(2, /*keepdim=*/false, at::kByte);
}

class DevicePassImpl final : public DevicePass {
 public:
  DevicePassImpl(Network& network, const std::vector<std::string>& layers, const ActivationOptions& options,
                 size_t capacity)
      : forward_(tensor_forward(network)), layers_(layers), options_(options), capacity_(capacity),
        states_(layers.size()) {}

  void take(const std::vector<float>& pixels, int n, int height, int width) override {
    c10::InferenceMode inference;
    const int64_t channels = static_cast<int64_t>(pixels.size()) / (static_cast<int64_t>(n) * height * width);
    const at::Tensor input = at::from_blob(const_cast<float*>(pixels.data()), {n, channels, height, width},
                                           at::TensorOptions().dtype(at::kFloat));
    std::vector<at::Tensor> outputs = forward_.forward_tensors(input, layers_);
    N2V_CHECK(outputs.size() == layers_.size(), kInternal,
              "network returned " << outputs.size() << " layers, asked " << layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      const at::Tensor& t = outputs[l];
      LayerState& s = states_[l];
      N2V_CHECK(t.dim() == 4 && t.size(0) == n, kInternal,
                "layer " << layers_[l] << " returned a " << t.dim() << "-D tensor for a batch of " << n);
      if (!s.raw.defined()) {
        s.k = t.size(1);
        s.h = t.size(2);
        s.w = t.size(3);
        // The whole probe set's raw maps, in the forward's dtype, on its device.
        const double gib = static_cast<double>(capacity_) * s.k * s.h * s.w * t.element_size() / (1 << 30);
        try {
          s.raw = at::empty({static_cast<int64_t>(capacity_), s.k * s.h * s.w}, t.options());
          s.pooled = at::empty({static_cast<int64_t>(capacity_), s.k}, t.options().dtype(at::kFloat));
        } catch (const c10::Error& e) {
          N2V_THROW(kUnsupported, "the raw maps of layer " << layers_[l] << " (" << capacity_ << " images x " << s.k
                                  << " x " << s.h << " x " << s.w << ", " << gib << " GiB) do not fit on the "
                                  << t.device() << " device: use placement host (maps streamed through host "
                                  << "memory), fewer layers per pass, or precision float16 ("
                                  << e.what_without_backtrace() << ")");
        }
      }
      N2V_CHECK(t.size(1) == s.k && t.size(2) == s.h && t.size(3) == s.w, kInternal,
                "layer " << layers_[l] << " changed shape between batches");
      s.raw.narrow(0, s.n, n).copy_(t.reshape({n, -1}));
      // Spatial means (paper eq. 5) in float64, as the host path sums them.
      s.pooled.narrow(0, s.n, n).copy_(t.to(at::kDouble).mean({2, 3}));
      if (options_.top_images > 0) {
        // Each image's max per filter: [n, k] floats to the host, ranked there as on the
        // host placement (the same selector, so both give the same images).
        auto t0 = Clock::now();
        if (!s.top) s.top = std::make_unique<TopImageSelector>(static_cast<int>(s.k), options_.top_images);
        const at::Tensor maxima = t.amax({2, 3}).to(at::kCPU, at::kFloat).contiguous();
        // The second score, the spatial means: the float64 means above, stored as float as
        // the host placement stores its own.
        const at::Tensor means = s.pooled.narrow(0, s.n, n).to(at::kCPU, at::kFloat).contiguous();
        for (int i = 0; i < n; ++i)
          s.top->add(static_cast<int>(s.n) + i, maxima.data_ptr<float>() + i * s.k, means.data_ptr<float>() + i * s.k);
        s.top_seconds += seconds_since(t0);
      }
      s.n += n;
    }
  }

  std::vector<ProbeActivations> finish(ActivationTimings* timings) override {
    c10::InferenceMode inference;
    std::vector<ProbeActivations> out;
    for (size_t l = 0; l < layers_.size(); ++l) out.push_back(finish_layer(states_[l], timings));
    return out;
  }

 private:
  struct LayerState {
    int64_t n = 0, k = 0, h = 0, w = 0;
    at::Tensor raw;     // [capacity, k*h*w]
    at::Tensor pooled;  // [capacity, k] float
    std::unique_ptr<TopImageSelector> top;  // options.top_images > 0
    double top_seconds = 0;
  };

  ProbeActivations finish_layer(LayerState& s, ActivationTimings* timings) {
    ProbeActivations out;
    N2V_CHECK(s.n > 0, kInvalidArgument, "no activations to threshold");
    out.n = static_cast<int>(s.n);
    out.k = static_cast<int>(s.k);
    out.h = static_cast<int>(s.h);
    out.w = static_cast<int>(s.w);
    const int64_t hw = s.h * s.w, positions = s.n * hw;
    const at::Tensor raw = s.raw.narrow(0, 0, s.n).view({s.n, s.k, hw});

    // T_k: the rank-th largest of filter k's n*h*w values, rank = floor(tau * n*h*w) + 1, as
    // ThresholdSelector computes it on the host. top-k runs on [filters, n*h*w] copies of a
    // few filters at a time, so the extra memory stays under device_chunk_bytes.
    auto t1 = Clock::now();
    check_tau(options_.tau);
    const int64_t rank = std::min(positions, ThresholdSelector::top_count(positions, options_.tau) + 1);
    const int64_t per_filter = positions * static_cast<int64_t>(raw.element_size());
    const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(options_.device_chunk_bytes) / std::max<int64_t>(1, per_filter));
    at::Tensor thresholds = at::empty({s.k}, raw.options());
    for (int64_t f0 = 0; f0 < s.k; f0 += step) {
      const int64_t f = std::min(step, s.k - f0);
      const at::Tensor values = raw.narrow(1, f0, f).permute({1, 0, 2}).reshape({f, positions});
      thresholds.narrow(0, f0, f).copy_(std::get<0>(values.topk(rank, 1, /*largest=*/true, /*sorted=*/false)).amin(1));
    }
    const at::Tensor t_cpu = thresholds.to(at::kCPU, at::kFloat).contiguous();
    out.thresholds.assign(t_cpu.data_ptr<float>(), t_cpu.data_ptr<float>() + s.k);
    if (timings) timings->threshold_seconds += seconds_since(t1);

    // Bits: a_k > T_k, packed a block of images at a time (the bool copy is 1 byte a value).
    auto t2 = Clock::now();
    const int64_t bytes = static_cast<int64_t>(out.bytes_per_image());
    at::Tensor bits = at::empty({s.n, bytes}, raw.options().dtype(at::kByte));
    const at::Tensor t_col = thresholds.view({1, s.k, 1});
    const int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(options_.device_chunk_bytes) / std::max<int64_t>(1, s.k * hw));
    for (int64_t i0 = 0; i0 < s.n; i0 += rows) {
      const int64_t m = std::min(rows, s.n - i0);
      const at::Tensor on = (raw.narrow(0, i0, m) > t_col).view({m, s.k * hw});
      bits.narrow(0, i0, m).copy_(pack_bits(on, bytes));
    }
    auto maps = std::make_shared<DeviceMaps>();
    maps->bits = bits;
    out.device_bits = std::move(maps);
    if (s.top) {
      // Only the picked images' records come to the host.
      auto t3 = Clock::now();
      std::vector<int64_t> picked;
      for (const auto& filter : s.top->result())
        for (const auto& entry : filter) picked.push_back(entry.first);
      std::sort(picked.begin(), picked.end());
      picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
      at::Tensor rows_on_host;
      if (!picked.empty()) {
        const at::Tensor index = at::tensor(picked, at::TensorOptions().dtype(at::kLong)).to(bits.device());
        rows_on_host = bits.index_select(0, index).to(at::kCPU).contiguous();
      }
      detail::fill_top_images(out, *s.top, [&](int image) {
        const size_t at_row = std::lower_bound(picked.begin(), picked.end(), image) - picked.begin();
        return rows_on_host.data_ptr<uint8_t>() + at_row * bytes;
      });
      s.top.reset();
      s.top_seconds += seconds_since(t3);
    }
    if (timings) timings->top_images_seconds += s.top_seconds;
    const at::Tensor pooled = s.pooled.narrow(0, 0, s.n).to(at::kCPU).contiguous();
    out.pooled.assign(pooled.data_ptr<float>(), pooled.data_ptr<float>() + pooled.numel());
    s.raw = at::Tensor();  // the float maps are no longer needed
    s.pooled = at::Tensor();
    if (timings) timings->binarize_seconds += seconds_since(t2);
    return out;
  }

  TensorForward& forward_;
  std::vector<std::string> layers_;
  ActivationOptions options_;
  size_t capacity_;
  std::vector<LayerState> states_;
};

}  // namespace

bool has_tensor_forward(Network& network) { return dynamic_cast<TensorForward*>(&network) != nullptr; }

void apply_precision(Network& network, Precision precision) { tensor_forward(network).set_precision(precision); }

std::unique_ptr<DevicePass> make_device_pass(Network& network, const std::vector<std::string>& layers,
                                             const ActivationOptions& options, size_t capacity) {
  return std::make_unique<DevicePassImpl>(network, layers, options, capacity);
}

}  // namespace detail
}  // namespace n2v
