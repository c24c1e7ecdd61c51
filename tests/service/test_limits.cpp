// What one request may cost (docs/RELIABILITY.md, "Request content"; findings F1-F3, F7,
// F9, F10, F16 of the security review): every request that used to crash the server or cost
// seconds and gigabytes is a quick 400 naming the limit, and the operator's ceilings
// (ServiceLimits, `net2vec serve --max-...`) hold. Every case is bounded in time.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "catalog/raw_sql.h"
#include "server/api.h"
#include "service/json.h"
#include "service_suite.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class LimitsTest : public test::ServiceCatalogSuite {
 protected:
  LimitsTest() : service_(catalog()), api_(service_, ApiOptions{"", {}}) {}

  HttpResponse get(const std::string& target) const { return api_.handle({"GET", target, "", ""}); }
  HttpResponse post(const std::string& body) const {
    return api_.handle({"POST", "/api/analogy", body, "application/json"});
  }
  // Expects a JSON error with this status; returns its message.
  static std::string expect_error(const HttpResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body.substr(0, 300);
    const Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body.substr(0, 300);
    return j.is_discarded() ? "" : j["error"]["message"].get<std::string>();
  }
  static std::string names(const std::string& name, int count) {
    std::string out;
    for (int i = 0; i < count; ++i) out += (i ? ",\"" : "\"") + name + "\"";
    return out;
  }

  Service service_;
  Api api_;
};

// F1: "k" nested 80,000 deep was serialised recursively into the error message and
// overflowed the I/O thread's stack (SIGSEGV).
TEST_F(LimitsTest, DeeplyNestedBodiesAre400NotACrash) {
  const auto nested = [](int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
  for (const char* key : {"k", "positive", "space", "unknown"}) {
    const auto start = std::chrono::steady_clock::now();
    const std::string m =
        expect_error(post(std::string("{\"space\": \"toynet.conv.seg\", \"") + key + "\": " + nested(80'000) + "}"), 400);
    EXPECT_TRUE(contains(m, "deeper than 64")) << m;
    EXPECT_LT(seconds_since(start), 2.0);
  }
  // At the limit the body parses, and the message describes the value without dumping it.
  std::string m = expect_error(post("{\"space\": \"toynet.conv.seg\", \"k\": " + nested(63) + "}"), 400);
  EXPECT_TRUE(contains(m, "'k' must be an integer, got an array of 1 elements")) << m;
  expect_error(post("{\"space\": \"toynet.conv.seg\", \"k\": " + nested(64) + "}"), 400);
  // Brackets inside strings do not count.
  m = expect_error(post("{\"space\": \"" + std::string(200, '[') + "\", \"positive\": [\"dog\"]}"), 404);
  EXPECT_FALSE(contains(m, "deeper")) << m;
  // Echoed client values are cut to ~100 bytes.
  m = expect_error(post("{\"space\": \"toynet.conv.seg\", \"k\": \"" + std::string(10'000, 'x') + "\"}"), 400);
  EXPECT_LT(m.size(), 300u) << m;
  m = expect_error(post("{\"" + std::string(10'000, 'x') + "\": 1}"), 400);
  EXPECT_LT(m.size(), 400u) << m;
  m = expect_error(post("{\"space\": \"" + std::string(100'000, 'x')), 400);  // unterminated string
  EXPECT_LT(m.size(), 600u) << m.substr(0, 200);
}

// F2: "did you mean" computed an edit distance against every name, as long as the query:
// a 1,000,000-character name took 59 s of a core.
TEST_F(LimitsTest, LongNamesCostNoTime) {
  auto start = std::chrono::steady_clock::now();
  std::string m = expect_error(
      post("{\"space\": \"toynet.conv.seg\", \"positive\": [\"" + std::string(1'000'000, 'a') + "\"]}"), 400);
  EXPECT_TRUE(contains(m, "at most 256 bytes")) << m.substr(0, 200);
  EXPECT_LT(seconds_since(start), 1.0);
  // A query string (8 KiB at most) reaches the suggestions: still quick, and a short answer.
  start = std::chrono::steady_clock::now();
  const HttpResponse r = get("/api/neighbors?space=toynet.conv.seg&concept=" + std::string(8000, 'a'));
  expect_error(r, 404);
  const HttpResponse s = get("/api/neighbors?space=" + std::string(8000, 'a') + "&concept=dog");
  expect_error(s, 404);
  EXPECT_LT(seconds_since(start), 1.0);
}

// F3: 3CosMul held terms x concepts cosines for any number of terms (170,000 "dog": 975 MB).
TEST_F(LimitsTest, AnalogyTermsAreBounded) {
  HttpResponse r = post("{\"space\": \"toynet.conv.seg\", \"method\": \"mul\", \"positive\": [" + names("dog", 60) +
                        "], \"negative\": [" + names("cat", 40) + "]}");
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
  std::string m = expect_error(post("{\"space\": \"toynet.conv.seg\", \"method\": \"mul\", \"positive\": [" +
                                    names("dog", 61) + "], \"negative\": [" + names("cat", 40) + "]}"),
                               400);
  EXPECT_TRUE(contains(m, "at most 100 terms")) << m;
  EXPECT_TRUE(contains(m, "got 101")) << m;
  const auto start = std::chrono::steady_clock::now();
  m = expect_error(post("{\"space\": \"toynet.conv.seg\", \"method\": \"mul\", \"positive\": [" + names("dog", 170'000) +
                        "]}"),
                   400);
  EXPECT_TRUE(contains(m, "got 170000")) << m;
  EXPECT_LT(seconds_since(start), 2.0);
}

// F7: a 7.6 KB /api/examples request answered 36 MB of JSON.
TEST_F(LimitsTest, ExamplesAreBounded) {
  const auto queries = [](int n) {
    std::string q;
    for (int i = 0; i < n; ++i) q += (i ? "," : "") + std::string("dog");
    return q;
  };
  // 100 queries and the paper's 5 sums: 105 entries.
  EXPECT_EQ(get("/api/examples?space=toynet.conv.seg&k=95&queries=" + queries(100)).status, 200);
  std::string m = expect_error(get("/api/examples?space=toynet.conv.seg&k=96&queries=" + queries(100)), 400);
  EXPECT_TRUE(contains(m, "at most 10000 hits")) << m;
  m = expect_error(get("/api/examples?space=toynet.conv.seg&k=5000&queries=" + queries(1900)), 400);
  EXPECT_TRUE(contains(m, "at most 200 queries and sums")) << m;
  // The paper's 12 default examples x k 5000 is over the hits too.
  expect_error(get("/api/examples?space=toynet.conv.seg&k=5000"), 400);
  m = expect_error(get("/api/examples?space=toynet.conv.seg&sums=" + queries(101)), 400);
  EXPECT_TRUE(contains(m, "at most 100 terms")) << m;
}

// F10: the budgets a client may ask for are the operator's ceilings, not the client's choice.
TEST_F(LimitsTest, TheOperatorsCeilingsHold) {
  ServiceLimits limits;
  limits.max_k = 20;
  limits.max_compare_mb = 64;
  limits.max_compare_spaces = 2;
  limits.max_map_iterations = 300;
  limits.max_map_concepts = 40;
  Service service(catalog(), {}, limits);
  Api api(service, ApiOptions{"", {}});
  const auto get = [&](const std::string& target) { return api.handle({"GET", target, "", ""}); };
  EXPECT_EQ(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=20").status, 200);
  std::string m = expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=21"), 400);
  EXPECT_TRUE(contains(m, "between 1 and 20")) << m;
  expect_error(get("/api/examples?space=toynet.conv.seg&k=21"), 400);
  // compare: the default budget (256 MiB) is lowered to the ceiling; above it, a 400.
  EXPECT_EQ(get("/api/compare?spaces=toynet.conv.seg,othernet.fc.seg").status, 200);
  EXPECT_EQ(get("/api/compare?spaces=toynet.conv.seg,othernet.fc.seg&memory_mb=64").status, 200);
  m = expect_error(get("/api/compare?spaces=toynet.conv.seg,othernet.fc.seg&memory_mb=2147483647"), 400);
  EXPECT_TRUE(contains(m, "at most 64 MiB")) << m;
  m = expect_error(get("/api/compare?spaces=all"), 400);
  EXPECT_TRUE(contains(m, "at most 2 spaces")) << m;
  EXPECT_TRUE(contains(m, "got 3")) << m;
  // map: iterations and the space's size.
  m = expect_error(get("/api/map?space=othernet.fc.seg&iterations=301"), 400);
  EXPECT_TRUE(contains(m, "between 250 and 300")) << m;
  m = expect_error(get("/api/map?space=othernet.fc.seg&iterations=250"), 400);
  EXPECT_TRUE(contains(m, "at most 40")) << m;
  // The defaults are the server's; the CLI's lift the compare and map ceilings.
  EXPECT_EQ(ServiceLimits{}.max_compare_mb, 1024);
  EXPECT_EQ(ServiceLimits::local().max_compare_spaces, 0);
  m = expect_error(api_.handle({"GET", "/api/compare?spaces=all&memory_mb=1025", "", ""}), 400);
  EXPECT_TRUE(contains(m, "at most 1024 MiB")) << m;
}

// The permutation test's ceilings (issue 21): an R above --max-compare-permutations and a test
// asked for above --max-permutation-work are 400s naming them; the default R is skipped instead,
// with its reason in the answer.
TEST_F(LimitsTest, PermutationTestCeilingsHold) {
  ServiceLimits limits;
  limits.max_compare_permutations = 50;
  limits.max_permutation_work = 50.0 * 42 * 42;  // one pair on its 42 shared concepts, R = 50
  Service service(catalog(), {}, limits);
  Api api(service, ApiOptions{"", {}});
  const auto get = [&](const std::string& target) { return api.handle({"GET", target, "", ""}); };
  const std::string pair = "/api/compare?spaces=toynet.conv.seg,othernet.fc.seg";
  const auto ok = get(pair + "&permutations=50");
  ASSERT_EQ(ok.status, 200) << ok.body;
  const Json test = Json::parse(ok.body)["permutation_test"];
  EXPECT_EQ(test["permutations"], 50);
  EXPECT_TRUE(test["skipped"].is_null());
  std::string m = expect_error(get(pair + "&permutations=51"), 400);
  EXPECT_TRUE(contains(m, "permutations") && contains(m, "to 50")) << m;
  m = expect_error(get(pair + ",toynet.conv.cls&permutations=50"), 400);  // 3 pairs: 3 x the ceiling
  EXPECT_TRUE(contains(m, "ask for fewer permutations")) << m;
  // Left to the default (R = 50 here, the ceiling), three pairs pass the work ceiling: skipped.
  const auto skipped = get(pair + ",toynet.conv.cls");
  ASSERT_EQ(skipped.status, 200) << skipped.body;
  const Json doc = Json::parse(skipped.body);
  EXPECT_EQ(doc["permutation_test"]["permutations"], 0);
  EXPECT_TRUE(contains(doc["permutation_test"]["skipped"].get<std::string>(), "over this server's ceiling"));
  EXPECT_TRUE(doc["pairs"][0]["permutation"].is_null());
  EXPECT_EQ(ServiceLimits::local().max_permutation_work, 0);
}

// F5 (part): identical concurrent uncached maps are computed once; the cache is an LRU of
// Service::kMapCacheSize maps instead of being cleared when full.
TEST_F(LimitsTest, MapsAreComputedOnceAndCachedLeastRecentlyUsedFirst) {
  Service service(catalog());
  MapRequest r;
  r.space = "othernet.fc.seg";
  r.options.iterations = 250;
  r.options.seed = 7;
  std::vector<std::thread> threads;
  std::atomic<int> same{0};
  const MapResponse first = [&] {
    std::vector<MapResponse> out(4);
    for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { out[t] = service.map(r); });
    for (std::thread& t : threads) t.join();
    for (const MapResponse& m : out) same += m.map.x == out[0].map.x;
    return out[0];
  }();
  EXPECT_EQ(same, 4);
  EXPECT_EQ(service.maps_computed(), 1);
  // 70 more maps; the first, asked for again and again, stays cached.
  for (uint32_t seed = 100; seed < 170; ++seed) {
    MapRequest other = r;
    other.options.seed = seed;
    service.map(other);
    service.map(r);
  }
  EXPECT_EQ(service.maps_computed(), 71);
  EXPECT_EQ(service.map(r).map.x, first.map.x);
  EXPECT_EQ(service.maps_computed(), 71);
  MapRequest oldest = r;
  oldest.options.seed = 100;  // dropped long ago: computed again
  service.map(oldest);
  EXPECT_EQ(service.maps_computed(), 72);
}

// F9: a space id from catalog data (a hand-edited merge shard) went into Content-Disposition
// unescaped: CR LF started a new header.
TEST(ExportHeader, SpaceIdsAreEncodedInContentDisposition) {
  test::TempDir dir;
  {
    Catalog catalog = Catalog::open(dir.file("c.db"));
    test::write_service_catalog(catalog, "");
  }
  {
    test::RawDb db(dir.file("c.db"), false);
    db.exec("PRAGMA foreign_keys = OFF");
    for (const char* table : {"space", "embedding"})
      db.exec(std::string("UPDATE ") + table + " SET " + (std::string(table) == "space" ? "id" : "space_id") +
              " = 'evil\"' || char(13) || char(10) || 'Set-Cookie: a=b.' || char(233)"
              " WHERE " + (std::string(table) == "space" ? "id" : "space_id") + " = 'othernet.fc.seg'");
  }
  Catalog catalog = Catalog::open(dir.file("c.db"), Catalog::Mode::kReadOnly);
  Service service(catalog);
  Api api(service, ApiOptions{"", {}});
  const HttpResponse r =
      api.handle({"GET", "/api/export?format=metadata&space=evil%22%0D%0ASet-Cookie%3A%20a%3Db.%C3%A9", "", ""});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string disposition;
  for (const auto& [name, value] : r.headers)
    if (name == "Content-Disposition") disposition = value;
  EXPECT_EQ(disposition,
            "attachment; filename=\"evil___Set-Cookie__a_b.__.metadata.tsv\"; "
            "filename*=UTF-8''evil%22%0D%0ASet-Cookie%3A%20a%3Db.%C3%A9.metadata.tsv");
  for (char c : disposition) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << static_cast<int>(c);
}

// F16: the quirks of parameter parsing, as docs/API.md now states them.
TEST_F(LimitsTest, ParameterQuirksAreSettled) {
  // Subnormal numbers in a vector are numbers (they were "not a number").
  std::string v = "1e-320,1";
  for (int i = 0; i < 30; ++i) v += ",0";
  EXPECT_EQ(get("/api/neighbors?space=othernet.fc.seg&k=1&vector=" + v).status, 200);
  expect_error(get("/api/neighbors?space=othernet.fc.seg&k=1&vector=1e999" + v.substr(8)), 400);
  // per_concept=-1 is not a hidden spelling of "all".
  std::string m = expect_error(get("/api/compare?spaces=toynet.conv.seg,othernet.fc.seg&per_concept=-1"), 400);
  EXPECT_TRUE(contains(m, "per_concept")) << m;
  // Duplicate keys in a body are refused rather than the last one silently winning.
  m = expect_error(post(R"({"space": "toynet.conv.seg", "positive": ["dog"], "k": 1, "k": 2})"), 400);
  EXPECT_TRUE(contains(m, "'k' is given twice")) << m;
}

}  // namespace
}  // namespace n2v
