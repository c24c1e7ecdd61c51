#pragma once
// Torch-facing: what ProbeActivations::device_bits points to (include only from LibTorch
// translation units: activations, training).

#include <ATen/ATen.h>

namespace n2v {

struct DeviceMaps {
  at::Tensor bits;  // uint8 [n, bytes_per_image] on the device (CPU when the pass ran there)
};

}  // namespace n2v
