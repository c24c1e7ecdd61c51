// net2vec-ingest on tcmalloc (its default, common/process.h) and on glibc's malloc
// (NET2VEC_ALLOCATOR=system) stores the same catalog: every table compared value by value,
// except the columns that record when and how fast (timestamps, timings) and the run
// parameters, which must differ only by their "allocator" key.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/process.h"
#include "support/run_command.h"
#include "support/temp_dir.h"
#include "support/toy_fixture.h"

namespace n2v {
namespace {

using Result = test::CommandResult;
Result run(const std::string& env, const std::string& args) {
  return test::run_command("env -u NET2VEC_ALLOCATOR " + env + " " + NET2VEC_INGEST + " " + args);
}

// One cell: SQLite's storage class and its bytes (BLOBs and REALs exactly).
struct Cell {
  int type;
  std::string bytes;
  bool operator==(const Cell& o) const { return type == o.type && bytes == o.bytes; }
};

using Table = std::vector<std::vector<Cell>>;

struct Db {
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      ADD_FAILURE() << "cannot open " << path;
  }
  ~Db() { sqlite3_close(db); }
  sqlite3* db = nullptr;

  std::vector<std::string> column_strings(const std::string& sql) const {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
      return out;
    }
    while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    return out;
  }

  // Rows of a table, the given columns, in a stable order (all columns).
  Table rows(const std::string& table, const std::vector<std::string>& columns) const {
    std::string list;
    for (const std::string& c : columns) list += (list.empty() ? "\"" : ", \"") + c + "\"";
    std::string sql = "SELECT " + list + " FROM \"" + table + "\" ORDER BY " + list;
    Table out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
      return out;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::vector<Cell> row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        Cell c{sqlite3_column_type(s, i), {}};
        if (c.type == SQLITE_FLOAT) {
          double v = sqlite3_column_double(s, i);
          c.bytes.assign(reinterpret_cast<const char*>(&v), sizeof v);
        } else if (c.type != SQLITE_NULL) {
          const void* p = sqlite3_column_blob(s, i);
          c.bytes.assign(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i)));
        }
        row.push_back(std::move(c));
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    return out;
  }
};

TEST(IngestAllocator, SameCatalogOnTcmallocAndGlibc) {
  test::TempDir dir;
  test::write_toy(dir.path());
  const std::string args = "--probe " + dir.file("probe") + " --model " + dir.file("model.pt") +
                           " --layer features,coarse --network toy --quantile 0.125 --progress lines --db ";
  Result glibc = run("NET2VEC_ALLOCATOR=system", args + dir.file("glibc.db"));
  ASSERT_EQ(glibc.status, 0) << glibc.out;
  Result fast = run("", args + dir.file("default.db"));
  ASSERT_EQ(fast.status, 0) << fast.out;
  EXPECT_EQ(fast.out.find("tcmalloc: large alloc"), std::string::npos) << fast.out;

  const bool sanitized = sanitizer_build();
  const bool have_tcmalloc = !find_tcmalloc_library().empty();
  const std::string expect_glibc = sanitized ? "sanitizer" : "glibc";
  const std::string expect_default = sanitized ? "sanitizer" : have_tcmalloc ? "tcmalloc" : "glibc";
  EXPECT_NE(glibc.out.find("malloc " + expect_glibc), std::string::npos) << glibc.out;
  EXPECT_NE(fast.out.find("malloc " + expect_default), std::string::npos) << fast.out;

  Db a(dir.file("glibc.db")), b(dir.file("default.db"));
  const std::vector<std::string> tables =
      a.column_strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1");
  ASSERT_EQ(tables, b.column_strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                     "'sqlite_%' ORDER BY 1"));
  // What differs by design between two runs: when, how fast, and the allocator key.
  const std::set<std::string> skipped{"started_at", "finished_at", "created_at", "updated_at", "timings", "params"};
  int compared_rows = 0;
  for (const std::string& table : tables) {
    std::vector<std::string> columns;
    for (const std::string& c : a.column_strings("SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid"))
      if (!skipped.count(c)) columns.push_back(c);
    ASSERT_FALSE(columns.empty()) << table;
    Table ra = a.rows(table, columns), rb = b.rows(table, columns);
    ASSERT_EQ(ra.size(), rb.size()) << table;
    for (size_t i = 0; i < ra.size(); ++i) EXPECT_TRUE(ra[i] == rb[i]) << table << " row " << i;
    compared_rows += static_cast<int>(ra.size());
  }
  // The toy's two layers: 2 runs, 4 spaces; embeddings, thresholds and per-image IoUs.
  EXPECT_EQ(a.column_strings("SELECT count(*) FROM run"), std::vector<std::string>{"2"});
  for (const char* table : {"embedding", "threshold", "image_iou", "subset_score"})
    EXPECT_NE(a.column_strings(std::string("SELECT count(*) FROM ") + table), std::vector<std::string>{"0"}) << table;
  EXPECT_GT(compared_rows, 100);

  // The run parameters: equal but for the allocator, which says which one ran.
  std::vector<std::string> pa = a.column_strings("SELECT params FROM run ORDER BY layer");
  std::vector<std::string> pb = b.column_strings("SELECT params FROM run ORDER BY layer");
  ASSERT_EQ(pa.size(), 2u);
  ASSERT_EQ(pb.size(), 2u);
  for (size_t i = 0; i < pa.size(); ++i) {
    nlohmann::json ja = nlohmann::json::parse(pa[i]), jb = nlohmann::json::parse(pb[i]);
    EXPECT_EQ(ja.value("allocator", ""), expect_glibc) << pa[i];
    EXPECT_EQ(jb.value("allocator", ""), expect_default) << pb[i];
    ja.erase("allocator");
    jb.erase("allocator");
    EXPECT_EQ(ja, jb);
  }
  if (!sanitized && !have_tcmalloc) GTEST_SKIP() << "tcmalloc not installed: both runs were on glibc";
}

}  // namespace
}  // namespace n2v
