// Schema version 7 (sql/007_score_intervals.sql): every val score's interval and p-value, and
// each val image's intersection and union, written and read back; a catalog from before
// version 7 migrates with its rows reading as "not computed" (unset), never as zero.
#include <gtest/gtest.h>

#include <cmath>

#include "catalog/catalog.h"
#include "raw_sql.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/older_schema.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::RawDb;

// make_record's record with stats on every other concept (the rest unset) and the
// intersections and unions of every image of the segmentation space.
IngestRecord record_with_stats() {
  IngestRecord r = test::make_record({});
  for (SpaceRecord& space : r.spaces)
    for (EmbeddingRecord& e : space.embeddings) {
      if (e.concept_number % 2 == 0) continue;
      const float v = space.task == Task::kSegmentation ? *e.set_iou_val : *e.accuracy_val;
      e.score_val_stats = {v - 0.05f, v + 0.0625f, 0.001f, v / 3};
      e.best_filter_val_stats = {0.125f, 0.25f, 0.5f, 0.2f};
      for (ImageIouRecord& i : e.image_iou) {
        i.learned_inter = 10.0f + static_cast<float>(i.image_row);
        i.learned_union = 40.0f + static_cast<float>(i.image_row);
        i.single_inter = 3.0f;
        i.single_union = 50.0f;
      }
    }
  return r;
}

void expect_same(const ScoreStatsRecord& a, const ScoreStatsRecord& b, const std::string& what) {
  EXPECT_EQ(a.low, b.low) << what;
  EXPECT_EQ(a.high, b.high) << what;
  EXPECT_EQ(a.p, b.p) << what;
  EXPECT_EQ(a.null_mean, b.null_mean) << what;
}

const EmbeddingRecord& by_number(const SpaceRecord& space, int number) {
  for (const EmbeddingRecord& e : space.embeddings)
    if (e.concept_number == number) return e;
  throw std::runtime_error("no concept " + std::to_string(number));
}

TEST(ScoreIntervals, RoundTripThroughEveryReader) {
  test::TempDir dir;
  const IngestRecord written = record_with_stats();
  Catalog catalog = Catalog::open(dir.file("c.db"));
  catalog.write_ingest(written);
  for (const SpaceRecord& space : written.spaces) {
    const std::vector<ScoredConcept> scored = catalog.concept_scores(space.id);
    ASSERT_EQ(scored.size(), space.embeddings.size());
    for (const ScoredConcept& sc : scored) {
      const EmbeddingRecord& want = by_number(space, sc.embedding.concept_number);
      const std::string what = space.id + " concept " + std::to_string(want.concept_number);
      expect_same(sc.embedding.score_val_stats, want.score_val_stats, what);
      expect_same(sc.embedding.best_filter_val_stats, want.best_filter_val_stats, what);
      EXPECT_EQ(sc.embedding.score_val_stats.computed(), want.concept_number % 2 != 0) << what;
      // The single reader, with the per-image intersections and unions.
      const std::optional<EmbeddingRecord> one = catalog.embedding(space.id, sc.name);
      ASSERT_TRUE(one) << what;
      expect_same(one->score_val_stats, want.score_val_stats, what);
      ASSERT_EQ(one->image_iou.size(), want.image_iou.size());
      for (const ImageIouRecord& got : one->image_iou) {
        const ImageIouRecord* w = nullptr;
        for (const ImageIouRecord& i : want.image_iou)
          if (i.image_row == got.image_row) w = &i;
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(got.learned_inter, w->learned_inter) << what;
        EXPECT_EQ(got.learned_union, w->learned_union) << what;
        EXPECT_EQ(got.single_inter, w->single_inter) << what;
        EXPECT_EQ(got.single_union, w->single_union) << what;
      }
    }
  }
  // What net2vec merge copies (ingest_records) carries them too.
  const std::vector<IngestRecord> again = catalog.ingest_records();
  ASSERT_EQ(again.size(), 1u);
  for (const SpaceRecord& space : again[0].spaces)
    for (const EmbeddingRecord& e : space.embeddings) {
      const SpaceRecord* w = nullptr;
      for (const SpaceRecord& s : written.spaces)
        if (s.id == space.id) w = &s;
      ASSERT_NE(w, nullptr);
      expect_same(e.score_val_stats, by_number(*w, e.concept_number).score_val_stats, space.id);
      expect_same(e.best_filter_val_stats, by_number(*w, e.concept_number).best_filter_val_stats, space.id);
    }
  // Unset is NULL in the file (not 0).
  RawDb raw(dir.file("c.db"));
  EXPECT_EQ(raw.value("SELECT count(*) FROM embedding e JOIN concept c ON c.id = e.concept_id"
                      " WHERE c.number % 2 = 0 AND e.score_val_low IS NULL AND e.score_val_p IS NULL"),
            raw.value("SELECT count(*) FROM embedding e JOIN concept c ON c.id = e.concept_id WHERE c.number % 2 = 0"));
}

TEST(ScoreIntervals, CatalogFromBeforeVersion7ReadsAsNotComputed) {
  test::TempDir dir;
  const std::string path = dir.file("old.db");
  const IngestRecord written = record_with_stats();
  Catalog::open(path).write_ingest(written);
  // The same rows as a version-6 file: the columns of version 7 did not exist.
  RawDb(path, false).exec(test::downgrade_sql(Catalog::latest_schema_version(), 6));
  Catalog catalog = Catalog::open(path);
  EXPECT_GE(catalog.schema_version(), 7);
  for (const SpaceRecord& space : written.spaces)
    for (const ScoredConcept& sc : catalog.concept_scores(space.id)) {
      const EmbeddingRecord& e = sc.embedding;
      EXPECT_FALSE(e.score_val_stats.computed()) << sc.name;
      EXPECT_FALSE(e.score_val_stats.low || e.score_val_stats.high || e.score_val_stats.p ||
                   e.score_val_stats.null_mean)
          << sc.name;
      EXPECT_FALSE(e.best_filter_val_stats.computed()) << sc.name;
      // The scores themselves are as they were.
      EXPECT_EQ(e.set_iou_val, by_number(space, e.concept_number).set_iou_val);
      const std::optional<EmbeddingRecord> one = catalog.embedding(space.id, sc.name);
      ASSERT_TRUE(one);
      for (const ImageIouRecord& i : one->image_iou) {
        EXPECT_FALSE(i.learned_inter.has_value());
        EXPECT_FALSE(i.single_union.has_value());
      }
    }
}

TEST(ScoreIntervals, IntervalOutOfOrderOrPOutOfRangeIsRefusedNamingTheConcept) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("c.db"));
  IngestRecord bad = record_with_stats();
  bad.spaces[0].embeddings[0].score_val_stats = {0.5f, 0.25f, 0.01f, 0.1f};
  test::expect_error([&] { catalog.write_ingest(bad); }, ErrorCode::kInvalidArgument,
                     {bad.spaces[0].id, "interval [0.5, 0.25]"});
  IngestRecord bad_p = record_with_stats();
  bad_p.spaces[0].embeddings[0].best_filter_val_stats.p = 0.0f;
  test::expect_error([&] { catalog.write_ingest(bad_p); }, ErrorCode::kInvalidArgument, {bad_p.spaces[0].id});
  EXPECT_TRUE(catalog.spaces().empty());  // nothing written
}

}  // namespace
}  // namespace n2v
