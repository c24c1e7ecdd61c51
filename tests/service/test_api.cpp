// The API as a plain function (no sockets): routing, query strings, JSON errors, static
// files and their confinement to the web folder, and the OpenAPI document against the routes.

#include "server/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "service/json.h"
#include "service_catalog.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    catalog_ = new Catalog(Catalog::open(dir_->file("catalog.db")));
    test::write_service_catalog(*catalog_, "");
    // A web folder with a page, a module, and links: one inside, two leading out.
    test::write_file(dir_->file("web/index.html"), "<!doctype html><title>t</title>");
    test::write_file(dir_->file("web/js/app.js"), "export const x = 1;");
    test::write_file(dir_->file("secret.txt"), "do not serve");
    std::filesystem::create_symlink(dir_->file("secret.txt"), dir_->file("web/leak.txt"));
    std::filesystem::create_directory_symlink(dir_->path(), dir_->file("web/up"));
    std::filesystem::create_symlink(dir_->file("web/js/app.js"), dir_->file("web/alias.js"));
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }
  ApiTest() : service_(*catalog_), api_(service_, ApiOptions{dir_->file("web"), {}}) {}

  HttpResponse get(const std::string& target) const { return api_.handle({"GET", target, "", ""}); }
  static Json body(const HttpResponse& r) { return Json::parse(r.body); }
  // Expects a JSON error with this status and code; returns its message.
  static std::string expect_error(const HttpResponse& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    const Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    if (j.is_discarded()) return "";
    EXPECT_EQ(j["error"]["code"], code) << r.body;
    EXPECT_EQ(j["error"]["status"], status) << r.body;
    return j["error"]["message"].get<std::string>();
  }

  static test::TempDir* dir_;
  static Catalog* catalog_;
  Service service_;
  Api api_;
};
test::TempDir* ApiTest::dir_ = nullptr;
Catalog* ApiTest::catalog_ = nullptr;

TEST_F(ApiTest, RoutesAnswerJson) {
  EXPECT_EQ(body(get("/api/health"))["status"], "ok");
  EXPECT_EQ(body(get("/api/spaces"))["spaces"].size(), 3u);
  const HttpResponse c = get("/api/spaces/toynet.conv.seg/concepts?category=color");
  EXPECT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(body(c)["concept_count"], 7);
  const Json n = body(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=2"));
  EXPECT_EQ(n["hits"].size(), 2u);
  EXPECT_EQ(n["query"], "dog");
  const HttpResponse a = api_.handle({"POST", "/api/analogy",
                                      R"({"space": "toynet.conv.seg", "positive": ["lime", "yellow-c"], "negative": ["green-c"], "k": 3})",
                                      "application/json"});
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(body(a)["hits"].size(), 3u);
  EXPECT_EQ(body(get("/api/compare?spaces=toynet.conv.seg,othernet.fc.seg&per_concept=all"))["pairs"][0]["per_concept"].size(),
            42u);
  EXPECT_EQ(body(get("/api/compare?spaces=all"))["spaces"].size(), 3u);
  EXPECT_EQ(body(get("/api/compare?spaces=all&memory_mb=64"))["pairs"].size(), 3u);
  EXPECT_EQ(body(get("/api/concepts/dog?space=toynet.conv.seg&top=3"))["top_filters"].size(), 3u);
  EXPECT_EQ(body(get("/api/filters?space=toynet.conv.seg"))["concepts_per_filter"].size(), 64u);
  EXPECT_EQ(body(get("/api/filters?space=toynet.conv.seg&filter=2"))["filter"], 2);
  EXPECT_EQ(body(get("/api/analyses?space=toynet.conv.seg"))["learned_vs_single"][0]["concept_count"], 42);
  EXPECT_EQ(body(get("/api/map?space=othernet.fc.seg&iterations=250&clusters=4&seed=3"))["clusters"].size(), 4u);
  expect_error(get("/api/map?space=othernet.fc.seg&seed=-1"), 400, "invalid_argument");
  // A raw vector, percent-encoded commas and a '+' for a space in a category value.
  std::string vector = "1%2C0";  // 32 values, the first comma percent-encoded
  for (int i = 0; i < 30; ++i) vector += ",0";
  const HttpResponse v = get("/api/neighbors?space=othernet.fc.seg&k=1&vector=" + vector);
  EXPECT_EQ(v.status, 200) << v.body;
  EXPECT_TRUE(body(v)["query"].is_null());
}

// Tables 2 and 3: each example answers exactly what /api/neighbors and /api/analogy answer
// for it; the paper's examples the space lacks are listed as missing, not errors.
TEST_F(ApiTest, ExamplesAreNeighboursAndAnalogiesOfTheListedConcepts) {
  const HttpResponse r = get("/api/examples?space=toynet.conv.seg");
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = body(r);
  EXPECT_EQ(j["k"], 5);
  std::set<std::string> answered, missing;
  for (const Json& n : j["nearest"]) {
    const std::string q = n["query"];
    answered.insert(q);
    EXPECT_EQ(n["hits"], body(get("/api/neighbors?space=toynet.conv.seg&k=5&concept=" + q))["hits"]) << q;
  }
  for (const Json& m : j["missing"]) missing.insert(m.get<std::string>());
  for (const std::string& q : paper_nearest_examples()) {
    const bool known = get("/api/neighbors?space=toynet.conv.seg&concept=" + q).status == 200;
    EXPECT_EQ(answered.count(q), known ? 1u : 0u) << q;
    EXPECT_EQ(missing.count(q), known ? 0u : 1u) << q;
  }
  EXPECT_TRUE(answered.count("dog") && answered.count("car"));  // the catalog has these two
  ASSERT_FALSE(j["arithmetic"].empty());
  const Json& first = j["arithmetic"][0];  // grass + blue-c - green-c
  EXPECT_EQ(first["positive"], Json({"grass", "blue-c"}));
  const HttpResponse a = api_.handle({"POST", "/api/analogy",
                                      R"({"space": "toynet.conv.seg", "positive": ["grass", "blue-c"], "negative": ["green-c"], "k": 5})",
                                      "application/json"});
  EXPECT_EQ(first["hits"], body(a)["hits"]);
  EXPECT_TRUE(missing.count("person - torso")) << r.body;

  // A chosen list: two queries, two sums (positives/negatives), k = 2.
  const Json c = body(get("/api/examples?space=toynet.conv.seg&queries=cat,nosuch&sums=lime,yellow-c/green-c;tree&k=2"));
  ASSERT_EQ(c["nearest"].size(), 1u);
  EXPECT_EQ(c["nearest"][0]["hits"].size(), 2u);
  ASSERT_EQ(c["arithmetic"].size(), 2u);
  EXPECT_EQ(c["arithmetic"][0]["negative"], Json({"green-c"}));
  EXPECT_EQ(c["arithmetic"][1]["positive"], Json({"tree"}));
  EXPECT_EQ(c["missing"], Json({"nosuch"}));
  expect_error(get("/api/examples?space=toynet.conv.seg&sums=a/b/c"), 400, "invalid_argument");
  expect_error(get("/api/examples?space=toynet.conv.seg&sums=/green-c"), 400, "invalid_argument");
  expect_error(get("/api/examples?space=toynet.conv.seg&k=0"), 400, "invalid_argument");
  expect_error(get("/api/examples?space=nowhere"), 404, "not_found");
}

TEST_F(ApiTest, PathParametersArePercentDecoded) {
  const HttpResponse r = get("/api/concepts/red%2Dc?space=toynet.conv.seg");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["name"], "red-c");
  const HttpResponse unknown = get("/api/concepts/dgo?space=toynet.conv.seg");
  const std::string m = expect_error(unknown, 404, "not_found");
  EXPECT_TRUE(contains(m, "did you mean 'dog'")) << m;
  EXPECT_EQ(body(unknown)["error"]["suggestions"][0], "dog");
  EXPECT_EQ(body(get("/api/neighbors?space=toynet.conv.sge&concept=dog"))["error"]["suggestions"][0], "toynet.conv.seg");
  EXPECT_EQ(body(get("/api/neighbors?space=toynet.conv.seg&concept=dog&category=colr"))["error"]["suggestions"][0], "color");
  EXPECT_TRUE(body(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=0"))["error"]["suggestions"].empty());
}

TEST_F(ApiTest, BadParametersAre400WithTheirName) {
  std::string m = expect_error(get("/api/neighbors?space=toynet.conv.seg&konzept=dog"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "unknown query parameter 'konzept'")) << m;
  m = expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=ten"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "'k' must be an integer")) << m;
  m = expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=2&k=3"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "given twice")) << m;
  m = expect_error(get("/api/neighbors?concept=dog"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "'space' is required")) << m;
  m = expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=d%zzg"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "percent-escape")) << m;
  expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=d%00g"), 400, "invalid_argument");
  expect_error(get("/api/neighbors?space=toynet.conv.seg&concept=dog&k=100000"), 400, "invalid_argument");
  expect_error(get("/api/neighbors?space=toynet.conv.seg&vector=1,x"), 400, "invalid_argument");
  expect_error(get("/api/export?space=toynet.conv.seg&format=csv"), 400, "invalid_argument");
  expect_error(get("/api/export?space=toynet.conv.seg&normalize=maybe"), 400, "invalid_argument");
  expect_error(get("/api/compare?spaces=toynet.conv.seg&per_concept=-4"), 400, "invalid_argument");
  m = expect_error(get("/api/compare?spaces=all&memory_mb=-1"), 400, "invalid_argument");
  EXPECT_TRUE(contains(m, "memory budget")) << m;
  expect_error(get("/api/health?x=1"), 400, "invalid_argument");
  expect_error(get("/api/neighbors?space=nope&concept=dog"), 404, "not_found");
}

TEST_F(ApiTest, MalformedBodiesAre400) {
  std::string m = expect_error(api_.handle({"POST", "/api/analogy", "{\"space\": ", "application/json"}), 400,
                               "invalid_argument");
  EXPECT_TRUE(contains(m, "not valid JSON")) << m;
  expect_error(api_.handle({"POST", "/api/analogy", "", "application/json"}), 400, "invalid_argument");
  m = expect_error(api_.handle({"POST", "/api/analogy", R"({"space": "toynet.conv.seg", "positive": [3]})", ""}), 400,
                   "invalid_argument");
  EXPECT_TRUE(contains(m, "concept names")) << m;
}

TEST_F(ApiTest, UnknownRoutesAndMethods) {
  expect_error(get("/api/nothing"), 404, "not_found");
  expect_error(get("/api/spaces/toynet.conv.seg"), 404, "not_found");
  HttpResponse r = api_.handle({"DELETE", "/api/spaces", "", ""});
  expect_error(r, 405, "method_not_allowed");
  bool allow = false;
  for (const auto& [name, value] : r.headers) allow = allow || (name == "Allow" && contains(value, "GET"));
  EXPECT_TRUE(allow);
  expect_error(api_.handle({"GET", "/api/analogy", "", ""}), 405, "method_not_allowed");
  expect_error(api_.handle({"POST", "/index.html", "", ""}), 405, "method_not_allowed");
  expect_error(get("relative"), 400, "invalid_argument");
  // HEAD is GET without a body (the server drops the body).
  EXPECT_EQ(api_.handle({"HEAD", "/api/health", "", ""}).status, 200);
}

TEST_F(ApiTest, StaticFilesStayInsideTheWebFolder) {
  HttpResponse r = get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(contains(r.body, "<title>t</title>"));
  r = get("/js/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/alias.js").status, 200);  // a link that stays inside is fine
  for (const char* target : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
                             "/js/%2e%2e/%2e%2e/secret.txt", "/leak.txt", "/up/secret.txt", "/..%5csecret.txt",
                             "/missing.html", "/%00", "//etc/passwd"}) {
    const HttpResponse x = get(target);
    EXPECT_TRUE(x.status == 404 || x.status == 400) << target << " -> " << x.status;
    EXPECT_FALSE(contains(x.body, "do not serve")) << target;
    EXPECT_EQ(x.content_type, "application/json") << target;
  }
}

TEST_F(ApiTest, ExportServesTheFiles) {
  HttpResponse r = get("/api/export?space=othernet.fc.seg&format=npy&normalize=true");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_EQ(r.body.substr(0, 6), "\x93NUMPY");
  r = get("/api/export?space=othernet.fc.seg&format=metadata");
  EXPECT_EQ(r.body.substr(0, 14), "name\tcategory\n");
  bool attachment = false;
  for (const auto& [name, value] : r.headers)
    attachment = attachment || (name == "Content-Disposition" && contains(value, "othernet.fc.seg.metadata.tsv"));
  EXPECT_TRUE(attachment);
}

// Every route is in the OpenAPI document, and every path and method of the document is a
// route (requests to it reach a handler: neither "no API route" nor 405).
TEST_F(ApiTest, OpenApiDocumentMatchesTheRoutes) {
  const Json doc = Json::parse(Api::openapi_json());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> documented, routed;
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      std::transform(m.begin(), m.end(), m.begin(), ::toupper);
      documented.insert({m, path});
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  for (const Route& r : Api::routes()) routed.insert({r.method, r.path});
  EXPECT_EQ(documented, routed);
  for (const auto& [method, path] : documented) {
    std::string target = path;
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"{space}", "toynet.conv.seg"}, {"{concept}", "dog"}})
      if (const size_t at = target.find(from); at != std::string::npos) target.replace(at, from.size(), to);
    const HttpResponse r = api_.handle({method, target, "{}", "application/json"});
    EXPECT_NE(r.status, 405) << method << " " << target;
    EXPECT_FALSE(contains(r.body, "no API route")) << method << " " << target;
  }
  // The document is what /api/openapi.json serves.
  EXPECT_EQ(get("/api/openapi.json").body, Api::openapi_json());
}

TEST(PercentDecode, Forms) {
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("%e2%82%ac", false), "\xe2\x82\xac");
  test::error_of([] { percent_decode("%2", false); }, ErrorCode::kInvalidArgument);
  test::error_of([] { percent_decode("%g0", false); }, ErrorCode::kInvalidArgument);
  test::error_of([] { percent_decode("%00", false); }, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace n2v
