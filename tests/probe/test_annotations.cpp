// collect_annotations (union over layered maps, present lists, skip_bad, uniform size),
// filter_images and the bit packing of masks.

#include "probe/annotations.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::TempDir;
using test::contains;
using test::error_of;
using test::write_file;

// Binary 4x4 mask with ones in [y0, y1) x [x0, x1).
std::vector<uint8_t> rect(int y0, int x0, int y1, int x1) {
  std::vector<uint8_t> out(16, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) out[y * 4 + x] = 1;
  return out;
}

// test::small_broden(): img0 (train) with colour, object, layered part masks and scene 5;
// img1 (val) a car mask and dog as an image label; img2 (train) only scene 5.
class AnnotationsTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_broden(dir_.path(), test::small_broden()); }

  TempDir dir_;
};

TEST_F(AnnotationsTest, MasksUnionAndPresent) {
  ProbeSet set = ProbeSet::open(dir_.path());
  int calls = 0;
  const ProbeAnnotations ann = collect_annotations(set, {0, 1, 2}, false, [&] { ++calls; });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(ann.mask_height, 4);
  EXPECT_EQ(ann.mask_width, 4);
  EXPECT_EQ(ann.rows, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(ann.splits, (std::vector<Split>{Split::kTrain, Split::kVal, Split::kTrain}));

  struct Expected {
    int image, label;
    std::vector<uint8_t> binary;
  };
  const std::vector<Expected> expected = {
      {0, 1, rect(0, 0, 4, 2)},   {0, 2, rect(0, 2, 4, 4)}, {0, 10, rect(0, 0, 2, 2)},
      {0, 30, rect(0, 0, 4, 2)},  // union of part_1 (rows 0-1) and part_2 (rows 1-3)
      {0, 31, rect(0, 3, 1, 4)},  {1, 300, rect(0, 0, 4, 4)}};
  ASSERT_EQ(ann.masks.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ann.masks[i].image, expected[i].image);
    EXPECT_EQ(ann.masks[i].label, expected[i].label);
    EXPECT_EQ(unpack_mask(ann.masks[i].mask, 16), expected[i].binary);
    int ones = 0;
    for (uint8_t v : expected[i].binary) ones += v;
    EXPECT_EQ(ann.masks[i].mask.pixels, ones);
  }
  ASSERT_EQ(ann.present.size(), 3u);
  EXPECT_EQ(ann.present[0], (std::vector<int>{1, 2, 5, 10, 30, 31}));
  EXPECT_EQ(ann.present[1], (std::vector<int>{10, 300}));  // image-level 10 included
  EXPECT_EQ(ann.present[2], std::vector<int>{5});
}

TEST_F(AnnotationsTest, SubsetOfRowsInGivenOrder) {
  ProbeSet set = ProbeSet::open(dir_.path());
  const ProbeAnnotations ann = collect_annotations(set, {2, 1}, false);
  EXPECT_EQ(ann.rows, (std::vector<size_t>{2, 1}));
  ASSERT_EQ(ann.masks.size(), 1u);
  EXPECT_EQ(ann.masks[0].image, 1);  // position in ann.rows, not the ProbeSet row
  EXPECT_EQ(ann.masks[0].label, 300);
  EXPECT_EQ(ann.present[0], std::vector<int>{5});
  error_of([&] { collect_annotations(set, {3}, false); }, ErrorCode::kInvalidArgument);
}

TEST_F(AnnotationsTest, BadMaskThrowsOrIsSkipped) {
  const std::string bad = dir_.path() + "/images/img1_object.png";
  std::filesystem::remove(bad);
  {
    ProbeSet set = ProbeSet::open(dir_.path());
    const std::string msg =
        error_of([&] { collect_annotations(set, {0, 1, 2}, false); }, ErrorCode::kNotFound);
    EXPECT_TRUE(contains(msg, bad)) << msg;
    EXPECT_TRUE(contains(msg, dir_.path() + "/index.csv:3")) << msg;
  }
  ProbeSet set = ProbeSet::open(dir_.path());
  int calls = 0;
  const ProbeAnnotations ann = collect_annotations(set, {0, 1, 2}, true, [&] { ++calls; });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(ann.rows, (std::vector<size_t>{0, 2}));
  ASSERT_EQ(ann.present.size(), 2u);
  EXPECT_EQ(ann.present[1], std::vector<int>{5});
  for (const ConceptMask& m : ann.masks) EXPECT_EQ(m.image, 0);
  ASSERT_EQ(set.skipped().size(), 1u);
  EXPECT_EQ(set.skipped()[0].file, bad);
  EXPECT_EQ(set.skipped()[0].line, 3);
  EXPECT_TRUE(contains(set.skipped()[0].reason, "not found")) << set.skipped()[0].reason;
}

TEST_F(AnnotationsTest, MasksOfDifferentSizesAreRefused) {
  // Restate img2 (line 4) with 3x3 masks: it has none, but its image-level target would be
  // 3x3 while the others are 4x4.
  const std::string index = dir_.path() + "/index.csv";
  std::ifstream in(index);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t pos = text.find("img2.png,train,4,4,4,4");
  ASSERT_NE(pos, std::string::npos) << text;
  text.replace(pos, 22, "img2.png,train,4,4,3,3");
  std::ofstream(index, std::ios::trunc) << text;
  ProbeSet set = ProbeSet::open(dir_.path());
  const std::string msg =
      error_of([&] { collect_annotations(set, {0, 1, 2}, true); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(msg, index + ":4")) << msg;
  EXPECT_TRUE(contains(msg, "3x3")) << msg;
  EXPECT_NO_THROW(collect_annotations(set, {2}, false));
}

TEST_F(AnnotationsTest, FilterImagesRenumbers) {
  ProbeSet set = ProbeSet::open(dir_.path());
  ProbeAnnotations ann = collect_annotations(set, {0, 1, 2}, false);
  ProbeAnnotations dropped_first = ann;
  filter_images(dropped_first, {false, true, true});
  EXPECT_EQ(dropped_first.rows, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(dropped_first.splits, (std::vector<Split>{Split::kVal, Split::kTrain}));
  ASSERT_EQ(dropped_first.masks.size(), 1u);
  EXPECT_EQ(dropped_first.masks[0].image, 0);
  EXPECT_EQ(dropped_first.masks[0].label, 300);
  EXPECT_EQ(dropped_first.present, (std::vector<std::vector<int>>{{10, 300}, {5}}));

  ProbeAnnotations dropped_middle = ann;
  filter_images(dropped_middle, {true, false, true});
  EXPECT_EQ(dropped_middle.rows, (std::vector<size_t>{0, 2}));
  ASSERT_EQ(dropped_middle.masks.size(), 5u);
  for (const ConceptMask& m : dropped_middle.masks) EXPECT_EQ(m.image, 0);
  EXPECT_EQ(dropped_middle.present,
            (std::vector<std::vector<int>>{{1, 2, 5, 10, 30, 31}, {5}}));
  EXPECT_EQ(dropped_middle.mask_height, 4);

  ProbeAnnotations kept_all = ann;
  filter_images(kept_all, {true, true, true});
  EXPECT_EQ(kept_all.rows, ann.rows);
  EXPECT_EQ(kept_all.present, ann.present);
  EXPECT_EQ(kept_all.masks.size(), ann.masks.size());

  error_of([&] { filter_images(ann, {true, true}); }, ErrorCode::kInvalidArgument);
}

TEST(PackMask, BitLayoutAndRoundTrip) {
  std::vector<uint8_t> binary(13, 0);
  binary[0] = 1;
  binary[7] = 1;
  binary[9] = 1;
  binary[12] = 1;
  const PackedMask packed = pack_mask(binary);
  EXPECT_EQ(packed.pixels, 4);
  ASSERT_EQ(packed.bytes.size(), 2u);
  EXPECT_EQ(packed.bytes[0], 0x81);  // pixels 0 and 7
  EXPECT_EQ(packed.bytes[1], 0x12);  // pixels 9 and 12: bits 1 and 4
  EXPECT_EQ(unpack_mask(packed, 13), binary);

  // Nonzero means set; a larger pseudo-random pattern round-trips.
  std::vector<uint8_t> big(113 * 113);
  unsigned state = 12345;
  for (auto& v : big) {
    state = state * 1103515245u + 12345u;
    v = (state >> 16) % 3;  // 0, 1 or 2
  }
  const PackedMask packed_big = pack_mask(big);
  EXPECT_EQ(packed_big.bytes.size(), (113u * 113u + 7) / 8);
  const std::vector<uint8_t> back = unpack_mask(packed_big, 113 * 113);
  int ones = 0;
  for (size_t i = 0; i < big.size(); ++i) {
    ASSERT_EQ(back[i], big[i] ? 1 : 0) << i;
    ones += back[i];
  }
  EXPECT_EQ(packed_big.pixels, ones);

  EXPECT_TRUE(pack_mask({}).bytes.empty());
  error_of([&] { unpack_mask(packed, 17); }, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace n2v
