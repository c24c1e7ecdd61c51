#pragma once
// The device placement's pass, behind a torch-free interface so activations.cpp (the batch
// loop, decoding, skipped rows) stays torch-free; implemented in device_activations.cpp.

#include <memory>
#include <string>
#include <vector>

#include "activations/activations.h"

namespace n2v::detail {

class DevicePass {
 public:
  virtual ~DevicePass() = default;
  // One batch of n preprocessed images (n x 3 x height x width floats): forward, raw maps
  // kept on the device, spatial means taken.
  virtual void take(const std::vector<float>& pixels, int n, int height, int width) = 0;
  // Thresholds, bits and pooled features, one result per layer (rows/kept left to the caller).
  virtual std::vector<ProbeActivations> finish(ActivationTimings* timings) = 0;
};

// Whether the network can hand its layers over as tensors (the LibTorch networks can).
bool has_tensor_forward(Network& network);
// Sets the network's forward precision; kUnsupported for a network without tensor forward.
void apply_precision(Network& network, Precision precision);
// `capacity`: the most images that will be taken. Throws kUnsupported if the network has no
// tensor forward.
std::unique_ptr<DevicePass> make_device_pass(Network& network, const std::vector<std::string>& layers,
                                             const ActivationOptions& options, size_t capacity);

}  // namespace n2v::detail
