// Opening: creation, migration, version checks, files that are not catalogs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "catalog/catalog.h"
#include "common/error.h"
#include "raw_sql.h"
#include "support/expect.h"
#include "support/older_schema.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::RawDb;

using test::expect_error;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CatalogOpen, FreshFileIsMigratedToLatest) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  ASSERT_EQ(Catalog::latest_schema_version(), 8);
  {
    Catalog catalog = Catalog::open(path);
    EXPECT_EQ(catalog.schema_version(), 8);
    EXPECT_TRUE(catalog.spaces().empty());
  }
  RawDb db(path);
  EXPECT_EQ(db.value("PRAGMA user_version"), "8");
  EXPECT_EQ(db.value("PRAGMA application_id"), "1311921731");
  EXPECT_EQ(db.value("PRAGMA journal_mode"), "wal");
  auto objects =
      db.rows("SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name");
  std::vector<std::string> names;
  for (const auto& row : objects) names.push_back(row[0] + ":" + row[1]);
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "table:concept", "table:embedding", "view:embedding_summary", "table:filter_top_image", "table:image_iou",
                "table:network", "table:predicted_mask", "table:probe_image", "table:probe_set", "table:run", "table:space",
                "view:space_summary", "table:subset_score", "table:threshold"}));
  EXPECT_EQ(db.value("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                     "('concept_by_name', 'space_by_run', 'run_by_network')"),
            "3");
}

// tests/support/older_schema.h undoes every migration, so that the tests of migration on
// open, merge and --reproduce can make an older version's file: a file taken back to any
// version from 2 opens again as the latest, with its data and the same schema as a fresh one
// (a missing or wrong undo fails here: "duplicate column" on reopening, or another schema).
TEST(CatalogOpen, OlderSchemaUndoesEveryMigration) {
  ASSERT_EQ(test::kNewestUndone, Catalog::latest_schema_version())
      << "a new sql/ migration needs its undo in tests/support/older_schema.h";
  test::TempDir dir;
  const std::string fresh = dir.file("fresh.db");
  Catalog::open(fresh).write_ingest(test::make_record({}));
  const auto schema_of = [](const std::string& path) {
    return RawDb(path).rows("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name");
  };
  for (int version = 2; version < Catalog::latest_schema_version(); ++version) {
    SCOPED_TRACE("version " + std::to_string(version));
    const std::string path = dir.file("v" + std::to_string(version) + ".db");
    std::filesystem::copy_file(fresh, path);
    RawDb(path, false).exec(test::downgrade_sql(Catalog::latest_schema_version(), version));
    EXPECT_EQ(RawDb(path).value("PRAGMA user_version"), std::to_string(version));
    Catalog reopened = Catalog::open(path);
    EXPECT_EQ(reopened.schema_version(), Catalog::latest_schema_version());
    EXPECT_EQ(reopened.spaces().size(), 2u);
    EXPECT_EQ(schema_of(path), schema_of(fresh));
  }
}

TEST(CatalogOpen, ReopeningIsIdempotentAndKeepsData) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  const IngestRecord record = test::make_record({});
  {
    Catalog catalog = Catalog::open(path);
    catalog.write_ingest(record);
  }
  const std::string schema_before = RawDb(path).value(
      "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)");
  const auto counts_before = test::table_counts(path);
  for (int i = 0; i < 3; ++i) {
    Catalog catalog = Catalog::open(path);
    EXPECT_EQ(catalog.schema_version(), 8);
    EXPECT_EQ(catalog.spaces().size(), 2u);
  }
  Catalog read_only = Catalog::open(path, Catalog::Mode::kReadOnly);
  EXPECT_EQ(read_only.schema_version(), 8);
  EXPECT_EQ(test::checksum(read_only.vectors("net.conv5.seg")), test::checksum(record.spaces[0]));
  RawDb db(path);
  EXPECT_EQ(db.value("PRAGMA user_version"), "8");
  EXPECT_EQ(db.value("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema "
                     "ORDER BY name)"),
            schema_before);
  EXPECT_EQ(test::table_counts(path), counts_before);
}

TEST(CatalogOpen, NewerSchemaIsUnsupported) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog::open(path);
  RawDb(path, false)
      .exec("PRAGMA user_version = " + std::to_string(Catalog::latest_schema_version() + 1));
  for (auto mode : {Catalog::Mode::kReadWrite, Catalog::Mode::kReadOnly})
    expect_error([&] { Catalog::open(path, mode); }, ErrorCode::kUnsupported,
                 {path, "newer net2vec", "version " + std::to_string(Catalog::latest_schema_version() + 1)});
  EXPECT_EQ(RawDb(path).value("PRAGMA user_version"), std::to_string(Catalog::latest_schema_version() + 1));  // left alone
}

TEST(CatalogOpen, GarbageFileIsCorruptAndUntouched) {
  test::TempDir dir;
  const std::string path = dir.file("notes.db");
  std::string garbage;
  for (int i = 0; i < 300; ++i)
    garbage += "this is not an SQLite database, line " + std::to_string(i) + "\n";
  std::ofstream(path, std::ios::binary) << garbage;
  for (auto mode : {Catalog::Mode::kReadWrite, Catalog::Mode::kReadOnly})
    expect_error([&] { Catalog::open(path, mode); }, ErrorCode::kCorrupt,
                 {path, "not a net2vec catalog"});
  EXPECT_EQ(read_bytes(path), garbage);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(CatalogOpen, OtherSqliteFilesAreNotCatalogs) {
  test::TempDir dir;
  const std::string tables = dir.file("other.db");
  RawDb(tables, false).exec("CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('x')");
  expect_error([&] { Catalog::open(tables); }, ErrorCode::kCorrupt,
               {tables, "not a net2vec catalog"});
  EXPECT_EQ(RawDb(tables).value("SELECT count(*) FROM sqlite_schema"), "1");  // no tables added
  EXPECT_EQ(RawDb(tables).value("PRAGMA journal_mode"), "delete");            // nor WAL

  const std::string versioned = dir.file("versioned.db");
  RawDb(versioned, false).exec("CREATE TABLE t(x); PRAGMA user_version = 1");
  expect_error([&] { Catalog::open(versioned); }, ErrorCode::kCorrupt,
               {versioned, "not a net2vec catalog"});

  // An empty SQLite file is not a catalog for a reader (there is nothing to read), but a
  // writer may make it one.
  const std::string empty = dir.file("empty.db");
  std::ofstream(empty).close();
  expect_error([&] { Catalog::open(empty, Catalog::Mode::kReadOnly); }, ErrorCode::kCorrupt,
               {empty});
  EXPECT_EQ(Catalog::open(empty).schema_version(), 8);
}

TEST(CatalogOpen, ReadOnlyMissingFileIsNotFound) {
  test::TempDir dir;
  const std::string path = dir.file("missing.db");
  expect_error([&] { Catalog::open(path, Catalog::Mode::kReadOnly); }, ErrorCode::kNotFound,
               {path});
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CatalogOpen, UnwritableLocationIsIo) {
  test::TempDir dir;
  const std::string path = dir.file("no/such/dir/catalog.db");
  expect_error([&] { Catalog::open(path); }, ErrorCode::kIo, {path});
}

TEST(CatalogOpen, ReadOnlyCatalogRefusesWrites) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  Catalog::open(path);
  Catalog catalog = Catalog::open(path, Catalog::Mode::kReadOnly);
  expect_error([&] { catalog.write_ingest(test::make_record({})); }, ErrorCode::kInvalidArgument,
               {"read-only"});
  EXPECT_TRUE(catalog.spaces().empty());
}

TEST(CatalogOpen, MovedCatalogKeepsWorking) {
  test::TempDir dir;
  Catalog a = Catalog::open(dir.file("a.db"));
  a.write_ingest(test::make_record({}));
  Catalog b = std::move(a);
  EXPECT_EQ(b.spaces().size(), 2u);
  Catalog c = Catalog::open(dir.file("c.db"));
  c = std::move(b);
  EXPECT_EQ(c.spaces().size(), 2u);
}

}  // namespace
}  // namespace n2v
