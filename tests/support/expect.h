#pragma once
// Small helpers the stage tests share: writing raw files, substring checks, and expecting an
// n2v::Error with a given code (and message pieces).

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

namespace detail {
// Runs f and returns the n2v::Error it throws. Any other outcome fails the test, saying what
// was `expected`: f returning, or a foreign exception escaping (a c10::Error, std::bad_alloc...).
inline std::optional<Error> caught(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << expected << ", a foreign exception escaped: " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "no throw: expected " << expected;
  return std::nullopt;
}

inline std::string with_code(ErrorCode code) {
  return std::string("an n2v::Error with code ") + to_string(code);
}
}  // namespace detail

// Runs f and returns the n2v::Error it throws; any other outcome fails the test and returns
// Error(kInternal, "no n2v::Error thrown").
inline Error thrown_by(const std::function<void()>& f) {
  return detail::caught(f, "an n2v::Error").value_or(Error(ErrorCode::kInternal, "no n2v::Error thrown"));
}

// Runs f, expects an n2v::Error with this code, returns its message ("" if none).
inline std::string error_of(const std::function<void()>& f, ErrorCode code) {
  const std::optional<Error> e = detail::caught(f, detail::with_code(code));
  if (!e) return {};
  EXPECT_EQ(e->code(), code) << e->what();
  return e->message();
}

// Runs f, which must throw an n2v::Error with `code` and a message holding every piece.
inline void expect_error(const std::function<void()>& f, ErrorCode code,
                         const std::vector<std::string>& pieces = {}) {
  const std::optional<Error> e = detail::caught(f, detail::with_code(code));
  if (!e) return;
  EXPECT_EQ(e->code(), code) << e->what();
  for (const std::string& piece : pieces)
    EXPECT_NE(e->message().find(piece), std::string::npos) << e->message() << " lacks " << piece;
}

}  // namespace n2v::test
