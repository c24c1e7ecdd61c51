// The catalog itself: tasks and ids, opening (identity, schema migrations), the reader pool
// and the generation. Writing is in write.cpp, reading in read.cpp, shards and merge in
// merge.cpp; SQLite plumbing, Catalog::Impl and the codecs in detail/.

#include "catalog/catalog.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <utility>

#include "catalog/detail/impl.h"
#include "catalog/detail/sqlite.h"
#include "common/enum_names.h"
#include "common/error.h"

namespace n2v {

namespace detail {
// Generated from sql/NNN_*.sql by embed_sql.cmake.
std::vector<std::pair<int, std::string_view>> migrations();
}  // namespace detail

using detail::Connection;
using detail::DbHandle;
using detail::kBusyTimeoutMs;
using detail::Stmt;
using detail::throw_sqlite;
using detail::Transaction;

// ---- Tasks and ids ----

namespace {
constexpr EnumName<Task> kTaskNames[] = {{Task::kSegmentation, "segmentation"},
                                         {Task::kSegmentation, "seg"},
                                         {Task::kClassification, "classification"},
                                         {Task::kClassification, "cls"}};
constexpr EnumName<SpaceKind> kSpaceKindNames[] = {{SpaceKind::kNetwork, "network"},
                                                   {SpaceKind::kReference, "reference"}};
}  // namespace

const char* to_string(Task task) { return enum_name(kTaskNames, task); }

const char* short_name(Task task) { return task == Task::kSegmentation ? "seg" : "cls"; }

Task parse_task(const std::string& text) { return parse_enum(kTaskNames, text, "task"); }

const char* to_string(SpaceKind kind) { return enum_name(kSpaceKindNames, kind); }

SpaceKind parse_space_kind(const std::string& text) { return parse_enum(kSpaceKindNames, text, "space kind"); }

void check_id_part(const std::string& name, const char* what) {
  constexpr size_t kMaxLength = 64;
  const bool valid_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  N2V_CHECK(!name.empty() && name.size() <= kMaxLength && valid_chars, kInvalidArgument,
            "invalid " << what << " '" << name << "': ids use 1 to " << kMaxLength
                       << " characters of A-Z a-z 0-9 _ -");
}

std::string layer_id(const std::string& layer) {
  constexpr size_t kMaxLength = 64, kKept = 55;
  N2V_CHECK(!layer.empty(), kInvalidArgument, "empty layer name");
  std::string id;
  id.reserve(layer.size());
  for (const char c : layer) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    id.push_back(keep ? c : c == '.' ? '-' : '_');
  }
  if (id.size() <= kMaxLength) return id;
  uint32_t hash = 2166136261u;  // FNV-1a over the model's own spelling
  for (const char c : layer) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", hash);
  return id.substr(0, kKept) + "-" + hex;
}

std::string space_id(const std::string& network, const std::string& layer, Task task) {
  check_id_part(network, "network name");
  return network + "." + layer_id(layer) + "." + short_name(task);
}

std::string canonical_space_id(const std::string& text) {
  const size_t first = text.find('.'), last = text.rfind('.');
  if (first == std::string::npos || last <= first + 1) return text;
  const std::string network = text.substr(0, first), task = text.substr(last + 1);
  const std::string layer = text.substr(first + 1, last - first - 1);
  if (task != "seg" && task != "cls") return text;
  return network + "." + layer_id(layer) + "." + task;
}

namespace {
constexpr int64_t kApplicationId = 0x4E325643;  // 'N2VC', set by sql/001_init.sql
}  // namespace

void Catalog::Impl::open() {
  int file_version = 0;
  try {
    file_version = static_cast<int>(pragma_int("user_version"));
  } catch (const Error& e) {
    // The first read is where SQLite notices that the file is not a database.
    if (e.code() == ErrorCode::kCorrupt)
      N2V_THROW(kCorrupt, path << " is not a net2vec catalog (not an SQLite database: "
                               << e.message() << ")");
    throw;
  }
  const int latest = latest_schema_version();
  N2V_CHECK(file_version <= latest, kUnsupported,
            "catalog " << path << " has schema version " << file_version
                       << ": it was written by a newer net2vec (this one knows versions up to "
                       << latest << ")");
  check_identity(file_version);

  if (mode == Mode::kReadWrite) {
    // WAL: readers (queries, the server) keep working while an ingest writes, and a crash
    // mid-write leaves the last committed state. NORMAL sync is still atomic and
    // consistent in WAL mode; only a power cut can lose the very last commit.
    exec("PRAGMA journal_mode = WAL", "switching to WAL");
    exec("PRAGMA synchronous = NORMAL", "setting synchronous");
    exec("PRAGMA journal_size_limit = 67108864", "setting journal_size_limit");
    // SQLite's default page cache (2 MiB) is enough: 32 MiB saved only ~20% of a
    // BRODEN-scale ingest (1.2 s vs 1.5 s). Big transactions spill pages to the WAL before
    // COMMIT, which is safe (uncommitted frames are ignored) and what the crash test covers.
    migrate(file_version);
  } else if (file_version < latest) {
    N2V_CHECK(file_version > 0, kCorrupt,
              path << " is not a net2vec catalog (an SQLite file without its schema)");
    N2V_THROW(kUnsupported, "catalog " << path << " has schema version " << file_version
                                       << " (latest " << latest
                                       << "); open it read-write once to migrate it");
  }
  exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  version = static_cast<int>(pragma_int("user_version"));
}

void Catalog::Impl::check_identity(int file_version) const {
  if (file_version > 0) {
    const int64_t app_id = pragma_int("application_id");
    N2V_CHECK(
        app_id == kApplicationId, kCorrupt,
        path << " is not a net2vec catalog (an SQLite file with application_id " << app_id << ")");
    return;
  }
  // Version 0 is a new, empty file; anything in it means it belongs to someone else, and
  // migrating would mix our tables into it.
  Stmt stmt = prepare("SELECT count(*) FROM sqlite_schema");
  N2V_CHECK(!stmt.step() || stmt.int64(0) == 0, kCorrupt,
            path << " is an SQLite database but not a net2vec catalog");
}

void Catalog::Impl::migrate(int file_version) {
  auto steps = detail::migrations();
  std::sort(steps.begin(), steps.end());
  for (auto& [number, sql] : steps) {
    if (number <= file_version) continue;
    // Foreign keys are off here (enabled after migrating), as SQLite's procedure for schema
    // changes asks; foreign_key_check below catches what a migration would break.
    Transaction tx(*this, "BEGIN IMMEDIATE");
    // Another process may have migrated between our read and our write lock.
    const int current = static_cast<int>(pragma_int("user_version"));
    if (current < number) {
      exec(std::string(sql), "applying schema migration " + std::to_string(number));
      Stmt check = prepare("PRAGMA foreign_key_check");
      N2V_CHECK(!check.step(), kInternal,
                "schema migration " << number << " broke foreign keys in " << path);
      exec("PRAGMA user_version = " + std::to_string(number), "setting user_version");
    }
    tx.commit();
  }
}

std::unique_ptr<Connection> Catalog::Impl::open_reader() const {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) throw_sqlite(raw, path, rc, "opening a reader");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  return std::make_unique<Connection>(Connection{std::move(db), path});
}

Catalog::Impl::Reader Catalog::Impl::reader() const {
  {
    std::lock_guard lock(pool_mutex);
    if (!idle_readers.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_readers.back());
      idle_readers.pop_back();
      return Reader(*this, std::move(conn));
    }
  }
  return Reader(*this, open_reader());  // opened outside the lock: it touches the file
}

Catalog Catalog::open(const std::string& path, Mode mode) {
  std::error_code ec;
  N2V_CHECK(mode == Mode::kReadWrite || std::filesystem::exists(path, ec), kNotFound,
            "catalog not found: " << path);
  const int flags =
      (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);  // owned from here on, even when opening failed
  if (rc != SQLITE_OK) throw_sqlite(raw, path, rc, "opening");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  auto impl = std::make_unique<Impl>(std::move(db), path, mode);
  impl->open();
  return Catalog(std::move(impl));
}

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

const std::string& Catalog::path() const { return impl_->path; }

int Catalog::schema_version() const { return impl_->version; }

uint64_t Catalog::generation() const {
  std::lock_guard lock(impl_->watch_mutex);
  if (!impl_->watcher) {
    impl_->watcher = impl_->open_reader();
    const int rc = sqlite3_prepare_v3(impl_->watcher->db.get(), "PRAGMA data_version", -1,
                                      SQLITE_PREPARE_PERSISTENT, &impl_->data_version, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(impl_->watcher->db.get(), impl_->path, rc, "preparing PRAGMA data_version");
  }
  sqlite3_stmt* stmt = impl_->data_version;
  sqlite3_reset(stmt);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) throw_sqlite(impl_->watcher->db.get(), impl_->path, rc, "reading PRAGMA data_version");
  const uint64_t version = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_reset(stmt);
  return version;
}

int Catalog::latest_schema_version() {
  int latest = 0;
  for (const auto& step : detail::migrations()) latest = std::max(latest, step.first);
  return latest;
}

void Catalog::fail_after_rows_for_testing(int64_t rows) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_after_rows = rows;
}

}  // namespace n2v
