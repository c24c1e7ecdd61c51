// The service layer on the seeded service catalog: request checks, the orderings it decides,
// the JSON vocabulary every response shares, export bytes, request bodies, and the text
// tables. Values of the underlying analyses are checked by hand in tests/query.

#include "service/service.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "service/json.h"
#include "service/render.h"
#include "service/report.h"
#include "service_catalog.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;
using test::error_of;

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    catalog_ = new Catalog(Catalog::open(dir_->file("catalog.db")));
    test::write_service_catalog(*catalog_);
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }
  ServiceTest() : service_(*catalog_) {}

  static test::TempDir* dir_;
  static Catalog* catalog_;
  Service service_;
};
test::TempDir* ServiceTest::dir_ = nullptr;
Catalog* ServiceTest::catalog_ = nullptr;

TEST_F(ServiceTest, SpacesNameTheirKindTaskAndMetric) {
  const Json j = to_json(service_.spaces());
  ASSERT_EQ(j["spaces"].size(), 4u);
  for (const Json& s : j["spaces"]) {
    if (s["id"] == "wordnet") {
      EXPECT_EQ(s["kind"], "reference");
      EXPECT_TRUE(s["task"].is_null());
      EXPECT_TRUE(s["metric"].is_null());
      EXPECT_TRUE(s["run_id"].is_null());
      EXPECT_TRUE(s["network"].is_null());
      EXPECT_EQ(s["concept_count"], 42);
    } else {
      EXPECT_EQ(s["kind"], "network");
      EXPECT_EQ(s["metric"], s["task"] == "segmentation" ? "set_iou" : "balanced_accuracy") << s.dump();
      EXPECT_TRUE(s["source"].is_null());
    }
  }
}

// Every response about one space opens with the same four keys.
TEST_F(ServiceTest, EveryResponseOpensWithItsSpace) {
  NeighborsRequest nb;
  nb.space = "toynet.conv.cls";
  nb.concept_name = "dog";
  AnalogyRequest an;
  an.space = "toynet.conv.cls";
  an.positive = {"lime", "yellow-c"};
  an.negative = {"green-c"};
  an.method = AnalogyMethod::kMul;
  FilterRequest usage{"toynet.conv.cls", std::nullopt, 10}, one{"toynet.conv.cls", 3, 10};
  const std::vector<Json> docs = {to_json(service_.concepts({"toynet.conv.cls", std::nullopt})),
                                  to_json(service_.neighbors(nb)),
                                  to_json(service_.analogy(an)),
                                  to_json(service_.concept_detail({"toynet.conv.cls", "dog", 10})),
                                  to_json(service_.filter_usage(usage)),
                                  to_json(service_.filter(one))};
  const char* metrics[] = {"balanced_accuracy", "cosine", "3cosmul", "balanced_accuracy", "balanced_accuracy",
                           "balanced_accuracy"};
  for (size_t i = 0; i < docs.size(); ++i) {
    auto it = docs[i].begin();
    ASSERT_GE(docs[i].size(), 4u);
    EXPECT_EQ(it.key(), "space");
    EXPECT_EQ(*it, "toynet.conv.cls");
    EXPECT_EQ((++it).key(), "kind");
    EXPECT_EQ((++it).key(), "task");
    EXPECT_EQ(*it, "classification");
    EXPECT_EQ((++it).key(), "metric");
    EXPECT_EQ(*it, metrics[i]) << i;
  }
}

TEST_F(ServiceTest, NeighborsAreTheEnginesWithRanks) {
  NeighborsRequest r;
  r.space = "toynet.conv.seg";
  r.concept_name = "dog";
  r.k = 4;
  const Json j = to_json(service_.neighbors(r));
  const NeighborsResult direct = service_.engine().neighbors("toynet.conv.seg", "dog", 4);
  ASSERT_EQ(j["hits"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j["hits"][i]["rank"], i + 1);
    EXPECT_EQ(j["hits"][i]["name"], direct.hits[i].name);
    EXPECT_DOUBLE_EQ(j["hits"][i]["score"].get<double>(), direct.hits[i].score);
  }
  // The catalog's animals cluster: dog's nearest concept is an animal.
  EXPECT_EQ(j["hits"][0]["category"], "object");
  EXPECT_EQ(j["candidates"], 41);
}

TEST_F(ServiceTest, RequestChecksDescribeValuesNotFlags) {
  NeighborsRequest r;
  r.space = "toynet.conv.seg";
  r.concept_name = "dog";
  r.k = 0;
  std::string m = error_of([&] { service_.neighbors(r); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(m, "'k' must be between 1 and 5000")) << m;
  EXPECT_FALSE(contains(m, "--")) << m;
  r.k = kMaxK + 1;
  error_of([&] { service_.neighbors(r); }, ErrorCode::kInvalidArgument);
  r.k = 3;
  r.vector = std::vector<float>(64, 1.0f);  // both a concept and a vector
  m = error_of([&] { service_.neighbors(r); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(m, "exactly one")) << m;
  m = error_of([&] { service_.concept_detail({"toynet.conv.seg", "dog", 0}); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(m, "'top' must be")) << m;
  EXPECT_FALSE(contains(m, "--")) << m;
  m = error_of([&] { service_.concepts({"toynet.conv.sge", std::nullopt}); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(m, "did you mean 'toynet.conv.seg'")) << m;
  CompareRequest c;
  c.spaces = {"toynet.conv.seg"};
  c.all = true;
  error_of([&] { service_.compare(c); }, ErrorCode::kInvalidArgument);
}

TEST_F(ServiceTest, CompareListsTheConceptsThatDifferMostPerPair) {
  CompareRequest r;
  r.spaces = {"toynet.conv.seg", "othernet.fc.seg", "wordnet"};
  r.per_concept = 3;
  const CompareResponse c = service_.compare(r);
  ASSERT_EQ(c.comparison.pairs.size(), 3u);
  ASSERT_EQ(c.differing.size(), 3u);
  // The top 3 of every D_ijc, as the full vector (per_concept = all) orders them.
  r.per_concept = CompareRequest::kAll;
  const CompareResponse full = service_.compare(r);
  r.per_concept = 3;
  for (size_t p = 0; p < 3; ++p) {
    const auto& d = c.differing[p];
    ASSERT_EQ(d.size(), 3u);
    EXPECT_TRUE(c.comparison.pairs[p].per_concept.empty());  // only the largest are kept
    const std::vector<double>& per = full.comparison.pairs[p].per_concept;
    ASSERT_EQ(static_cast<int>(per.size()), c.comparison.shared());
    EXPECT_GE(d[0].second, d[1].second);
    EXPECT_GE(d[1].second, d[2].second);
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(d[k].first, full.differing[p][k].first);
      EXPECT_NEAR(d[k].second, per[d[k].first], 1e-5 * per[d[k].first]);
    }
    EXPECT_NEAR(d[0].second, *std::max_element(per.begin(), per.end()), 1e-5 * d[0].second);
  }
  EXPECT_EQ(c.spaces[2].kind, SpaceKind::kReference);
  const Json j = to_json(c);
  EXPECT_EQ(j["spaces"][2]["id"], "wordnet");
  EXPECT_EQ(j["concept_count"], c.comparison.shared());
  EXPECT_EQ(j["pairs"][0]["per_concept"].size(), 3u);
  EXPECT_EQ(j["distance"].size(), 3u);

  r.per_concept = 0;
  EXPECT_TRUE(service_.compare(r).differing[0].empty());
  r.per_concept = CompareRequest::kAll;
  EXPECT_EQ(static_cast<int>(service_.compare(r).differing[0].size()), c.comparison.shared());
  CompareRequest all;
  all.all = true;
  EXPECT_EQ(service_.compare(all).spaces.size(), 4u);
}

TEST_F(ServiceTest, ConceptDetailHasWeightsScoresAndAnIouHistogram) {
  const ConceptResponse r = service_.concept_detail({"toynet.conv.seg", "car", 5});
  EXPECT_EQ(r.report.weights.size(), 64u);
  EXPECT_EQ(r.report.filter_iou_val.size(), 64u);
  ASSERT_EQ(r.image_iou.edges.size(), 21u);
  EXPECT_DOUBLE_EQ(r.image_iou.edges.front(), 0.0);
  EXPECT_DOUBLE_EQ(r.image_iou.edges.back(), 1.0);
  EXPECT_EQ(std::accumulate(r.image_iou.learned.begin(), r.image_iou.learned.end(), 0), r.report.image_count);
  EXPECT_EQ(std::accumulate(r.image_iou.single.begin(), r.image_iou.single.end(), 0), r.report.image_count);
  const Json j = to_json(r);
  EXPECT_EQ(j["metric"], "set_iou");
  EXPECT_NEAR(j["learned"]["val"].get<double>(), *r.report.set_iou_val, 1e-7);
  EXPECT_NEAR(j["best_single"]["val"].get<double>(), *r.report.best_filter_val, 1e-7);
  EXPECT_EQ(j["top_filters"].size(), 5u);
  EXPECT_EQ(j["weights"].size(), 64u);
  EXPECT_EQ(j["image_iou"]["learned"].size(), 20u);
  // Classification has no per-image IoU: an empty histogram, and null filter IoUs.
  const Json cls = to_json(service_.concept_detail({"toynet.conv.cls", "car", 5}));
  EXPECT_TRUE(cls["image_iou"].is_null());
  EXPECT_TRUE(cls["filter_iou_val"].is_null());
  EXPECT_FALSE(cls["learned"]["val"].is_null());
  // A reference space has no scores at all.
  const Json ref = to_json(service_.concept_detail({"wordnet", "car", 5}));
  EXPECT_TRUE(ref["metric"].is_null());
  EXPECT_TRUE(ref["learned"]["val"].is_null());
  for (const char* key : {"train_count", "val_count", "bias", "alpha", "best_filter", "best_filter_rank"})
    EXPECT_TRUE(ref[key].is_null()) << key;
}

TEST_F(ServiceTest, FilterUsageHistogramCoversEveryFilter) {
  const FilterUsageResponse u = service_.filter_usage({"toynet.conv.seg", std::nullopt, 5});
  int filters = 0, concepts = 0;
  for (const auto& [n, f] : u.histogram) {
    filters += f;
    concepts += n * f;
  }
  EXPECT_EQ(filters, 64);
  EXPECT_EQ(concepts, 42);  // every concept has a best filter
  ASSERT_FALSE(u.most_selected.empty());
  EXPECT_LE(u.most_selected.size(), 5u);
  for (size_t i = 1; i < u.most_selected.size(); ++i)
    EXPECT_GE(u.usage.concepts_per_filter[u.most_selected[i - 1]], u.usage.concepts_per_filter[u.most_selected[i]]);
  const int top = u.most_selected[0];
  const FilterResponse f = service_.filter({"toynet.conv.seg", top, 5});
  EXPECT_EQ(static_cast<int>(f.report.best_for.size()), u.usage.concepts_per_filter[top]);
  EXPECT_EQ(to_json(f)["selected_by"], u.usage.concepts_per_filter[top]);
}

TEST_F(ServiceTest, ExportFilesHaveTheirFormats) {
  const ExportResponse e = service_.export_vectors({"othernet.fc.seg", false});
  ASSERT_EQ(e.vectors.size(), 42u);
  const std::string npy = vectors_npy(e);
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  EXPECT_TRUE(contains(npy.substr(0, 128), "'shape': (42, 32)"));
  EXPECT_EQ((npy.size() - 42 * 32 * 4) % 64, 0u);  // data starts at a multiple of 64
  const std::string tsv = vectors_tsv(e);
  EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\n'), 42);
  EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\t'), 42 * 31);
  const std::string meta = metadata_tsv(e);
  EXPECT_EQ(meta.substr(0, 14), "name\tcategory\n");
  EXPECT_TRUE(contains(meta, "\ndog\tobject\n"));
  // Normalised rows have unit length.
  const ExportResponse n = service_.export_vectors({"othernet.fc.seg", true});
  double sq = 0;
  for (float v : n.vectors[0].weights) sq += double(v) * v;
  EXPECT_NEAR(sq, 1.0, 1e-5);
  error_of([] { parse_export_format("csv"); }, ErrorCode::kInvalidArgument);
}

TEST_F(ServiceTest, AnalysesOfANetworkSpace) {
  const AnalysesResponse a = service_.analyses("toynet.conv.seg");
  ASSERT_FALSE(a.learned_vs_single.empty());
  EXPECT_EQ(a.learned_vs_single[0].concepts, 42);  // every concept has both val scores
  EXPECT_EQ(a.category_scores.size(), 3u);         // color, material, object
  EXPECT_EQ(a.correlation.concepts.size(), 42u);   // segmentation: per-filter IoUs stored
  ASSERT_FALSE(a.subset_curves.empty());
  EXPECT_EQ(a.subset_curves[0].filters, (std::vector<int>{1, 2, 4, 8, 16}));
  const Json j = to_json(a);
  EXPECT_EQ(j["space"], "toynet.conv.seg");
  EXPECT_EQ(j["metric"], "set_iou");
  EXPECT_TRUE(j["learned_vs_single"][0]["category"].is_null());
  EXPECT_EQ(j["weight_iou_correlation"]["concepts"].size(), 42u);
  // Classification: no per-filter IoU, so no correlation; a reference space has no scores.
  EXPECT_TRUE(service_.analyses("toynet.conv.cls").correlation.concepts.empty());
  const std::string m = error_of([&] { service_.analyses("wordnet"); }, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(m, "reference space")) << m;
}

TEST_F(ServiceTest, MapOfASpaceIsCachedAndChecked) {
  MapRequest r;
  r.space = "toynet.conv.seg";
  r.options.iterations = 300;
  r.options.clusters = 6;
  const MapResponse m = service_.map(r);
  ASSERT_EQ(m.concepts.size(), 42u);
  EXPECT_EQ(m.map.x.size(), 42u);
  EXPECT_EQ(m.map.k, 6);
  const Json j = to_json(m);
  EXPECT_TRUE(j["metric"].is_null());
  int members = 0;
  for (const Json& c : j["clusters"]) members += c["concept_count"].get<int>();
  EXPECT_EQ(members, 42);
  EXPECT_EQ(j["points"][0]["name"], m.concepts[0].name);
  // The same request is answered from the cache: the same map.
  EXPECT_EQ(service_.map(r).map.x, m.map.x);
  // The concepts of one kind of thing (the catalog's groups: vehicles) share a cluster more
  // often than not: car's cluster holds at least two other vehicles.
  int car = 0;
  while (m.concepts[car].name != "car") ++car;
  int vehicles = 0;
  for (size_t i = 0; i < m.concepts.size(); ++i)
    for (const char* v : {"bus", "truck", "bicycle", "airplane", "boat", "train"})
      vehicles += m.concepts[i].name == v && m.map.cluster[i] == m.map.cluster[car];
  EXPECT_GE(vehicles, 2);
  r.options.perplexity = 1;
  error_of([&] { service_.map(r); }, ErrorCode::kInvalidArgument);
  r.options.perplexity = 30;
  r.options.clusters = 0;
  error_of([&] { service_.map(r); }, ErrorCode::kInvalidArgument);
  // Reference spaces have maps too.
  MapRequest ref;
  ref.space = "wordnet";
  ref.options.iterations = 250;
  EXPECT_EQ(service_.map(ref).concepts.size(), 42u);
}

TEST_F(ServiceTest, ReportCoversEveryNetworkSpaceAndTheComparison) {
  const Json report = report_json(service_);
  ASSERT_EQ(report["spaces"].size(), 3u);
  EXPECT_EQ(report["compare"]["spaces"].size(), 4u);  // 3 network spaces + wordnet
  EXPECT_EQ(report["compare"]["distance"].size(), 4u);
  const std::string html = report_html(report);
  EXPECT_TRUE(contains(html, "paper Table 1"));
  EXPECT_TRUE(contains(html, "Figure 10"));
  EXPECT_TRUE(contains(html, "by category, per pair"));
  EXPECT_TRUE(contains(html, "toynet.conv.seg / toynet.conv.cls") || contains(html, "othernet.fc.seg / toynet.conv.cls"));
  for (const Json& s : report["spaces"]) EXPECT_TRUE(contains(html, s["space"].get<std::string>()));
  EXPECT_FALSE(contains(html, "<script"));  // self-contained and static
  EXPECT_FALSE(contains(html, "http://"));
  EXPECT_FALSE(contains(html, "https://"));
  EXPECT_EQ(report_json(service_, {"othernet.fc.seg"})["spaces"].size(), 1u);
  // Tables 2 and 3 for the paper's examples the catalog has: dog, house, car and person are here,
  // wheel, street and bedroom are not; of the sums only person - torso lacks a
  // concept (torso).
  const Json& ex = report["spaces"][0]["examples"];
  std::vector<std::string> queries;
  for (const Json& e : ex["nearest"]) queries.push_back(e["query"]);
  EXPECT_EQ(queries, (std::vector<std::string>{"dog", "house", "car", "person"}));
  EXPECT_EQ(ex["nearest"][0]["hits"].size(), 5u);
  EXPECT_EQ(ex["arithmetic"].size(), 4u);
  EXPECT_EQ(ex["arithmetic"][2]["negative"][0], "wood");  // tree - wood
  EXPECT_TRUE(contains(html, "Tables 2 and 3"));
  // toynet.conv has both tasks: its examples side by side, seg then cls.
  EXPECT_TRUE(contains(html, "segmentation vs classification"));
  EXPECT_TRUE(contains(html, "<th>dog (seg)</th><th>dog (cls)</th>")) << html.substr(0, 2000);
}

TEST(AnalogyBody, ParsesAndNamesTheBadKey) {
  const AnalogyRequest r = analogy_request_from_json(
      Json::parse(R"({"space": "s", "positive": ["a", "b"], "negative": ["c"], "k": 3, "method": "mul"})"));
  EXPECT_EQ(r.space, "s");
  EXPECT_EQ(r.positive, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.negative, (std::vector<std::string>{"c"}));
  EXPECT_EQ(r.k, 3);
  EXPECT_EQ(r.method, AnalogyMethod::kMul);
  EXPECT_FALSE(r.category.has_value());
  const auto bad = [](const char* body, const char* part) {
    const std::string m = error_of([&] { analogy_request_from_json(Json::parse(body)); }, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(m, part)) << body << " -> " << m;
  };
  bad(R"({"positive": ["a"]})", "'space' is required");
  bad(R"({"space": "s", "postive": ["a"]})", "unknown key 'postive'");
  bad(R"({"space": 3})", "'space' must be a string");
  bad(R"({"space": "s", "positive": "a"})", "'positive' must be an array");
  bad(R"({"space": "s", "positive": [1]})", "concept names (strings)");
  bad(R"({"space": "s", "k": "3"})", "'k' must be an integer");
  bad(R"({"space": "s", "k": 1e12})", "'k' must be an integer");
  bad(R"({"space": "s", "method": "sub"})", "add (3CosAdd) or mul");
  bad(R"([1, 2])", "must be a JSON object");
}

TEST_F(ServiceTest, TextTablesShowTheSameRows) {
  NeighborsRequest r;
  r.space = "toynet.conv.seg";
  r.concept_name = "dog";
  r.k = 3;
  const NeighborsResponse n = service_.neighbors(r);
  const std::string text = render_text(n);
  EXPECT_TRUE(contains(text, "Nearest concepts to 'dog' in toynet.conv.seg")) << text;
  for (const ConceptHit& h : n.result.hits) EXPECT_TRUE(contains(text, h.name)) << text;
  const std::string usage = render_text(service_.filter_usage({"toynet.conv.seg", std::nullopt, 3}));
  EXPECT_TRUE(contains(usage, "Most selected filters")) << usage;
  CompareRequest c;
  c.spaces = {"toynet.conv.seg", "wordnet"};
  c.per_concept = 2;
  const std::string cmp = render_text(service_.compare(c));
  EXPECT_TRUE(contains(cmp, "Concepts that differ most between [1] and [2]")) << cmp;
}

TEST(HttpStatus, EachErrorCodeHasOne) {
  EXPECT_EQ(error_json(Error(ErrorCode::kInvalidArgument, "x"))["error"]["status"], 400);
  EXPECT_EQ(error_json(Error(ErrorCode::kNotFound, "x"))["error"]["status"], 404);
  EXPECT_EQ(error_json(Error(ErrorCode::kCorrupt, "x"))["error"]["status"], 500);
  EXPECT_EQ(error_json(Error(ErrorCode::kNotFound, "gone"))["error"]["code"], "not_found");
  EXPECT_EQ(error_json(Error(ErrorCode::kNotFound, "gone"))["error"]["message"], "gone");
}

}  // namespace
}  // namespace n2v
