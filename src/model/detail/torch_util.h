#pragma once
// Torch-facing helpers shared by the LibTorch networks (torchscript_network.cpp,
// keras_networks.cpp): one copy of the device mapping, LibTorch's error text, and the copy of
// a layer tensor to the torch-free LayerActivations.

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <string>
#include <vector>

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

inline std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

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

}  // namespace n2v::detail
