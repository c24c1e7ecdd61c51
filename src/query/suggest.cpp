// closest_names(): "did you mean" for unknown spaces, concepts and categories.

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "query/query.h"

#include "common/text.h"

namespace n2v {
namespace {

// Names longer than this are not compared by edit distance (only equality and containment):
// the distance is O(n m), and the query comes from a client (a 1 MB name cost 59 s).
constexpr size_t kMaxCompared = 256;

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("dgo" -> "dog"
// is 1). Three rows of the table, reused: no allocation per character.
int osa_distance(const std::string& a, const std::string& b) {
  const size_t m = b.size();
  std::vector<int> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

}  // namespace

std::vector<std::string> closest_names(const std::string& query, const std::vector<std::string>& names, int max) {
  if (query.size() > kMaxCompared) return {};  // no name is that long; bounded work
  const std::string q = ascii_lower(query);
  // Close enough to suggest: a third of the query's length in edits (at least 2), or one
  // name contains the other (3+ characters: "plate" -> "license plate").
  const int limit = std::max(2, static_cast<int>(q.size()) / 3);
  struct Candidate {
    int distance;
    size_t length_gap;
    const std::string* name;
  };
  std::vector<Candidate> close;
  for (const std::string& name : names) {
    const std::string n = ascii_lower(name);
    const size_t gap = n.size() > q.size() ? n.size() - q.size() : q.size() - n.size();
    const bool contains = q.size() >= 3 && n.size() >= 3 &&
                          (n.find(q) != std::string::npos || q.find(n) != std::string::npos);
    int d;
    if (n == q) d = 0;
    else if (contains) d = 1;
    // The distance is at least the length gap: skip without computing it, as for long names.
    else if (gap > static_cast<size_t>(limit) || n.size() > kMaxCompared) continue;
    else d = osa_distance(q, n);
    if (d > limit) continue;
    close.push_back({d, gap, &name});
  }
  std::sort(close.begin(), close.end(), [](const Candidate& a, const Candidate& b) {
    if (a.distance != b.distance) return a.distance < b.distance;
    if (a.length_gap != b.length_gap) return a.length_gap < b.length_gap;
    return *a.name < *b.name;
  });
  std::vector<std::string> out;
  for (const Candidate& c : close) {
    if (static_cast<int>(out.size()) >= max) break;
    if (std::find(out.begin(), out.end(), *c.name) == out.end()) out.push_back(*c.name);
  }
  return out;
}

}  // namespace n2v
