#include "common/error.h"

#include <gtest/gtest.h>

namespace n2v {
namespace {

TEST(Error, CheckThrowsWithCodeMessageAndLocation) {
  int line = 0;
  try {
    line = __LINE__ + 1;
    N2V_CHECK(1 + 1 == 3, kNotFound, "layer '" << "conv9" << "' not found");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(e.message(), "layer 'conv9' not found");
    EXPECT_STREQ(e.what(), "[not_found] layer 'conv9' not found");
    EXPECT_EQ(e.line(), line);
    EXPECT_NE(std::string(e.file()).find("test_error.cpp"), std::string::npos);
  }
}

TEST(Error, CheckPassesSilently) { EXPECT_NO_THROW(N2V_CHECK(true, kInternal, "never")); }

TEST(Error, AssertIsInternal) {
  try {
    N2V_ASSERT(2 < 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(e.message().find("2 < 1"), std::string::npos);
  }
}

}  // namespace
}  // namespace n2v
