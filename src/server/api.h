#pragma once
// The HTTP API as a plain function from request to response (Boost.Beast's own examples
// keep this apart from sockets too): routes of docs/API.md, query strings, static files of
// web/ and the probe folders, and JSON errors for everything that goes wrong. Never throws.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "service/service.h"

namespace n2v {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form: path and query, still percent-encoded
  std::string body;
  std::string content_type;
  std::string if_none_match;  // the If-None-Match header: a static file whose ETag it names is a 304
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
};

// A route of the API, as the OpenAPI document names it ("/api/concepts/{name}").
struct Route {
  std::string method, path;
};

struct ApiOptions {
  std::string web_root;                 // "" serves no files
  std::vector<std::string> probe_dirs;  // probe-set folders whose images the concept pages show
};

// Where the server answers a request: light routes on its I/O threads, heavy ones (their time
// grows with the space or the request: map, compare, examples, export) on a bounded
// worker pool with a per-route limit (docs/API.md, "Limits").
struct RouteCost {
  bool heavy = false;
  std::string route;  // the heavy route's path ("/api/map"); "" when light
};

namespace detail {
class ProbeFiles;
}

class Api {
 public:
  Api(Service& service, ApiOptions options);
  HttpResponse handle(const HttpRequest& request) const noexcept;
  // Cheap (the path alone): the server asks before handle() where to run it.
  static RouteCost route_cost(const HttpRequest& request);
  // Every route the API answers (for the OpenAPI test and the docs).
  static std::vector<Route> routes();
  // The OpenAPI 3.1 document served at /api/openapi.json.
  static const std::string& openapi_json();

 private:
  Service& service_;
  ApiOptions options_;
  std::string web_root_;  // canonical, "" if none
  std::shared_ptr<const detail::ProbeFiles> probe_files_;
};

// A JSON error response ({"error": {"code", "status", "message"}}).
HttpResponse error_response(int status, const std::string& code, const std::string& message);

// Percent-decoding of a path segment or a query value ('+' is a space only in queries).
// Throws kInvalidArgument for a malformed escape or a NUL byte.
std::string percent_decode(std::string_view text, bool plus_is_space);

}  // namespace n2v
