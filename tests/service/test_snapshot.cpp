// One snapshot per request (issue 18 item 2, security review F4): while a writer replaces a
// reference space again and again, every answer of the service -- examples (many queries of
// one space), neighbors, analogy, compare, export -- is wholly of the old content or wholly of
// the new, its SpaceInfo included. Before, examples mixed versions entry by entry and compare
// answered 500 (unordered_map::at).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "service/json.h"
#include "service/service.h"
#include "service_catalog.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using Vectors = std::vector<std::pair<std::string, std::vector<float>>>;

// Seeded vectors of dimension `dim` for the first `count` names.
Vectors version(const std::vector<std::string>& names, size_t count, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Vectors out;
  for (size_t i = 0; i < count && i < names.size(); ++i) {
    std::vector<float> v(dim);
    for (float& x : v) x = normal(rng);
    out.emplace_back(names[i], std::move(v));
  }
  return out;
}

// The JSON without creation times (a re-import of the same content gets a new one).
Json without_times(Json j) {
  if (j.is_object()) {
    j.erase("created_at");
    for (auto& [key, value] : j.items()) value = without_times(value);
  } else if (j.is_array()) {
    for (Json& value : j) value = without_times(value);
  }
  return j;
}

// An export as the API sends it (the vectors and metadata TSV) with the space's dim.
Json export_json(const ExportResponse& e) {
  return Json{{"dim", e.space.dim}, {"vectors", vectors_tsv(e)}, {"metadata", metadata_tsv(e)}};
}

TEST(SnapshotTest, EveryAnswerIsOfOneVersionWhileAWriterReplacesTheSpace) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  test::write_service_catalog(catalog, "");
  const std::vector<std::string> names = catalog.concept_names();
  ASSERT_GE(names.size(), 20u);
  const Vectors a = version(names, 20, 6, 1), b = version(names, 16, 9, 2);
  Service service(catalog);

  ExamplesRequest examples;
  examples.space = "ref";
  examples.queries = {names[0], names[1], names[2], names[3], names[4]};
  examples.sums = {{{names[0], names[1]}, {names[2]}}, {{names[3]}, {names[4]}}};
  examples.k = 5;
  CompareRequest compare;
  compare.spaces = {"toynet.conv.seg", "ref"};
  compare.per_concept = CompareRequest::kAll;
  ExportRequest export_request{"ref", true};
  const auto answers = [&] {
    return std::vector<Json>{without_times(to_json(service.examples(examples))),
                             without_times(to_json(service.compare(compare))),
                             export_json(service.export_vectors(export_request))};
  };
  catalog.write_reference_space("ref", "version a", 6, a);
  const std::vector<Json> want_a = answers();
  catalog.write_reference_space("ref", "version b", 9, b);
  const std::vector<Json> want_b = answers();
  for (size_t i = 0; i < want_a.size(); ++i) ASSERT_NE(want_a[i], want_b[i]) << i;

  // The writer replaces the space until the reader has its answers (at most 5,000 times).
  std::atomic<bool> stop{false};
  std::atomic<int> replaced{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 5000; ++i, ++replaced)
      catalog.write_reference_space("ref", i % 2 ? "version b" : "version a", i % 2 ? 9 : 6, i % 2 ? b : a);
  });
  const char* route[] = {"examples", "compare", "export"};
  int answered = 0, unavailable = 0;
  std::vector<std::string> wrong;
  while (answered < 1500) {
    for (int i = 0; i < 3; ++i) {
      try {
        Json got;
        if (i == 0) got = without_times(to_json(service.examples(examples)));
        if (i == 1) got = without_times(to_json(service.compare(compare)));
        if (i == 2) got = export_json(service.export_vectors(export_request));
        if (got != want_a[i] && got != want_b[i]) wrong.push_back(std::string(route[i]) + ": neither version");
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kUnavailable) ++unavailable;  // 503: the writer kept changing it
        else wrong.push_back(std::string(route[i]) + ": " + e.what());
      } catch (const std::exception& e) {
        wrong.push_back(std::string(route[i]) + ": " + e.what());
      }
      ++answered;
    }
  }
  stop = true;
  writer.join();
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " of " << answered << " answers not whole; first: "
                             << (wrong.empty() ? "" : wrong.front());
  std::printf("[ info ] %d answers during %d replacements, %d unavailable\n", answered, replaced.load(), unavailable);
}

}  // namespace
}  // namespace n2v
