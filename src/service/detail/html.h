#pragma once
// Internal to src/service: text made safe for HTML, in element content and in attributes
// quoted either way ('...' or "..."): the report's pages (report.cpp, report_strip.cpp) put
// catalog names, which anyone who ingests can choose, in both.

#include <string>
#include <string_view>

namespace n2v::detail {

inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace n2v::detail
