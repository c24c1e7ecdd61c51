// libFuzzer target: mask PNG decoding (read_label_png: label = R + 256 * G per pixel, grey
// masks as the grey value, 16-bit PNGs refused), as ProbeSet::load_annotation does.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_common.h"
#include "probe/probe_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = n2v::fuzz::scratch_path("mask.png");
  n2v::fuzz::write_bytes(path, data, size);
  N2V_FUZZ_EXPECTED({
    const n2v::LabelMap map = n2v::read_label_png(path);
    if (map.height <= 0 || map.width <= 0 || map.labels.size() != static_cast<size_t>(map.height) * map.width)
      std::abort();
    for (const int32_t label : map.labels)
      if (label < 0 || label > 255 + 256 * 255) std::abort();  // R + 256 G of 8-bit channels
  });
  return 0;
}
