#include "common/error.h"

namespace n2v {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

Error::Error(ErrorCode code, std::string message, const char* file, int line)
    : std::runtime_error("[" + std::string(to_string(code)) + "] " + message),
      code_(code),
      message_(std::move(message)),
      file_(file),
      line_(line) {}

namespace detail {
void throw_error(ErrorCode code, const std::string& message, const char* file, int line) {
  throw Error(code, message, file, line);
}
}  // namespace detail

}  // namespace n2v
