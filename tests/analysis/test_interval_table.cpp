// Table 1 with intervals (issue 21): beside the share, the concepts whose learned and
// single-filter 95 % intervals separate, each direction, counted by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/analysis.h"

namespace n2v {
namespace {

ScoredConcept scored(const std::string& category, float learned, float single, std::optional<ScoreStatsRecord> l,
                     std::optional<ScoreStatsRecord> s) {
  ScoredConcept c;
  c.name = category + std::to_string(learned);
  c.category = category;
  c.embedding.set_iou_val = learned;
  c.embedding.best_filter = 0;
  c.embedding.best_filter_val = single;
  if (l) c.embedding.score_val_stats = *l;
  if (s) c.embedding.best_filter_val_stats = *s;
  return c;
}

TEST(IntervalTable, CountsSeparatedIntervalsEachWay) {
  const std::vector<ScoredConcept> concepts = {
      // learned [0.5, 0.6] above single [0.2, 0.3]
      scored("object", 0.55f, 0.25f, ScoreStatsRecord{0.5f, 0.6f, 0.001f, 0.1f}, ScoreStatsRecord{0.2f, 0.3f, 0.001f, 0.1f}),
      // overlapping: [0.3, 0.5] and [0.45, 0.6]
      scored("object", 0.4f, 0.5f, ScoreStatsRecord{0.3f, 0.5f, 0.01f, 0.1f}, ScoreStatsRecord{0.45f, 0.6f, 0.01f, 0.1f}),
      // single [0.4, 0.5] above learned [0.1, 0.2]
      scored("color", 0.15f, 0.45f, ScoreStatsRecord{0.1f, 0.2f, 0.2f, 0.1f}, ScoreStatsRecord{0.4f, 0.5f, 0.001f, 0.1f}),
      // touching ends do not separate: [0.2, 0.3] and [0.3, 0.4]
      scored("color", 0.25f, 0.35f, ScoreStatsRecord{0.2f, 0.3f, 0.1f, 0.1f}, ScoreStatsRecord{0.3f, 0.4f, 0.1f, 0.1f}),
      // no intervals (an older catalog): counted in the share, not among with_intervals
      scored("color", 0.6f, 0.1f, std::nullopt, std::nullopt),
      // only the learned one has an interval
      scored("object", 0.6f, 0.1f, ScoreStatsRecord{0.5f, 0.7f, 0.001f, 0.1f}, std::nullopt),
  };
  const std::vector<ShareRow> rows = learned_vs_single(concepts);
  ASSERT_EQ(rows.size(), 3u);  // all, color, object
  EXPECT_EQ(rows[0].concepts, 6);
  EXPECT_EQ(rows[0].learned_at_least_single, 3);
  EXPECT_EQ(rows[0].with_intervals, 4);
  EXPECT_EQ(rows[0].learned_above, 1);
  EXPECT_EQ(rows[0].single_above, 1);
  EXPECT_EQ(rows[1].category, "color");
  EXPECT_EQ(rows[1].with_intervals, 2);
  EXPECT_EQ(rows[1].learned_above, 0);
  EXPECT_EQ(rows[1].single_above, 1);
  EXPECT_EQ(rows[2].category, "object");
  EXPECT_EQ(rows[2].with_intervals, 2);
  EXPECT_EQ(rows[2].learned_above, 1);
  EXPECT_EQ(rows[2].single_above, 0);
}

// Known answers of Benjamini-Hochberg, computed by hand: q_(i) = min_{j >= i} p_(j) m / j.
TEST(IntervalTable, BenjaminiHochbergQValues) {
  // m = 4, sorted 0.005, 0.01, 0.03, 0.04: p m / rank 0.02, 0.02, 0.04, 0.04.
  std::vector<double> q = benjamini_hochberg({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(q.size(), 4u);
  EXPECT_DOUBLE_EQ(q[0], 0.02);
  EXPECT_DOUBLE_EQ(q[1], 0.04);
  EXPECT_DOUBLE_EQ(q[2], 0.04);
  EXPECT_DOUBLE_EQ(q[3], 0.02);
  // Five p-values under 0.05 of six, none significant after correction: p m / rank is 0.06 for
  // the first five (0.01 x 6 / 1, ..., 0.05 x 6 / 5), then 0.5 x 6 / 6 = 0.5.
  q = benjamini_hochberg({0.05, 0.5, 0.01, 0.02, 0.03, 0.04});
  for (int i : {0, 2, 3, 4, 5}) EXPECT_NEAR(q[i], 0.06, 1e-15) << i;
  EXPECT_DOUBLE_EQ(q[1], 0.5);
  // A later smaller ratio lowers an earlier q (the running minimum), and q is capped at 1.
  q = benjamini_hochberg({0.04, 0.045, 0.9});  // ratios 0.12, 0.0675, 0.9
  EXPECT_DOUBLE_EQ(q[0], 0.0675);
  EXPECT_DOUBLE_EQ(q[1], 0.0675);
  EXPECT_DOUBLE_EQ(q[2], 0.9);
  EXPECT_DOUBLE_EQ(benjamini_hochberg({0.9, 0.95})[0], 0.95);
  // NaN is out of the family: m counts the others only.
  q = benjamini_hochberg({NAN, 0.02, 0.04});
  EXPECT_TRUE(std::isnan(q[0]));
  EXPECT_DOUBLE_EQ(q[1], 0.04);
  EXPECT_DOUBLE_EQ(q[2], 0.04);
}

TEST(IntervalTable, CountsConceptsAboveChanceAfterCorrection) {
  auto with_p = [](float p) { return ScoreStatsRecord{0.1f, 0.2f, p, 0.05f}; };
  std::vector<ScoredConcept> concepts;
  // Learned p: 0.001 0.02 0.025 0.035 0.3 (m = 5): p m / rank 0.005, 0.05, 0.0417, 0.0438, 0.3,
  // q 0.005, 0.0417, 0.0417, 0.0438, 0.3 -> 4 pass.
  // Single p: 0.001 0.04 0.045 0.048 0.049: q 0.005, then 0.049 x 5 / 5 = 0.049 for the rest -> 5.
  const float pl[] = {0.001f, 0.02f, 0.025f, 0.035f, 0.3f}, ps[] = {0.001f, 0.04f, 0.045f, 0.048f, 0.049f};
  for (int i = 0; i < 5; ++i)
    concepts.push_back(scored(i < 2 ? "color" : "object", 0.5f + 0.01f * i, 0.4f, with_p(pl[i]), with_p(ps[i])));
  // No p (an older catalog): outside both families and not in with_p.
  concepts.push_back(scored("object", 0.9f, 0.1f, std::nullopt, std::nullopt));
  const std::vector<ShareRow> rows = learned_vs_single(concepts);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].with_p, 5);
  EXPECT_EQ(rows[0].learned_above_chance, 4);
  EXPECT_EQ(rows[0].single_above_chance, 5);
  EXPECT_EQ(rows[1].category, "color");  // p 0.001 and 0.02: both pass, as ranked in the whole space
  EXPECT_EQ(rows[1].with_p, 2);
  EXPECT_EQ(rows[1].learned_above_chance, 2);
  EXPECT_EQ(rows[2].with_p, 3);
  EXPECT_EQ(rows[2].learned_above_chance, 2);  // 0.025, 0.035 pass; 0.3 does not
}

}  // namespace
}  // namespace n2v
