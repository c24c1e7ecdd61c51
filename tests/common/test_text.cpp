#include "common/text.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "support/expect.h"

namespace n2v {
namespace {

TEST(Text, SplitKeepsEmptyFields) {
  EXPECT_EQ(split("a,,b,", ','), (std::vector<std::string>{"a", "", "b", ""}));
  EXPECT_EQ(split("", ';'), (std::vector<std::string>{""}));
}

TEST(Text, ParseIntIsStrict) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_EQ(parse_int(" -7 "), -7);
  EXPECT_FALSE(parse_int("12x"));
  EXPECT_FALSE(parse_int(""));
  EXPECT_FALSE(parse_int("dtd/a.png"));
}

TEST(Text, ParseDoubleRejectsJunkAndNonFinite) {
  EXPECT_DOUBLE_EQ(*parse_double("4.225474"), 4.225474);
  EXPECT_FALSE(parse_double("4.2abc"));
  EXPECT_FALSE(parse_double("nan"));
  EXPECT_FALSE(parse_double("inf"));
}

TEST(Text, IntListNamesTheOptionOnError) {
  EXPECT_EQ(parse_int_list("1,2,4", "--subsets"), (std::vector<int>{1, 2, 4}));
  EXPECT_TRUE(parse_int_list("", "--subsets").empty());
  const std::string message = test::thrown_by([] { parse_int_list("1,two", "--subsets"); }).message();
  EXPECT_NE(message.find("--subsets"), std::string::npos) << message;
  EXPECT_NE(message.find("two"), std::string::npos) << message;
}

TEST(Text, JoinWords) {
  EXPECT_EQ(join_words("  ice  cream ", " \t"), "ice_cream");
  EXPECT_EQ(join_words("fire_hydrant", " \t"), "fire_hydrant");
  EXPECT_EQ(join_words("__traffic__light", " _"), "traffic_light");
  EXPECT_EQ(join_words("   ", " "), "");
}

TEST(Text, FormatDuration) {
  EXPECT_EQ(format_duration(0.25), "250 ms");
  EXPECT_EQ(format_duration(2.5), "2.5 s");
  EXPECT_EQ(format_duration(125), "2 min 05 s");
}

}  // namespace
}  // namespace n2v
