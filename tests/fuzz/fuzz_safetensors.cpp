// libFuzzer target: the safetensors reader (safetensors::File::read: 8-byte header length,
// JSON header, data offsets) and the accessors the Keras loader uses on what it read.
// Seeds: small files written by safetensors::write in the layout of the converted nsfwjs
// files (same metadata keys, real layer names) -- the real files are 10 and 90 MB.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_common.h"
#include "model/detail/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  static const std::string path = fuzz::scratch_path("file.safetensors");
  fuzz::write_bytes(path, data, size);
  N2V_FUZZ_EXPECTED({
    const safetensors::File file = safetensors::File::read(path);
    (void)file.metadata("architecture", "");
    for (const safetensors::TensorInfo& t : file.tensors()) {
      if (file.find(t.name) != &file.at(t.name)) std::abort();
      if (static_cast<uint64_t>(t.numel()) * safetensors::dtype_size(t.dtype) != t.bytes) std::abort();
      (void)safetensors::shape_string(t.shape);
      if (t.dtype == "F32") {
        const std::vector<float> values = file.floats(t.name);
        if (values.size() != static_cast<size_t>(t.numel())) std::abort();
      }
    }
    N2V_FUZZ_EXPECTED(file.at("no such tensor"));
  });
  return 0;
}
