#pragma once
// Internal to src/catalog: Catalog::Impl, shared by the catalog's .cpp files
// (catalog.cpp: open, migrations, the reader pool and generation; write.cpp; read.cpp;
// merge.cpp).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/detail/sqlite.h"
#include "common/error.h"

namespace n2v {

namespace detail {
// ---- Fault injection: exists only for the fault tests (tests/reliability) ----
// NET2VEC_FAULT=catalog-write-after-N makes this process SIGKILL itself inside a write
// transaction (write_ingest, write_reference_space) just before its (N+1)-th row insert,
// NET2VEC_FAULT=catalog-write-before-commit just before COMMIT: points inside the catalog
// write that no output shows from outside. Unset or anything else: nothing happens.
// Defined in write.cpp.
void fault_point(int64_t rows_written, bool before_commit);
}  // namespace detail

struct Catalog::Impl : detail::Connection {
  Mode mode;
  int version = 0;
  int64_t fail_after_rows = -1;  // test hook
  int64_t rows_written = 0;      // row inserts of the current write_ingest
  mutable std::mutex mutex;      // the primary connection: one write (or migration) at a time

  // Reads go to a pool of read-only connections, one per concurrent reader, so that queries
  // from several threads (the server) run at once instead of queueing on `mutex`. WAL mode
  // lets them read while a writer commits; each read sees one committed snapshot.
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<detail::Connection>> idle_readers;
  // A connection kept only to ask PRAGMA data_version (generation()).
  mutable std::mutex watch_mutex;
  mutable std::unique_ptr<detail::Connection> watcher;
  mutable sqlite3_stmt* data_version = nullptr;

  Impl(detail::DbHandle handle, std::string file, Mode open_mode)
      : Connection{std::move(handle), std::move(file)}, mode(open_mode) {}
  ~Impl() { sqlite3_finalize(data_version); }

  // A read-only connection from the pool, returned when the lease ends.
  class Reader {
   public:
    Reader(const Impl& impl, std::unique_ptr<detail::Connection> conn) : impl_(impl), conn_(std::move(conn)) {}
    ~Reader() {
      std::lock_guard lock(impl_.pool_mutex);
      if (impl_.idle_readers.size() < kMaxIdleReaders) impl_.idle_readers.push_back(std::move(conn_));
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    const detail::Connection& operator*() const { return *conn_; }
    const detail::Connection* operator->() const { return conn_.get(); }

   private:
    static constexpr size_t kMaxIdleReaders = 32;
    const Impl& impl_;
    std::unique_ptr<detail::Connection> conn_;
  };
  Reader reader() const;
  std::unique_ptr<detail::Connection> open_reader() const;

  // Called before each row insert of write_ingest: the test hook fails there.
  void before_insert() {
    detail::fault_point(rows_written, false);
    if (fail_after_rows >= 0 && rows_written >= fail_after_rows)
      N2V_THROW(kInternal,
                "test hook: failing write_ingest after " << rows_written << " row inserts");
    ++rows_written;
  }

  // Everything write_ingest (and merge) can check before touching the file (write.cpp).
  static void validate(const IngestRecord& record);

  // write_ingest's rows, inside the caller's transaction (write_ingest, merge).
  int64_t write_rows(const IngestRecord& record);
  // write_rows' steps, in the order it calls them. Concept numbers and probe image rows map
  // to their row ids (RowIds), which the embeddings' rows refer to.
  using RowIds = std::unordered_map<int, int64_t>;
  void check_layer_spelling(const IngestRecord& record);
  int64_t upsert_probe_set(const ProbeSetRecord& probe);
  RowIds upsert_concepts(int64_t probe_set_id, const std::vector<ConceptRecord>& concepts);
  RowIds upsert_images(int64_t probe_set_id, const std::vector<ProbeImageRecord>& images);
  int64_t upsert_network(const RunRecord& run);
  int64_t insert_run(const RunRecord& run, int64_t network_id, int64_t probe_set_id);
  void insert_top_images(const RunRecord& run, int64_t run_id, const RowIds& image_ids);
  void replace_spaces(const std::vector<SpaceRecord>& spaces, int64_t run_id, int dim,
                      const RowIds& concept_ids, const RowIds& image_ids);
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

}  // namespace n2v
