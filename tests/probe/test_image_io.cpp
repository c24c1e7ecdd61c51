// Image and mask files: encoding of label numbers, decoding of JPEG / PNG / grey / RGBA,
// and ProbeSet::load_image / load_annotation with their errors.

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "probe/probe_set.h"
#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::TempDir;
using test::contains;
using test::error_of;
using test::write_file;

TEST(LabelPng, RoundTripsLabelsAbove255) {
  TempDir dir;
  LabelMap map = test::empty_map(3, 5);
  map.labels = {0, 1, 255, 256, 300, 511, 1197, 65535, 2, 3, 4, 5, 6, 7, 300};
  const std::string path = dir.file("m.png");
  write_label_png(path, map);
  const LabelMap back = read_label_png(path);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.labels, map.labels);

  // The stored bytes follow BRODEN: R = label % 256, G = label / 256, B = 0.
  int w = 0, h = 0, n = 0;
  stbi_uc* raw = stbi_load(path.c_str(), &w, &h, &n, 3);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(raw[4 * 3 + 0], 44);  // 300 = 44 + 256 * 1
  EXPECT_EQ(raw[4 * 3 + 1], 1);
  EXPECT_EQ(raw[4 * 3 + 2], 0);
  stbi_image_free(raw);
}

TEST(LabelPng, RejectsLabelsThatDoNotFit) {
  TempDir dir;
  LabelMap map = test::empty_map(2, 2);
  map.labels[3] = 65536;
  std::string msg =
      error_of([&] { write_label_png(dir.file("m.png"), map); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(msg, "65536")) << msg;
  map.labels.pop_back();  // size no longer h * w
  error_of([&] { write_label_png(dir.file("m.png"), map); }, ErrorCode::kInvalidArgument);
}

TEST(LabelPng, GreyMaskReadsTheGreyValue) {
  TempDir dir;
  const std::vector<uint8_t> grey = {0, 7, 200, 255};
  const std::string path = dir.file("grey.png");
  ASSERT_TRUE(stbi_write_png(path.c_str(), 2, 2, 1, grey.data(), 2));
  const LabelMap map = read_label_png(path);
  EXPECT_EQ(map.labels, (std::vector<int32_t>{0, 7, 200, 255}));
}

TEST(LabelPng, RgbaMaskIgnoresAlpha) {
  TempDir dir;
  const std::vector<uint8_t> rgba = {44, 1, 0, 255, 5, 0, 0, 0};
  const std::string path = dir.file("rgba.png");
  ASSERT_TRUE(stbi_write_png(path.c_str(), 2, 1, 4, rgba.data(), 8));
  EXPECT_EQ(read_label_png(path).labels, (std::vector<int32_t>{300, 5}));
}

TEST(LabelPng, Refuses16BitPng) {
  // Signature + IHDR (2x2, 16-bit RGB) is all stb reads to tell the depth.
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\x0d", 4) + "IHDR" + std::string("\0\0\0\x02\0\0\0\x02", 8) +
         std::string("\x10\x02\0\0\0", 5) + std::string(4, '\0');
  TempDir dir;
  write_file(dir.file("deep.png"), png);
  const std::string msg =
      error_of([&] { read_label_png(dir.file("deep.png")); }, ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(msg, dir.file("deep.png"))) << msg;
}

TEST(ImageFile, ReadsPngGreyRgbaAndJpeg) {
  TempDir dir;
  RgbImage image = test::solid_image(4, 6, 10, 20, 30);
  test::fill_rect(image, 1, 2, 3, 5, 200, 100, 50);
  write_rgb_png(dir.file("a.png"), image);
  const RgbImage back = read_image_file(dir.file("a.png"));
  EXPECT_EQ(back.height, 4);
  EXPECT_EQ(back.width, 6);
  EXPECT_EQ(back.pixels, image.pixels);

  const std::vector<uint8_t> grey = {9, 99};
  ASSERT_TRUE(stbi_write_png(dir.file("g.png").c_str(), 2, 1, 1, grey.data(), 2));
  EXPECT_EQ(read_image_file(dir.file("g.png")).pixels,
            (std::vector<uint8_t>{9, 9, 9, 99, 99, 99}));

  const std::vector<uint8_t> rgba = {1, 2, 3, 0, 4, 5, 6, 255};
  ASSERT_TRUE(stbi_write_png(dir.file("rgba.png").c_str(), 2, 1, 4, rgba.data(), 8));
  EXPECT_EQ(read_image_file(dir.file("rgba.png")).pixels,
            (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));

  const RgbImage flat = test::solid_image(16, 16, 200, 40, 90);
  ASSERT_TRUE(stbi_write_jpg(dir.file("j.jpg").c_str(), 16, 16, 3, flat.pixels.data(), 100));
  const RgbImage jpeg = read_image_file(dir.file("j.jpg"));
  ASSERT_EQ(jpeg.height, 16);
  ASSERT_EQ(jpeg.width, 16);
  for (size_t i = 0; i < jpeg.pixels.size(); ++i) {
    ASSERT_NEAR(jpeg.pixels[i], flat.pixels[i], 4) << i;  // lossy, but flat colour is close
  }
}

TEST(ImageFile, Errors) {
  TempDir dir;
  std::string msg = error_of([&] { read_image_file(dir.file("none.png")); },
                             ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, dir.file("none.png"))) << msg;
  write_file(dir.file("junk.png"), "this is not an image at all");
  msg = error_of([&] { read_image_file(dir.file("junk.png")); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, dir.file("junk.png"))) << msg;
  write_file(dir.file("empty.png"), "");
  error_of([&] { read_image_file(dir.file("empty.png")); }, ErrorCode::kCorrupt);
  RgbImage bad = test::solid_image(2, 2, 0, 0, 0);
  bad.pixels.pop_back();
  error_of([&] { write_rgb_png(dir.file("bad.png"), bad); }, ErrorCode::kInvalidArgument);
  error_of([&] { write_rgb_png(dir.file("no/such/dir/x.png"), test::solid_image(2, 2, 0, 0, 0)); },
           ErrorCode::kIo);
}

// --- ProbeSet::load_image and load_annotation ------------------------------------------

// test::small_broden(): row 2 img0 (8x8, colour, object, two part layers, scene 5), row 3
// img1 (6x6, an object mask, dog as an image label), row 4 img2 (no masks).
class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_ = test::small_broden();
    test::write_broden(dir_.path(), fixture_);
  }
  std::string images(const std::string& name) const { return dir_.path() + "/images/" + name; }
  std::string row(int line) const { return dir_.path() + "/index.csv:" + std::to_string(line); }

  TempDir dir_;
  test::BrodenFixture fixture_;
};

TEST_F(LoadTest, LoadsImagesAndAnnotations) {
  const ProbeSet set = ProbeSet::open(dir_.path());
  ASSERT_EQ(set.images().size(), 3u);
  const RgbImage image = set.load_image(0);
  EXPECT_EQ(image.height, 8);
  EXPECT_EQ(image.pixels, fixture_.images[0].image.pixels);
  EXPECT_EQ(set.load_image(1).pixels, fixture_.images[1].image.pixels);

  const ImageAnnotation a = set.load_annotation(0);
  ASSERT_EQ(a.maps.size(), 4u);  // color, object, part_1, part_2 in category order
  EXPECT_EQ(a.maps[0].labels, fixture_.images[0].masks[0][0].labels);
  EXPECT_EQ(a.maps[1].labels, fixture_.images[0].masks[1][0].labels);
  EXPECT_EQ(a.maps[2].labels, fixture_.images[0].masks[2][0].labels);
  EXPECT_EQ(a.maps[3].labels, fixture_.images[0].masks[2][1].labels);
  EXPECT_EQ(a.image_labels, std::vector<int>{5});
  const ImageAnnotation b = set.load_annotation(1);
  ASSERT_EQ(b.maps.size(), 1u);
  EXPECT_EQ(b.maps[0].labels[15], 300);
  EXPECT_EQ(b.image_labels, std::vector<int>{10});
  error_of([&] { set.load_image(3); }, ErrorCode::kInvalidArgument);
  error_of([&] { set.load_annotation(3); }, ErrorCode::kInvalidArgument);
}

TEST_F(LoadTest, ImageSizeIsNotChecked) {
  // Real BRODEN states ih x iw that sometimes differ slightly from the file.
  write_rgb_png(images("img1.png"), test::solid_image(5, 7, 1, 2, 3));
  const ProbeSet set = ProbeSet::open(dir_.path());
  EXPECT_EQ(set.images()[1].ih, 6);
  const RgbImage image = set.load_image(1);
  EXPECT_EQ(image.height, 5);
  EXPECT_EQ(image.width, 7);
}

TEST_F(LoadTest, MissingImage) {
  std::filesystem::remove(images("img1.png"));
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_image(1); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, images("img1.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(3))) << msg;
}

TEST_F(LoadTest, CorruptImage) {
  write_file(images("img0.png"), "\x89PNG garbage bytes, not a real image");
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_image(0); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, images("img0.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(2))) << msg;
  EXPECT_TRUE(contains(msg, "cannot decode image (")) << msg;  // stb's reason follows
}

TEST_F(LoadTest, MissingMask) {
  std::filesystem::remove(images("img0_part_2.png"));
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_annotation(0); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, images("img0_part_2.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(2))) << msg;
}

TEST_F(LoadTest, CorruptMask) {
  write_file(images("img1_object.png"), "garbage");
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_annotation(1); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, images("img1_object.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(3))) << msg;
}

TEST_F(LoadTest, MaskOfTheWrongSize) {
  write_label_png(images("img0_color.png"), test::empty_map(3, 4));
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_annotation(0); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, images("img0_color.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(2))) << msg;
  EXPECT_TRUE(contains(msg, "mask is 3x4, expected 4x4")) << msg;
}

TEST_F(LoadTest, UnknownLabelInMask) {
  LabelMap map = test::empty_map(4, 4);
  map.labels[6] = 777;  // y = 1, x = 2
  write_label_png(images("img1_object.png"), map);
  const ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg = error_of([&] { set.load_annotation(1); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, images("img1_object.png"))) << msg;
  EXPECT_TRUE(contains(msg, row(3))) << msg;
  EXPECT_TRUE(contains(msg, "unknown label number 777 at pixel (y=1, x=2)")) << msg;
  // The other image still loads.
  EXPECT_EQ(set.load_annotation(0).maps.size(), 4u);
}

}  // namespace
}  // namespace n2v
