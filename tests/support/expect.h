#pragma once
// Small helpers the stage tests share: writing raw files, substring checks, and expecting an
// n2v::Error with a given code.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "common/error.h"

namespace n2v::test {

// Writes `bytes` to `path`, creating its directories.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs f, expects an n2v::Error with this code, returns its message ("" if none).
inline std::string error_of(const std::function<void()>& f, ErrorCode code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "expected an n2v::Error with code " << to_string(code);
  return {};
}

}  // namespace n2v::test
