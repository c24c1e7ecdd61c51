#pragma once
// Direct SQLite access for the tests: they check what the file holds, not only what the
// Catalog reads back, and they damage files on purpose.

#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace n2v::test {

class RawDb {
 public:
  explicit RawDb(const std::string& path, bool read_only = true) {
    const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = sqlite3_errmsg(db_);
      sqlite3_close_v2(db_);
      throw std::runtime_error("RawDb " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error("RawDb exec " + sql + ": " + sqlite3_errmsg(db_));
  }
  // Every row of a query, each cell as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error("RawDb prepare " + sql + ": " + sqlite3_errmsg(db_));
    std::vector<std::vector<std::string>> result;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row.push_back(text ? text : "NULL");
      }
      result.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
      throw std::runtime_error("RawDb step " + sql + ": " + sqlite3_errmsg(db_));
    return result;
  }
  std::string value(const std::string& sql) {
    auto r = rows(sql);
    if (r.empty() || r[0].empty()) throw std::runtime_error("RawDb: no value for " + sql);
    return r[0][0];
  }
  long long count(const std::string& table) {
    return std::stoll(value("SELECT count(*) FROM " + table));
  }

 private:
  sqlite3* db_ = nullptr;
};

// Row counts of every table: equal before and after means "nothing was written".
inline std::vector<long long> table_counts(const std::string& path) {
  RawDb db(path);
  std::vector<long long> counts;
  for (const char* table : {"probe_set", "concept", "probe_image", "network", "run", "threshold",
                            "space", "embedding", "subset_score", "image_iou", "predicted_mask"})
    counts.push_back(db.count(table));
  return counts;
}

}  // namespace n2v::test
