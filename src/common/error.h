#pragma once
// One error type for the whole project (DuckDB/FAISS style): a code that callers and
// front ends map (CLI exit status, HTTP status) and the source location that raised it.
// Foreign errors (c10::Error, SQLite codes, FaissException) are translated into this type
// inside the file that owns the dependency.

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace n2v {

enum class ErrorCode {
  kInvalidArgument,  // bad option or bad user input (a malformed file, an unknown name)
  kNotFound,         // a named thing does not exist (file, layer, space, concept)
  kIo,               // the operating system refused (open, read, write)
  kCorrupt,          // a file exists but its content is not what it must be
  kUnsupported,      // valid but not handled (a newer catalog schema, an image format)
  kInternal,         // a broken invariant: a bug in net2vec
  kUnavailable,      // valid, but not now: a writer kept changing what the query reads
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, const char* file = nullptr, int line = 0);
  ErrorCode code() const { return code_; }
  // The bare message, without the code prefix (what() has "[not_found] message").
  const std::string& message() const { return message_; }
  const char* file() const { return file_; }
  int line() const { return line_; }
  // For kNotFound of a name: the closest existing names ("did you mean"), best first, so
  // front ends can offer them without parsing the message. Often empty.
  const std::vector<std::string>& suggestions() const { return suggestions_; }
  Error& with_suggestions(std::vector<std::string> names) {
    suggestions_ = std::move(names);
    return *this;
  }

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<std::string> suggestions_;
  const char* file_;
  int line_;
};

namespace detail {
[[noreturn]] void throw_error(ErrorCode code, const std::string& message, const char* file,
                              int line);
}  // namespace detail

}  // namespace n2v

// N2V_THROW(kNotFound, "no layer '" << name << "'"): the message is a stream expression.
#define N2V_THROW(code, msg)                                                           \
  do {                                                                                 \
    std::ostringstream n2v_msg_;                                                       \
    n2v_msg_ << msg;                                                                   \
    ::n2v::detail::throw_error(::n2v::ErrorCode::code, n2v_msg_.str(), __FILE__, __LINE__); \
  } while (0)

// N2V_THROW with the closest existing names attached (Error::suggestions).
#define N2V_THROW_SUGGESTING(code, names, msg)                                              \
  do {                                                                                      \
    std::ostringstream n2v_msg_;                                                            \
    n2v_msg_ << msg;                                                                        \
    throw ::n2v::Error(::n2v::ErrorCode::code, n2v_msg_.str(), __FILE__, __LINE__).with_suggestions(names); \
  } while (0)

// A user-facing check: throws n2v::Error with the given code when cond is false.
#define N2V_CHECK(cond, code, msg) \
  do {                             \
    if (!(cond)) N2V_THROW(code, msg); \
  } while (0)

// An internal invariant: a failure is a bug, reported as kInternal with the condition.
#define N2V_ASSERT(cond) \
  do {                   \
    if (!(cond)) N2V_THROW(kInternal, "assertion failed: " #cond); \
  } while (0)
