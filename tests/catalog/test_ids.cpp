// Space ids and tasks: the names queries and URLs use.
#include <gtest/gtest.h>

#include <vector>

#include "catalog/catalog.h"
#include "common/error.h"

namespace n2v {
namespace {

// Runs f, which must throw kInvalidArgument with a message holding every piece.
template <typename F>
void expect_invalid(F f, std::initializer_list<std::string> pieces) {
  try {
    f();
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    for (const std::string& piece : pieces)
      EXPECT_NE(e.message().find(piece), std::string::npos) << e.message() << " lacks " << piece;
  }
}

TEST(Ids, TaskNames) {
  EXPECT_STREQ(to_string(Task::kSegmentation), "segmentation");
  EXPECT_STREQ(to_string(Task::kClassification), "classification");
  EXPECT_STREQ(short_name(Task::kSegmentation), "seg");
  EXPECT_STREQ(short_name(Task::kClassification), "cls");
  EXPECT_EQ(parse_task("segmentation"), Task::kSegmentation);
  EXPECT_EQ(parse_task("seg"), Task::kSegmentation);
  EXPECT_EQ(parse_task("classification"), Task::kClassification);
  EXPECT_EQ(parse_task("cls"), Task::kClassification);
  expect_invalid([] { parse_task("Seg"); }, {"'Seg'"});
  expect_invalid([] { parse_task(""); }, {"''"});
}

TEST(Ids, SpaceIdJoinsParts) {
  EXPECT_EQ(space_id("alexnet", "conv5", Task::kSegmentation), "alexnet.conv5.seg");
  EXPECT_EQ(space_id("resnet-18", "layer4_1", Task::kClassification), "resnet-18.layer4_1.cls");
  expect_invalid([] { space_id("alexnet", "features.10", Task::kSegmentation); },
                 {"layer", "'features.10'"});
  expect_invalid([] { space_id("", "conv5", Task::kSegmentation); }, {"network", "''"});
}

TEST(Ids, CheckIdPartAcceptsUrlSafeNames) {
  for (const std::string& name :
       std::vector<std::string>{"a", "conv5_3", "resnet-18", "ABC_xyz-09", std::string(64, 'x')})
    EXPECT_NO_THROW(check_id_part(name, "layer")) << name;
}

TEST(Ids, CheckIdPartRejectsBadNames) {
  for (const std::string& name :
       std::vector<std::string>{"a.b", "", "x/y", "a b", " a", "a ", "a\tb", "caf\xc3\xa9", "a%2e",
                                "a?b", "..", std::string(65, 'x')}) {
    SCOPED_TRACE(name);
    expect_invalid([&] { check_id_part(name, "network name"); },
                   {"network name", "'" + name + "'"});
  }
}

}  // namespace
}  // namespace n2v
