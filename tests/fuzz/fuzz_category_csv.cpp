// libFuzzer target: category.csv of a BRODEN-format probe set (ProbeSet::open and the
// annotations of the rows it yields). See probe_fixture.h.

#include <cstddef>
#include <cstdint>

#include "probe_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  n2v::fuzz::fuzz_probe_file("category.csv", data, size);
  return 0;
}
