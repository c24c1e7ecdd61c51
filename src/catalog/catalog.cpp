#include "catalog/catalog.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/error.h"

namespace n2v {

namespace detail {
// Generated from sql/NNN_*.sql by embed_sql.cmake.
std::vector<std::pair<int, std::string_view>> migrations();
}  // namespace detail

// ---- Tasks and ids ----

const char* to_string(Task task) {
  return task == Task::kSegmentation ? "segmentation" : "classification";
}

const char* short_name(Task task) { return task == Task::kSegmentation ? "seg" : "cls"; }

Task parse_task(const std::string& text) {
  if (text == "segmentation" || text == "seg") return Task::kSegmentation;
  if (text == "classification" || text == "cls") return Task::kClassification;
  N2V_THROW(kInvalidArgument, "unknown task '" << text
                                               << "' (expected segmentation, seg, "
                                                  "classification or cls)");
}

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
constexpr int kBusyTimeoutMs = 5000;

// ---- SQLite plumbing: every failure becomes an n2v::Error naming the file ----

ErrorCode error_code_for(int rc) {
  switch (rc & 0xff) {  // primary code; extended codes only refine it
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return ErrorCode::kCorrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return ErrorCode::kIo;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return ErrorCode::kInvalidArgument;
    default:
      return ErrorCode::kInternal;
  }
}

[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& path, int rc,
                               std::string_view what) {
  // sqlite3_errmsg describes the connection's latest failure, which is the one at hand
  // because every call is checked right away.
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::ostringstream text;
  text << "catalog " << path << ": " << what << ": " << message << " (" << sqlite3_errstr(rc)
       << ")";
  // What SQLite's words leave out (tests/reliability): what may be behind an I/O failure
  // (SQLite keeps the OS error of a failed WAL write to itself), why a write or a lock failed.
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
      text << "; is the disk full, a file size limit (ulimit -f) reached, or the disk failing?";
      break;
    case SQLITE_READONLY:
      text << "; the file or its folder is not writable (SQLite also writes " << path
           << "-wal and -shm next to it)";
      break;
    case SQLITE_BUSY:
      text << "; another process kept the catalog locked for more than " << kBusyTimeoutMs / 1000
           << " s (an ingest or a reference import writing to it?)";
      break;
    default:
      break;
  }
  detail::throw_error(error_code_for(rc), text.str(), __FILE__, __LINE__);
}

// ---- Fault injection: exists only for the fault tests (tests/reliability) ----
// NET2VEC_FAULT=catalog-write-after-N makes this process SIGKILL itself inside a write
// transaction (write_ingest, write_reference_space) just before its (N+1)-th row insert,
// NET2VEC_FAULT=catalog-write-before-commit just before COMMIT: points inside the catalog
// write that no output shows from outside. Unset or anything else: nothing happens.
void fault_point(int64_t rows_written, bool before_commit) {
  static const int64_t after = [] {
    const char* value = std::getenv("NET2VEC_FAULT");
    constexpr std::string_view kAfter = "catalog-write-after-";
    if (value == nullptr) return int64_t{-1};
    if (std::string_view(value) == "catalog-write-before-commit") return int64_t{-2};
    if (std::string_view(value).substr(0, kAfter.size()) != kAfter) return int64_t{-1};
    return static_cast<int64_t>(std::strtoll(value + kAfter.size(), nullptr, 10));
  }();
  if (after != -1 && (before_commit ? after == -2 : after == rows_written)) std::raise(SIGKILL);
}

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

// ---- Vector BLOBs: little-endian float32, whatever the host ----

std::vector<unsigned char> encode_vector(const std::vector<float>& values) {
  std::vector<unsigned char> bytes(values.size() * 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      const auto bits = std::bit_cast<uint32_t>(values[i]);
      for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
    }
  }
  return bytes;
}

std::vector<float> decode_vector(std::string_view bytes) {
  std::vector<float> values(bytes.size() / 4);
  if constexpr (std::endian::native == std::endian::little) {
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * 4);
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[4 * i + b])) << (8 * b);
      values[i] = std::bit_cast<float>(bits);
    }
  }
  return values;
}

// Splits "net.layer.seg" into its parts; empty when it does not have exactly three.
std::vector<std::string> id_parts(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = id.find('.', start);
    parts.push_back(id.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) parts.clear();
  return parts;
}

bool valid_json(const std::string& text) { return text.empty() || nlohmann::json::accept(text); }

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

}  // namespace

struct Catalog::Impl : Connection {
  Mode mode;
  int version = 0;
  int64_t fail_after_rows = -1;  // test hook
  int64_t rows_written = 0;      // row inserts of the current write_ingest
  mutable std::mutex mutex;      // the primary connection: one write (or migration) at a time

  // Reads go to a pool of read-only connections, one per concurrent reader, so that queries
  // from several threads (the server) run at once instead of queueing on `mutex`. WAL mode
  // lets them read while a writer commits; each read sees one committed snapshot.
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<Connection>> idle_readers;
  // A connection kept only to ask PRAGMA data_version (generation()).
  mutable std::mutex watch_mutex;
  mutable std::unique_ptr<Connection> watcher;
  mutable sqlite3_stmt* data_version = nullptr;

  Impl(DbHandle handle, std::string file, Mode open_mode)
      : Connection{std::move(handle), std::move(file)}, mode(open_mode) {}
  ~Impl() { sqlite3_finalize(data_version); }

  // A read-only connection from the pool, returned when the lease ends.
  class Reader {
   public:
    Reader(const Impl& impl, std::unique_ptr<Connection> conn) : impl_(impl), conn_(std::move(conn)) {}
    ~Reader() {
      std::lock_guard lock(impl_.pool_mutex);
      if (impl_.idle_readers.size() < kMaxIdleReaders) impl_.idle_readers.push_back(std::move(conn_));
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    const Connection& operator*() const { return *conn_; }
    const Connection* operator->() const { return conn_.get(); }

   private:
    static constexpr size_t kMaxIdleReaders = 32;
    const Impl& impl_;
    std::unique_ptr<Connection> conn_;
  };
  Reader reader() const;
  std::unique_ptr<Connection> open_reader() const;

  // Called before each row insert of write_ingest: the test hook fails there.
  void before_insert() {
    fault_point(rows_written, false);
    if (fail_after_rows >= 0 && rows_written >= fail_after_rows)
      N2V_THROW(kInternal,
                "test hook: failing write_ingest after " << rows_written << " row inserts");
    ++rows_written;
  }

  // write_ingest's rows, inside the caller's transaction (write_ingest, merge).
  int64_t write_rows(const IngestRecord& record);
  // write_reference_space's rows, inside the caller's transaction; created_at "" = now.
  void write_reference_rows(const std::string& id, const std::string& source, int dim,
                            const std::vector<std::pair<std::string, std::vector<float>>>& vectors,
                            const std::string& created_at);

  void open();
  void check_identity(int file_version) const;
  void migrate(int file_version);
  int64_t write(const IngestRecord& record);
  [[noreturn]] void throw_no_space(const std::string& id) const {
    N2V_THROW(kNotFound, "no space '" << id << "' in catalog " << path);
  }
};

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

// ---- Validation: everything write_ingest can check before touching the file ----

namespace {

// Bytes of one bit-packed predicted mask (sql/004_predicted_masks.sql).
size_t packed_mask_bytes(const PredictedMaskRecord& m) {
  return (static_cast<size_t>(std::max(m.height, 0)) * static_cast<size_t>(std::max(m.width, 0)) + 7) / 8;
}

void validate(const IngestRecord& record) {
  const RunRecord& run = record.run;
  N2V_CHECK(!record.probe.path.empty(), kInvalidArgument, "ingest record: empty probe set path");
  check_id_part(run.network, "network name");
  N2V_CHECK(!run.layer.empty(), kInvalidArgument, "ingest record: empty layer name");
  N2V_CHECK(run.filter_count > 0, kInvalidArgument,
            "ingest record: filter count must be positive, got " << run.filter_count);
  N2V_CHECK(run.thresholds.size() == static_cast<size_t>(run.filter_count), kInvalidArgument,
            "ingest record: " << run.thresholds.size() << " thresholds for " << run.filter_count
                              << " filters");
  for (size_t k = 0; k < run.thresholds.size(); ++k)
    N2V_CHECK(std::isfinite(run.thresholds[k]), kInvalidArgument,
              "ingest record: threshold of filter " << k << " is " << run.thresholds[k]);
  const std::pair<const char*, const std::string*> json_fields[] = {
      {"params", &run.params_json},
      {"preprocessing", &run.preprocessing_json},
      {"timings", &run.timings_json}};
  for (const auto& [name, text] : json_fields)
    N2V_CHECK(valid_json(*text), kInvalidArgument,
              "ingest record: run " << name << " is not valid JSON: " << *text);

  std::unordered_map<int, const ConceptRecord*> concepts;
  for (const ConceptRecord& c : record.concepts) {
    N2V_CHECK(concepts.emplace(c.number, &c).second, kInvalidArgument,
              "ingest record: concept number " << c.number << " appears twice");
  }
  std::unordered_set<int> rows;
  for (const ProbeImageRecord& image : record.images) {
    N2V_CHECK(image.row >= 0 && rows.insert(image.row).second, kInvalidArgument,
              "ingest record: probe image row " << image.row << " is negative or repeated");
    N2V_CHECK(image.split == "train" || image.split == "val", kInvalidArgument,
              "ingest record: probe image row " << image.row << " has split '" << image.split
                                                << "' (expected train or val)");
  }

  N2V_CHECK(!record.spaces.empty(), kInvalidArgument, "ingest record: no spaces to write");
  std::unordered_set<std::string> space_ids;
  for (const SpaceRecord& space : record.spaces) {
    N2V_CHECK(space_ids.insert(space.id).second, kInvalidArgument,
              "ingest record: space '" << space.id << "' appears twice");
    const std::vector<std::string> parts = id_parts(space.id);
    N2V_CHECK(!parts.empty() && parts[2] == short_name(space.task), kInvalidArgument,
              "ingest record: space id '" << space.id << "' is not <network>.<layer>."
                                          << short_name(space.task));
    check_id_part(parts[0], "network name");
    check_id_part(parts[1], "layer name");

    std::unordered_set<int> seen_concepts;
    for (const EmbeddingRecord& e : space.embeddings) {
      const auto it = concepts.find(e.concept_number);
      N2V_CHECK(it != concepts.end(), kInvalidArgument,
                "space " << space.id << ": concept number " << e.concept_number
                         << " is not among the probe set's concepts");
      const std::string& name = it->second->name;
      N2V_CHECK(seen_concepts.insert(e.concept_number).second, kInvalidArgument,
                "space " << space.id << ": concept '" << name << "' has two embeddings");
      N2V_CHECK(e.weights.size() == static_cast<size_t>(run.filter_count), kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': vector has "
                         << e.weights.size() << " values but the layer has " << run.filter_count
                         << " filters");
      for (size_t k = 0; k < e.weights.size(); ++k)
        N2V_CHECK(std::isfinite(e.weights[k]), kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': weight " << k << " is "
                           << e.weights[k]);
      N2V_CHECK(std::isfinite(e.bias) && std::isfinite(e.alpha), kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': bias " << e.bias << " / alpha "
                         << e.alpha << " not finite");
      N2V_CHECK(e.filter_iou_val.empty() ||
                    e.filter_iou_val.size() == static_cast<size_t>(run.filter_count),
                kInvalidArgument,
                "ingest record: space " << space.id << ", concept " << e.concept_number << ": "
                                        << e.filter_iou_val.size() << " filter IoUs but the layer has "
                                        << run.filter_count << " filters");
      N2V_CHECK(e.best_filter >= -1 && e.best_filter < run.filter_count, kInvalidArgument,
                "space " << space.id << ", concept '" << name << "': best filter " << e.best_filter
                         << " out of range");
      std::unordered_set<int> sizes;
      for (const SubsetScore& s : e.subsets)
        N2V_CHECK(s.filters > 0 && sizes.insert(s.filters).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': subset size " << s.filters
                           << " is not positive or repeated");
      std::unordered_set<int> iou_rows;
      for (const ImageIouRecord& iou : e.image_iou) {
        N2V_CHECK(rows.count(iou.image_row) != 0, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': image row " << iou.image_row
                           << " is not among the probe images");
        N2V_CHECK(iou_rows.insert(iou.image_row).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': image row " << iou.image_row
                           << " appears twice");
      }
      std::unordered_set<int> mask_rows;
      for (const PredictedMaskRecord& m : e.predicted_masks) {
        const size_t bytes = packed_mask_bytes(m);
        N2V_CHECK(m.height > 0 && m.width > 0 && m.learned.size() == bytes && m.single.size() == bytes,
                  kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': predicted masks of image row "
                           << m.image_row << " are not " << m.height << " x " << m.width << " bits");
        N2V_CHECK(rows.count(m.image_row) != 0 && mask_rows.insert(m.image_row).second, kInvalidArgument,
                  "space " << space.id << ", concept '" << name << "': predicted masks of image row "
                           << m.image_row << " (not a probe image, or given twice)");
      }
    }
  }
}

}  // namespace

// ---- write_ingest ----

int64_t Catalog::Impl::write(const IngestRecord& record) {
  rows_written = 0;
  // IMMEDIATE takes the write lock now (waiting up to busy_timeout for another writer)
  // instead of failing half-way at the first write.
  Transaction tx(*this, "BEGIN IMMEDIATE");
  const int64_t run_id = write_rows(record);
  fault_point(rows_written, true);
  tx.commit();
  return run_id;
}

int64_t Catalog::Impl::write_rows(const IngestRecord& record) {
  const ProbeSetRecord& probe = record.probe;
  const RunRecord& run = record.run;
  // Two spellings of a layer with one id part ("a.b" and "a-b"): replacing the other one's
  // space would lose it silently, so refuse, naming both.
  {
    Stmt owner = prepare("SELECT r.layer FROM space s JOIN run r ON r.id = s.run_id WHERE s.id = ?1");
    for (const SpaceRecord& space : record.spaces) {
      owner.reset().bind_text(1, space.id);
      if (owner.step() && owner.text(0) != run.layer)
        N2V_THROW(kInvalidArgument, "layer '" << run.layer << "' and layer '" << owner.text(0) << "' of network '"
                                              << run.network << "' both map to space id '" << space.id
                                              << "' (" << path << " holds the second); ingest one of them "
                                              << "under another --network name");
    }
  }
  // replace: a stray non-UTF-8 byte in a CSV header must not abort the ingest.
  const std::string categories =
      nlohmann::json(probe.categories).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The same content is the same probe set wherever it lies (shards of other machines); a
  // probe set without a hash is matched by path.
  int64_t probe_set_id = 0;
  if (!probe.content_hash.empty()) {
    Stmt find = prepare("SELECT id FROM probe_set WHERE content_hash = ?1 ORDER BY id LIMIT 1");
    find.bind_text(1, probe.content_hash);
    if (find.step()) probe_set_id = find.int64(0);
  }
  before_insert();
  if (probe_set_id != 0) {
    prepare(
        "UPDATE probe_set SET name = ?2, image_count = ?3, mask_height = ?4, mask_width = ?5,"
        " categories = ?6, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1")
        .bind_int(1, probe_set_id)
        .bind_text(2, probe.name)
        .bind_int(3, probe.image_count)
        .bind_int(4, probe.mask_height)
        .bind_int(5, probe.mask_width)
        .bind_text(6, categories)
        .run();
  } else {
    probe_set_id =
        prepare(
            "INSERT INTO probe_set(name, path, image_count, mask_height, mask_width, categories, content_hash)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            " ON CONFLICT(path) DO UPDATE SET name = excluded.name,"
            " image_count = excluded.image_count, mask_height = excluded.mask_height,"
            " mask_width = excluded.mask_width, categories = excluded.categories,"
            " content_hash = coalesce(excluded.content_hash, content_hash),"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
            " RETURNING id")
            .bind_text(1, probe.name)
            .bind_text(2, probe.path)
            .bind_int(3, probe.image_count)
            .bind_int(4, probe.mask_height)
            .bind_int(5, probe.mask_width)
            .bind_text(6, categories)
            .bind_text_or_null(7, probe.content_hash)
            .run_returning_id();
  }

  // Upserts keep concept and image ids stable, so other spaces' rows stay attached.
  std::unordered_map<int, int64_t> concept_ids;
  {
    Stmt stmt = prepare(
        "INSERT INTO concept(probe_set_id, number, name, category, categories, frequency,"
        " coverage, syns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT(probe_set_id, number) DO UPDATE SET name = excluded.name,"
        " category = excluded.category, categories = excluded.categories,"
        " frequency = excluded.frequency, coverage = excluded.coverage, syns = excluded.syns"
        " RETURNING id");
    for (const ConceptRecord& c : record.concepts) {
      before_insert();
      concept_ids[c.number] = stmt.reset()
                                  .bind_int(1, probe_set_id)
                                  .bind_int(2, c.number)
                                  .bind_text(3, c.name)
                                  .bind_text(4, c.category)
                                  .bind_text(5, c.categories)
                                  .bind_int(6, c.frequency)
                                  .bind_real(7, c.coverage)
                                  .bind_text(8, c.syns)
                                  .run_returning_id();
    }
  }
  std::unordered_map<int, int64_t> image_ids;
  {
    Stmt stmt = prepare(
        "INSERT INTO probe_image(probe_set_id, row, path, split) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(probe_set_id, row) DO UPDATE SET path = excluded.path,"
        " split = excluded.split RETURNING id");
    for (const ProbeImageRecord& image : record.images) {
      before_insert();
      image_ids[image.row] = stmt.reset()
                                 .bind_int(1, probe_set_id)
                                 .bind_int(2, image.row)
                                 .bind_text(3, image.path)
                                 .bind_text(4, image.split)
                                 .run_returning_id();
    }
  }

  before_insert();
  const int64_t network_id =
      prepare(
          "INSERT INTO network(name, model_path) VALUES (?1, ?2)"
          " ON CONFLICT(name) DO UPDATE SET model_path = excluded.model_path,"
          " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') RETURNING id")
          .bind_text(1, run.network)
          .bind_text(2, run.model_path)
          .run_returning_id();

  before_insert();
  const int64_t run_id =
      prepare(
          "INSERT INTO run(network_id, probe_set_id, model_path, layer, device,"
          " software_version, seed, tau, params, preprocessing, timings, started_at,"
          " finished_at, images_used, images_skipped, filter_count, act_height, act_width)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
          " ?17, ?18) RETURNING id")
          .bind_int(1, network_id)
          .bind_int(2, probe_set_id)
          .bind_text(3, run.model_path)
          .bind_text(4, run.layer)
          .bind_text(5, run.device)
          .bind_text(6, run.software_version)
          .bind_int(7, run.seed)
          .bind_real(8, run.tau)
          .bind_text_or_null(9, run.params_json)
          .bind_text_or_null(10, run.preprocessing_json)
          .bind_text_or_null(11, run.timings_json)
          .bind_text(12, run.started_at)
          .bind_text(13, run.finished_at)
          .bind_int(14, run.images_used)
          .bind_int(15, run.images_skipped)
          .bind_int(16, run.filter_count)
          .bind_int(17, run.act_height)
          .bind_int(18, run.act_width)
          .run_returning_id();
  {
    Stmt stmt = prepare("INSERT INTO threshold(run_id, filter, value) VALUES (?1, ?2, ?3)");
    for (size_t k = 0; k < run.thresholds.size(); ++k) {
      before_insert();
      stmt.reset()
          .bind_int(1, run_id)
          .bind_int(2, static_cast<int64_t>(k))
          .bind_real(3, run.thresholds[k])
          .run();
    }
  }

  Stmt delete_space = prepare("DELETE FROM space WHERE id = ?1");
  Stmt insert_space = prepare(
      "INSERT INTO space(id, network, layer, task, kind, run_id, dim)"
      " VALUES (?1, ?2, ?3, ?4, 'network', ?5, ?6)");
  Stmt insert_embedding = prepare(
      "INSERT INTO embedding(space_id, concept_id, vector, bias, alpha, train_count,"
      " val_count, set_iou_train, set_iou_val, accuracy_train, accuracy_val, best_filter,"
      " best_filter_train, best_filter_val, filter_iou_val)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  Stmt insert_subset =
      prepare("INSERT INTO subset_score(embedding_id, filters, score) VALUES (?1, ?2, ?3)");
  Stmt insert_iou = prepare(
      "INSERT INTO image_iou(embedding_id, probe_image_id, learned, single)"
      " VALUES (?1, ?2, ?3, ?4)");
  Stmt insert_mask = prepare(
      "INSERT INTO predicted_mask(embedding_id, probe_image_id, height, width, learned, single)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (const SpaceRecord& space : record.spaces) {
    // The old space and, through ON DELETE CASCADE, its embeddings, subset scores and
    // image IoUs: a replaced space never keeps rows of concepts the new one lacks.
    delete_space.reset().bind_text(1, space.id).run();
    const std::vector<std::string> parts = id_parts(space.id);
    before_insert();
    insert_space.reset()
        .bind_text(1, space.id)
        .bind_text(2, parts[0])
        .bind_text(3, parts[1])
        .bind_text(4, to_string(space.task))
        .bind_int(5, run_id)
        .bind_int(6, run.filter_count)
        .run();
    for (const EmbeddingRecord& e : space.embeddings) {
      const std::vector<unsigned char> blob = encode_vector(e.weights);
      const std::vector<unsigned char> filter_blob = encode_vector(e.filter_iou_val);
      before_insert();
      insert_embedding.reset()
          .bind_text(1, space.id)
          .bind_int(2, concept_ids.at(e.concept_number))
          .bind_blob(3, blob.data(), blob.size())
          .bind_real(4, e.bias)
          .bind_real(5, e.alpha)
          .bind_int(6, e.train_count)
          .bind_int(7, e.val_count)
          .bind_opt(8, e.set_iou_train)
          .bind_opt(9, e.set_iou_val)
          .bind_opt(10, e.accuracy_train)
          .bind_opt(11, e.accuracy_val)
          .bind_int(12, e.best_filter)
          .bind_opt(13, e.best_filter_train)
          .bind_opt(14, e.best_filter_val);
      if (filter_blob.empty())
        insert_embedding.bind_null(15);
      else
        insert_embedding.bind_blob(15, filter_blob.data(), filter_blob.size());
      insert_embedding.run();
      const int64_t embedding_id = sqlite3_last_insert_rowid(db.get());
      for (const SubsetScore& s : e.subsets) {
        before_insert();
        insert_subset.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, s.filters)
            .bind_opt(3, s.score)
            .run();
      }
      for (const ImageIouRecord& iou : e.image_iou) {
        before_insert();
        insert_iou.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, image_ids.at(iou.image_row))
            .bind_opt(3, iou.learned)
            .bind_opt(4, iou.single)
            .run();
      }
      for (const PredictedMaskRecord& m : e.predicted_masks) {
        before_insert();
        insert_mask.reset()
            .bind_int(1, embedding_id)
            .bind_int(2, image_ids.at(m.image_row))
            .bind_int(3, m.height)
            .bind_int(4, m.width)
            .bind_blob(5, m.learned.data(), m.learned.size())
            .bind_blob(6, m.single.data(), m.single.size())
            .run();
      }
    }
  }
  // Runs whose spaces were all replaced (their thresholds cascade).
  exec("DELETE FROM run WHERE id NOT IN (SELECT run_id FROM space WHERE run_id IS NOT NULL)",
       "deleting orphaned runs");
  return run_id;
}

// ---- Readers ----

namespace {
constexpr const char* kSpaceSelect =
    "SELECT s.id, s.network, s.layer, s.kind, s.task, s.dim, s.run_id, s.created_at,"
    " (SELECT count(*) FROM embedding e WHERE e.space_id = s.id), s.source,"
    " (SELECT r.layer FROM run r WHERE r.id = s.run_id) FROM space s";

SpaceInfo read_space_row(const Stmt& stmt) {
  SpaceInfo info;
  info.id = stmt.text(0);
  info.network = stmt.text(1);
  info.layer = stmt.text(2);
  info.kind = stmt.text(3);
  if (!stmt.is_null(4)) info.task = parse_task(stmt.text(4));  // NULL: reference space
  info.dim = stmt.int32(5);
  info.run_id = stmt.is_null(6) ? 0 : stmt.int64(6);
  info.created_at = stmt.text(7);
  info.concept_count = stmt.int32(8);
  info.source = stmt.text(9);  // NULL reads as ""
  info.model_layer = stmt.text(10);
  return info;
}

std::optional<SpaceInfo> read_space(const Connection& conn, const std::string& id) {
  Stmt stmt = conn.prepare(std::string(kSpaceSelect) + " WHERE s.id = ?1");
  stmt.bind_text(1, id);
  if (!stmt.step()) return std::nullopt;
  return read_space_row(stmt);
}
}  // namespace

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

int64_t Catalog::write_ingest(const IngestRecord& record) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument,
            "catalog " << impl_->path << " is open read-only");
  validate(record);
  return impl_->write(record);
}

std::vector<SpaceInfo> Catalog::spaces() const {
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare(std::string(kSpaceSelect) + " ORDER BY s.id");
  std::vector<SpaceInfo> result;
  while (stmt.step()) result.push_back(read_space_row(stmt));
  return result;
}

std::optional<SpaceInfo> Catalog::space(const std::string& name) const {
  const Impl::Reader conn = impl_->reader();
  return read_space(*conn, canonical_space_id(name));
}

std::vector<ConceptVector> Catalog::vectors(const std::string& space_name) const {
  std::optional<SpaceVectors> space = space_vectors(space_name);
  if (!space) impl_->throw_no_space(canonical_space_id(space_name));
  return std::move(space->vectors);
}

std::optional<SpaceVectors> Catalog::space_vectors(const std::string& space_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  // One read transaction: the space's record and its rows come from the same snapshot.
  Transaction tx(*conn, "BEGIN");
  std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) return std::nullopt;
  Stmt stmt = conn->prepare(
      "SELECT c.number, c.name, c.category, e.vector FROM embedding e"
      " JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?1 ORDER BY c.number");
  stmt.bind_text(1, space_id);
  std::vector<ConceptVector> result;
  while (stmt.step()) {
    ConceptVector v;
    v.concept_number = stmt.int32(0);
    v.name = stmt.text(1);
    v.category = stmt.text(2);
    const std::string_view blob = stmt.blob(3);
    N2V_CHECK(blob.size() == static_cast<size_t>(info->dim) * 4, kCorrupt,
              "catalog " << impl_->path << ": space " << space_id << ", concept '" << v.name
                         << "': vector of " << blob.size() << " bytes for dim " << info->dim);
    v.weights = decode_vector(blob);
    result.push_back(std::move(v));
  }
  tx.commit();
  return SpaceVectors{std::move(*info), std::move(result)};
}

namespace {

// The embedding columns both readers select, in this order (then what each adds).
constexpr std::string_view kEmbeddingSelect =
    "SELECT e.id, c.number, e.train_count, e.val_count, e.vector, e.bias, e.alpha,"
    " e.set_iou_train, e.set_iou_val, e.accuracy_train, e.accuracy_val, e.best_filter,"
    " e.best_filter_train, e.best_filter_val, e.filter_iou_val, c.name, c.category FROM embedding e"
    " JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?1";

// Columns 1..14 of kEmbeddingSelect (not subsets or per-image IoU); vector sizes checked
// against the space's dimension, naming the concept.
EmbeddingRecord decode_embedding(const Stmt& stmt, int dim, const std::string& path, const std::string& space_id) {
  const size_t bytes = static_cast<size_t>(dim) * 4;
  const std::string_view blob = stmt.blob(4), filter_blob = stmt.blob(14);  // NULL reads as empty
  N2V_CHECK(blob.size() == bytes && (filter_blob.empty() || filter_blob.size() == bytes), kCorrupt,
            "catalog " << path << ": space " << space_id << ", concept '" << stmt.text(15) << "': weights of "
                       << blob.size() << " bytes and filter IoUs of " << filter_blob.size() << " bytes for dim "
                       << dim);
  EmbeddingRecord e;
  e.concept_number = stmt.int32(1);
  e.train_count = stmt.int32(2);
  e.val_count = stmt.int32(3);
  e.weights = decode_vector(blob);
  e.bias = static_cast<float>(stmt.real(5));
  e.alpha = static_cast<float>(stmt.real(6));
  e.set_iou_train = stmt.opt_float(7);
  e.set_iou_val = stmt.opt_float(8);
  e.accuracy_train = stmt.opt_float(9);
  e.accuracy_val = stmt.opt_float(10);
  e.best_filter = stmt.int32(11);
  e.best_filter_train = stmt.opt_float(12);
  e.best_filter_val = stmt.opt_float(13);
  e.filter_iou_val = decode_vector(filter_blob);
  return e;
}

}  // namespace

std::optional<EmbeddingRecord> Catalog::embedding(const std::string& space_name,
                                                  const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  const std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) impl_->throw_no_space(space_id);
  // Names are unique in BRODEN; should a probe set repeat one, the lowest number wins.
  Stmt stmt = conn->prepare(std::string(kEmbeddingSelect) + " AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  if (!stmt.step()) return std::nullopt;
  const int64_t embedding_id = stmt.int64(0);
  EmbeddingRecord e = decode_embedding(stmt, info->dim, impl_->path, space_id);

  Stmt subsets = conn->prepare(
      "SELECT filters, score FROM subset_score WHERE embedding_id = ?1 ORDER BY filters");
  subsets.bind_int(1, embedding_id);
  while (subsets.step())
    e.subsets.push_back({subsets.int32(0), subsets.opt_float(1).value_or(NAN)});

  Stmt ious = conn->prepare(
      "SELECT p.row, i.learned, i.single FROM image_iou i"
      " JOIN probe_image p ON p.id = i.probe_image_id WHERE i.embedding_id = ?1"
      " ORDER BY p.row");
  ious.bind_int(1, embedding_id);
  while (ious.step())
    e.image_iou.push_back(
        {ious.int32(0), ious.opt_float(1).value_or(NAN), ious.opt_float(2).value_or(NAN)});
  tx.commit();
  return e;
}

namespace {

// The run columns both run readers select first, in this order (then what each adds).
constexpr std::string_view kRunColumns =
    "n.name, r.model_path, r.layer, r.device, r.software_version, r.seed, r.tau,"
    " r.params, r.preprocessing, r.timings, r.started_at, r.finished_at, r.images_used,"
    " r.images_skipped, r.filter_count, r.act_height, r.act_width";
constexpr int kRunColumnCount = 17;

// Columns 0..16 (kRunColumns) and the run's thresholds.
RunRecord decode_run(const Connection& conn, const Stmt& stmt, int64_t run_id) {
  RunRecord run;
  run.network = stmt.text(0);
  run.model_path = stmt.text(1);
  run.layer = stmt.text(2);
  run.device = stmt.text(3);
  run.software_version = stmt.text(4);
  run.seed = stmt.int64(5);
  run.tau = stmt.real(6);
  run.params_json = stmt.text(7);  // NULL reads as "" (and is written back as NULL)
  run.preprocessing_json = stmt.text(8);
  run.timings_json = stmt.text(9);
  run.started_at = stmt.text(10);
  run.finished_at = stmt.text(11);
  run.images_used = stmt.int32(12);
  run.images_skipped = stmt.int32(13);
  run.filter_count = stmt.int32(14);
  run.act_height = stmt.int32(15);
  run.act_width = stmt.int32(16);
  Stmt thresholds = conn.prepare("SELECT value FROM threshold WHERE run_id = ?1 ORDER BY filter");
  thresholds.bind_int(1, run_id);
  while (thresholds.step()) run.thresholds.push_back(static_cast<float>(thresholds.real(0)));
  return run;
}

}  // namespace

RunRecord Catalog::run(int64_t run_id) const {
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  Stmt stmt = conn->prepare("SELECT " + std::string(kRunColumns) +
                            " FROM run r JOIN network n ON n.id = r.network_id WHERE r.id = ?1");
  stmt.bind_int(1, run_id);
  N2V_CHECK(stmt.step(), kNotFound, "no run " << run_id << " in catalog " << impl_->path);
  RunRecord run = decode_run(*conn, stmt, run_id);
  tx.commit();
  return run;
}

std::vector<ScoredConcept> Catalog::concept_scores(const std::string& space_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  const std::optional<SpaceInfo> info = read_space(*conn, space_id);
  if (!info) impl_->throw_no_space(space_id);
  Stmt stmt = conn->prepare(std::string(kEmbeddingSelect) + " ORDER BY c.number");
  stmt.bind_text(1, space_id);
  std::vector<ScoredConcept> out;
  std::unordered_map<int64_t, size_t> row_of_embedding;
  std::unordered_set<std::string> names;
  while (stmt.step()) {
    ScoredConcept sc;
    sc.name = stmt.text(15);
    if (!names.insert(sc.name).second) continue;  // a repeated name: the lowest number wins
    sc.category = stmt.text(16);
    sc.embedding = decode_embedding(stmt, info->dim, impl_->path, space_id);
    row_of_embedding[stmt.int64(0)] = out.size();
    out.push_back(std::move(sc));
  }
  Stmt subsets = conn->prepare(
      "SELECT s.embedding_id, s.filters, s.score FROM subset_score s JOIN embedding e ON e.id = s.embedding_id"
      " WHERE e.space_id = ?1 ORDER BY s.embedding_id, s.filters");
  subsets.bind_text(1, space_id);
  while (subsets.step()) {
    const auto it = row_of_embedding.find(subsets.int64(0));
    if (it != row_of_embedding.end())
      out[it->second].embedding.subsets.push_back({subsets.int32(1), subsets.opt_float(2).value_or(NAN)});
  }
  tx.commit();
  return out;
}

std::optional<ConceptImages> Catalog::concept_images(const std::string& space_name,
                                                     const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  if (!read_space(*conn, space_id)) impl_->throw_no_space(space_id);
  Stmt stmt = conn->prepare(
      "SELECT e.id, c.number, p.name, p.path, p.content_hash FROM embedding e JOIN concept c ON c.id = e.concept_id"
      " JOIN space s ON s.id = e.space_id LEFT JOIN run r ON r.id = s.run_id"
      " LEFT JOIN probe_set p ON p.id = r.probe_set_id"
      " WHERE e.space_id = ?1 AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  if (!stmt.step()) return std::nullopt;
  ConceptImages out;
  const int64_t embedding_id = stmt.int64(0);
  out.concept_number = stmt.int32(1);
  out.probe_name = stmt.text(2);  // NULL (reference space) reads as ""
  out.probe_path = stmt.text(3);
  out.probe_hash = stmt.text(4);
  Stmt images = conn->prepare(
      "SELECT p.row, p.path, i.learned, i.single FROM image_iou i"
      " JOIN probe_image p ON p.id = i.probe_image_id WHERE i.embedding_id = ?1 ORDER BY p.row");
  images.bind_int(1, embedding_id);
  while (images.step())
    out.images.push_back({images.int32(0), images.text(1), images.opt_float(2), images.opt_float(3)});
  tx.commit();
  return out;
}

std::vector<PredictedMaskRecord> Catalog::predicted_masks(const std::string& space_name,
                                                          const std::string& concept_name) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");
  Stmt stmt = conn->prepare(
      "SELECT e.id FROM embedding e JOIN concept c ON c.id = e.concept_id"
      " WHERE e.space_id = ?1 AND c.name = ?2 ORDER BY c.number LIMIT 1");
  stmt.bind_text(1, space_id).bind_text(2, concept_name);
  N2V_CHECK(stmt.step(), kNotFound,
            "no concept '" << concept_name << "' in space " << space_id << " of catalog " << impl_->path);
  Stmt masks = conn->prepare(
      "SELECT p.row, m.height, m.width, m.learned, m.single FROM predicted_mask m"
      " JOIN probe_image p ON p.id = m.probe_image_id WHERE m.embedding_id = ?1 ORDER BY p.row");
  masks.bind_int(1, stmt.int64(0));
  std::vector<PredictedMaskRecord> out;
  while (masks.step()) {
    const std::string_view learned = masks.blob(3), single = masks.blob(4);
    PredictedMaskRecord m{masks.int32(0), masks.int32(1), masks.int32(2), {learned.begin(), learned.end()},
                          {single.begin(), single.end()}};
    const size_t bytes = packed_mask_bytes(m);
    N2V_CHECK(m.learned.size() == bytes && m.single.size() == bytes, kCorrupt,
              "catalog " << impl_->path << ": predicted masks of '" << concept_name << "' in " << space_id
                         << ", row " << m.image_row << ", are not " << m.height << " x " << m.width << " bits");
    out.push_back(std::move(m));
  }
  tx.commit();
  return out;
}

std::optional<Catalog::ProbeImageRef> Catalog::probe_image(const std::string& space_name, int row) const {
  const std::string space_id = canonical_space_id(space_name);
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare(
      "SELECT p.name, p.path, i.path, p.content_hash FROM space s JOIN run r ON r.id = s.run_id"
      " JOIN probe_set p ON p.id = r.probe_set_id"
      " JOIN probe_image i ON i.probe_set_id = p.id WHERE s.id = ?1 AND i.row = ?2");
  stmt.bind_text(1, space_id).bind_int(2, row);
  if (!stmt.step()) return std::nullopt;
  return ProbeImageRef{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3)};
}

// ---- Reference spaces ----

void Catalog::write_reference_space(
    const std::string& id, const std::string& source_description, int dim,
    const std::vector<std::pair<std::string, std::vector<float>>>& vectors_by_concept_name) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument,
            "catalog " << impl_->path << " is open read-only");
  check_id_part(id, "reference space id");
  N2V_CHECK(dim > 0, kInvalidArgument,
            "reference space " << id << ": dimension must be positive, got " << dim);
  std::unordered_set<std::string> names;
  for (const auto& [name, vector] : vectors_by_concept_name) {
    N2V_CHECK(names.insert(name).second, kInvalidArgument,
              "reference space " << id << ": concept '" << name << "' appears twice");
    N2V_CHECK(vector.size() == static_cast<size_t>(dim), kInvalidArgument,
              "reference space " << id << ", concept '" << name << "': vector has "
                                 << vector.size() << " values, the space has dimension " << dim);
    for (size_t k = 0; k < vector.size(); ++k)
      N2V_CHECK(std::isfinite(vector[k]), kInvalidArgument,
                "reference space " << id << ", concept '" << name << "': value " << k << " is "
                                   << vector[k]);
  }

  Transaction tx(*impl_, "BEGIN IMMEDIATE");
  impl_->rows_written = 0;
  impl_->write_reference_rows(id, source_description, dim, vectors_by_concept_name, "");
  // (No run can be orphaned: the id, one id part, never names a network space.)
  fault_point(impl_->rows_written, true);
  tx.commit();
}

void Catalog::Impl::write_reference_rows(const std::string& id, const std::string& source, int dim,
                                         const std::vector<std::pair<std::string, std::vector<float>>>& vectors,
                                         const std::string& created_at) {
  // The concept row each name is attached to: the lowest id of that name.
  Stmt find_concept = prepare("SELECT min(id) FROM concept WHERE name = ?1");
  std::vector<int64_t> concept_ids;
  concept_ids.reserve(vectors.size());
  for (const auto& entry : vectors) {
    find_concept.reset().bind_text(1, entry.first);
    N2V_CHECK(find_concept.step() && !find_concept.is_null(0), kInvalidArgument,
              "reference space " << id << ": no concept named '" << entry.first << "' in catalog " << path);
    concept_ids.push_back(find_concept.int64(0));
  }
  // The old space and, by cascade, its embeddings (and any scores a network space had).
  prepare("DELETE FROM space WHERE id = ?1").bind_text(1, id).run();
  prepare(
      "INSERT INTO space(id, network, layer, task, kind, run_id, dim, source, created_at)"
      " VALUES (?1, ?1, '', NULL, 'reference', NULL, ?2, ?3,"
      " coalesce(?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))")
      .bind_text(1, id)
      .bind_int(2, dim)
      .bind_text(3, source)
      .bind_text_or_null(4, created_at)
      .run();
  Stmt insert = prepare(
      "INSERT INTO embedding(space_id, concept_id, vector, bias, alpha, train_count,"
      " val_count, best_filter) VALUES (?1, ?2, ?3, 0, 0, 0, 0, -1)");
  for (size_t i = 0; i < vectors.size(); ++i) {
    before_insert();
    const std::vector<unsigned char> blob = encode_vector(vectors[i].second);
    insert.reset().bind_text(1, id).bind_int(2, concept_ids[i]).bind_blob(3, blob.data(), blob.size()).run();
  }
}

std::vector<std::string> Catalog::concept_names() const {
  const Impl::Reader conn = impl_->reader();
  Stmt stmt = conn->prepare("SELECT DISTINCT name FROM concept ORDER BY name");
  std::vector<std::string> names;
  while (stmt.step()) names.push_back(stmt.text(0));
  return names;
}

// ---- Shards: reading a whole catalog back, and merging ----

std::vector<IngestRecord> Catalog::ingest_records() const {
  const Impl::Reader conn = impl_->reader();
  Transaction tx(*conn, "BEGIN");  // one snapshot for every read below
  std::vector<IngestRecord> out;
  Stmt runs = conn->prepare("SELECT " + std::string(kRunColumns) +
                            ", r.id, p.id, p.name, p.path, p.image_count, p.mask_height, p.mask_width,"
                            " p.categories, p.content_hash"
                            " FROM run r JOIN network n ON n.id = r.network_id"
                            " JOIN probe_set p ON p.id = r.probe_set_id ORDER BY r.id");
  while (runs.step()) {
    constexpr int c = kRunColumnCount;  // the columns after the run's
    IngestRecord rec;
    const int64_t run_id = runs.int64(c);
    rec.run = decode_run(*conn, runs, run_id);
    const RunRecord& run = rec.run;
    const int64_t probe_set_id = runs.int64(c + 1);
    rec.probe.name = runs.text(c + 2);
    rec.probe.path = runs.text(c + 3);
    rec.probe.image_count = runs.int32(c + 4);
    rec.probe.mask_height = runs.int32(c + 5);
    rec.probe.mask_width = runs.int32(c + 6);
    for (const auto& category : nlohmann::json::parse(runs.text(c + 7), nullptr, false))
      if (category.is_string()) rec.probe.categories.push_back(category.get<std::string>());
    rec.probe.content_hash = runs.text(c + 8);

    Stmt concepts = conn->prepare(
        "SELECT number, name, category, categories, frequency, coverage, syns FROM concept"
        " WHERE probe_set_id = ?1 ORDER BY number");
    concepts.bind_int(1, probe_set_id);
    while (concepts.step())
      rec.concepts.push_back({concepts.int32(0), concepts.text(1), concepts.text(2), concepts.text(3),
                              concepts.int32(4), concepts.real(5), concepts.text(6)});
    Stmt images = conn->prepare("SELECT row, path, split FROM probe_image WHERE probe_set_id = ?1 ORDER BY row");
    images.bind_int(1, probe_set_id);
    while (images.step()) rec.images.push_back({images.int32(0), images.text(1), images.text(2)});

    Stmt spaces = conn->prepare("SELECT id, task FROM space WHERE run_id = ?1 ORDER BY id");
    spaces.bind_int(1, run_id);
    while (spaces.step()) {
      SpaceRecord space;
      space.id = spaces.text(0);
      space.task = parse_task(spaces.text(1));
      Stmt embeddings = conn->prepare(std::string(kEmbeddingSelect) + " ORDER BY c.number");
      embeddings.bind_text(1, space.id);
      std::unordered_map<int64_t, size_t> at;  // embedding id -> index
      while (embeddings.step()) {
        at[embeddings.int64(0)] = space.embeddings.size();
        space.embeddings.push_back(decode_embedding(embeddings, run.filter_count, impl_->path, space.id));
      }
      Stmt subsets = conn->prepare(
          "SELECT e.id, s.filters, s.score FROM subset_score s JOIN embedding e ON e.id = s.embedding_id"
          " WHERE e.space_id = ?1 ORDER BY e.id, s.filters");
      subsets.bind_text(1, space.id);
      while (subsets.step())
        space.embeddings[at.at(subsets.int64(0))].subsets.push_back(
            {subsets.int32(1), subsets.opt_float(2).value_or(NAN)});
      Stmt ious = conn->prepare(
          "SELECT e.id, p.row, i.learned, i.single FROM image_iou i JOIN embedding e ON e.id = i.embedding_id"
          " JOIN probe_image p ON p.id = i.probe_image_id WHERE e.space_id = ?1 ORDER BY e.id, p.row");
      ious.bind_text(1, space.id);
      while (ious.step())
        space.embeddings[at.at(ious.int64(0))].image_iou.push_back(
            {ious.int32(1), ious.opt_float(2).value_or(NAN), ious.opt_float(3).value_or(NAN)});
      Stmt masks = conn->prepare(
          "SELECT e.id, p.row, m.height, m.width, m.learned, m.single FROM predicted_mask m"
          " JOIN embedding e ON e.id = m.embedding_id JOIN probe_image p ON p.id = m.probe_image_id"
          " WHERE e.space_id = ?1 ORDER BY e.id, p.row");
      masks.bind_text(1, space.id);
      while (masks.step()) {
        const std::string_view learned = masks.blob(4), single = masks.blob(5);
        space.embeddings[at.at(masks.int64(0))].predicted_masks.push_back(
            {masks.int32(1), masks.int32(2), masks.int32(3), {learned.begin(), learned.end()},
             {single.begin(), single.end()}});
      }
      rec.spaces.push_back(std::move(space));
    }
    if (!rec.spaces.empty()) out.push_back(std::move(rec));
  }
  tx.commit();
  return out;
}

std::vector<Catalog::ReferenceSpaceRecord> Catalog::reference_space_records() const {
  std::vector<ReferenceSpaceRecord> out;
  for (const SpaceInfo& info : spaces()) {
    if (info.kind != "reference") continue;
    ReferenceSpaceRecord r{info.id, info.source, info.created_at, info.dim, {}};
    for (ConceptVector& v : vectors(info.id)) r.vectors_by_concept_name.emplace_back(v.name, std::move(v.weights));
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// A shard, readable at this net2vec's schema version: the file itself, or a migrated copy
// in a temporary folder (removed with this object) when it is older. The shard file is
// never written.
class ShardCopy {
 public:
  explicit ShardCopy(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    N2V_CHECK(fs::is_regular_file(path, ec), kNotFound, "shard " << path << " not found");
    // The version without Catalog::open, which refuses an older file read-only.
    int version = -1;
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
      sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(raw);
    if (version <= 0 || version >= Catalog::latest_schema_version()) {
      // Current, newer (kUnsupported) or not a catalog (kCorrupt): Catalog::open says which.
      Catalog::open(path, Catalog::Mode::kReadOnly);
      path_ = path;
      return;
    }
    // Older: copy the file and its WAL (a finished shard has no writer) and migrate the copy.
    dir_ = (fs::temp_directory_path() / ("net2vec-merge-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(reinterpret_cast<uintptr_t>(this))))
               .string();
    fs::create_directories(dir_);
    path_ = dir_ + "/shard.db";
    fs::copy_file(path, path_, fs::copy_options::overwrite_existing);
    if (fs::exists(path + "-wal", ec)) fs::copy_file(path + "-wal", path_ + "-wal", fs::copy_options::overwrite_existing);
    Catalog::open(path_, Catalog::Mode::kReadWrite);  // migrates
  }
  ~ShardCopy() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  ShardCopy(const ShardCopy&) = delete;
  ShardCopy& operator=(const ShardCopy&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_, dir_;
};

}  // namespace

Catalog::MergeReport Catalog::merge(const std::vector<std::string>& shard_paths, OnConflict on_conflict) {
  std::lock_guard lock(impl_->mutex);
  N2V_CHECK(impl_->mode == Mode::kReadWrite, kInvalidArgument, "catalog " << impl_->path << " is open read-only");
  MergeReport report;
  impl_->rows_written = 0;
  Transaction tx(*impl_, "BEGIN IMMEDIATE");
  // What the target holds of a space: its run's identity, or a reference space's.
  Stmt network_space = impl_->prepare(
      "SELECT n.name, r.layer, r.started_at, r.finished_at FROM space s JOIN run r ON r.id = s.run_id"
      " JOIN network n ON n.id = r.network_id WHERE s.id = ?1");
  Stmt reference_space = impl_->prepare("SELECT created_at, source, kind FROM space WHERE id = ?1");
  enum class Fate { kAdd, kReplace, kUnchanged, kKeep };
  auto decide = [&](const std::string& id, const std::string& shard, bool same, bool shard_newer) {
    if (same) return Fate::kUnchanged;
    N2V_CHECK(on_conflict == OnConflict::kNewer, kInvalidArgument,
              "space " << id << " of shard " << shard << " is already in " << impl_->path
                       << " from another run (--on-conflict error; newer keeps the later one)");
    return shard_newer ? Fate::kReplace : Fate::kKeep;
  };
  auto count = [&](Fate fate, const std::string& id) {
    switch (fate) {
      case Fate::kAdd: ++report.spaces_added; report.added.push_back(id); break;
      case Fate::kReplace: ++report.spaces_replaced; report.replaced.push_back(id); break;
      case Fate::kUnchanged: ++report.spaces_unchanged; break;
      case Fate::kKeep: ++report.spaces_kept; report.kept.push_back(id); break;
    }
  };
  for (const std::string& path : shard_paths) {
    const ShardCopy copy(path);
    const Catalog shard = Catalog::open(copy.path(), Mode::kReadOnly);
    for (IngestRecord& record : shard.ingest_records()) {
      std::vector<SpaceRecord> keep;
      for (SpaceRecord& space : record.spaces) {
        Fate fate = Fate::kAdd;
        network_space.reset().bind_text(1, space.id);
        if (network_space.step()) {
          const bool same = network_space.text(0) == record.run.network && network_space.text(1) == record.run.layer &&
                            network_space.text(2) == record.run.started_at &&
                            network_space.text(3) == record.run.finished_at;
          fate = decide(space.id, path, same, record.run.finished_at > network_space.text(3));
        } else {
          reference_space.reset().bind_text(1, space.id);
          if (reference_space.step()) fate = decide(space.id, path, false, true);  // a reference space of that id
        }
        count(fate, space.id);
        if (fate == Fate::kAdd || fate == Fate::kReplace) keep.push_back(std::move(space));
      }
      if (keep.empty()) continue;
      record.spaces = std::move(keep);
      validate(record);
      impl_->write_rows(record);
    }
    for (const ReferenceSpaceRecord& r : shard.reference_space_records()) {
      // The rule write_reference_space applies: a hand-edited shard must not bring in an id
      // that breaks a URL or a header (network spaces: validate() above).
      try {
        check_id_part(r.id, "reference space id");
      } catch (const Error& e) {
        N2V_THROW(kInvalidArgument, "shard " << path << ": " << e.message());
      }
      Fate fate = Fate::kAdd;
      reference_space.reset().bind_text(1, r.id);
      if (reference_space.step()) {
        const bool same = reference_space.text(2) == "reference" && reference_space.text(0) == r.created_at &&
                          reference_space.text(1) == r.source;
        fate = decide(r.id, path, same, r.created_at > reference_space.text(0));
      }
      count(fate, r.id);
      if (fate == Fate::kAdd || fate == Fate::kReplace)
        impl_->write_reference_rows(r.id, r.source, r.dim, r.vectors_by_concept_name, r.created_at);
    }
    ++report.shards;
  }
  fault_point(impl_->rows_written, true);
  tx.commit();
  return report;
}

}  // namespace n2v
