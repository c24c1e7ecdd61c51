#pragma once
// Shared helpers of the libFuzzer targets (tests/fuzz/fuzz_*.cpp).
//
// Our parsers read files by path, so each input is written to a scratch folder of this
// process (under /dev/shm when it exists: no disk I/O per run) and parsed from there.
// A parser rejecting bad input throws n2v::Error: that is the expected outcome and the
// targets swallow it (N2V_FUZZ_EXPECTED). Anything else -- another exception type, a crash,
// a sanitizer report, an allocation over libFuzzer's -malloc_limit_mb, a hang -- escapes
// and is a finding.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace n2v::fuzz {

// This process's scratch folder (created on first use, removed at exit).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    const fs::path d = base / ("net2vec-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    static const std::string keep = d.string();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return d.string();
  }();
  return dir;
}

// scratch_dir()/name
inline std::string scratch_path(const std::string& name) { return scratch_dir() + "/" + name; }

// Writes bytes to path (replacing it); aborts on failure (that is a broken harness, not a
// finding about our parsers).
inline void write_bytes(const std::string& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}
inline void write_bytes(const std::string& path, std::string_view text) {
  write_bytes(path, text.data(), text.size());
}

// Splits `data` at the first occurrence of `separator`: head before it, rest after it (the
// whole input and "" when it does not occur).
inline std::pair<std::string_view, std::string_view> split_once(std::string_view data, std::string_view separator) {
  const size_t at = data.find(separator);
  if (at == std::string_view::npos) return {data, {}};
  return {data.substr(0, at), data.substr(at + separator.size())};
}

}  // namespace n2v::fuzz

// Runs `body`; n2v::Error (the parsers' way of refusing input) is expected and ignored.
#define N2V_FUZZ_EXPECTED(...)      \
  do {                              \
    try {                           \
      __VA_ARGS__;                  \
    } catch (const ::n2v::Error&) { \
    }                               \
  } while (0)
