// libFuzzer target: image decoding (read_image_file: JPEG, PNG or anything stb reads, to
// 8-bit RGB), as ProbeSet::load_image does for every probe image.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_common.h"
#include "probe/probe_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = n2v::fuzz::scratch_path("image");
  n2v::fuzz::write_bytes(path, data, size);
  N2V_FUZZ_EXPECTED({
    const n2v::RgbImage image = n2v::read_image_file(path);
    if (image.height <= 0 || image.width <= 0 ||
        image.pixels.size() != static_cast<size_t>(image.height) * image.width * 3)
      std::abort();  // a decoded image must be whole
  });
  return 0;
}
