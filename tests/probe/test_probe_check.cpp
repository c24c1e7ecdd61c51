// The probe check (check_probe_set): a clean set's counts and coverage, and one broken variant
// of test::small_broden() per kind of fault, each found with a message naming the file.

#include "probe/probe_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// test::small_broden(): index.csv lines 2 (img0, train), 3 (img1, val), 4 (img2, train).
class ProbeCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_broden(dir_.path(), test::small_broden()); }

  std::string path(const std::string& name) const { return dir_.file(name); }
  // Replaces the first `from` of a file of the set by `to` (the fault under test).
  void edit(const std::string& name, const std::string& from, const std::string& to) {
    std::string text = read_text(path(name));
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << name << " lacks '" << from << "'";
    text.replace(at, from.size(), to);
    test::write_file(path(name), text);
  }
  ProbeCheckReport check() const {
    ProbeCheckOptions o;
    o.threads = 2;
    return check_probe_set(dir_.path(), o);
  }
  // The report has an error (a warning with `warning`) from `file` whose message holds `piece`.
  static void expect_problem(const ProbeCheckReport& r, const std::string& file, const std::string& piece,
                             bool warning = false) {
    std::string all;
    for (const ProbeProblem& p : r.problems) {
      all += std::string(to_string(p.severity)) + " [" + p.file + "] " + p.message + "\n";
      const bool severity = p.severity == (warning ? ProbeProblem::Severity::kWarning : ProbeProblem::Severity::kError);
      if (severity && p.file == file && contains(p.message, piece)) return;
    }
    ADD_FAILURE() << "no " << (warning ? "warning" : "error") << " from " << file << " with '" << piece
                  << "'; the problems:\n" << all;
  }
  const ProbeConceptCount& concept_of(const ProbeCheckReport& r, const std::string& name) const {
    for (const ProbeConceptCount& c : r.contents.concepts)
      if (c.name == name) return c;
    throw std::runtime_error("no concept " + name);
  }

  test::TempDir dir_;
};

TEST_F(ProbeCheckTest, CleanSetCountsEveryConceptPerSplitWithItsCoverage) {
  const ProbeCheckReport r = check();
  EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0].message);
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.rows, 3);
  EXPECT_EQ(r.rows_ok, 3);
  EXPECT_EQ(r.mask_height, 4);
  EXPECT_EQ(r.mask_width, 4);
  EXPECT_EQ(r.categories, (std::vector<std::string>{"color", "object", "part", "scene"}));
  EXPECT_EQ(r.content_hash, ProbeSet::content_hash(dir_.path()));
  EXPECT_EQ(r.contents.train_images, 2);
  EXPECT_EQ(r.contents.val_images, 1);
  ASSERT_EQ(r.contents.concepts.size(), 7u);
  // red-c: the left half of img0's 4x4 mask; alpha = 1 - 8/16.
  const ProbeConceptCount& red = concept_of(r, "red-c");
  EXPECT_EQ(red.train_images, 1);
  EXPECT_EQ(red.val_images, 0);
  ASSERT_TRUE(red.alpha);
  EXPECT_DOUBLE_EQ(*red.alpha, 0.5);
  // dog: 2x2 pixels on img0 (train), a whole-image label on img1 (val, no pixels).
  const ProbeConceptCount& dog = concept_of(r, "dog");
  EXPECT_EQ(dog.train_images, 1);
  EXPECT_EQ(dog.val_images, 1);
  EXPECT_EQ(dog.train_masked, 1);
  EXPECT_EQ(dog.val_masked, 0);
  EXPECT_DOUBLE_EQ(*dog.alpha, 1.0 - 4.0 / 16);
  // leg: the union of two part layers (rows 0-1 and 1-3 of columns 0-1), counted once.
  EXPECT_DOUBLE_EQ(*concept_of(r, "leg").alpha, 1.0 - 8.0 / 16);
  EXPECT_DOUBLE_EQ(*concept_of(r, "head").alpha, 1.0 - 1.0 / 16);
  // kitchen: whole-image labels only (no coverage); car: val only.
  const ProbeConceptCount& kitchen = concept_of(r, "kitchen");
  EXPECT_EQ(kitchen.train_images, 2);
  EXPECT_FALSE(kitchen.alpha);
  EXPECT_FALSE(concept_of(r, "car").alpha);
  EXPECT_EQ(r.contents.train_rows[3], (std::vector<int>{0}));  // dog, by number order: 1, 2, 5, 10
  EXPECT_EQ(r.contents.val_rows[3], (std::vector<int>{1}));
  // What the set lacks for some concepts is said, as warnings.
  expect_problem(r, "index.csv", "label 300 (car) has no train image", true);
  expect_problem(r, "index.csv", "label 5 (kitchen) has no val image", true);
}

TEST_F(ProbeCheckTest, NoIndexFile) {
  std::filesystem::remove(path("index.csv"));
  const ProbeCheckReport r = check();
  EXPECT_FALSE(r.ok());
  expect_problem(r, "index.csv", "index.csv: file not found");
}

TEST_F(ProbeCheckTest, LabelNumberDefinedTwice) {
  edit("label.csv", "300,car,", "10,car,");
  expect_problem(check(), "label.csv", "label number 10 already defined on line");
}

TEST_F(ProbeCheckTest, RowWithTooManyColumns) {
  edit("index.csv", "img2.png,train,4,4,4,4,,,,5", "img2.png,train,4,4,4,4,,,,5,x,y");
  const ProbeCheckReport r = check();
  expect_problem(r, "index.csv", "index.csv:4: row has 12 columns, header has 10");
  EXPECT_EQ(r.rows, 3);
  EXPECT_EQ(r.rows_ok, 2);
}

TEST_F(ProbeCheckTest, SplitNeitherTrainNorVal) {
  edit("index.csv", "img2.png,train", "img2.png,test");
  expect_problem(check(), "index.csv", "index.csv:4: split 'test' is neither train nor val");
}

TEST_F(ProbeCheckTest, SizeNotAPositiveInteger) {
  edit("index.csv", "img2.png,train,4,4", "img2.png,train,0,4");
  expect_problem(check(), "index.csv", "index.csv:4: ih '0' is not a positive integer");
}

TEST_F(ProbeCheckTest, UnknownWholeImageLabel) {
  edit("index.csv", "img2.png,train,4,4,4,4,,,,5", "img2.png,train,4,4,4,4,,,,99");
  expect_problem(check(), "index.csv", "index.csv:4: unknown label number 99 in column 'scene'");
}

TEST_F(ProbeCheckTest, ImageFileMissing) {
  std::filesystem::remove(path("images/img2.png"));
  const ProbeCheckReport r = check();
  expect_problem(r, "images/img2.png", "img2.png: image file not found (row at ");
  EXPECT_EQ(r.rows_ok, 2);
}

TEST_F(ProbeCheckTest, ImageNotAtTheDeclaredSize) {
  edit("index.csv", "img0.png,train,8,8", "img0.png,train,9,8");
  expect_problem(check(), "images/img0.png", "image is 8x8, index.csv declares 9x8 (ih x iw)");
}

TEST_F(ProbeCheckTest, ImageUndecodable) {
  test::write_file(path("images/img1.png"), "not a png at all");
  expect_problem(check(), "images/img1.png", "img1.png: cannot decode image");
}

TEST_F(ProbeCheckTest, MaskFileMissing) {
  std::filesystem::remove(path("images/img1_object.png"));
  expect_problem(check(), "images/img1_object.png", "img1_object.png: mask file not found");
}

TEST_F(ProbeCheckTest, MaskUndecodable) {
  test::write_file(path("images/img0_color.png"), "\x89PNG garbage");
  expect_problem(check(), "images/img0_color.png", "img0_color.png: cannot decode image");
}

TEST_F(ProbeCheckTest, MaskNotAtTheDeclaredSize) {
  LabelMap small = test::empty_map(3, 3);
  write_label_png(path("images/img1_object.png"), small);
  expect_problem(check(), "images/img1_object.png", "mask is 3x3, index.csv declares 4x4 (sh x sw)");
}

TEST_F(ProbeCheckTest, MaskLabelNotInLabelCsv) {
  LabelMap map = test::empty_map(4, 4);
  test::fill_rect(map, 2, 1, 3, 2, 77);
  write_label_png(path("images/img1_object.png"), map);
  expect_problem(check(), "images/img1_object.png", "label number 77 not in label.csv (first at pixel y=2, x=1)");
}

TEST_F(ProbeCheckTest, NoValSplit) {
  edit("index.csv", "img1.png,val", "img1.png,train");
  expect_problem(check(), "index.csv", "index.csv: no usable val images");
}

TEST_F(ProbeCheckTest, MaskSizeChangesBetweenRows) {
  edit("index.csv", "img1.png,val,6,6,4,4", "img1.png,val,6,6,2,2");
  write_label_png(path("images/img1_object.png"), test::empty_map(2, 2));
  expect_problem(check(), "index.csv", "index.csv:3: mask size 2x2 differs from 4x4 of the rows before");
}

TEST_F(ProbeCheckTest, CategoryCsvListsAnotherCategory) {
  edit("category.csv", "scene,", "scenery,");
  const ProbeCheckReport r = check();
  expect_problem(r, "category.csv", "category 'scenery' is not a column of index.csv");
  expect_problem(r, "category.csv", "lacks the category 'scene', a column of index.csv");
}

TEST_F(ProbeCheckTest, LabelOfACategoryIndexCsvLacks) {
  edit("label.csv", "10,dog,object(1)", "10,dog,animal(1)");
  const ProbeCheckReport r = check();
  expect_problem(r, "label.csv", "label 10 (dog) has category 'animal', which is not a column of index.csv");
  // Its masks sit in the object column: said once, as a warning.
  expect_problem(r, "index.csv", "label 10 (dog) appears in column 'object'", true);
}

TEST_F(ProbeCheckTest, CategoryCodeFileDisagreesWithLabelCsv) {
  edit("c_object.csv", ",10,dog,", ",10,cat,");
  expect_problem(check(), "c_object.csv", "c_object.csv:2: label 10 is 'cat' here but 'dog' in label.csv");
}

TEST_F(ProbeCheckTest, ProblemsAreCountedBeyondThoseListed) {
  std::filesystem::remove(path("images/img0.png"));
  std::filesystem::remove(path("images/img1.png"));
  std::filesystem::remove(path("images/img2.png"));
  ProbeCheckOptions o;
  o.max_problems = 1;
  int64_t last = 0, total = 0;
  o.progress = [&](int64_t done, int64_t all) { last = done, total = all; };
  const ProbeCheckReport r = check_probe_set(dir_.path(), o);
  EXPECT_EQ(r.problems.size(), 1u);
  EXPECT_GE(r.errors, 3 + 2);  // three images, and then no usable split
  EXPECT_EQ(last, 3);
  EXPECT_EQ(total, 3);
  o.max_problems = -1;
  test::expect_error([&] { check_probe_set(dir_.path(), o); }, ErrorCode::kInvalidArgument, {"max-problems"});
}

}  // namespace
}  // namespace n2v
