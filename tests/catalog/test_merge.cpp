// Catalog::merge: shards folded into one catalog equal the same records written serially;
// merging twice changes nothing; conflicts by run time or refused; reference spaces; older
// shards migrated in a copy; bad shards refused with nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "catalog/catalog.h"
#include "common/error.h"
#include "raw_sql.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/older_schema.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;
using test::RawDb;
using test::RecordShape;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Everything a catalog holds of its runs, spaces and reference spaces, without ids or the
// probe set's path: two catalogs with equal dumps answer every query alike.
std::string dump(const Catalog& c) {
  std::ostringstream o;
  auto floats = [&o](const std::vector<float>& v) {
    for (float x : v) o << x << ',';
    o << ';';
  };
  for (const IngestRecord& r : c.ingest_records()) {
    o << "probe " << r.probe.name << ' ' << r.probe.content_hash << ' ' << r.concepts.size() << '\n';
    o << "run " << r.run.network << ' ' << r.run.layer << ' ' << r.run.started_at << ' ' << r.run.finished_at << ' '
      << r.run.params_json << ' ';
    floats(r.run.thresholds);
    o << '\n';
    for (const SpaceRecord& s : r.spaces) {
      o << "space " << s.id << '\n';
      for (const EmbeddingRecord& e : s.embeddings) {
        o << e.concept_number << ' ' << e.bias << ' ' << e.alpha << ' ' << e.set_iou_val.value_or(-1) << ' '
          << e.accuracy_val.value_or(-1) << ' ' << e.best_filter << ' ';
        floats(e.weights);
        floats(e.filter_iou_val);
        for (const SubsetScore& f : e.subsets) o << f.filters << ':' << f.score << ',';
        for (const ImageIouRecord& i : e.image_iou) o << i.image_row << ':' << i.learned << ':' << i.single << ',';
        for (const PredictedMaskRecord& m : e.predicted_masks) o << m.image_row << ':' << m.learned.size() << ',';
        o << '\n';
      }
    }
  }
  for (const Catalog::ReferenceSpaceRecord& r : c.reference_space_records()) {
    o << "reference " << r.id << ' ' << r.source << ' ' << r.created_at << '\n';
    for (const auto& [name, v] : r.vectors_by_concept_name) {
      o << name << ' ';
      floats(v);
    }
    o << '\n';
  }
  return o.str();
}

IngestRecord record(const std::string& network, const std::string& layer, uint32_t seed, const std::string& probe_path,
                    const std::string& hash = "fnv1a64:probe") {
  RecordShape shape;
  shape.network = network;
  shape.layer = layer;
  shape.seed = seed;
  shape.probe_path = probe_path;
  IngestRecord r = test::make_record(shape);
  r.probe.content_hash = hash;
  return r;
}

class MergeTest : public ::testing::Test {
 protected:
  std::string shard(const std::string& name, const std::vector<IngestRecord>& records) {
    const std::string path = dir_.file(name);
    Catalog c = Catalog::open(path);
    for (const IngestRecord& r : records) c.write_ingest(r);
    return path;
  }
  test::TempDir dir_;
};

// Two shards probed with one probe set at two paths (same content hash): the merged catalog
// equals the records written one after another into one catalog, and shares the concepts.
TEST_F(MergeTest, ShardsFoldIntoWhatASerialIngestWrites) {
  const IngestRecord a = record("net", "conv5", 1, "/node1/broden");
  const IngestRecord b1 = record("net", "conv4", 2, "/node2/broden");
  const IngestRecord b2 = record("other", "conv5", 3, "/node2/broden");
  const std::string shard_a = shard("a.db", {a}), shard_b = shard("b.db", {b1, b2});
  Catalog serial = Catalog::open(dir_.file("serial.db"));
  for (const IngestRecord& r : {a, b1, b2}) serial.write_ingest(r);

  Catalog merged = Catalog::open(dir_.file("merged.db"));
  const Catalog::MergeReport report = merged.merge({shard_a, shard_b});
  EXPECT_EQ(report.shards, 2);
  EXPECT_EQ(report.spaces_added, 6);
  EXPECT_EQ(report.spaces_replaced + report.spaces_kept + report.spaces_unchanged, 0);
  EXPECT_EQ(dump(merged), dump(serial));
  EXPECT_FALSE(dump(merged).empty());
  EXPECT_EQ(merged.spaces().size(), 6u);
  const std::string path = dir_.file("merged.db");
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM probe_set"), "1");  // one probe set, by content
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM concept"), "8");
  EXPECT_EQ(RawDb(path).value("SELECT count(*) FROM run"), "3");
  EXPECT_EQ(test::checksum(merged.vectors("other.conv5.seg")), test::checksum(b2.spaces[0]));
  EXPECT_EQ(RawDb(path).value("PRAGMA integrity_check"), "ok");

  // Without a hash (catalogs written before schema 5), probe sets are told apart by path.
  const std::string no_hash_a = shard("na.db", {record("net", "conv5", 1, "/node1/broden", "")});
  const std::string no_hash_b = shard("nb.db", {record("net", "conv4", 2, "/node2/broden", "")});
  Catalog by_path = Catalog::open(dir_.file("by_path.db"));
  by_path.merge({no_hash_a, no_hash_b});
  EXPECT_EQ(RawDb(dir_.file("by_path.db")).value("SELECT count(*) FROM probe_set"), "2");
}

TEST_F(MergeTest, MergingAShardTwiceChangesNothing) {
  const std::string s = shard("a.db", {record("net", "conv5", 1, "/p"), record("net", "conv4", 2, "/p")});
  {
    Catalog ref = Catalog::open(s);
    ref.write_reference_space("glove", "test vectors", 2, {{"c1", {1, 0}}, {"c2", {0, 1}}});
  }
  const std::string target = dir_.file("t.db");
  Catalog t = Catalog::open(target);
  const Catalog::MergeReport first = t.merge({s});
  EXPECT_EQ(first.spaces_added, 5);
  const std::string before = dump(t);
  const auto counts = test::table_counts(target);
  const uint64_t generation = t.generation();
  for (int i = 0; i < 2; ++i) {
    const Catalog::MergeReport again = t.merge({s, s});
    EXPECT_EQ(again.spaces_added + again.spaces_replaced + again.spaces_kept, 0);
    EXPECT_EQ(again.spaces_unchanged, 10);
  }
  EXPECT_EQ(dump(t), before);
  EXPECT_EQ(test::table_counts(target), counts);
  EXPECT_EQ(t.generation(), generation);  // no transaction changed the file
  EXPECT_NE(before.find("reference glove test vectors"), std::string::npos) << before;
}

TEST_F(MergeTest, ConflictsKeepTheLaterRunOrFail) {
  IngestRecord early = record("net", "conv5", 1, "/p");
  IngestRecord late = record("net", "conv5", 2, "/p");
  late.run.started_at = "2026-02-01T00:00:00Z";
  late.run.finished_at = "2026-02-01T00:10:00Z";
  const std::string s_early = shard("early.db", {early}), s_late = shard("late.db", {late});

  // Later run replaces; an earlier one is kept out; either order ends the same.
  for (const auto& order : {std::vector<std::string>{s_early, s_late}, std::vector<std::string>{s_late, s_early}}) {
    const std::string target = dir_.file("t" + std::to_string(order[0] == s_early) + ".db");
    Catalog t = Catalog::open(target);
    const Catalog::MergeReport r = t.merge(order);
    EXPECT_EQ(r.spaces_added, 2);
    EXPECT_EQ(order[0] == s_early ? r.spaces_replaced : r.spaces_kept, 2);
    EXPECT_EQ(test::checksum(t.vectors("net.conv5.seg")), test::checksum(late.spaces[0]));
    EXPECT_EQ(RawDb(target).value("SELECT count(*) FROM run"), "1");  // the replaced run is gone
  }

  // --on-conflict error: refused, naming the space and the shard; nothing written.
  const std::string target = dir_.file("strict.db");
  Catalog t = Catalog::open(target);
  t.merge({s_early});
  const std::string before = dump(t);
  expect_error([&] { t.merge({s_late}, Catalog::OnConflict::kError); }, ErrorCode::kInvalidArgument,
               {"net.conv5.", s_late});
  EXPECT_EQ(dump(t), before);
  EXPECT_EQ(t.merge({s_early}, Catalog::OnConflict::kError).spaces_unchanged, 2);  // same run: no conflict
}

// A shard of schema version 4 (before probe-set hashes) merges from a migrated copy; the
// shard file itself is not touched.
TEST_F(MergeTest, OlderShardsAreMigratedInACopy) {
  const std::string s = shard("old.db", {record("net", "conv5", 1, "/p", "")});
  RawDb(s, false).exec(test::downgrade_sql(Catalog::latest_schema_version(), 4));
  ASSERT_EQ(RawDb(s).value("PRAGMA user_version"), "4");
  const std::string bytes = bytes_of(s);
  Catalog t = Catalog::open(dir_.file("t.db"));
  EXPECT_EQ(t.merge({s}).spaces_added, 2);
  EXPECT_EQ(bytes_of(s), bytes);
  EXPECT_EQ(RawDb(s).value("PRAGMA user_version"), "4");
  EXPECT_EQ(t.spaces().size(), 2u);
}

TEST_F(MergeTest, BadShardsAreRefusedAndNothingIsWritten) {
  const std::string good = shard("good.db", {record("net", "conv5", 1, "/p")});
  const std::string text = dir_.file("notes.db");
  std::ofstream(text) << "this is not a catalog\n";
  const std::string newer = shard("newer.db", {record("net", "conv4", 2, "/p")});
  RawDb(newer, false).exec("PRAGMA user_version = 99");
  const std::string target = dir_.file("t.db");
  Catalog t = Catalog::open(target);
  const auto counts = test::table_counts(target);
  struct Case {
    std::string shard;
    ErrorCode code;
  };
  for (const Case& c : {Case{dir_.file("missing.db"), ErrorCode::kNotFound}, Case{text, ErrorCode::kCorrupt},
                        Case{newer, ErrorCode::kUnsupported}}) {
    SCOPED_TRACE(c.shard);
    // The good shard's rows go back with the transaction.
    expect_error([&] { t.merge({good, c.shard}); }, c.code, {c.shard});
    EXPECT_EQ(test::table_counts(target), counts);
  }
  EXPECT_EQ(RawDb(target).value("PRAGMA integrity_check"), "ok");
}

// A hand-edited shard may not bring in an id the writers would refuse: one with CR LF went
// into the server's Content-Disposition header (security review F9).
TEST_F(MergeTest, ShardIdsAreValidatedLikeTheWriters) {
  const std::string good = shard("good.db", {record("net", "conv5", 1, "/p")});
  const std::string evil = shard("evil.db", {record("net", "conv4", 2, "/p")});
  {
    Catalog c = Catalog::open(evil);
    c.write_reference_space("glove", "test vectors", 2, {{"c1", {1, 0}}, {"c2", {0, 1}}});
  }
  RawDb db(evil, false);
  db.exec("PRAGMA foreign_keys = OFF");
  db.exec("UPDATE space SET id = 'evil' || char(13) || char(10) || 'Set-Cookie: a=b' WHERE id = 'glove'");
  db.exec("UPDATE embedding SET space_id = 'evil' || char(13) || char(10) || 'Set-Cookie: a=b' WHERE space_id = 'glove'");
  const std::string target = dir_.file("t.db");
  Catalog t = Catalog::open(target);
  const auto counts = test::table_counts(target);
  expect_error([&] { t.merge({good, evil}); }, ErrorCode::kInvalidArgument, {evil, "A-Z a-z 0-9 _ -"});
  EXPECT_EQ(test::table_counts(target), counts);
}

}  // namespace
}  // namespace n2v
