#pragma once
// Torch-facing helpers shared by the LibTorch networks (torchscript_network.cpp,
// keras_networks.cpp): one copy of the device mapping, LibTorch's error text, and the copy of
// a layer tensor to the torch-free LayerActivations.

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/text.h"
#include "model/tensor_forward.h"
#include "model/network.h"

namespace n2v::detail {

inline c10::Device torch_device(DeviceKind device) {
  return device == DeviceKind::kCuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

// The first line of a LibTorch message, without the C++ backtrace or trailing blanks.
inline std::string first_line(const std::string& s) {
  const auto end = s.find('\n');
  std::string line = end == std::string::npos ? s : s.substr(0, end);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

inline std::string torch_message(const c10::Error& e) { return first_line(e.what_without_backtrace()); }

using n2v::join;  // common/text.h

// A layer's N x K x H x W tensor, on any device and in any float dtype, as host float32.
inline LayerActivations to_layer_activations(at::Tensor t) {
  t = t.to(at::kCPU, at::kFloat).contiguous();
  LayerActivations out;
  out.n = static_cast<int>(t.size(0));
  out.k = static_cast<int>(t.size(1));
  out.h = static_cast<int>(t.size(2));
  out.w = static_cast<int>(t.size(3));
  const float* data = t.data_ptr<float>();
  out.values.assign(data, data + t.numel());
  return out;
}

// Network::forward_layers of a LibTorch network: n preprocessed images (n x 3 x height x
// width host floats) through its forward_tensors, each layer copied back to host float32;
// LibTorch's errors in the copies become kInvalidArgument naming the network's file.
inline std::vector<LayerActivations> forward_to_host(TensorForward& network, const std::string& path,
                                                     const std::vector<float>& pixels, int n, int height, int width,
                                                     const std::vector<std::string>& layers) {
  try {
    c10::InferenceMode inference;
    const int64_t channels = static_cast<int64_t>(pixels.size()) / (static_cast<int64_t>(n) * height * width);
    const at::Tensor input = at::from_blob(const_cast<float*>(pixels.data()), {n, channels, height, width},
                                           at::TensorOptions().dtype(at::kFloat));
    std::vector<LayerActivations> out;
    for (const at::Tensor& t : network.forward_tensors(input, layers)) out.push_back(to_layer_activations(t));
    return out;
  } catch (const c10::Error& e) {
    N2V_THROW(kInvalidArgument, "forward of " << path << " failed on a " << n << " x 3 x " << height << " x " << width
                                              << " batch: " << torch_message(e));
  }
}

}  // namespace n2v::detail
