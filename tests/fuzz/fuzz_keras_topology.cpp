// libFuzzer target: the Keras topology JSON of the built-in Keras networks (the
// `keras_model_config` metadata that load_keras_safetensors parses: layer classes and
// options, inbound nodes, topological order, output shapes, the preprocessing and the
// architecture checks): src/model/keras_graph.cpp, which is torch-free, so the target needs
// no LibTorch. The weights are the runtime's (keras_networks.cpp) and are not fuzzed here.
//
// Input: the keras_model_config JSON text. It is wrapped in a safetensors file whose
// architecture is "keras_functional" and which holds no tensors. Seeds: the first layers of the converted nsfwjs MobileNetV2
// and InceptionV3 topologies (data/demo/models) and small hand-written graphs.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "model/detail/keras_graph.h"
#include "model/detail/safetensors.h"

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
    const safetensors::File model = safetensors::File::read(path);
    detail::KerasGraph graph = detail::read_keras_topology(model, path);
    detail::finish_keras_graph(graph, model);
    (void)graph.names;
  });
  return 0;
}
