#pragma once
// The probe-set targets (fuzz_index_csv, fuzz_label_csv, fuzz_category_csv): a real
// three-row probe set (tests/fuzz/probe_fixture: the first rows of broden-mini-224, its
// label.csv, category.csv, c_<cat>.csv and the rows' mask PNGs) copied once into the scratch
// folder; each input replaces one of its CSV files, then the set is opened (strict; when
// that refuses it, with skip_bad) and the annotations of its first rows are decoded and checked.

#include <algorithm>
#include <filesystem>
#include <string>

#include "fuzz_common.h"
#include "probe/probe_set.h"

namespace n2v::fuzz {

inline const std::string& probe_fixture_dir() {
  static const std::string dir = [] {
    const std::string d = scratch_path("probe");
    std::filesystem::copy(NET2VEC_FUZZ_DIR "/probe_fixture", d,
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
    return d;
  }();
  return dir;
}

inline void use_probe_set(const ProbeSet& set) {
  for (const Label& label : set.labels()) (void)set.label(label.number);
  // The first rows' masks (the fixture has rows 0-2). A mask path leading out of the
  // folder ("..") is skipped: reading arbitrary files of the machine is not the point.
  const size_t n = std::min<size_t>(set.images().size(), 4);
  for (size_t i = 0; i < n; ++i) {
    bool inside = true;
    for (const auto& masks : set.images()[i].masks)
      for (const std::string& m : masks) inside = inside && m.find("..") == std::string::npos;
    if (inside) N2V_FUZZ_EXPECTED(set.load_annotation(i));
  }
}

// Replaces `file` of the fixture with the input and reads the set.
inline void fuzz_probe_file(const char* file, const uint8_t* data, size_t size) {
  const std::string& dir = probe_fixture_dir();
  write_bytes(dir + "/" + file, data, size);
  try {
    use_probe_set(ProbeSet::open(dir));
  } catch (const Error&) {  // refused: the same with skip_bad, which keeps the good rows
    ProbeOptions options;
    options.skip_bad = true;
    N2V_FUZZ_EXPECTED(use_probe_set(ProbeSet::open(dir, options)));
  }
}

}  // namespace n2v::fuzz
