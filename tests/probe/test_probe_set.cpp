// ProbeSet::open on hand-written CSV files: every cell form of index.csv, label.csv and
// category.csv parsing, and the errors (code, file, line) of malformed rows.

#include "probe/probe_set.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::TempDir;
using test::contains;
using test::error_of;
using test::write_file;

const char* kLabels =
    "number,name,category,frequency,coverage,syns\n"
    "1,red-c,color(10),10,1.5,\n"
    "2,blue-c,color(5),5,0.5,\n"
    "5,kitchen,scene(3),3,0,\n"
    "10,dog,object(7);part(2),7,0.25,puppy;hound\n"
    "21,fabric,material(36);object(3),39,4.225474,cloth\n"
    "30,leg,part(4),4,0.1,\n"
    "300,tie,object(2);material(2),2,0.1,\n"
    "314,striped,texture(1),1,0,\n"
    "194,dotted,texture(1),1,0,\n";

class ProbeSetTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    write_file(dir_.file(name), text);
  }
  // An index.csv with the fixed header (no category but scene) and these rows.
  void write_index(const std::vector<std::string>& rows) {
    std::string text = "image,split,ih,iw,sh,sw,scene\n";
    for (const auto& row : rows) text += row + "\n";
    write("index.csv", text);
  }
  std::string index_path() const { return dir_.file("index.csv"); }
  TempDir dir_;
};

TEST_F(ProbeSetTest, EveryCellForm) {
  write("label.csv", kLabels);
  // Columns out of order (split before image), a trailing comma in header and rows, an
  // extra category column, CRLF line endings.
  write("index.csv",
        "split,image,ih,iw,sh,sw,color,object,part,material,scene,texture,extra,\r\n"
        "train,a.png,8,6,4,5,,a_object.png,a_part_1.png;a_part_2.png,,5,314;194,,\r\n"
        "val,sub/b.jpg,9,7,4,5,b_color.png,b_object.png;10,,21,0,,x_extra.png,\r\n");
  const ProbeSet set = ProbeSet::open(dir_.path());
  ASSERT_EQ(set.categories().size(), 7u);
  const std::vector<std::string> names = {"color", "object", "part",  "material",
                                          "scene", "texture", "extra"};
  for (size_t c = 0; c < names.size(); ++c) EXPECT_EQ(set.categories()[c].name, names[c]);
  ASSERT_EQ(set.images().size(), 2u);

  const ProbeImage& a = set.images()[0];
  EXPECT_EQ(a.path, "a.png");
  EXPECT_EQ(a.split, Split::kTrain);
  EXPECT_EQ(a.line, 2);
  EXPECT_EQ(a.ih, 8);
  EXPECT_EQ(a.iw, 6);
  EXPECT_EQ(a.sh, 4);
  EXPECT_EQ(a.sw, 5);
  ASSERT_EQ(a.masks.size(), 7u);
  ASSERT_EQ(a.image_labels.size(), 7u);
  EXPECT_TRUE(a.masks[0].empty());  // empty cell
  EXPECT_EQ(a.masks[1], std::vector<std::string>{"a_object.png"});
  EXPECT_EQ(a.masks[2], (std::vector<std::string>{"a_part_1.png", "a_part_2.png"}));
  EXPECT_TRUE(a.masks[3].empty());
  EXPECT_EQ(a.image_labels[4], std::vector<int>{5});
  EXPECT_EQ(a.image_labels[5], (std::vector<int>{314, 194}));  // order kept: dominant first
  EXPECT_TRUE(a.masks[6].empty());
  EXPECT_TRUE(a.image_labels[6].empty());

  const ProbeImage& b = set.images()[1];
  EXPECT_EQ(b.path, "sub/b.jpg");
  EXPECT_EQ(b.split, Split::kVal);
  EXPECT_EQ(b.line, 3);
  EXPECT_EQ(b.masks[0], std::vector<std::string>{"b_color.png"});
  EXPECT_EQ(b.masks[1], std::vector<std::string>{"b_object.png"});  // mixed cell
  EXPECT_EQ(b.image_labels[1], std::vector<int>{10});
  EXPECT_EQ(b.image_labels[3], std::vector<int>{21});
  EXPECT_TRUE(b.image_labels[4].empty());  // scene = 0: BRODEN's quirk, no label
  EXPECT_EQ(b.masks[6], std::vector<std::string>{"x_extra.png"});
  EXPECT_TRUE(set.skipped().empty());
}

TEST_F(ProbeSetTest, LabelCsvParsing) {
  write("label.csv",
        std::string(kLabels) + "40,\"cat\",object(1),1,0,\"feline,kitty\"\r\n"  // quoted fields
                               "41,bare,material,0,,\n");
  write_index({"a.png,train,4,4,4,4,"});
  const ProbeSet set = ProbeSet::open(dir_.path());
  ASSERT_EQ(set.labels().size(), 11u);
  // Ordered by number whatever the file order (194 was written after 314).
  for (size_t i = 1; i < set.labels().size(); ++i) {
    EXPECT_LT(set.labels()[i - 1].number, set.labels()[i].number);
  }
  const Label* fabric = set.label(21);
  ASSERT_NE(fabric, nullptr);
  EXPECT_EQ(fabric->name, "fabric");
  EXPECT_EQ(fabric->category, "material");
  ASSERT_EQ(fabric->category_counts.size(), 2u);
  EXPECT_EQ(fabric->category_counts[0], (std::pair<std::string, int>{"material", 36}));
  EXPECT_EQ(fabric->category_counts[1], (std::pair<std::string, int>{"object", 3}));
  EXPECT_EQ(fabric->frequency, 39);
  EXPECT_DOUBLE_EQ(fabric->coverage, 4.225474);
  EXPECT_EQ(fabric->syns, "cloth");
  EXPECT_EQ(set.label(2)->name, "blue-c");  // colour suffix kept
  EXPECT_EQ(set.label(2)->category, "color");
  EXPECT_EQ(set.label(10)->category, "object");  // object(7) beats part(2)
  EXPECT_EQ(set.label(10)->syns, "puppy;hound");
  EXPECT_EQ(set.label(300)->category, "object");  // tie: first listed wins
  EXPECT_EQ(set.label(40)->name, "cat");
  EXPECT_EQ(set.label(40)->syns, "feline,kitty");
  EXPECT_EQ(set.label(41)->category, "material");  // no count: still a category
  EXPECT_EQ(set.label(41)->coverage, 0.0);
  EXPECT_EQ(set.label(0), nullptr);
  EXPECT_EQ(set.label(3), nullptr);
  EXPECT_EQ(set.label(999), nullptr);
  EXPECT_EQ(set.label(-1), nullptr);
}

TEST_F(ProbeSetTest, CategoryCsvFiguresAndCodeFiles) {
  write("label.csv", kLabels);
  write("index.csv", "image,split,ih,iw,sh,sw,color,object,scene\na.png,train,4,4,4,4,,,5\n");
  write("category.csv",
        "name,first,last,count,frequency\n"
        "object,12,1138,529,208688\n"
        "scene,,,2,76\n"
        "unused,1,2,3,4\n");
  write("c_object.csv", "code,number,name,frequency,coverage\n1,10,dog,7,0.25\n");
  const ProbeSet set = ProbeSet::open(dir_.path() + "/");
  EXPECT_EQ(set.dir(), dir_.path());
  ASSERT_EQ(set.categories().size(), 3u);
  const Category& color = set.categories()[0];
  EXPECT_EQ(color.name, "color");  // absent from category.csv: zeros
  EXPECT_EQ(color.count, 0);
  const Category& object = set.categories()[1];
  EXPECT_EQ(object.name, "object");
  EXPECT_EQ(object.first, 12);
  EXPECT_EQ(object.last, 1138);
  EXPECT_EQ(object.count, 529);
  EXPECT_EQ(object.frequency, 208688);
  const Category& scene = set.categories()[2];
  EXPECT_EQ(scene.first, 0);  // empty first/last, as in BRODEN's docs
  EXPECT_EQ(scene.count, 2);
  EXPECT_EQ(scene.frequency, 76);
}

TEST_F(ProbeSetTest, UnreadableCodeFileIsAnError) {
  write("label.csv", kLabels);
  write_index({"a.png,train,4,4,4,4,5"});
  std::filesystem::create_directories(dir_.file("c_scene.csv"));  // a directory, not a file
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kIo);
  EXPECT_TRUE(contains(msg, dir_.file("c_scene.csv"))) << msg;
}

TEST_F(ProbeSetTest, LineEndingsBlankLinesAndTrailingCommaMismatch) {
  write("label.csv", kLabels);
  // Header with a trailing comma, a row without one; a blank line; no final newline.
  write("index.csv",
        "image,split,ih,iw,sh,sw,scene,\n"
        "a.png,train,4,4,4,4,5\n"
        "\n"
        "b.png,val,4,4,4,4,,\n"
        "c.png,val,4,4,4,4,5");
  const ProbeSet set = ProbeSet::open(dir_.path());
  ASSERT_EQ(set.images().size(), 3u);
  EXPECT_EQ(set.images()[0].image_labels[0], std::vector<int>{5});
  EXPECT_EQ(set.images()[1].line, 4);
  EXPECT_TRUE(set.images()[1].image_labels[0].empty());
  EXPECT_EQ(set.images()[2].path, "c.png");
  EXPECT_EQ(set.images()[2].line, 5);

  // Header without a trailing comma, a row with a stray one.
  write("index.csv", "image,split,ih,iw,sh,sw,scene\r\na.png,train,4,4,4,4,5,\r\n");
  const ProbeSet again = ProbeSet::open(dir_.path());
  ASSERT_EQ(again.images().size(), 1u);
  EXPECT_EQ(again.images()[0].image_labels[0], std::vector<int>{5});

  // A UTF-8 byte order mark (spreadsheets write one) before the header: the first column is
  // still "image", not "\xEF\xBB\xBFimage".
  write("index.csv", "\xEF\xBB\xBFimage,split,ih,iw,sh,sw,scene\r\na.png,train,4,4,4,4,5\r\n");
  const ProbeSet bom = ProbeSet::open(dir_.path());
  ASSERT_EQ(bom.images().size(), 1u);
  EXPECT_EQ(bom.images()[0].path, "a.png");
}

TEST_F(ProbeSetTest, MaxImagesKeepsTheFirstValidRows) {
  write("label.csv", kLabels);
  write_index({"a.png,bogus,4,4,4,4,", "b.png,train,4,4,4,4,", "c.png,val,4,4,4,4,",
               "d.png,val,4,4,4,4,"});
  ProbeOptions options;
  options.skip_bad = true;
  options.max_images = 2;
  const ProbeSet set = ProbeSet::open(dir_.path(), options);
  ASSERT_EQ(set.images().size(), 2u);
  EXPECT_EQ(set.images()[0].path, "b.png");
  EXPECT_EQ(set.images()[1].path, "c.png");
  EXPECT_EQ(set.skipped().size(), 1u);
  options.max_images = -1;
  error_of([&] { ProbeSet::open(dir_.path(), options); }, ErrorCode::kInvalidArgument);
}

// --- errors: code, file and line -------------------------------------------------------

TEST_F(ProbeSetTest, MissingIndex) {
  write("label.csv", kLabels);
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, index_path())) << msg;
}

TEST_F(ProbeSetTest, MissingDirectory) {
  const std::string missing = dir_.file("nope");
  const std::string msg = error_of([&] { ProbeSet::open(missing); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, missing)) << msg;
}

TEST_F(ProbeSetTest, MissingLabelCsv) {
  write_index({"a.png,train,4,4,4,4,"});
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(msg, dir_.file("label.csv"))) << msg;
}

TEST_F(ProbeSetTest, HeaderLacksARequiredColumn) {
  write("label.csv", kLabels);
  write("index.csv", "image,split,ih,iw,sh,scene\na.png,train,4,4,4,\n");
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, index_path() + ":1")) << msg;
  EXPECT_TRUE(contains(msg, "'sw'")) << msg;
}

TEST_F(ProbeSetTest, EmptyIndexFile) {
  write("label.csv", kLabels);
  write("index.csv", "\r\n");
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, index_path())) << msg;
}

struct BadRow {
  const char* row;
  const char* expect;  // a part of the reason
};

class BadIndexRow : public ProbeSetTest, public ::testing::WithParamInterface<BadRow> {};

TEST_P(BadIndexRow, ThrowsNamingFileAndLine) {
  write("label.csv", kLabels);
  write_index({"good.png,train,4,4,4,4,5", GetParam().row, "also_good.png,val,4,4,4,4,"});
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, index_path() + ":3: ")) << msg;
  EXPECT_TRUE(contains(msg, GetParam().expect)) << msg;
}

TEST_P(BadIndexRow, SkipBadSkipsOnlyThatRow) {
  write("label.csv", kLabels);
  write_index({"good.png,train,4,4,4,4,5", GetParam().row, "also_good.png,val,4,4,4,4,"});
  ProbeOptions options;
  options.skip_bad = true;
  const ProbeSet set = ProbeSet::open(dir_.path(), options);
  ASSERT_EQ(set.images().size(), 2u);
  EXPECT_EQ(set.images()[0].path, "good.png");
  EXPECT_EQ(set.images()[1].path, "also_good.png");
  EXPECT_EQ(set.images()[1].line, 4);
  ASSERT_EQ(set.skipped().size(), 1u);
  EXPECT_EQ(set.skipped()[0].file, index_path());
  EXPECT_EQ(set.skipped()[0].line, 3);
  EXPECT_TRUE(contains(set.skipped()[0].reason, GetParam().expect)) << set.skipped()[0].reason;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, BadIndexRow,
    ::testing::Values(BadRow{"bad.png,train,4,4,4,4,5,extra,cells",
                             "row has 9 columns, header has 7"},
                      BadRow{"bad.png,train,4,4,4", "row has 5 columns, header has 7"},
                      BadRow{"bad.png,test,4,4,4,4,", "split 'test'"},
                      BadRow{"bad.png,train,4x,4,4,4,", "ih '4x'"},
                      BadRow{"bad.png,train,4,4,0,4,", "sh '0'"},
                      BadRow{"bad.png,train,4,4,4,-3,", "sw '-3'"},
                      BadRow{",train,4,4,4,4,", "empty image path"},
                      BadRow{"bad.png,train,4,4,4,4,5;999", "unknown label number 999"},
                      BadRow{"bad.png,train,4,4,4,4,99999999999999999999",
                             "unknown label number 99999999999999999999"}));

TEST_F(ProbeSetTest, SkipBadCountsEveryBadRow) {
  write("label.csv", kLabels);
  write_index({"a.png,train,4,4,4,4,5", "b.png,train,4,4,4,4,5,x", "c.png,nope,4,4,4,4,",
               "d.png,val,4,4,4,4,", "e.png,val,4,4,4,4,7"});
  ProbeOptions options;
  options.skip_bad = true;
  const ProbeSet set = ProbeSet::open(dir_.path(), options);
  ASSERT_EQ(set.images().size(), 2u);
  EXPECT_EQ(set.images()[0].line, 2);
  EXPECT_EQ(set.images()[1].line, 5);
  ASSERT_EQ(set.skipped().size(), 3u);
  EXPECT_EQ(set.skipped()[0].line, 3);
  EXPECT_EQ(set.skipped()[1].line, 4);
  EXPECT_EQ(set.skipped()[2].line, 6);
  EXPECT_TRUE(contains(set.skipped()[2].reason, "7")) << set.skipped()[2].reason;
}

TEST_F(ProbeSetTest, NoUsableRows) {
  write("label.csv", kLabels);
  write_index({});
  std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(msg, index_path())) << msg;
  EXPECT_TRUE(contains(msg, "no usable images")) << msg;

  write_index({"a.png,bogus,4,4,4,4,"});
  ProbeOptions options;
  options.skip_bad = true;
  msg = error_of([&] { ProbeSet::open(dir_.path(), options); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(msg, "no usable images")) << msg;
}

struct BadLabel {
  const char* row;
  const char* expect;
};

class BadLabelRow : public ProbeSetTest, public ::testing::WithParamInterface<BadLabel> {};

TEST_P(BadLabelRow, ThrowsNamingLabelCsvAndLine) {
  write("label.csv", std::string("number,name,category,frequency,coverage,syns\n"
                                 "1,red-c,color(1),1,0,\n") +
                         GetParam().row + "\n");
  write_index({"a.png,train,4,4,4,4,"});
  ProbeOptions options;
  options.skip_bad = true;  // label.csv is not row-skippable: the whole set depends on it
  const std::string msg =
      error_of([&] { ProbeSet::open(dir_.path(), options); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, dir_.file("label.csv") + ":3: ")) << msg;
  EXPECT_TRUE(contains(msg, GetParam().expect)) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, BadLabelRow,
    ::testing::Values(BadLabel{"x,dog,object(1),1,0,", "label number 'x'"},
                      BadLabel{"0,dog,object(1),1,0,", "label number '0'"},
                      BadLabel{"1,dog,object(1),1,0,", "already defined on line 2"},
                      BadLabel{"2,dog,object(x),1,0,", "malformed category 'object(x)'"},
                      BadLabel{"2,dog,,1,0,", "no category"},
                      BadLabel{"2,,object(1),1,0,", "empty name"},
                      BadLabel{"2,dog,object(1),many,0,", "frequency 'many'"},
                      BadLabel{"2,dog,object(1),1,lots,", "coverage 'lots'"},
                      BadLabel{"2,dog,object(1),1,0,,,", "row has 8 columns, header has 6"},
                      BadLabel{"2,\"dog,object(1),1,0,", "unterminated quoted field"}));

TEST_F(ProbeSetTest, BadCategoryCsv) {
  write("label.csv", kLabels);
  write_index({"a.png,train,4,4,4,4,"});
  write("category.csv", "name,first,last,count,frequency\nscene,1,2,three,4\n");
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, dir_.file("category.csv") + ":2: ")) << msg;
}

TEST_F(ProbeSetTest, DuplicateHeaderColumn) {
  write("label.csv", kLabels);
  write("index.csv", "image,split,ih,iw,sh,sw,scene,scene\na.png,train,4,4,4,4,,\n");
  const std::string msg = error_of([&] { ProbeSet::open(dir_.path()); }, ErrorCode::kCorrupt);
  EXPECT_TRUE(contains(msg, index_path() + ":1: duplicate column 'scene'")) << msg;
}

TEST(SplitTest, ToString) {
  EXPECT_STREQ(to_string(Split::kTrain), "train");
  EXPECT_STREQ(to_string(Split::kVal), "val");
}

}  // namespace
}  // namespace n2v
