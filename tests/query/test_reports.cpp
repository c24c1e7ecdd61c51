// Concept and filter reports, filter usage and the concept listing on a 4-filter toy space.

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "query/query.h"
#include "support/expect.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

using test::expect_error;
using test::ToyConcept;

// Space "f.l.seg", 4 filters:
//   x (object) w = (0.5, -2, 1, 0.5)  best filter 2 (val 0.2), learned set IoU val 0.5,
//              F sweep (1: 0.3, 2: 0.45), per-image val IoU learned (0.5, 0, undefined),
//              single (0.25, 0, 0)
//   y (object) w = (0, 0, 3, 1)       best filter 2 (val 0.6), learned 0.8
//   z (part)   w = (1, 1, 0, 0)       best filter 0 (val 0.1), learned 0.3
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("catalog.db")));
    ToyConcept x{"x", "object", {0.5f, -2, 1, 0.5f}, 2, 0.2f, 0.5f, {{1, 0.3f}, {2, 0.45f}},
                 {{1, 0.5f, 0.25f}, {2, 0.0f, 0.0f}, {3, NAN, 0.0f}}};
    ToyConcept y{"y", "object", {0, 0, 3, 1}, 2, 0.6f, 0.8f};
    ToyConcept z{"z", "part", {1, 1, 0, 0}, 0, 0.1f, 0.3f};
    space_ = test::write_toy_space(*catalog_, "f", "l", {x, y, z});
    engine_ = std::make_unique<QueryEngine>(*catalog_);
  }
  test::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<QueryEngine> engine_;
  std::string space_;
};

// x: |w| = (0.5, 2, 1, 0.5), ||w||_1 = 4, ||w||_2 = sqrt(0.25 + 4 + 1 + 0.25) = 2.3452079.
// By |w| (ties by lower filter): 1 (2), 2 (1), 0 (0.5), 3 (0.5);
// shares 0.5, 0.25, 0.125, 0.125; cumulative 0.5, 0.75, 0.875, 1.
// Half of ||w||_1 needs 1 filter, 90% needs 4. Best filter 2 has rank 2.
// Paper 5.2's ratio: best filter val / learned val = 0.2 / 0.5 = 0.4.
TEST_F(ReportTest, ConceptReport) {
  const ConceptReport r = engine_->concept_report(space_, "x", 3);
  EXPECT_EQ(r.name, "x");
  EXPECT_EQ(r.category, "object");
  EXPECT_EQ(r.task, Task::kSegmentation);
  EXPECT_EQ(r.dim, 4);
  EXPECT_EQ(r.best_filter, 2);
  EXPECT_EQ(r.best_filter_rank, 2);
  EXPECT_FLOAT_EQ(*r.best_filter_val, 0.2f);
  EXPECT_FLOAT_EQ(*r.set_iou_val, 0.5f);
  EXPECT_FALSE(r.accuracy_val.has_value());
  EXPECT_NEAR(*r.single_over_learned, 0.4, 1e-6);
  EXPECT_NEAR(r.l1_norm, 4.0, 1e-9);
  EXPECT_NEAR(r.l2_norm, 2.3452079, 1e-6);
  EXPECT_EQ(r.filters_for_half, 1);
  EXPECT_EQ(r.filters_for_90, 4);
  ASSERT_EQ(r.top_filters.size(), 3u);
  EXPECT_EQ(r.top_filters[0].filter, 1);
  EXPECT_FLOAT_EQ(r.top_filters[0].weight, -2.0f);
  EXPECT_NEAR(r.top_filters[0].share, 0.5, 1e-9);
  EXPECT_EQ(r.top_filters[1].filter, 2);
  EXPECT_NEAR(r.top_filters[1].cumulative, 0.75, 1e-9);
  EXPECT_EQ(r.top_filters[2].filter, 0);  // tie with filter 3: lower filter first
  EXPECT_NEAR(r.top_filters[2].share, 0.125, 1e-9);
  ASSERT_EQ(r.subsets.size(), 2u);
  EXPECT_EQ(r.subsets[1].filters, 2);
  EXPECT_FLOAT_EQ(r.subsets[1].score, 0.45f);
  // Per-image IoU: learned mean over the 2 defined values (0.5 + 0)/2 = 0.25, one zero;
  // single (0.25 + 0 + 0)/3 = 0.0833333, two zeros.
  EXPECT_EQ(r.image_count, 3);
  EXPECT_NEAR(*r.mean_image_iou_learned, 0.25, 1e-7);
  EXPECT_NEAR(*r.mean_image_iou_single, 0.0833333, 1e-7);
  EXPECT_EQ(r.zero_iou_learned, 1);
  EXPECT_EQ(r.zero_iou_single, 2);
  // top beyond the dimension: every filter.
  EXPECT_EQ(engine_->concept_report(space_, "x", 100).top_filters.size(), 4u);
}

// Filter 2 is the best filter of y (val 0.6) and x (val 0.2), in that order.
// Shares of filter 2: y 3/4 = 0.75 (rank 1), x 1/4 = 0.25 (rank 2: after filter 1's |-2|),
// z 0 (rank 3: filters 0 and 1 have |w| = 1; filter 3 ties at 0 but comes later).
TEST_F(ReportTest, FilterReport) {
  const FilterReport r = engine_->filter_report(space_, 2, 10);
  EXPECT_EQ(r.dim, 4);
  EXPECT_EQ(r.concept_count, 3);
  ASSERT_EQ(r.best_for.size(), 2u);
  EXPECT_EQ(r.best_for[0].name, "y");
  EXPECT_EQ(r.best_for[1].name, "x");
  ASSERT_EQ(r.top_weighted.size(), 3u);
  EXPECT_EQ(r.top_weighted[0].name, "y");
  EXPECT_NEAR(r.top_weighted[0].share, 0.75, 1e-9);
  EXPECT_EQ(r.top_weighted[0].rank, 1);
  EXPECT_TRUE(r.top_weighted[0].best);
  EXPECT_EQ(r.top_weighted[1].name, "x");
  EXPECT_NEAR(r.top_weighted[1].share, 0.25, 1e-9);
  EXPECT_EQ(r.top_weighted[1].rank, 2);
  EXPECT_EQ(r.top_weighted[2].name, "z");
  EXPECT_EQ(r.top_weighted[2].share, 0.0);
  EXPECT_EQ(r.top_weighted[2].rank, 3);
  EXPECT_FALSE(r.top_weighted[2].best);
  EXPECT_EQ(engine_->filter_report(space_, 2, 1).top_weighted.size(), 1u);
}

// Best filters: x 2, y 2, z 0 -> counts (1, 0, 2, 0); filters 1 and 3 never selected.
TEST_F(ReportTest, FilterUsageAndListing) {
  const FilterUsage u = engine_->filter_usage(space_);
  EXPECT_EQ(u.concepts_per_filter, (std::vector<int>{1, 0, 2, 0}));
  EXPECT_EQ(u.never_selected, 2);
  const std::vector<ConceptSummary> all = engine_->concepts(space_);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].name, "y");
  EXPECT_FLOAT_EQ(*all[1].score_val, 0.8f);
  EXPECT_NEAR(all[1].l2_norm, std::sqrt(10.0), 1e-6);
  const std::vector<ConceptSummary> parts = engine_->concepts(space_, std::string("part"));
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].name, "z");
}

TEST_F(ReportTest, Errors) {
  expect_error([&] { engine_->filter_report(space_, 4); }, ErrorCode::kInvalidArgument);
  expect_error([&] { engine_->filter_report(space_, -1); }, ErrorCode::kInvalidArgument);
  expect_error([&] { engine_->filter_report(space_, 0, 0); }, ErrorCode::kInvalidArgument);
  expect_error([&] { engine_->concept_report(space_, "w"); }, ErrorCode::kNotFound);
  expect_error([&] { engine_->concept_report("f.l.cls", "x"); }, ErrorCode::kNotFound);
  expect_error([&] { engine_->concepts(space_, std::string("scene")); }, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace n2v
