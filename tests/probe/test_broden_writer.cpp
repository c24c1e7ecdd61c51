// The BRODEN writer used by every stage's tests: exact file contents, and a round trip
// through ProbeSet.

#include "support/broden_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "probe/annotations.h"
#include "probe/probe_set.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

test::BrodenFixture make_fixture() {
  test::BrodenFixture f;
  f.categories = {"color", "object", "part", "texture"};
  f.labels = {{2, "blue-c", "color", ""},
              {1, "red-c", "color", ""},
              {21, "fabric", "material", "material(36);object(3)"},
              {10, "dog", "object", ""},
              {30, "leg", "part", ""},
              {314, "striped", "texture", ""},
              {194, "dotted", "texture", ""}};
  f.mask_height = 2;
  f.mask_width = 3;
  test::FixtureImage a;
  a.name = "img_a";
  a.image = test::solid_image(4, 6, 9, 8, 7);
  LabelMap color = test::empty_map(2, 3);
  test::fill_rect(color, 0, 0, 2, 3, 1);
  LabelMap object = test::empty_map(2, 3);
  test::fill_rect(object, 0, 0, 1, 1, 21);
  LabelMap leg1 = test::empty_map(2, 3), leg2 = test::empty_map(2, 3);
  leg1.labels[0] = 30;
  leg2.labels[5] = 30;
  a.masks = {{color}, {object}, {leg1, leg2}};
  a.image_labels = {{}, {10}, {}, {314, 194}};
  test::FixtureImage b;
  b.name = "sub/img_b";
  b.split = "val";
  b.image = test::solid_image(3, 3, 0, 0, 0);
  LabelMap blue = test::empty_map(2, 3);
  test::fill_rect(blue, 1, 0, 2, 3, 2);
  b.masks = {{blue}};
  b.image_labels = {{}, {}, {}, {314}};
  test::FixtureImage c;  // no pixels: no image file is written
  c.name = "img_c";
  f.images = {a, b, c};
  return f;
}

TEST(BrodenWriter, WritesTheExactFiles) {
  TempDir dir;
  write_broden(dir.path(), make_fixture());
  EXPECT_EQ(read_text(dir.file("index.csv")),
            "image,split,ih,iw,sh,sw,color,object,part,texture\n"
            "img_a.png,train,4,6,2,3,img_a_color.png,img_a_object.png;10,"
            "img_a_part_1.png;img_a_part_2.png,314;194\n"
            "sub/img_b.png,val,3,3,2,3,sub/img_b_color.png,,,314\n"
            "img_c.png,train,2,3,2,3,,,,\n");
  EXPECT_EQ(read_text(dir.file("label.csv")),
            "number,name,category,frequency,coverage,syns\n"
            "2,blue-c,color(1),1,0,\n"
            "1,red-c,color(1),1,0,\n"
            "21,fabric,material(36);object(3),1,0,\n"
            "10,dog,object(1),1,0,\n"
            "30,leg,part(1),1,0,\n"
            "314,striped,texture(1),2,0,\n"
            "194,dotted,texture(1),1,0,\n");
  EXPECT_EQ(read_text(dir.file("category.csv")),
            "name,first,last,count,frequency\n"
            "color,1,2,2,2\n"
            "object,10,10,1,1\n"
            "part,30,30,1,1\n"
            "texture,194,314,2,2\n");
  EXPECT_EQ(read_text(dir.file("c_color.csv")),
            "code,number,name,frequency,coverage\n"
            "1,1,red-c,1,0\n"
            "2,2,blue-c,1,0\n");
  EXPECT_EQ(read_text(dir.file("c_part.csv")),
            "code,number,name,frequency,coverage\n"
            "1,30,leg,1,0\n");
  EXPECT_TRUE(std::filesystem::exists(dir.file("images/img_a.png")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("images/sub/img_b_color.png")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("images/img_c.png")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("images/img_a_part.png")));
}

TEST(BrodenWriter, RoundTripsThroughTheReader) {
  TempDir dir;
  const test::BrodenFixture fixture = make_fixture();
  write_broden(dir.path(), fixture);
  ProbeSet set = ProbeSet::open(dir.path());
  ASSERT_EQ(set.images().size(), 3u);
  ASSERT_EQ(set.categories().size(), 4u);
  EXPECT_EQ(set.categories()[3].name, "texture");
  EXPECT_EQ(set.categories()[3].first, 194);
  EXPECT_EQ(set.label(21)->category, "material");
  EXPECT_EQ(set.label(1)->category, "color");
  EXPECT_EQ(set.images()[1].split, Split::kVal);
  EXPECT_EQ(set.load_image(0).pixels, fixture.images[0].image.pixels);
  const ImageAnnotation a = set.load_annotation(0);
  ASSERT_EQ(a.maps.size(), 4u);
  EXPECT_EQ(a.maps[3].labels, fixture.images[0].masks[2][1].labels);
  EXPECT_EQ(a.image_labels, (std::vector<int>{10, 314, 194}));

  const ProbeAnnotations ann = collect_annotations(set, {0, 1, 2}, false);
  EXPECT_EQ(ann.mask_height, 2);
  EXPECT_EQ(ann.mask_width, 3);
  EXPECT_EQ(ann.present[0], (std::vector<int>{1, 10, 21, 30, 194, 314}));
  EXPECT_EQ(ann.present[1], (std::vector<int>{2, 314}));
  EXPECT_TRUE(ann.present[2].empty());
}

TEST(BrodenWriter, Helpers) {
  RgbImage image = test::solid_image(2, 3, 1, 2, 3);
  ASSERT_EQ(image.pixels.size(), 18u);
  EXPECT_EQ(image.pixels[15], 1);
  EXPECT_EQ(image.pixels[17], 3);
  test::fill_rect(image, 1, 2, 5, 9, 7, 8, 9);  // clipped to (1, 2) only
  EXPECT_EQ(image.pixels[15], 7);
  EXPECT_EQ(image.pixels[12], 1);
  LabelMap map = test::empty_map(2, 3);
  EXPECT_EQ(map.labels, std::vector<int32_t>(6, 0));
  test::fill_rect(map, -1, 1, 1, 2, 4);
  EXPECT_EQ(map.labels, (std::vector<int32_t>{0, 4, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace n2v
