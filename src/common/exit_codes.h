#pragma once
// Exit statuses of the command-line tools (net2vec, net2vec-ingest), one per error code:
// 0 ok, 1 internal, 2 usage / invalid input, 3 not found, 4 I/O, 5 corrupt, 6 unsupported.

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
  }
  return 1;
}

}  // namespace n2v
