#pragma once
// Internal to src/server: the checks of a request's framing that Boost.Beast 1.74's parser
// leaves to the server (RFC 9112; docs/API.md, "Limits"). Beast-free, so tests can call them.
//   * HeadScanner reads the raw bytes of a request head as they arrive, before Beast parses
//     them: it finds the head's end, answers 414 as soon as the request target alone is over
//     the limit (also when the head would pass the header limit first), and rejects obs-fold
//     (a header line continued on the next), which Beast would silently unfold.
//   * framing_error() checks Host and Transfer-Encoding of the parsed head.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace n2v::detail {

class HeadScanner {
 public:
  enum class State {
    kMore,            // the head is not complete yet
    kComplete,        // head_bytes() bytes end with the empty line
    kMalformed,       // a bare CR or LF or a NUL: Beast's parser answers it (400)
    kObsFold,         // a header line starting with a space or tab: 400
    kTargetTooLong,   // the request target is longer than max_target: 414
  };
  explicit HeadScanner(size_t max_target) : max_target_(max_target) {}
  // `bytes`: everything received of this request so far, from its first byte (a longer view
  // of the same bytes each call); only the new part is scanned.
  State scan(std::string_view bytes);
  size_t head_bytes() const { return head_bytes_; }

 private:
  size_t max_target_;
  size_t scanned_ = 0, line_start_ = 0, head_bytes_ = 0;
  size_t first_space_ = std::string_view::npos;
  bool first_line_done_ = false;
};

// Why a parsed request head breaks RFC 9112's framing rules ("" when it does not): a
// Transfer-Encoding on HTTP/1.0 or whose final coding is not chunked (section 6.1: the body's
// length would be unknown, and the bytes after it a smuggled request), an HTTP/1.1 request
// without Host, or any request with more than one Host (section 3.2). Such a request is
// answered 400 and the connection closed.
std::string framing_error(unsigned version, size_t host_fields, const std::vector<std::string_view>& transfer_encodings);

}  // namespace n2v::detail
