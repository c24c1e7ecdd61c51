#include "server/detail/framing.h"

#include <algorithm>
#include <cctype>

namespace n2v::detail {

HeadScanner::State HeadScanner::scan(std::string_view bytes) {
  for (size_t i = scanned_; i < bytes.size(); ++i) {
    const char c = bytes[i];
    const char before = i > 0 ? bytes[i - 1] : '\0';
    if (c == '\0' || (c == '\n' && before != '\r') || (before == '\r' && c != '\n')) {
      scanned_ = i + 1;
      return State::kMalformed;
    }
    if (!first_line_done_ && c == ' ' && first_space_ == std::string_view::npos) first_space_ = i;
    if (c == '\n') {
      const size_t line_end = i - 1;  // at the CR
      if (!first_line_done_) {
        first_line_done_ = true;
        // The target runs from the first space to the last one of the request line.
        const std::string_view line = bytes.substr(0, line_end);
        const size_t last_space = line.rfind(' ');
        if (first_space_ != std::string_view::npos && last_space != std::string_view::npos) {
          const size_t end = last_space > first_space_ ? last_space : line.size();
          if (end - first_space_ - 1 > max_target_) {
            scanned_ = i + 1;
            return State::kTargetTooLong;
          }
        }
      } else if (line_end == line_start_) {
        scanned_ = head_bytes_ = i + 1;
        return State::kComplete;
      }
      line_start_ = i + 1;
      continue;
    }
    if (first_line_done_ && i == line_start_ && (c == ' ' || c == '\t')) {
      scanned_ = i + 1;
      return State::kObsFold;
    }
    // A request line still arriving: past " HTTP/1.1" (9 bytes) more than the limit after
    // the first space, the target alone is over it.
    if (!first_line_done_ && first_space_ != std::string_view::npos && i - first_space_ > max_target_ + 9) {
      scanned_ = i + 1;
      return State::kTargetTooLong;
    }
  }
  scanned_ = bytes.size();
  return State::kMore;
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string framing_error(unsigned version, size_t host_fields, const std::vector<std::string_view>& transfer_encodings) {
  if (host_fields > 1) return "more than one Host header";
  if (version >= 11 && host_fields == 0) return "an HTTP/1.1 request needs a Host header";
  if (transfer_encodings.empty()) return "";
  if (version < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
  // The final coding is the last list element of the last field.
  std::string_view last;
  for (std::string_view field : transfer_encodings)
    for (size_t start = 0; start <= field.size();) {
      const size_t comma = std::min(field.find(',', start), field.size());
      const std::string_view coding = trim(field.substr(start, comma - start));
      if (!coding.empty()) last = coding;
      start = comma + 1;
    }
  std::string lower(last);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (lower != "chunked") return "the final Transfer-Encoding must be chunked, got '" + std::string(last) + "'";
  return "";
}

}  // namespace n2v::detail
