// write_ingest and the readers: round trips, replacement, failures and validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "catalog/catalog.h"
#include "common/error.h"
#include "raw_sql.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::RawDb;
using test::RecordShape;

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

::testing::AssertionResult bit_exact(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

const EmbeddingRecord& find(const SpaceRecord& space, int number) {
  for (const EmbeddingRecord& e : space.embeddings)
    if (e.concept_number == number) return e;
  throw std::runtime_error("no concept " + std::to_string(number));
}

void expect_same_embedding(const EmbeddingRecord& got, const EmbeddingRecord& want) {
  EXPECT_EQ(got.concept_number, want.concept_number);
  EXPECT_EQ(got.train_count, want.train_count);
  EXPECT_EQ(got.val_count, want.val_count);
  EXPECT_TRUE(bit_exact(got.weights, want.weights));
  EXPECT_TRUE(same_bits(got.bias, want.bias));
  EXPECT_TRUE(same_bits(got.alpha, want.alpha));
  EXPECT_EQ(got.set_iou_train, want.set_iou_train);
  EXPECT_EQ(got.set_iou_val, want.set_iou_val);
  EXPECT_EQ(got.accuracy_train, want.accuracy_train);
  EXPECT_EQ(got.accuracy_val, want.accuracy_val);
  EXPECT_EQ(got.best_filter, want.best_filter);
  EXPECT_EQ(got.best_filter_train, want.best_filter_train);
  EXPECT_EQ(got.best_filter_val, want.best_filter_val);
  EXPECT_EQ(got.filter_iou_val, want.filter_iou_val);  // bit-exact, empty = NULL
  ASSERT_EQ(got.subsets.size(), want.subsets.size());
  for (size_t i = 0; i < want.subsets.size(); ++i) {
    EXPECT_EQ(got.subsets[i].filters, want.subsets[i].filters);
    EXPECT_TRUE(same_bits(got.subsets[i].score, want.subsets[i].score));
  }
  // Read back ordered by image row; the record lists them in any order.
  std::map<int, ImageIouRecord> want_iou;
  for (const ImageIouRecord& r : want.image_iou) want_iou[r.image_row] = r;
  ASSERT_EQ(got.image_iou.size(), want_iou.size());
  size_t i = 0;
  for (const auto& [row, r] : want_iou) {
    EXPECT_EQ(got.image_iou[i].image_row, row);
    EXPECT_TRUE(same_bits(got.image_iou[i].learned, r.learned) ||
                (std::isnan(got.image_iou[i].learned) && std::isnan(r.learned)));
    EXPECT_TRUE(same_bits(got.image_iou[i].single, r.single));
    ++i;
  }
}

using test::expect_error;

TEST(CatalogIngest, RoundTripOfAFullRecord) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  IngestRecord record = test::make_record({});
  // Values that a lossy path would change: -0, a denormal, the extremes, an undefined IoU.
  SpaceRecord& seg = record.spaces[0];
  seg.embeddings[0].weights[0] = -0.0f;
  seg.embeddings[0].weights[1] = std::numeric_limits<float>::denorm_min();
  seg.embeddings[0].weights[2] = std::numeric_limits<float>::max();
  seg.embeddings[0].weights[3] = std::numeric_limits<float>::lowest();
  seg.embeddings[0].set_iou_train = 0.0f;  // zero is a value, not NULL
  seg.embeddings[0].image_iou[0].learned = std::nanf("");
  Catalog catalog = Catalog::open(path);
  const int64_t run_id = catalog.write_ingest(record);
  EXPECT_GT(run_id, 0);

  // spaces()
  const std::vector<SpaceInfo> spaces = catalog.spaces();
  ASSERT_EQ(spaces.size(), 2u);
  EXPECT_EQ(spaces[0].id, "net.conv5.cls");  // ordered by id
  EXPECT_EQ(spaces[1].id, "net.conv5.seg");
  for (const SpaceInfo& s : spaces) {
    EXPECT_EQ(s.network, "net");
    EXPECT_EQ(s.layer, "conv5");
    EXPECT_EQ(s.kind, SpaceKind::kNetwork);
    EXPECT_EQ(s.dim, 16);
    EXPECT_EQ(s.concept_count, 5);
    EXPECT_EQ(s.run_id, run_id);
    EXPECT_EQ(s.created_at.size(), 20u) << s.created_at;  // 2026-01-02T03:04:05Z
  }
  EXPECT_EQ(spaces[0].task, Task::kClassification);
  EXPECT_EQ(spaces[1].task, Task::kSegmentation);
  EXPECT_FALSE(catalog.space("net.conv5.xyz"));
  ASSERT_TRUE(catalog.space("net.conv5.seg"));
  EXPECT_EQ(catalog.space("net.conv5.seg")->task, Task::kSegmentation);

  // vectors(): bit-exact, ordered by concept number, with names and categories.
  for (const SpaceRecord& space : record.spaces) {
    const std::vector<ConceptVector> vectors = catalog.vectors(space.id);
    ASSERT_EQ(vectors.size(), 5u);
    for (size_t i = 0; i < vectors.size(); ++i) {
      const int number = static_cast<int>(i) + 1;
      EXPECT_EQ(vectors[i].concept_number, number);
      EXPECT_EQ(vectors[i].name, "c" + std::to_string(number));
      EXPECT_EQ(vectors[i].category, number % 2 ? "object" : "part");
      EXPECT_TRUE(bit_exact(vectors[i].weights, find(space, number).weights)) << space.id;
    }
  }
  expect_error([&] { catalog.vectors("net.conv9.seg"); }, ErrorCode::kNotFound, {"net.conv9.seg"});

  // embedding(): every field, NULLs as nullopt, subsets, per-image IoUs.
  for (const SpaceRecord& space : record.spaces)
    for (int number = 1; number <= 5; ++number) {
      SCOPED_TRACE(space.id + " c" + std::to_string(number));
      const auto e = catalog.embedding(space.id, "c" + std::to_string(number));
      ASSERT_TRUE(e);
      expect_same_embedding(*e, find(space, number));
    }
  const auto cls = catalog.embedding("net.conv5.cls", "c3");
  ASSERT_TRUE(cls);
  EXPECT_FALSE(cls->set_iou_val);  // classification: no set IoU, an accuracy
  EXPECT_TRUE(cls->accuracy_val);
  EXPECT_FALSE(cls->best_filter_val);  // c3: left NULL by make_record
  EXPECT_TRUE(cls->image_iou.empty());
  EXPECT_FALSE(catalog.embedding("net.conv5.seg", "c7"));  // a concept without embedding
  EXPECT_FALSE(catalog.embedding("net.conv5.seg", "nope"));
  expect_error([&] { catalog.embedding("x.y.seg", "c1"); }, ErrorCode::kNotFound, {"x.y.seg"});

  // run(): every field, thresholds in filter order, JSON text as given.
  const RunRecord run = catalog.run(run_id);
  const RunRecord& want = record.run;
  EXPECT_EQ(run.network, want.network);
  EXPECT_EQ(run.model_path, want.model_path);
  EXPECT_EQ(run.layer, want.layer);
  EXPECT_EQ(run.device, want.device);
  EXPECT_EQ(run.software_version, want.software_version);
  EXPECT_EQ(run.seed, want.seed);
  EXPECT_EQ(run.tau, want.tau);
  EXPECT_EQ(run.params_json, want.params_json);
  EXPECT_EQ(run.preprocessing_json, want.preprocessing_json);
  EXPECT_EQ(run.timings_json, want.timings_json);
  EXPECT_EQ(run.started_at, want.started_at);
  EXPECT_EQ(run.finished_at, want.finished_at);
  EXPECT_EQ(run.images_used, want.images_used);
  EXPECT_EQ(run.images_skipped, want.images_skipped);
  EXPECT_EQ(run.filter_count, want.filter_count);
  EXPECT_EQ(run.act_height, want.act_height);
  EXPECT_EQ(run.act_width, want.act_width);
  EXPECT_TRUE(bit_exact(run.thresholds, want.thresholds));
  expect_error([&] { catalog.run(run_id + 100); }, ErrorCode::kNotFound, {"run"});

  // What only the file shows: probe set, concept and image rows, the blob encoding, views.
  RawDb db(path);
  EXPECT_EQ(db.rows("SELECT name, path, image_count, mask_height, mask_width, categories "
                    "FROM probe_set"),
            (std::vector<std::vector<std::string>>{{"broden_test", "/data/broden_test", "12", "112",
                                                    "112", R"(["color","object","part"])"}}));
  EXPECT_EQ(db.rows("SELECT number, name, category, categories, frequency, coverage, syns "
                    "FROM concept WHERE number = 3"),
            (std::vector<std::vector<std::string>>{
                {"3", "c3", "object", "object(3)", "30", "0.75", "syn3"}}));
  EXPECT_EQ(db.count("concept"), 8);  // all labels, not only the embedded ones
  EXPECT_EQ(db.rows("SELECT row, path, split FROM probe_image ORDER BY row LIMIT 2"),
            (std::vector<std::vector<std::string>>{{"0", "images/train_0.jpg", "train"},
                                                   {"1", "images/val_0.jpg", "val"}}));
  EXPECT_EQ(db.rows("SELECT name, model_path FROM network"),
            (std::vector<std::vector<std::string>>{{"net", "/models/net.pt"}}));
  EXPECT_EQ(db.value("SELECT json_extract(params, '$.epochs') FROM run"), "30");
  // Little-endian float32: 1.0f is 00 00 80 3F.
  IngestRecord ones = test::make_record({.layer = "conv4", .embedded = 1, .filters = 2});
  ones.spaces[0].embeddings[0].weights = {1.0f, -2.0f};
  ones.spaces[1].embeddings[0].weights = {1.0f, -2.0f};
  catalog.write_ingest(ones);
  EXPECT_EQ(db.value("SELECT hex(vector) FROM embedding WHERE space_id = 'net.conv4.seg'"),
            "0000803F000000C0");
  EXPECT_EQ(db.value("SELECT learned IS NULL FROM image_iou i JOIN embedding e ON "
                     "e.id = i.embedding_id JOIN probe_image p ON p.id = i.probe_image_id "
                     "JOIN concept c ON c.id = e.concept_id WHERE e.space_id = 'net.conv5.seg' "
                     "AND c.number = 1 AND p.row = 11"),
            "1");
  EXPECT_EQ(db.rows("SELECT id, network, layer, task, dim, concept_count FROM space_summary "
                    "ORDER BY id"),
            (std::vector<std::vector<std::string>>{
                {"net.conv4.cls", "net", "conv4", "classification", "2", "1"},
                {"net.conv4.seg", "net", "conv4", "segmentation", "2", "1"},
                {"net.conv5.cls", "net", "conv5", "classification", "16", "5"},
                {"net.conv5.seg", "net", "conv5", "segmentation", "16", "5"}}));
  const EmbeddingRecord& c2 = find(seg, 2);
  const auto summary = db.rows(
      "SELECT concept, category, train_count, val_count, set_iou_val, accuracy_val, "
      "best_filter, best_filter_val FROM embedding_summary WHERE space_id = 'net.conv5.seg' "
      "ORDER BY concept");
  ASSERT_EQ(summary.size(), 5u);
  EXPECT_EQ(summary[1][0], "c2");
  EXPECT_EQ(summary[1][1], "part");
  EXPECT_EQ(summary[1][2], std::to_string(c2.train_count));
  EXPECT_EQ(summary[1][3], std::to_string(c2.val_count));
  EXPECT_FLOAT_EQ(std::stof(summary[1][4]), *c2.set_iou_val);
  EXPECT_EQ(summary[1][5], "NULL");
  EXPECT_EQ(summary[1][6], std::to_string(c2.best_filter));
  EXPECT_FLOAT_EQ(std::stof(summary[1][7]), *c2.best_filter_val);
  EXPECT_TRUE(db.rows("PRAGMA foreign_key_check").empty());
}

TEST(CatalogIngest, EmptyJsonIsStoredAsNull) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  IngestRecord record = test::make_record({});
  record.run.timings_json.clear();
  const int64_t run_id = catalog.write_ingest(record);
  EXPECT_EQ(catalog.run(run_id).timings_json, "");
  EXPECT_EQ(RawDb(dir.file("catalog.db")).value("SELECT timings IS NULL FROM run"), "1");
}

TEST(CatalogIngest, ReingestReplacesOnlyThatSpace) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  const IngestRecord conv5 = test::make_record({.embedded = 6, .seed = 1});
  const IngestRecord conv4 = test::make_record({.layer = "conv4", .seed = 2});
  const int64_t run5 = catalog.write_ingest(conv5);
  const int64_t run4 = catalog.write_ingest(conv4);
  const uint64_t conv4_seg = test::checksum(catalog.vectors("net.conv4.seg"));
  const uint64_t conv4_cls = test::checksum(catalog.vectors("net.conv4.cls"));
  ASSERT_EQ(conv4_seg, test::checksum(conv4.spaces[0]));

  // New seg space for conv5 only: concepts 4..6, new values. The old cls space still
  // refers to the old run, which must stay.
  const IngestRecord seg_only =
      test::make_record({.first_embedded = 4, .embedded = 3, .classification = false, .seed = 3});
  const int64_t run5b = catalog.write_ingest(seg_only);
  std::vector<ConceptVector> vectors = catalog.vectors("net.conv5.seg");
  ASSERT_EQ(vectors.size(), 3u);
  EXPECT_EQ(vectors[0].concept_number, 4);
  EXPECT_EQ(test::checksum(vectors), test::checksum(seg_only.spaces[0]));
  EXPECT_FALSE(catalog.embedding("net.conv5.seg", "c1"));
  expect_same_embedding(*catalog.embedding("net.conv5.seg", "c5"), find(seg_only.spaces[0], 5));
  EXPECT_EQ(catalog.space("net.conv5.seg")->run_id, run5b);
  EXPECT_EQ(catalog.space("net.conv5.cls")->run_id, run5);
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv5.cls")), test::checksum(conv5.spaces[1]));
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv4.seg")), conv4_seg);
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv4.cls")), conv4_cls);
  EXPECT_EQ(catalog.run(run5).seed, conv5.run.seed);
  {
    RawDb db(path);
    EXPECT_EQ(db.count("run"), 3);
    EXPECT_EQ(db.count("embedding"), 6 + 3 + 5 + 5);
    // Old seg rows gone: only the new seg space (3 x 6 images) and conv4's (5 x 6).
    EXPECT_EQ(db.count("image_iou"), 3 * 6 + 5 * 6);
    EXPECT_EQ(db.count("subset_score"), (6 + 3 + 5 + 5) * 3);
    EXPECT_EQ(db.count("concept"), 8);  // upserted, not duplicated
    EXPECT_EQ(db.count("probe_set"), 1);
    EXPECT_EQ(db.count("network"), 1);
  }

  // Now the cls space too: run5 has no space left and goes, with its thresholds.
  const IngestRecord both = test::make_record({.embedded = 2, .seed = 4});
  const int64_t run5c = catalog.write_ingest(both);
  expect_error([&] { catalog.run(run5); }, ErrorCode::kNotFound, {std::to_string(run5)});
  expect_error([&] { catalog.run(run5b); }, ErrorCode::kNotFound, {std::to_string(run5b)});
  EXPECT_EQ(catalog.run(run4).seed, conv4.run.seed);
  EXPECT_EQ(catalog.run(run5c).seed, both.run.seed);
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv5.cls")), test::checksum(both.spaces[1]));
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv4.seg")), conv4_seg);
  RawDb db(path);
  EXPECT_EQ(db.count("run"), 2);
  EXPECT_EQ(db.count("threshold"), 2 * 16);
  EXPECT_EQ(db.count("embedding"), 2 + 2 + 5 + 5);
  EXPECT_TRUE(db.rows("PRAGMA foreign_key_check").empty());
}

TEST(CatalogIngest, ReingestUpdatesProbeSetAndNetwork) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  catalog.write_ingest(test::make_record({.layer = "conv4"}));
  IngestRecord record = test::make_record({});
  record.concepts[0].name = "renamed";
  record.run.model_path = "/models/v2.pt";
  catalog.write_ingest(record);
  EXPECT_EQ(catalog.vectors("net.conv4.seg")[0].name, "renamed");  // same concept row
  RawDb db(path);
  EXPECT_EQ(db.value("SELECT model_path FROM network"), "/models/v2.pt");
  EXPECT_EQ(
      db.value("SELECT group_concat(model_path) FROM (SELECT model_path FROM run ORDER BY id)"),
      "/models/net.pt,/models/v2.pt");
}

TEST(CatalogIngest, FailureMidTransactionKeepsThePreviousSpace) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  const IngestRecord old_record = test::make_record({.seed = 1});
  const IngestRecord new_record =
      test::make_record({.first_embedded = 2, .embedded = 6, .seed = 2});
  int64_t old_run = 0;
  {
    Catalog catalog = Catalog::open(path);
    old_run = catalog.write_ingest(old_record);
  }
  const auto counts = test::table_counts(path);
  // 0: before anything; 1: after the probe set; 40: among image IoUs of the first space;
  // 100: inside the second space (the whole write is 120 rows).
  for (int64_t rows : {0, 1, 12, 40, 100, 119}) {
    SCOPED_TRACE(rows);
    {
      Catalog catalog = Catalog::open(path);
      catalog.fail_after_rows_for_testing(rows);
      expect_error([&] { catalog.write_ingest(new_record); }, ErrorCode::kInternal, {"test hook"});
      // The same connection still reads the old content, and is not stuck in a transaction.
      EXPECT_EQ(test::checksum(catalog.vectors("net.conv5.seg")),
                test::checksum(old_record.spaces[0]));
      EXPECT_EQ(catalog.run(old_run).seed, old_record.run.seed);
    }
    Catalog reopened = Catalog::open(path);
    EXPECT_EQ(test::checksum(reopened.vectors("net.conv5.seg")),
              test::checksum(old_record.spaces[0]));
    EXPECT_EQ(test::checksum(reopened.vectors("net.conv5.cls")),
              test::checksum(old_record.spaces[1]));
    EXPECT_EQ(test::table_counts(path), counts);
  }
  // 120 rows pass the hook; -1 turns it off.
  Catalog catalog = Catalog::open(path);
  catalog.fail_after_rows_for_testing(120);
  catalog.write_ingest(new_record);
  catalog.fail_after_rows_for_testing(-1);
  catalog.write_ingest(new_record);
  EXPECT_EQ(test::checksum(catalog.vectors("net.conv5.seg")), test::checksum(new_record.spaces[0]));
}

// Each case breaks one thing; nothing may be written, and the message must say where.
TEST(CatalogIngest, ValidationErrorsWriteNothing) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  const IngestRecord good = test::make_record({});
  catalog.write_ingest(good);
  const auto counts = test::table_counts(path);
  const uint64_t seg = test::checksum(good.spaces[0]);
  struct Case {
    const char* what;
    void (*edit)(IngestRecord&);
    std::vector<std::string> pieces;
  };
  const Case cases[] = {
      {"short vector",
       [](IngestRecord& r) { r.spaces[1].embeddings[2].weights.pop_back(); },
       {"net.conv5.cls", "'c3'", "15", "16"}},
      {"long vector",
       [](IngestRecord& r) { r.spaces[0].embeddings[0].weights.push_back(1); },
       {"net.conv5.seg", "'c1'", "17"}},
      {"NaN weight",
       [](IngestRecord& r) { r.spaces[0].embeddings[4].weights[7] = NAN; },
       {"net.conv5.seg", "'c5'", "weight 7", "nan"}},
      {"infinite weight",
       [](IngestRecord& r) { r.spaces[1].embeddings[0].weights[0] = -INFINITY; },
       {"net.conv5.cls", "'c1'", "inf"}},
      {"unknown concept",
       [](IngestRecord& r) { r.spaces[0].embeddings[3].concept_number = 99; },
       {"net.conv5.seg", "99"}},
      {"repeated concept",
       [](IngestRecord& r) { r.spaces[0].embeddings[3].concept_number = 1; },
       {"net.conv5.seg", "'c1'"}},
      {"unknown image",
       [](IngestRecord& r) { r.spaces[0].embeddings[1].image_iou[0].image_row = 1000; },
       {"net.conv5.seg", "'c2'", "1000"}},
      {"bad space id", [](IngestRecord& r) { r.spaces[0].id = "net.conv5"; }, {"net.conv5"}},
      {"wrong task suffix",
       [](IngestRecord& r) { r.spaces[1].id = "net.conv6.seg"; },
       {"net.conv6.seg", ".cls"}},
      {"bad layer part", [](IngestRecord& r) { r.spaces[0].id = "net.a b.seg"; }, {"'a b'"}},
      {"threshold count", [](IngestRecord& r) { r.run.thresholds.pop_back(); }, {"15", "16"}},
      {"bad json", [](IngestRecord& r) { r.run.params_json = "{epochs: 3"; }, {"params"}},
      {"bad split", [](IngestRecord& r) { r.images[0].split = "test"; }, {"'test'"}},
      {"no spaces", [](IngestRecord& r) { r.spaces.clear(); }, {"no spaces"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    IngestRecord bad = test::make_record({.seed = 9});
    c.edit(bad);
    expect_error([&] { catalog.write_ingest(bad); }, ErrorCode::kInvalidArgument, c.pieces);
    EXPECT_EQ(test::table_counts(path), counts);
    EXPECT_EQ(test::checksum(catalog.vectors("net.conv5.seg")), seg);
  }
}

// Figure 8's decile masks: stored with their embedding, read back by row with every bit,
// dropped when the space is replaced; a mask of the wrong size or on an unknown image is
// refused before anything is written.
TEST(CatalogIngest, PredictedMasksRoundTripAndAreValidated) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog catalog = Catalog::open(path);
  IngestRecord record = test::make_record({});
  EmbeddingRecord& e = record.spaces[0].embeddings[1];  // c2 of net.conv5.seg
  const int h = 3, w = 5;  // 15 bits -> 2 bytes, the last bit of byte 1 unused
  e.predicted_masks.push_back({e.image_iou[2].image_row, h, w, {0xff, 0x7f}, {0x01, 0x40}});
  e.predicted_masks.push_back({e.image_iou[0].image_row, h, w, {0x00, 0x00}, {0xa5, 0x5a}});
  catalog.write_ingest(record);

  const std::vector<PredictedMaskRecord> got = catalog.predicted_masks("net.conv5.seg", "c2");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_LT(got[0].image_row, got[1].image_row);  // by row
  for (const PredictedMaskRecord& want : e.predicted_masks) {
    const auto it = std::find_if(got.begin(), got.end(), [&](const auto& m) { return m.image_row == want.image_row; });
    ASSERT_NE(it, got.end()) << want.image_row;
    EXPECT_EQ(it->height, h);
    EXPECT_EQ(it->width, w);
    EXPECT_EQ(it->learned, want.learned);
    EXPECT_EQ(it->single, want.single);
  }
  EXPECT_TRUE(catalog.predicted_masks("net.conv5.seg", "c1").empty());
  EXPECT_TRUE(catalog.predicted_masks("net.conv5.cls", "c2").empty());
  EXPECT_THROW(catalog.predicted_masks("net.conv5.seg", "no such concept"), Error);
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM predicted_mask"), "2");

  const auto counts = test::table_counts(path);
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(which);
    IngestRecord bad = record;
    PredictedMaskRecord& m = bad.spaces[0].embeddings[1].predicted_masks[0];
    if (which == 0) m.learned.push_back(0);      // 3 bytes for 15 bits
    if (which == 1) m.image_row = 1000;          // no such probe image
    if (which == 2) bad.spaces[0].embeddings[1].predicted_masks.push_back(m);  // twice
    expect_error([&] { catalog.write_ingest(bad); }, ErrorCode::kInvalidArgument, {"predicted masks"});
    EXPECT_EQ(test::table_counts(path), counts);
  }

  // A re-ingest of the space without masks drops them (cascade from the embedding).
  catalog.write_ingest(test::make_record({}));
  EXPECT_TRUE(catalog.predicted_masks("net.conv5.seg", "c2").empty());
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM predicted_mask"), "0");
}

// BRODEN scale: ~1,200 concepts x 2 spaces x 512 filters and ~500k per-image IoUs. The
// time is printed for docs/PERFORMANCE.md, never asserted (shared, noisy machines).
TEST(CatalogIngest, BrodenScaleWriteRoundTrips) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  RecordShape shape{
      .concepts = 1200, .embedded = 1200, .filters = 512, .images = 420, .subsets = 10};
  const IngestRecord record = test::make_record(shape);
  Catalog catalog = Catalog::open(path);
  const auto t0 = std::chrono::steady_clock::now();
  catalog.write_ingest(record);
  const auto t1 = std::chrono::steady_clock::now();
  shape.seed = 2;  // the same spaces again: the replacement path (cascade deletes)
  catalog.write_ingest(test::make_record(shape));
  const auto t2 = std::chrono::steady_clock::now();
  const double first = std::chrono::duration<double>(t1 - t0).count();
  const double second = std::chrono::duration<double>(t2 - t1).count();
  std::printf(
      "BRODEN-scale write_ingest (2 x 1200 x 512, %d image IoUs): first %.2f s, "
      "replacing %.2f s\n",
      1200 * 420, first, second);
  RawDb db(path);
  EXPECT_EQ(db.count("image_iou"), 1200 * 420);
  EXPECT_EQ(db.count("embedding"), 2400);
}

}  // namespace
}  // namespace n2v
