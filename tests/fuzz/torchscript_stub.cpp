// fuzz_keras_topology only: keras_networks.cpp's load_network falls back to TorchScript for
// files that are not .safetensors; the target never takes that path, so this stands in for the
// TorchScript loader (torch/script.h), which needs more of LibTorch's headers.
#include "common/error.h"
#include "model/network.h"

namespace n2v {
std::unique_ptr<Network> load_torchscript(const std::string& path, DeviceKind) {
  N2V_THROW(kUnsupported, path << ": TorchScript is not linked into the fuzz target");
}
}  // namespace n2v
