// Routing, query strings and static files of the HTTP API (docs/API.md).

#include "server/api.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/text.h"
#include "server/detail/probe_files.h"
#include "service/json.h"
#include "service/probe_browser.h"
#include "service/queries.h"

namespace n2v {

namespace detail {
// Generated from src/server/openapi.json at build time (embed_file.cmake).
extern const char* const kOpenApiJson;
}  // namespace detail

namespace {

namespace fs = std::filesystem;

// ---- query strings ----

// The parameters of a query string; each allowed once. Unknown names are errors, so that a
// typo ("konzept=") is not silently ignored.
class Params {
 public:
  Params(std::string_view query, std::initializer_list<const char*> known)
      : Params(query, std::vector<std::string>(known.begin(), known.end())) {}
  Params(std::string_view query, const std::vector<std::string>& known) {
    for (const std::string& k : known) known_.insert(k);
    size_t start = 0;
    while (start <= query.size() && !query.empty()) {
      size_t end = query.find('&', start);
      if (end == std::string_view::npos) end = query.size();
      const std::string_view pair = query.substr(start, end - start);
      if (!pair.empty()) {
        const size_t eq = pair.find('=');
        const std::string name = percent_decode(pair.substr(0, eq), true);
        const std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
        if (!known_.count(name)) {
          std::string list;
          for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
          N2V_THROW(kInvalidArgument, "unknown query parameter '" << name << "' (this route takes: "
                                                                  << (list.empty() ? "none" : list) << ")");
        }
        N2V_CHECK(values_.emplace(name, value).second, kInvalidArgument,
                  "query parameter '" << name << "' is given twice");
      }
      start = end + 1;
    }
  }

  std::optional<std::string> get(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  std::string required(const std::string& name) const {
    const auto v = get(name);
    N2V_CHECK(v, kInvalidArgument, "query parameter '" << name << "' is required");
    return *v;
  }
  int integer(const std::string& name, int fallback) const {
    const auto v = get(name);
    if (!v) return fallback;
    const auto x = parse_int(*v);
    N2V_CHECK(x && *x >= INT32_MIN && *x <= INT32_MAX, kInvalidArgument,
              "query parameter '" << name << "' must be an integer, got '" << *v << "'");
    return static_cast<int>(*x);
  }
  bool flag(const std::string& name) const {
    const auto v = get(name);
    if (!v) return false;
    N2V_CHECK(*v == "true" || *v == "false" || *v == "1" || *v == "0", kInvalidArgument,
              "query parameter '" << name << "' must be true or false, got '" << *v << "'");
    return *v == "true" || *v == "1";
  }
  std::vector<std::string> list(const std::string& name) const {
    std::vector<std::string> out;
    if (const auto v = get(name))
      for (const std::string& part : split(*v, ','))
        if (!trim(part).empty()) out.push_back(std::string(trim(part)));
    return out;
  }

 private:
  std::set<std::string> known_;
  std::map<std::string, std::string> values_;
};

// Percent-encodes everything but unreserved characters (RFC 3986).
std::string url_encode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// RFC 6266 attachment header for a file name from catalog data: a plain-ASCII filename=
// (anything but [A-Za-z0-9._-] becomes '_', so no quote, CR or LF reaches the header) and
// the exact name as filename*=UTF-8''<percent-encoded> (RFC 8187).
std::string content_disposition(const std::string& name) {
  std::string ascii = name;
  for (char& ch : ascii)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != '_') ch = '_';
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + url_encode(name);
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The JSON text of an answer. Messages quote the client's bytes (a path, a key, a name),
// which need not be UTF-8: such bytes become U+FFFD instead of a json type_error, which
// escaped as a 500 or, thrown from handle()'s catch, terminated the server (tests/fuzz).
std::string dump_json(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

HttpResponse json_response(const Json& j) {
  HttpResponse r;
  r.body = dump_json(j);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// ---- static files ----

const char* content_type_for(const fs::path& path) {
  static const std::map<std::string, const char*> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"}, {".md", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"}};
  const auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// A file below `root` (canonical) named by a decoded URL path, or nullopt when there is none
// or it would lie outside root: ".." segments, and symbolic links that lead out, are refused.
std::optional<fs::path> file_below(const std::string& root, const std::string& relative) {
  if (root.empty()) return std::nullopt;
  for (const std::string& segment : split(relative, '/'))
    if (segment == ".." || segment == ".") return std::nullopt;
  if (relative.find('\\') != std::string::npos) return std::nullopt;
  std::error_code ec;
  fs::path path = fs::path(root) / fs::path(relative).relative_path();
  if (fs::is_directory(path, ec)) path /= "index.html";
  const fs::path real = fs::canonical(path, ec);  // resolves every link
  if (ec || !fs::is_regular_file(real, ec)) return std::nullopt;
  const std::string r = real.string();
  if (r.size() <= root.size() || r.compare(0, root.size(), root) != 0 || r[root.size()] != '/') return std::nullopt;
  return real;
}

// A strong validator of a file's bytes: FNV-1a 64 in hex, quoted ("..." as RFC 9110 8.8.3 writes it).
std::string etag_of(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char text[24];
  std::snprintf(text, sizeof text, "\"%016llx\"", static_cast<unsigned long long>(h));
  return text;
}

// Whether an If-None-Match value ("*", or a list of entity tags, weak ones W/"..." too: the
// comparison is weak, RFC 9110 13.1.2) names `etag`.
bool none_match_hits(const std::string& header, const std::string& etag) {
  if (header.empty()) return false;
  for (std::string tag : split(header, ',')) {
    tag.erase(0, tag.find_first_not_of(" \t"));
    tag.erase(tag.find_last_not_of(" \t") + 1);
    if (tag == "*") return true;
    if (tag.rfind("W/", 0) == 0) tag.erase(0, 2);
    if (tag == etag) return true;
  }
  return false;
}

// The page's files are revalidated on every load (no-cache: an edited file shows at once) and
// carry an ETag, so an unchanged file is a 304 without its body.
HttpResponse file_response(const fs::path& path, const std::string& if_none_match,
                           const char* cache_control = "no-cache") {
  std::ifstream f(path, std::ios::binary);
  N2V_CHECK(f, kIo, "cannot read " << path.filename().string());  // no server path in answers
  std::ostringstream bytes;
  bytes << f.rdbuf();
  HttpResponse r;
  r.content_type = content_type_for(path);
  r.body = bytes.str();
  const std::string etag = etag_of(r.body);
  r.headers.emplace_back("Cache-Control", cache_control);
  r.headers.emplace_back("ETag", etag);
  if (none_match_hits(if_none_match, etag)) {
    r.status = 304;
    r.body.clear();
  }
  return r;
}

// ---- routing ----

// A path pattern split into segments; "{x}" captures one decoded segment.
struct Pattern {
  std::vector<std::string> segments;
  explicit Pattern(const std::string& path) {
    for (const std::string& s : split(path.substr(1), '/')) segments.push_back(s);
  }
  bool match(const std::vector<std::string>& parts, std::vector<std::string>& captures) const {
    if (parts.size() != segments.size()) return false;
    std::vector<std::string> caught;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (segments[i].size() > 2 && segments[i].front() == '{') caught.push_back(percent_decode(parts[i], false));
      else if (segments[i] != parts[i]) return false;
    }
    captures = std::move(caught);
    return true;
  }
};

struct Call {
  const HttpRequest& request;
  std::string_view query;
  std::vector<std::string> captures;
  const detail::ProbeFiles& probes;
};

// The served folder of a catalog probe set; kNotFound naming what to pass to `serve`.
std::string probe_dir(const detail::ProbeFiles& probes, const std::string& name, const std::string& path,
                      const std::string& hash) {
  N2V_CHECK(!name.empty(), kNotFound, "this space has no probe images (a reference space)");
  const auto dir = probes.dir_for(name, path, hash);
  N2V_CHECK(dir, kNotFound, "the probe set '" << name << "' is not served: start the server with --probe DIR");
  return *dir;
}

// A stored predicted mask (Figure 8) as a PNG of its own size: the predicted pixels in one
// colour, 55 % opaque (cyan: learned weights; yellow: best single filter, as the concept
// page's legend says), the rest transparent, to lay over the photo.
std::string predicted_mask_png(const PredictedMaskRecord& m, bool learned) {
  const std::vector<uint8_t>& bits = learned ? m.learned : m.single;
  const uint8_t colour[3] = {static_cast<uint8_t>(learned ? 0 : 255), static_cast<uint8_t>(learned ? 200 : 214),
                             static_cast<uint8_t>(learned ? 255 : 0)};
  const size_t n = static_cast<size_t>(m.height) * m.width;
  std::vector<uint8_t> rgba(n * 4, 0);
  for (size_t p = 0; p < n; ++p)
    if ((bits[p / 8] >> (p % 8)) & 1) {
      std::copy(colour, colour + 3, rgba.begin() + 4 * p);
      rgba[4 * p + 3] = 140;
    }
  return encode_png_rgba(m.height, m.width, rgba);
}

// A filter's thresholded map (one of its top images) as a PNG of the activation map's size:
// a_k > T_k in Okabe-Ito orange (#E69F00, told apart by every colour vision), opaque, the
// rest transparent; the page lays it over the photo, translucent and unsmoothed.
std::string filter_map_png(const FilterTopImageRecord& t) {
  const size_t n = static_cast<size_t>(t.height) * t.width;
  std::vector<uint8_t> rgba(n * 4, 0);
  for (size_t p = 0; p < n; ++p)
    if ((t.map[p / 8] >> (p % 8)) & 1) {
      rgba[4 * p] = 0xE6;
      rgba[4 * p + 1] = 0x9F;
      rgba[4 * p + 2] = 0x00;
      rgba[4 * p + 3] = 255;
    }
  return encode_png_rgba(t.height, t.width, rgba);
}

HttpResponse bytes_response(std::string body, const char* type) {
  HttpResponse r;
  r.content_type = type;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "max-age=3600");
  return r;
}

// The concept images' answer as the web page needs it: whether the probe folder is served,
// and each image's and mask's URL under /api/probe.
void add_image_urls(Json& j, const ConceptImagesResponse& images, const Call& c) {
  const auto dir = images.images.probe_name.empty()
                       ? std::nullopt
                       : c.probes.dir_for(images.images.probe_name, images.images.probe_path, images.images.probe_hash);
  j["served"] = dir.has_value();
  for (Json& image : j["images"]) {
    const std::string q = "?space=" + url_encode(images.space.id) + "&row=" + std::to_string(image["row"].get<int>());
    image["image_url"] = dir ? Json("api/probe/image" + q) : Json(nullptr);
    image["mask_url"] = dir ? Json("api/probe/mask" + q + "&concept=" + url_encode(images.name)) : Json(nullptr);
  }
}

// The filter answer's top images as the page needs them: each photo's URL (when the probe
// folder is served) and its map's (always: the map is in the catalog).
void add_top_image_urls(Json& j, const FilterResponse& filter, const Call& c) {
  const Catalog::FilterTopImages& t = filter.top_images;
  const auto dir = t.probe_name.empty() ? std::nullopt : c.probes.dir_for(t.probe_name, t.probe_path, t.probe_hash);
  Json& top = j["top_images"];
  top["served"] = dir.has_value();
  for (Json& image : top["images"]) {
    const std::string space = "?space=" + url_encode(filter.space.id), row = "row=" + std::to_string(image["row"].get<int>());
    image["image_url"] = dir ? Json("api/probe/image" + space + "&" + row) : Json(nullptr);
    image["map_url"] = "api/probe/activation" + space + "&filter=" + std::to_string(filter.report.filter) + "&" + row;
  }
}

// The probe browser's images as the page needs them: each photo's and its concept mask's URL
// (the folder is served: the answer came from it).
void add_probe_image_urls(Json& j, const ProbeImagesResponse& r) {
  j["served"] = true;
  for (Json& image : j["images"]) {
    const std::string q = "?space=" + url_encode(r.space.id) + "&row=" + std::to_string(image["row"].get<int>());
    image["image_url"] = "api/probe/image" + q;
    image["mask_url"] = "api/probe/mask" + q + "&concept=" + url_encode(r.concept_count.name);
  }
}

// A row of the space's probe folder that no stored score names (the probe browser lists every
// row), read from the served folder's index.csv; nullopt when there is none.
std::optional<Catalog::ProbeImageRef> probe_folder_image(Service& s, const std::string& space, int row) {
  try {
    const SpaceProbe sp = space_probe(s, space);
    for (const ProbeImage& image : sp.folder->probe.images())
      if (image.line == row + 2) return Catalog::ProbeImageRef{sp.name, sp.path, image.path, sp.hash};
  } catch (const Error&) {
  }
  return std::nullopt;
}

using Handler = std::function<HttpResponse(Service&, const Call&)>;

struct RouteEntry {
  Route route;
  Pattern pattern;
  Handler handler;
  QueryCost cost = QueryCost::kLight;  // kHeavy: on the server's worker pool (route_cost)
};

const std::vector<RouteEntry>& route_table() {
  static const std::vector<RouteEntry> table = [] {
    std::vector<RouteEntry> t;
    auto add = [&](const char* method, const char* path, Handler h, QueryCost cost = QueryCost::kLight) {
      t.push_back({{method, path}, Pattern(path), std::move(h), cost});
    };
    add("GET", "/api/health", [](Service& s, const Call& c) {
      Params(c.query, {});
      return json_response(to_json(s.health()));
    });
    // Every query of the table (service/queries.h), with its parameters read from the query
    // string, the path or a POST's JSON body.
    for (const Query& q : queries())
      add(q.http_method.c_str(), q.path.c_str(), [&q](Service& s, const Call& c) {
        QueryArgs args;
        if (q.http_method == "POST") {
          Params(c.query, {});
          args = args_from_json(q, parse_request_body(c.request.body));
        } else {
          std::vector<std::string> names;
          for (const QueryParam& p : q.params)
            if (!p.in_path) names.push_back(p.name);
          const Params p(c.query, names);
          for (const QueryParam& param : q.params) {
            if (param.in_path) continue;
            const auto value = p.get(param.name);
            if (!value) continue;
            args.set(param.name, param.type == ParamType::kList ? split(*value, ',') : std::vector{*value});
          }
        }
        size_t capture = 0;
        for (const QueryParam& param : q.params)
          if (param.in_path) args.set(param.name, {c.captures.at(capture++)});
        const QueryAnswer answer = q.run(s, args);
        Json j = answer.json();
        if (q.name == "images") add_image_urls(j, *static_cast<const ConceptImagesResponse*>(answer.response.get()), c);
        if (q.name == "probe-images") add_probe_image_urls(j, *static_cast<const ProbeImagesResponse*>(answer.response.get()));
        if (q.name == "filter" && j.contains("top_images"))
          add_top_image_urls(j, *static_cast<const FilterResponse*>(answer.response.get()), c);
        return json_response(j);
      }, q.cost);
    add("GET", "/api/probe/image", [](Service& s, const Call& c) {
      const Params p(c.query, {"space", "row"});
      const std::string space = p.required("space");
      const int row = p.integer("row", -1);
      Catalog::ProbeImageRef image;
      try {
        image = s.probe_image(space, row);
      } catch (const Error& e) {
        const auto listed = e.code() == ErrorCode::kNotFound ? probe_folder_image(s, space, row) : std::nullopt;
        if (!listed) throw;
        image = *listed;
      }
      const std::string dir = probe_dir(c.probes, image.probe_name, image.probe_path, image.probe_hash);
      const auto file = c.probes.image_file(dir, image.path);
      N2V_CHECK(file, kNotFound, "probe image " << image.path << " not found in the images of probe set '"
                                                 << image.probe_name << "'");
      return file_response(*file, c.request.if_none_match, "max-age=3600");
    });
    add("GET", "/api/probe/mask", [](Service& s, const Call& c) {
      const Params p(c.query, {"space", "row", "concept"});
      const std::string space = p.required("space"), name = p.required("concept");
      const int row = p.integer("row", -1);
      std::string probe_name, probe_path, probe_hash;
      int number = 0;
      try {
        const ConceptImagesResponse images = s.concept_images({space, name, 1});  // one catalog read
        probe_name = images.images.probe_name, probe_path = images.images.probe_path;
        probe_hash = images.images.probe_hash, number = images.images.concept_number;
      } catch (const Error& e) {
        // A concept of the probe set the space has no vector for (the probe browser lists them all).
        if (e.code() != ErrorCode::kNotFound) throw;
        try {
          const SpaceProbe sp = space_probe(s, space);
          number = probe_concept(*sp.folder, sp.name, name).number;
          probe_name = sp.name, probe_path = sp.path, probe_hash = sp.hash;
        } catch (const Error&) {
          throw e;
        }
      }
      const std::string dir = probe_dir(c.probes, probe_name, probe_path, probe_hash);
      return bytes_response(c.probes.concept_mask_png(dir, row, number), "image/png");
    });
    add("GET", "/api/probe/prediction", [](Service& s, const Call& c) {
      const Params p(c.query, {"space", "row", "concept", "method"});
      const std::string method = p.get("method").value_or("learned");
      N2V_CHECK(method == "learned" || method == "single", kInvalidArgument,
                "query parameter 'method' must be learned or single, got '" << method << "'");
      const PredictedMaskRecord mask = s.predicted_mask({p.required("space"), p.required("concept"), p.integer("row", -1)});
      return bytes_response(predicted_mask_png(mask, method == "learned"), "image/png");
    });
    add("GET", "/api/probe/activation", [](Service& s, const Call& c) {
      const Params p(c.query, {"space", "filter", "row"});
      const FilterTopImageRecord t = s.filter_top_image(p.required("space"), p.integer("filter", -1), p.integer("row", -1));
      return bytes_response(filter_map_png(t), "image/png");
    });
    add("GET", "/api/export", [](Service& s, const Call& c) {
      const Params p(c.query, {"space", "format", "normalize"});
      const ExportFormat format = parse_export_format(p.get("format").value_or("tsv"));
      const ExportResponse e = s.export_vectors({p.required("space"), p.flag("normalize")});
      HttpResponse r;
      r.body = export_bytes(e, format);
      r.content_type = format == ExportFormat::kNpy ? "application/octet-stream" : "text/tab-separated-values; charset=utf-8";
      r.headers.emplace_back("Content-Disposition", content_disposition(e.space.id + "." + export_file_name(format)));
      return r;
    }, QueryCost::kHeavy);  // a whole space, every row
    add("GET", "/api/openapi.json", [](Service&, const Call& c) {
      Params(c.query, {});
      HttpResponse r;
      r.body = Api::openapi_json();
      return r;
    });
    return t;
  }();
  return table;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      N2V_CHECK(i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0, kInvalidArgument,
                "malformed percent-escape in '" << std::string(text) << "'");
      c = static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    N2V_CHECK(c != '\0', kInvalidArgument, "a NUL byte in '" << std::string(text) << "'");
    out += c;
  }
  return out;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(error_json(code, status, message));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Api::Api(Service& service, ApiOptions options)
    : service_(service),
      options_(std::move(options)),
      probe_files_(std::make_shared<const detail::ProbeFiles>(options_.probe_dirs)) {
  // The probe browser reads the served folders only, like the image routes.
  service_.set_probe_library(std::make_shared<const ProbeLibrary>(options_.probe_dirs, false));
  if (!options_.web_root.empty()) {
    std::error_code ec;
    const fs::path root = fs::canonical(options_.web_root, ec);
    N2V_CHECK(!ec && fs::is_directory(root), kNotFound, "web folder not found: " << options_.web_root);
    web_root_ = root.string();
  }
}

std::vector<Route> Api::routes() {
  std::vector<Route> out;
  for (const RouteEntry& e : route_table()) out.push_back(e.route);
  return out;
}

RouteCost Api::route_cost(const HttpRequest& request) {
  // Which routes are heavy is said where each is defined: a query's cost in the table of
  // queries (service/queries.cpp), the export's in route_table(). Every other route reads one
  // concept or a listing and answers in milliseconds (docs/reliability/load.md). An analogy
  // is light since its terms are capped (100, ServiceLimits): on the pool, 16 clients of a
  // 0.4 ms route were mostly turned away. Matched as handle() matches: the path's segments
  // (a trailing slash dropped), any method (a wrong one is answered 405 wherever it runs).
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path.rfind("/api/", 0) != 0) return {};
  std::vector<std::string> parts = split(path.substr(1), '/');
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  // Asked before every request: only the few heavy routes are matched.
  static const std::vector<const RouteEntry*> heavy = [] {
    std::vector<const RouteEntry*> out;
    for (const RouteEntry& e : route_table())
      if (e.cost == QueryCost::kHeavy) out.push_back(&e);
    return out;
  }();
  for (const RouteEntry* e : heavy) {
    std::vector<std::string> captures;
    try {
      if (e->pattern.match(parts, captures)) return {true, e->route.path};
    } catch (const Error&) {
      return {};  // a malformed escape: handle() answers 400 at once
    }
  }
  return {};
}

const std::string& Api::openapi_json() {
  static const std::string text = detail::kOpenApiJson;
  return text;
}

HttpResponse Api::handle(const HttpRequest& request) const noexcept {
  try {
    const size_t q = request.target.find('?');
    const std::string path = request.target.substr(0, q);
    const std::string_view query =
        q == std::string::npos ? std::string_view() : std::string_view(request.target).substr(q + 1);
    if (path.empty() || path[0] != '/') return error_response(400, "invalid_argument", "the target must start with '/'");
    const bool api = path == "/api" || path.rfind("/api/", 0) == 0;
    const bool read = request.method == "GET" || request.method == "HEAD";
    if (api) {
      std::vector<std::string> parts = split(path.substr(1), '/');
      if (parts.size() > 1 && parts.back().empty()) parts.pop_back();  // a trailing slash
      std::vector<std::string> allowed;
      for (const RouteEntry& e : route_table()) {
        std::vector<std::string> captures;
        if (!e.pattern.match(parts, captures)) continue;
        const bool same = e.route.method == request.method || (e.route.method == "GET" && request.method == "HEAD");
        if (!same) {
          allowed.push_back(e.route.method);
          continue;
        }
        return e.handler(service_, Call{request, query, std::move(captures), *probe_files_});
      }
      if (!allowed.empty()) {
        std::string allow;
        for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
        HttpResponse r = error_response(405, "method_not_allowed",
                                        request.method + " is not allowed on " + path + " (allowed: " + allow + ")");
        r.headers.emplace_back("Allow", allow);
        return r;
      }
      return error_response(404, "not_found", "no API route " + path + " (the routes: GET /api/openapi.json)");
    }
    if (!read) {
      HttpResponse r = error_response(405, "method_not_allowed", request.method + " is not allowed on " + path);
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    const std::string relative = percent_decode(path, false);
    N2V_CHECK(relative.find('\0') == std::string::npos, kInvalidArgument, "a NUL byte in the path");
    if (const auto file = file_below(web_root_, relative)) return file_response(*file, request.if_none_match);
    return error_response(404, "not_found", "no file " + relative + (web_root_.empty() ? " (no web folder is served)" : ""));
  } catch (const Error& e) {
    HttpResponse r;
    r.status = http_status(e.code());
    // Messages from below (a probe set's CSV, the catalog) may name server files.
    std::string message = e.message();
    for (const std::string& dir : probe_files_->dirs()) replace_all(message, dir, fs::path(dir).filename().string());
    if (!web_root_.empty()) replace_all(message, web_root_, "web");
    replace_all(message, service_.catalog().path(), fs::path(service_.catalog().path()).filename().string());
    r.body = dump_json(error_json(to_string(e.code()), r.status, message, e.suggestions()));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  } catch (const std::exception& e) {
    return error_response(500, "internal", std::string("internal error: ") + e.what());
  } catch (...) {
    return error_response(500, "internal", "internal error");
  }
}

}  // namespace n2v
