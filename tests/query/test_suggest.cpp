// closest_names ("did you mean"): the suggestions, and bounded work for any query (F2 of the
// security review: a 1,000,000-character name took 59 s against the demo's names).

#include <gtest/gtest.h>

#include <chrono>

#include "query/query.h"

namespace n2v {
namespace {

std::vector<std::string> some_names() {
  std::vector<std::string> names = {"dog", "cat", "license plate", "red-c", "Street"};
  for (int i = 0; i < 200; ++i) names.push_back("concept-" + std::to_string(i) + "-name");
  return names;
}

TEST(ClosestNames, TyposTranspositionsAndContainment) {
  const std::vector<std::string> names = some_names();
  EXPECT_EQ(closest_names("dgo", names, 1), std::vector<std::string>{"dog"});
  EXPECT_EQ(closest_names("plate", names, 1), std::vector<std::string>{"license plate"});
  EXPECT_EQ(closest_names("STREET", names, 1), std::vector<std::string>{"Street"});
  EXPECT_EQ(closest_names("concept-12-nmae", names, 1), std::vector<std::string>{"concept-12-name"});
  EXPECT_TRUE(closest_names("xylophone", names).empty());
}

TEST(ClosestNames, LongQueriesCostNoTime) {
  const std::vector<std::string> names = some_names();
  for (const size_t length : {size_t{257}, size_t{20'000}, size_t{200'000}}) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(closest_names(std::string(length, 'a'), names).empty());
    EXPECT_TRUE(closest_names("dog" + std::string(length, 'x'), names).empty());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(s, 0.5) << length;  // the full table: ~4 s for 200,000 on one core
  }
  // Long names against a short query: containment still suggests them, nothing is slow.
  std::vector<std::string> long_names = {std::string(100'000, 'b') + "dog", std::string(100'000, 'c')};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(closest_names("dog", long_names), std::vector<std::string>{long_names[0]});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
}

}  // namespace
}  // namespace n2v
