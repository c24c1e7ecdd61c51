#pragma once
// Exit statuses of the command-line tools (net2vec, net2vec-ingest), one per error code,
// and the HTTP status the server answers with:
// 0 ok, 1 internal, 2 usage / invalid input, 3 not found, 4 I/O, 5 corrupt, 6 unsupported,
// 7 unavailable (try again).

#include "common/error.h"

namespace n2v {

inline int exit_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kIo: return 4;
    case ErrorCode::kCorrupt: return 5;
    case ErrorCode::kUnsupported: return 6;
    case ErrorCode::kInternal: return 1;
    case ErrorCode::kUnavailable: return 7;
  }
  return 1;
}

}  // namespace n2v

namespace n2v {

// HTTP status of an error answered by `net2vec serve`: the caller's mistakes are 4xx, the
// catalog's or our own state 500, a query a writer kept disturbing 503 (docs/API.md).
inline int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kIo:
    case ErrorCode::kCorrupt:
    case ErrorCode::kUnsupported:
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnavailable: return 503;
  }
  return 500;
}

}  // namespace n2v
