#pragma once
// Where the GPU-path tests put their device side: NET2VEC_TEST_DEVICE, "cpu" by default
// (CI); tools/gpu-check sets "cuda", and there a GPU LibTorch cannot see fails the test
// (resolve_device throws) rather than passing on the CPU.

#include <cstdlib>
#include <string>

#include "model/network.h"

namespace n2v::test {

inline std::string test_device_name() {
  const char* env = std::getenv("NET2VEC_TEST_DEVICE");
  return env && *env ? env : "cpu";
}

inline DeviceKind test_device() { return resolve_device(test_device_name()); }

}  // namespace n2v::test
