// Table 1 with intervals (issue 21): beside the share, the concepts whose learned and
// single-filter 95 % intervals separate, each direction, counted by hand.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace n2v
