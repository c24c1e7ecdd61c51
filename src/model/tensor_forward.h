#pragma once
// Torch-facing side of the model stage (include only from LibTorch translation units:
// activations' device path, training, tests). The torch-free Network interface hands back
// host floats; networks implemented with LibTorch also offer their layer outputs as tensors
// left on the network's device, so a GPU ingestion never copies the maps to host memory.

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/network.h"

namespace n2v::detail {

class TensorForward {
 public:
  virtual ~TensorForward() = default;
  // `input`: N x 3 x H x W float32 (any device; moved to the network's). Returns one
  // N x K x H x W tensor per layer on the network's device, in the compute precision's dtype.
  // Same errors as Network::forward_layers.
  virtual std::vector<at::Tensor> forward_tensors(const at::Tensor& input,
                                                  const std::vector<std::string>& layers) = 0;
  // Weights and arithmetic in this precision from now on (float32 by default). Reduced
  // precision halves the forward's memory traffic; the activations stage measures how many
  // thresholded bits it changes (docs/GPU.md).
  virtual void set_precision(Precision precision) = 0;
};

at::ScalarType scalar_type(Precision precision);

}  // namespace n2v::detail
