#pragma once
// The table of queries: every query of a catalog -- its name, what it answers, its
// parameters (type, default, bounds, help) and how it runs -- is one entry here. `net2vec`'s
// query subcommands and the HTTP API's JSON routes are both built from this table, so a
// query exists in both, its arguments are read and checked in one place (bounds: the
// Service's checks, which tests/service/test_queries.cpp tries at each documented bound),
// and openapi.json is checked against it. docs/ARCHITECTURE.md says what a new query touches.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/json.h"
#include "service/service.h"

namespace n2v {

enum class ParamType {
  kText,     // a name or a word
  kInt,      // an integer (bounds below)
  kFlag,     // true/false; a switch on the command line
  kList,     // names: comma-separated (HTTP, CLI), repeated (CLI), a JSON array (a POST body)
  kNumbers,  // comma-separated numbers (a raw vector)
};
const char* to_string(ParamType type);

struct QueryParam {
  QueryParam(std::string name_, ParamType type_, std::string help_, bool required_ = false, std::string fallback_ = "",
             std::optional<int64_t> min_ = std::nullopt, std::optional<int64_t> max_ = std::nullopt,
             char short_flag_ = 0, bool in_path_ = false)
      : name(std::move(name_)), type(type_), help(std::move(help_)), required(required_),
        fallback(std::move(fallback_)), min(min_), max(max_), short_flag(short_flag_), in_path(in_path_) {}
  std::string name;  // as the HTTP API names it ("per_concept"); the CLI's flag is --per-concept
  ParamType type = ParamType::kText;
  std::string help;
  bool required = false;
  std::string fallback;  // the default as text ("": none)
  // kInt: the values the Service accepts (the operator's limits may lower some; the test
  // tries each bound).
  std::optional<int64_t> min, max;
  char short_flag = 0;   // 'k': -k on the command line
  bool in_path = false;  // the route's path holds it: "/api/concepts/{concept}"
  std::string cli_name() const;  // "per-concept"
};

// One call's arguments, as either front end collected them: values by parameter name (one
// for a scalar, any number for a list).
class QueryArgs {
 public:
  enum class Style { kHttp, kCli };  // how messages name a parameter: k or --k
  explicit QueryArgs(Style style = Style::kHttp) : style_(style) {}
  void set(const std::string& name, std::vector<std::string> values) { values_[name] = std::move(values); }
  bool has(const std::string& name) const;  // given and not empty
  const std::vector<std::string>* values(const std::string& name) const;
  Style style() const { return style_; }
  // Called as a long query advances (compare's progress bar); may be empty.
  std::function<void(int64_t done, int64_t total)> progress;

 private:
  Style style_;
  std::map<std::string, std::vector<std::string>> values_;
};

// An answer as JSON (--json, HTTP) or as the CLI's text tables.
struct QueryAnswer {
  std::function<Json()> json;
  std::function<std::string()> text;
  // The typed response (the query's XResponse), for a front end's own additions: the API
  // adds image URLs to the images query's answer.
  std::shared_ptr<const void> response;
};

enum class QueryCost { kLight, kHeavy };

struct Query {
  std::string name;     // the CLI subcommand
  std::string summary;  // one line: --help, openapi's summary
  std::string http_method = "GET";  // POST: the arguments come as a JSON object body
  std::string path;     // the HTTP route, "{param}" for a parameter in the path
  std::vector<QueryParam> params;
  // Reads the arguments into the typed request (kInvalidArgument naming the parameter) and
  // answers it.
  std::function<QueryAnswer(Service&, const QueryArgs&)> run;
  // kHeavy: the answer's cost grows with the space or the request (an O(n^2) map, m^2 Grams,
  // queries x k), so the server runs it on its bounded worker pool with a per-route limit
  // (src/server, docs/API.md "Limits"); kLight ones read one concept or a listing.
  QueryCost cost = QueryCost::kLight;
  const QueryParam* param(std::string_view name) const;
};

// Every query, in the order `net2vec --help` lists them.
const std::vector<Query>& queries();
const Query* find_query(std::string_view name);

// A POST body's fields as arguments: strings and integers as one value, arrays of strings
// as a list; unknown keys, other types and names longer than kMaxNameBytes are
// kInvalidArgument naming the key (the body was parsed by parse_request_body: depth-limited).
QueryArgs args_from_json(const Query& query, const Json& body);

}  // namespace n2v
