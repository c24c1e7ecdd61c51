// The table of queries (service/queries.h): the OpenAPI document describes exactly its
// parameters, every documented bound is the one the Service enforces, both front ends read
// the same arguments the same way, and every query has a golden case.

#include "service/queries.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "server/api.h"
#include "service_suite.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

const Json& openapi() {
  static const Json doc = Json::parse(Api::openapi_json());
  return doc;
}

// The OpenAPI operation of a query: its method under its path.
const Json& operation(const Query& q) {
  std::string method = q.http_method;
  for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return openapi()["paths"][q.path][method];
}

TEST(QueryTable, NamesAndRoutesAreUnique) {
  std::set<std::string> names, routes;
  for (const Query& q : queries()) {
    EXPECT_TRUE(names.insert(q.name).second) << q.name;
    EXPECT_TRUE(routes.insert(q.http_method + " " + q.path).second) << q.path;
    EXPECT_FALSE(q.summary.empty()) << q.name;
    std::set<std::string> params;
    for (const QueryParam& p : q.params) {
      EXPECT_TRUE(params.insert(p.name).second) << q.name << " " << p.name;
      EXPECT_FALSE(p.help.empty()) << q.name << " " << p.name;
      EXPECT_EQ(p.in_path, contains(q.path, "{" + p.name + "}")) << q.name << " " << p.name;
    }
  }
}

TEST(QueryTable, OpenApiDocumentsEveryParameterAsTheTableDefinesIt) {
  for (const Query& q : queries()) {
    SCOPED_TRACE(q.name);
    const Json& op = operation(q);
    ASSERT_TRUE(op.is_object()) << q.http_method << " " << q.path << " is not in openapi.json";
    std::map<std::string, Json> documented;
    if (q.http_method == "POST") {
      // The body's schema: one property per parameter.
      std::string ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
      const Json& schema = openapi()["components"]["schemas"][ref.substr(ref.rfind('/') + 1)];
      for (const auto& [name, property] : schema["properties"].items()) documented[name] = property;
      const Json listed = schema.value("required", Json::array());
      const std::set<std::string> required(listed.begin(), listed.end());
      for (const QueryParam& p : q.params) EXPECT_EQ(required.count(p.name) == 1, p.required) << p.name;
    } else {
      for (const Json& p : op.value("parameters", Json::array())) {
        const QueryParam* param = q.param(p["name"].get<std::string>());
        ASSERT_NE(param, nullptr) << "openapi.json documents '" << p["name"] << "', which the table lacks";
        EXPECT_EQ(p["in"], param->in_path ? "path" : "query") << param->name;
        EXPECT_EQ(p.value("required", false), param->required) << param->name;
        documented[param->name] = p["schema"];
      }
    }
    for (const QueryParam& p : q.params) {
      ASSERT_TRUE(documented.count(p.name)) << "openapi.json lacks parameter '" << p.name << "'";
      const Json& schema = documented[p.name];
      if (p.type == ParamType::kInt) {
        EXPECT_EQ(schema["type"], "integer") << p.name;
        if (p.min) EXPECT_EQ(schema.value("minimum", Json()), Json(*p.min)) << p.name;
        if (p.max) EXPECT_EQ(schema.value("maximum", Json()), Json(*p.max)) << p.name;
      }
    }
    EXPECT_EQ(documented.size(), q.params.size());
  }
}

// Every bound the table documents is enforced: one past it is a 400 naming the parameter,
// the bound itself is not refused for being out of range.
class QueryBounds : public test::ServiceCatalogSuite {};

// Arguments a query accepts, one parameter then set to `value`.
QueryArgs valid_args(const Query& q, const std::string& name, const std::string& value) {
  QueryArgs a(QueryArgs::Style::kCli);
  const std::map<std::string, std::vector<std::string>> base = {
      {"space", {"toynet.conv.seg"}}, {"concept", {"dog"}}, {"positive", {"dog"}}, {"spaces", {"toynet.conv.seg", "othernet.fc.seg"}}};
  for (const QueryParam& p : q.params)
    if (base.count(p.name)) a.set(p.name, base.at(p.name));
  a.set(name, {value});
  return a;
}

TEST_F(QueryBounds, EveryDocumentedBoundIsTheServicesOwn) {
  Service service(catalog(), {}, ServiceLimits::local());
  int checked = 0;
  for (const Query& q : queries())
    for (const QueryParam& p : q.params) {
      if (p.type != ParamType::kInt) continue;
      for (const auto& [bound, outside] : {std::pair{p.min, -1}, std::pair{p.max, +1}}) {
        if (!bound) continue;
        SCOPED_TRACE(q.name + " " + p.name + " " + std::to_string(*bound));
        const std::string flag = "--" + p.cli_name();
        const std::string beyond = std::to_string(*bound + outside);
        const std::string message =
            test::error_of([&] { q.run(service, valid_args(q, p.name, beyond)).json(); }, ErrorCode::kInvalidArgument);
        EXPECT_TRUE(contains(message, "'" + flag + "'")) << message;
        // At the bound: no complaint about this parameter (another error may still come).
        try {
          q.run(service, valid_args(q, p.name, std::to_string(*bound))).json();
        } catch (const Error& e) {
          EXPECT_FALSE(contains(e.message(), "'" + p.name + "'") || contains(e.message(), flag)) << e.message();
        }
        ++checked;
      }
    }
  EXPECT_GE(checked, 10);
}

TEST_F(QueryBounds, MessagesNameTheFrontEndsSpelling) {
  Service service(catalog(), {}, ServiceLimits::local());
  const Query& compare = *find_query("compare");
  QueryArgs cli(QueryArgs::Style::kCli), http(QueryArgs::Style::kHttp);
  for (QueryArgs* a : {&cli, &http}) {
    a->set("spaces", {"toynet.conv.seg", "othernet.fc.seg"});
    a->set("per_concept", {"some"});
  }
  constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
  EXPECT_TRUE(contains(test::error_of([&] { compare.run(service, cli); }, kBad), "'--per-concept'"));
  EXPECT_TRUE(contains(test::error_of([&] { compare.run(service, http); }, kBad), "'per_concept'"));
  QueryArgs none(QueryArgs::Style::kCli);
  EXPECT_TRUE(contains(test::error_of([&] { find_query("neighbors")->run(service, none); }, kBad), "'--space' is required"));
}

// Every query has a golden case (tests/service/golden: CLI --json == HTTP == the file).
TEST(QueryTable, EveryQueryHasAGoldenCase) {
  std::set<std::string> covered;
  for (const auto& entry : std::filesystem::directory_iterator(NET2VEC_SOURCE_DIR "/tests/service/golden")) {
    std::ifstream in(entry.path());
    const Json c = Json::parse(in);
    covered.insert(c["cli"][0].get<std::string>());
  }
  for (const Query& q : queries()) EXPECT_TRUE(covered.count(q.name)) << "no golden case runs '" << q.name << "'";
}

}  // namespace
}  // namespace n2v

namespace n2v {
namespace {

// Where the server runs a request (its I/O threads or the heavy pool) follows the cost each
// route is defined with: a query's in the table, the export's in the API's own routes.
TEST(QueryTable, RouteCostFollowsTheTable) {
  auto cost_of = [](const std::string& method, const std::string& target) {
    return Api::route_cost(HttpRequest{method, target, "", "", ""});
  };
  int heavy = 0;
  for (const Query& q : queries()) {
    std::string path = q.path;  // a path parameter gets a value
    for (size_t open; (open = path.find('{')) != std::string::npos;)
      path.replace(open, path.find('}', open) - open + 1, "x");
    const RouteCost cost = cost_of(q.http_method, path + "?space=a");
    EXPECT_EQ(cost.heavy, q.cost == QueryCost::kHeavy) << q.name << " " << path;
    if (cost.heavy) {
      EXPECT_EQ(cost.route, q.path) << q.name;
      EXPECT_TRUE(cost_of(q.http_method, path + "/").heavy) << q.name << ": a trailing slash is the same route";
      ++heavy;
    }
  }
  EXPECT_GE(heavy, 3);  // compare, examples, map at least
  EXPECT_TRUE(cost_of("GET", "/api/export?space=a").heavy);
  EXPECT_FALSE(cost_of("GET", "/api/health").heavy);
  EXPECT_FALSE(cost_of("GET", "/api/neighbors?space=a&concept=dog").heavy);
  EXPECT_FALSE(cost_of("GET", "/map").heavy);  // a static file, not the API
  EXPECT_FALSE(cost_of("GET", "/api/concept/%zz").heavy);  // malformed: answered 400 on the I/O thread
}

}  // namespace
}  // namespace n2v
