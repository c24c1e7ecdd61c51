// Each filter's top images (schema version 6, sql/006_filter_top_images.sql): written with the
// run, read back per filter by either space of the run, refused when malformed with nothing
// written, dropped with the run, carried by merge; N = 0 (off) and catalogs without them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "catalog/catalog.h"
#include "common/error.h"
#include "raw_sql.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;
using test::RawDb;

// A record (16 filters over 13 x 13 maps) whose filters have `per_filter` top images each,
// every value a function of (filter, rank): rows from the record's images, decreasing maxima,
// maps with a filter- and rank-specific pattern.
IngestRecord with_top_images(int per_filter, uint32_t seed = 1, const std::string& layer = "conv5") {
  test::RecordShape shape;
  shape.seed = seed;
  shape.layer = layer;
  IngestRecord r = test::make_record(shape);
  RunRecord& run = r.run;
  run.top_images_per_filter = per_filter;
  const int hw = run.act_height * run.act_width;
  for (int f = 0; f < run.filter_count; ++f)
    for (int rank = 0; rank < per_filter; ++rank) {
      FilterTopImageRecord t{f, rank, r.images[(f + rank) % r.images.size()].row,
                             10.0f - rank - 0.125f * f + static_cast<float>(seed), run.act_height, run.act_width, {}};
      t.map.assign((hw + 7) / 8, 0);
      for (int p = 0; p < hw; ++p)
        if ((p * (f + 1) + rank + static_cast<int>(seed)) % 5 == 0) t.map[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
      run.top_images.push_back(std::move(t));
    }
  return r;
}

void expect_same(const std::vector<Catalog::FilterTopImages::Image>& read, const RunRecord& run, int filter,
                 const IngestRecord& r) {
  std::vector<const FilterTopImageRecord*> expected;
  for (const FilterTopImageRecord& t : run.top_images)
    if (t.filter == filter) expected.push_back(&t);
  ASSERT_EQ(read.size(), expected.size()) << "filter " << filter;
  for (size_t i = 0; i < read.size(); ++i) {
    const FilterTopImageRecord& got = read[i].record;
    const FilterTopImageRecord& want = *expected[i];
    EXPECT_EQ(got.filter, filter);
    EXPECT_EQ(got.rank, static_cast<int>(i));
    EXPECT_EQ(got.image_row, want.image_row);
    EXPECT_EQ(got.max_activation, want.max_activation);  // float -> REAL -> float is exact
    EXPECT_EQ(got.height, want.height);
    EXPECT_EQ(got.width, want.width);
    EXPECT_EQ(got.map, want.map);
    const auto image = std::find_if(r.images.begin(), r.images.end(),
                                    [&](const ProbeImageRecord& p) { return p.row == want.image_row; });
    ASSERT_NE(image, r.images.end());
    EXPECT_EQ(read[i].path, image->path);
    EXPECT_EQ(read[i].split, image->split);
  }
}

TEST(TopImages, RoundTripThroughEitherSpaceOfTheRun) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  const IngestRecord r = with_top_images(3);
  Catalog catalog = Catalog::open(path);
  const int64_t run_id = catalog.write_ingest(r);
  EXPECT_EQ(catalog.run(run_id).top_images_per_filter, std::optional<int>(3));
  for (const char* space : {"net.conv5.seg", "net.conv5.cls"})
    for (int f : {0, 7, 15}) {
      const Catalog::FilterTopImages t = catalog.filter_top_images(space, f);
      EXPECT_EQ(t.per_filter, std::optional<int>(3));
      EXPECT_EQ(t.threshold, std::optional<float>(r.run.thresholds[f]));
      EXPECT_EQ(t.probe_path, r.probe.path);
      expect_same(t.images, r.run, f, r);
    }
  // The file holds them as the schema says: one row per (filter, rank), maps packed.
  RawDb db(path);
  EXPECT_EQ(db.value("SELECT count(*) FROM filter_top_image"), std::to_string(16 * 3));
  EXPECT_EQ(db.value("SELECT DISTINCT length(map) FROM filter_top_image"), std::to_string((13 * 13 + 7) / 8));
  EXPECT_EQ(db.value("SELECT top_images FROM run"), "3");
  // A filter out of the layer's range has none; an unknown space is not found.
  EXPECT_TRUE(catalog.filter_top_images("net.conv5.seg", 16).images.empty());
  expect_error([&] { catalog.filter_top_images("net.conv9.seg", 0); }, ErrorCode::kNotFound, {"no space"});
}

TEST(TopImages, OffAndNotRecordedAreToldApart) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  IngestRecord off = with_top_images(0);
  catalog.write_ingest(off);
  const Catalog::FilterTopImages t = catalog.filter_top_images("net.conv5.seg", 2);
  EXPECT_EQ(t.per_filter, std::optional<int>(0));
  EXPECT_TRUE(t.images.empty());

  IngestRecord unknown = with_top_images(0, 1, "conv4");
  unknown.run.top_images_per_filter.reset();  // a record as an older catalog reads back
  catalog.write_ingest(unknown);
  EXPECT_FALSE(catalog.filter_top_images("net.conv4.seg", 2).per_filter.has_value());

  catalog.write_reference_space("glove", "test", 2, {{"c1", {1, 0}}});
  EXPECT_FALSE(catalog.filter_top_images("glove", 0).per_filter.has_value());
}

TEST(TopImages, MalformedRecordsAreRefusedWithNothingWritten) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  struct Case {
    const char* what;
    std::function<void(IngestRecord&)> damage;
  };
  const std::vector<Case> cases = {
      {"out of range", [](IngestRecord& r) { r.run.top_images[4].rank = 2; }},  // N = 2
      {"out of range", [](IngestRecord& r) { r.run.top_images[0].filter = 16; }},
      {"given twice", [](IngestRecord& r) { r.run.top_images[1] = r.run.top_images[0]; }},
      {"not a probe image, or repeated", [](IngestRecord& r) { r.run.top_images[3].image_row = 999; }},
      {"not a probe image, or repeated",
       [](IngestRecord& r) { r.run.top_images[1].image_row = r.run.top_images[0].image_row; }},
      {"is not 13 x 13 bits", [](IngestRecord& r) { r.run.top_images[2].map.pop_back(); }},
      {"max activation is NaN", [](IngestRecord& r) { r.run.top_images[2].max_activation = NAN; }},
      {"must be >= 0", [](IngestRecord& r) { r.run.top_images_per_filter = -1; }},
  };
  for (const Case& c : cases) {
    IngestRecord r = with_top_images(2);
    c.damage(r);
    expect_error([&] { catalog.write_ingest(r); }, ErrorCode::kInvalidArgument, {c.what});
  }
  EXPECT_TRUE(catalog.spaces().empty());
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM filter_top_image"), "0");
}

TEST(TopImages, GoWithTheirRunWhenItsSpacesAreReplaced) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  catalog.write_ingest(with_top_images(3, 1));
  const IngestRecord again = with_top_images(2, 2);
  catalog.write_ingest(again);  // replaces both spaces: the first run is orphaned and deleted
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM filter_top_image"), std::to_string(16 * 2));
  expect_same(catalog.filter_top_images("net.conv5.seg", 5).images, again.run, 5, again);
}

TEST(TopImages, MergeCarriesThemAndIngestRecordsReadThemBack) {
  test::TempDir dir;
  const IngestRecord a = with_top_images(3, 1, "conv5"), b = with_top_images(1, 2, "conv4");
  {
    Catalog shard_a = Catalog::open(dir.file("a.db"));
    shard_a.write_ingest(a);
    Catalog shard_b = Catalog::open(dir.file("b.db"));
    shard_b.write_ingest(b);
  }
  Catalog merged = Catalog::open(dir.file("merged.db"));
  merged.merge({dir.file("a.db"), dir.file("b.db")});
  for (int f : {0, 9}) {
    expect_same(merged.filter_top_images("net.conv5.cls", f).images, a.run, f, a);
    expect_same(merged.filter_top_images("net.conv4.seg", f).images, b.run, f, b);
  }
  EXPECT_EQ(merged.filter_top_images("net.conv4.seg", 0).per_filter, std::optional<int>(1));
  const std::vector<IngestRecord> records = merged.ingest_records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].run.top_images.size(), a.run.top_images.size());
  EXPECT_EQ(records[1].run.top_images.size(), b.run.top_images.size());
  EXPECT_EQ(RawDb(dir.file("merged.db")).value("SELECT count(*) FROM filter_top_image"), std::to_string(16 * 4));
}

}  // namespace
}  // namespace n2v
