#include "catalog/detail/sqlite.h"

#include <sstream>

namespace n2v::detail {

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

}  // namespace n2v::detail
