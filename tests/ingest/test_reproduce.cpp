// net2vec-ingest --reproduce (issue 21 part 3) end to end on the toy network: the real binary
// ingests, then re-runs the stored run from the catalog alone and must find it identical; the
// run records its model's SHA-256; a moved or changed model or probe set is an error naming the
// recorded path and the hash it expects, and nothing is written.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "catalog/catalog.h"
#include "common/sha256.h"
#include "support/run_command.h"
#include "support/older_schema.h"
#include "support/temp_dir.h"
#include "support/toy_fixture.h"

namespace n2v {
namespace {

namespace fs = std::filesystem;

test::CommandResult run(const std::string& args) {
  return test::run_command(std::string(NET2VEC_INGEST) + " " + args);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class Reproduce : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_toy(dir.path());
    const test::CommandResult r =
        run("--probe " + dir.file("probe") + " --model " + dir.file("model.pt") +
            " --layer features --network toy --quantile 0.125 --epochs 3 --cls-epochs 3 --seg-subsets 1,2"
            " --resamples 200 --permutations 200 --progress none --db " + dir.file("catalog.db"));
    ASSERT_EQ(r.status, 0) << r.out;
  }
  test::TempDir dir;
};

TEST_F(Reproduce, RunRecordsTheModelsSha256) {
  const Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const RunRecord run = cat.run(cat.space("toy.features.seg")->run_id);
  EXPECT_EQ(run.model_sha256, sha256_file(dir.file("model.pt")));
  EXPECT_EQ(run.model_sha256.size(), 64u);
}

TEST_F(Reproduce, SameBuildAndMachineIsIdentical) {
  const test::CommandResult r =
      run("--reproduce toy.features.seg --progress none --db " + dir.file("catalog.db") + " --into " + dir.file("again.db"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "identical: yes")) << r.out;
  EXPECT_TRUE(contains(r.out, "toy.features.seg") && contains(r.out, "toy.features.cls")) << r.out;
  // The re-run really is a second catalog with the same numbers, bit for bit.
  const Catalog a = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const Catalog b = Catalog::open(dir.file("again.db"), Catalog::Mode::kReadOnly);
  for (const char* space : {"toy.features.seg", "toy.features.cls"}) {
    const auto x = a.concept_scores(space), y = b.concept_scores(space);
    ASSERT_EQ(x.size(), y.size()) << space;
    ASSERT_FALSE(x.empty());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].embedding.weights, y[i].embedding.weights) << space << " " << x[i].name;
      EXPECT_EQ(x[i].embedding.score_val_stats.low, y[i].embedding.score_val_stats.low) << x[i].name;
      EXPECT_EQ(x[i].embedding.score_val_stats.p, y[i].embedding.score_val_stats.p) << x[i].name;
    }
  }
  EXPECT_EQ(a.run(a.space("toy.features.seg")->run_id).thresholds, b.run(b.space("toy.features.seg")->run_id).thresholds);
}

TEST_F(Reproduce, ACatalogThatDiffersIsReportedAsDifferent) {
  // The stored biases of the seg space moved by 0.25 after the run: the re-run must say so,
  // naming how much, in a temporary catalog it removes.
  const std::string db = dir.file("catalog.db");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE embedding SET bias = bias + 0.25 WHERE space_id = 'toy.features.seg'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  const test::CommandResult r = run("--reproduce toy.features.seg --progress none --db " + db);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "identical: no")) << r.out;
  EXPECT_TRUE(contains(r.out, "weights and biases : 0.25")) << r.out;
  EXPECT_TRUE(contains(r.out, "in a temporary catalog (removed)")) << r.out;
}

// A catalog of schema 7 (no model hash yet) cannot be opened read-only: the run is read from
// a migrated copy, the user's file is left at version 7, and the re-run is still identical.
TEST_F(Reproduce, CatalogFromBeforeVersion8IsReadFromAMigratedCopy) {
  const std::string db = dir.file("catalog.db");
  auto exec = [&](const char* sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  };
  exec(test::downgrade_sql(Catalog::latest_schema_version(), 7).c_str());
  const test::CommandResult r = run("--reproduce toy.features.seg --progress none --db " + db);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "identical: yes")) << r.out;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 7);  // not migrated in place
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST_F(Reproduce, MovedModelNamesTheRecordedPathAndHash) {
  const std::string hash = sha256_file(dir.file("model.pt"));
  fs::rename(dir.file("model.pt"), dir.file("moved.pt"));
  const test::CommandResult r = run("--reproduce toy.features.seg --progress none --db " + dir.file("catalog.db"));
  EXPECT_EQ(r.status, 3) << r.out;  // not found
  EXPECT_TRUE(contains(r.out, fs::absolute(dir.file("model.pt")).lexically_normal().string())) << r.out;
  EXPECT_TRUE(contains(r.out, hash)) << r.out;
}

TEST_F(Reproduce, ChangedModelIsRefusedWithBothHashes) {
  const std::string hash = sha256_file(dir.file("model.pt"));
  std::ofstream(dir.file("model.pt"), std::ios::app) << "x";  // one byte more
  const test::CommandResult r = run("--reproduce toy.features.seg --progress none --db " + dir.file("catalog.db"));
  EXPECT_EQ(r.status, 2) << r.out;  // invalid input
  EXPECT_TRUE(contains(r.out, hash)) << r.out;
  EXPECT_TRUE(contains(r.out, sha256_file(dir.file("model.pt")))) << r.out;
}

TEST_F(Reproduce, MovedProbeSetNamesTheRecordedPathAndHash) {
  const Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const std::string probe_hash = cat.concept_images("toy.features.seg", "redsquare")->probe_hash;
  ASSERT_FALSE(probe_hash.empty());
  fs::rename(dir.file("probe"), dir.file("elsewhere"));
  const test::CommandResult r = run("--reproduce toy.features.seg --progress none --db " + dir.file("catalog.db"));
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, fs::absolute(dir.file("probe")).lexically_normal().string())) << r.out;
  EXPECT_TRUE(contains(r.out, probe_hash)) << r.out;
}

TEST_F(Reproduce, UnknownSpaceAndIntoWithoutReproduceAreErrors) {
  const test::CommandResult r = run("--reproduce toy.nothing.seg --progress none --db " + dir.file("catalog.db"));
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "toy.nothing.seg")) << r.out;
  const test::CommandResult into = run("--probe p --model m --layer l --network n --db x --into y");
  EXPECT_EQ(into.status, 2) << into.out;
  EXPECT_TRUE(contains(into.out, "--into goes with --reproduce")) << into.out;
}

}  // namespace
}  // namespace n2v
