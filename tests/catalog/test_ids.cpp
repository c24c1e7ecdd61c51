// Space ids and tasks: the names queries and URLs use.
#include <gtest/gtest.h>

#include <vector>

#include "catalog/catalog.h"
#include "common/error.h"
#include "support/expect.h"

namespace n2v {
namespace {

// Runs f, which must throw kInvalidArgument with a message holding every piece.
void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& pieces) {
  test::expect_error(f, ErrorCode::kInvalidArgument, pieces);
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
  // A layer as the model names it: its URL-safe id part (issue 16); the network stays strict.
  EXPECT_EQ(space_id("alexnet", "features.10", Task::kSegmentation), "alexnet.features-10.seg");
  expect_invalid([] { space_id("alexnet", "", Task::kSegmentation); }, {"empty layer name"});
  expect_invalid([] { space_id("", "conv5", Task::kSegmentation); }, {"network", "''"});
  expect_invalid([] { space_id("res.net", "conv5", Task::kSegmentation); }, {"network", "'res.net'"});
}

TEST(LayerId, MapsModelNamesToUrlSafeIdParts) {
  EXPECT_EQ(layer_id("conv5"), "conv5");  // valid id parts stay as they are
  EXPECT_EQ(layer_id("layer4.1.conv2"), "layer4-1-conv2");
  EXPECT_EQ(layer_id("encoder.layers.encoder_layer_11"), "encoder-layers-encoder_layer_11");
  EXPECT_EQ(layer_id("features.29"), "features-29");
  EXPECT_EQ(layer_id("blocks[3]/attn out"), "blocks_3__attn_out");
  const std::string a(80, 'a'), b = std::string(79, 'a') + "b";
  ASSERT_EQ(layer_id(a).size(), 64u);
  EXPECT_EQ(layer_id(a).substr(0, 56), std::string(55, 'a') + "-");
  EXPECT_NE(layer_id(a), layer_id(b));  // cut names stay apart by their hash
  EXPECT_EQ(layer_id(layer_id(a)), layer_id(a));
  EXPECT_NO_THROW(check_id_part(layer_id(a), "layer name"));
  expect_invalid([] { layer_id(""); }, {"empty layer name"});
  EXPECT_EQ(space_id("resnet50", "layer4.1.conv2", Task::kSegmentation), "resnet50.layer4-1-conv2.seg");
}

TEST(LayerId, CanonicalSpaceIdAcceptsEitherSpelling) {
  EXPECT_EQ(canonical_space_id("resnet50.layer4.1.conv2.seg"), "resnet50.layer4-1-conv2.seg");
  EXPECT_EQ(canonical_space_id("resnet50.layer4-1-conv2.seg"), "resnet50.layer4-1-conv2.seg");
  EXPECT_EQ(canonical_space_id("vit.encoder.layers.encoder_layer_11.cls"), "vit.encoder-layers-encoder_layer_11.cls");
  EXPECT_EQ(canonical_space_id("wordnet"), "wordnet");
  EXPECT_EQ(canonical_space_id("glove-100d"), "glove-100d");
  EXPECT_EQ(canonical_space_id("a.b.c.d"), "a.b.c.d");  // not <network>.<layer>.<seg|cls>
  EXPECT_EQ(canonical_space_id("a..seg"), "a..seg");
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
