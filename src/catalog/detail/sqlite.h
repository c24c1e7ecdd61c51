#pragma once
// Internal to src/catalog: the SQLite plumbing every catalog file uses. Every failure becomes
// an n2v::Error naming the file (throw_sqlite); statements are prepared once and reused
// (Stmt); BEGIN ... COMMIT is RAII (Transaction).

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace n2v::detail {

constexpr int kBusyTimeoutMs = 5000;

// ---- SQLite plumbing: every failure becomes an n2v::Error naming the file ----

ErrorCode error_code_for(int rc);

[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& path, int rc, std::string_view what);

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

// A prepared statement. Prepared once per operation and reused across rows: preparing
// costs more than binding and stepping a small INSERT.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, std::string_view sql) : db_(db), path_(&path) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db_, *path_, rc, "preparing " + std::string(sql));
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Makes the statement ready for the next set of parameters.
  Stmt& reset() {
    sqlite3_reset(stmt_);  // its return code repeats the last step's, already reported
    sqlite3_clear_bindings(stmt_);
    return *this;
  }
  Stmt& bind_int(int i, int64_t value) { return check(sqlite3_bind_int64(stmt_, i, value)); }
  Stmt& bind_real(int i, double value) { return check(sqlite3_bind_double(stmt_, i, value)); }
  Stmt& bind_text(int i, std::string_view value) {
    return check(
        sqlite3_bind_text64(stmt_, i, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  // Empty text is stored as NULL: used for optional JSON columns.
  Stmt& bind_text_or_null(int i, std::string_view value) {
    return value.empty() ? bind_null(i) : bind_text(i, value);
  }
  Stmt& bind_blob(int i, const void* data, size_t size) {
    return check(sqlite3_bind_blob64(stmt_, i, data, size, SQLITE_TRANSIENT));
  }
  Stmt& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }
  // nullopt and NaN both mean "not measured" and are stored as NULL (SQLite would turn a
  // NaN into NULL anyway).
  Stmt& bind_opt(int i, std::optional<float> value) {
    return value && !std::isnan(*value) ? bind_real(i, *value) : bind_null(i);
  }

  // True: a row is available; false: done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // The statement's start is enough to tell which one failed.
    std::string sql = sqlite3_sql(stmt_);
    if (sql.size() > 60) sql = sql.substr(0, 60) + "...";
    throw_sqlite(db_, *path_, rc, "running " + sql);
  }
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }
  // Runs an INSERT ... RETURNING id (all its changes happen at the first step).
  int64_t run_returning_id() {
    N2V_ASSERT(step());
    const int64_t id = int64(0);
    run();
    return id;
  }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  int int32(int col) const { return sqlite3_column_int(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::optional<float> opt_float(int col) const {
    if (is_null(col)) return std::nullopt;
    return static_cast<float>(real(col));
  }
  std::string text(int col) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (data == nullptr) return {};
    return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string_view blob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr) return {};
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(db_, *path_, rc, "binding a parameter");
    return *this;
  }

  sqlite3* db_;
  const std::string* path_;
  sqlite3_stmt* stmt_ = nullptr;
};

// ---- The connection ----

// The sqlite3 handle and the path every message names.
struct Connection {
  DbHandle db;
  std::string path;

  void exec(const std::string& sql, std::string_view what) const {
    char* message = nullptr;
    const int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &message);
    sqlite3_free(message);  // the same text is in sqlite3_errmsg
    if (rc != SQLITE_OK) throw_sqlite(db.get(), path, rc, what);
  }

  Stmt prepare(std::string_view sql) const { return Stmt(db.get(), path, sql); }

  int64_t pragma_int(const char* name) const {
    Stmt stmt = prepare(std::string("PRAGMA ") + name);
    return stmt.step() ? stmt.int64(0) : 0;
  }
};

// BEGIN ... COMMIT, rolled back when left without commit() (an exception on the way).
class Transaction {
 public:
  Transaction(const Connection& conn, const char* begin) : conn_(conn) {
    conn_.exec(begin, "starting a transaction");
  }
  ~Transaction() {
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
    if (!committed_ && sqlite3_get_autocommit(conn_.db.get()) == 0)
      sqlite3_exec(conn_.db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    conn_.exec("COMMIT", "committing");
    committed_ = true;
  }

 private:
  const Connection& conn_;
  bool committed_ = false;
};

}  // namespace n2v::detail
