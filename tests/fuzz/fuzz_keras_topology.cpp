// libFuzzer target: the Keras topology JSON of the built-in Keras networks (the
// `keras_model_config` metadata that load_keras_safetensors parses: layer classes and
// options, inbound nodes, topological order, output shapes, then the weights the topology
// asks for). Links LibTorch (keras_networks.cpp keeps tensors in its layers); built only
// with NET2VEC_WITH_TORCH.
//
// Input: the keras_model_config JSON text. It is wrapped in a safetensors file whose
// architecture is "keras_functional" and which holds no tensors, so every topology that
// needs a weight stops with kCorrupt after its shapes were inferred; weight-free
// topologies load completely. Seeds: the first layers of the converted nsfwjs MobileNetV2
// and InceptionV3 topologies (data/demo/models) and small hand-written graphs.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "model/keras_networks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  static const std::string path = fuzz::scratch_path("model.safetensors");
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"architecture", "keras_functional"},
                            {"keras_model_config", std::string(reinterpret_cast<const char*>(data), size)}};
  const std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string file(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += text;
  fuzz::write_bytes(path, file);
  N2V_FUZZ_EXPECTED({
    auto network = load_keras_safetensors(path, DeviceKind::kCpu);
    (void)network->layers();
    (void)network->default_preprocessing();
  });
  return 0;
}
