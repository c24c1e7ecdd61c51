#pragma once
// Runs f, which must throw n2v::Error with `code` and a message holding every piece.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "common/error.h"

namespace n2v::test {

template <typename F>
void expect_error(F f, ErrorCode code, std::initializer_list<std::string> pieces) {
  try {
    f();
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& piece : pieces)
      EXPECT_NE(e.message().find(piece), std::string::npos) << e.message() << " lacks " << piece;
  }
}

}  // namespace n2v::test
