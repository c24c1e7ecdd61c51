// The checked-in fixture data/fixtures/broden_cells: a hand-written BRODEN set (not made by
// our writer), so the reader is checked against files a person wrote to the format.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "probe/annotations.h"
#include "probe/probe_set.h"

namespace n2v {
namespace {

const std::string kDir = std::string(NET2VEC_SOURCE_DIR) + "/data/fixtures/broden_cells";

TEST(FixtureCells, IndexAndLabels) {
  const ProbeSet set = ProbeSet::open(kDir);
  ASSERT_EQ(set.categories().size(), 6u);
  EXPECT_EQ(set.categories()[0].name, "color");
  EXPECT_EQ(set.categories()[5].name, "texture");
  EXPECT_EQ(set.categories()[1].last, 300);
  ASSERT_EQ(set.labels().size(), 10u);
  EXPECT_EQ(set.label(21)->category, "material");
  EXPECT_EQ(set.label(300)->category, "object");  // object(2);material(2): first wins
  EXPECT_EQ(set.label(300)->syns, "necktie");
  EXPECT_EQ(set.label(2)->name, "blue-c");

  ASSERT_EQ(set.images().size(), 3u);
  const ProbeImage& kitchen = set.images()[0];
  EXPECT_EQ(kitchen.path, "ade/kitchen_1.png");
  EXPECT_EQ(kitchen.split, Split::kTrain);
  EXPECT_EQ(kitchen.masks[0], std::vector<std::string>{"ade/kitchen_1_color.png"});
  EXPECT_EQ(kitchen.masks[2], (std::vector<std::string>{"ade/kitchen_1_part_1.png",
                                                         "ade/kitchen_1_part_2.png"}));
  EXPECT_EQ(kitchen.image_labels[4], std::vector<int>{5});
  const ProbeImage& dtd = set.images()[1];
  EXPECT_EQ(dtd.split, Split::kVal);
  EXPECT_EQ(dtd.image_labels[5], (std::vector<int>{314, 194}));
  const ProbeImage& quirk = set.images()[2];
  EXPECT_EQ(quirk.line, 4);
  EXPECT_EQ(quirk.masks[1], std::vector<std::string>{"ade/quirk_object.png"});
  EXPECT_EQ(quirk.image_labels[1], std::vector<int>{10});
  EXPECT_TRUE(quirk.image_labels[4].empty());  // scene 0
}

TEST(FixtureCells, ImagesAndMasks) {
  ProbeSet set = ProbeSet::open(kDir);
  const RgbImage image = set.load_image(1);
  ASSERT_EQ(image.pixels.size(), 48u);
  EXPECT_EQ(image.pixels[0], 30);
  EXPECT_EQ(image.pixels[1], 200);

  const ImageAnnotation kitchen = set.load_annotation(0);
  ASSERT_EQ(kitchen.maps.size(), 4u);
  EXPECT_EQ(kitchen.maps[1].labels[0], 300);   // R 44 + 256 * G 1
  EXPECT_EQ(kitchen.maps[1].labels[15], 21);

  const ProbeAnnotations ann = collect_annotations(set, {0, 1, 2}, false);
  EXPECT_EQ(ann.present[0], (std::vector<int>{1, 2, 5, 21, 30, 31, 300}));
  EXPECT_EQ(ann.present[1], (std::vector<int>{1, 194, 314}));
  EXPECT_EQ(ann.present[2], (std::vector<int>{10, 21}));
  // Image 0, label 30 (leg): (0,0) from part_1 and (1,0) from part_2.
  const ConceptMask* leg = nullptr;
  for (const ConceptMask& m : ann.masks) {
    if (m.image == 0 && m.label == 30) leg = &m;
  }
  ASSERT_NE(leg, nullptr);
  std::vector<uint8_t> expected(16, 0);
  expected[0] = expected[4] = 1;
  EXPECT_EQ(unpack_mask(leg->mask, 16), expected);
  EXPECT_EQ(leg->mask.pixels, 2);
  // Image 2's dog is pixel-level from its mask (2x2) and also an image label: one mask.
  int dogs = 0;
  for (const ConceptMask& m : ann.masks) {
    if (m.image == 2 && m.label == 10) {
      ++dogs;
      EXPECT_EQ(m.mask.pixels, 4);
    }
  }
  EXPECT_EQ(dogs, 1);
}

}  // namespace
}  // namespace n2v
