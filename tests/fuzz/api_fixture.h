#pragma once
// The HTTP targets (fuzz_http_request, fuzz_analogy_json): one Api per process over the
// service tests' seeded catalog (tests/service/service_catalog.h: 42 real concept names in
// three network spaces, plus the real WordNet space when /usr/share/wordnet exists), opened
// read-only as `net2vec serve` opens it, serving the source tree's web/ folder.
//
// check_response: Api::handle never throws; an answer of status 500 with code "internal"
// means an exception other than n2v::Error escaped a handler (or a broken invariant), and
// a JSON answer must be valid JSON. Both are findings.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "fuzz_common.h"
#include "server/api.h"
#include "service/json.h"
#include "service/service.h"
#include "service_catalog.h"

namespace n2v::fuzz {

inline const Api& fuzz_api() {
  static Catalog* catalog = nullptr;
  static Service* service = nullptr;
  static Api* api = [] {
    std::string db = scratch_path("catalog.db");
    try {
      Catalog writer = Catalog::open(db);
      const bool wordnet = std::filesystem::is_regular_file("/usr/share/wordnet/data.noun");
      test::write_service_catalog(writer, wordnet ? "/usr/share/wordnet" : "");
    } catch (const Error& e) {  // the WordNet import failed: the network spaces still serve
      std::fprintf(stderr, "fuzz: catalog without the wordnet space (%s)\n", e.what());
      db = scratch_path("catalog-nowordnet.db");
      Catalog writer = Catalog::open(db);
      test::write_service_catalog(writer, "");
    }
    catalog = new Catalog(Catalog::open(db, Catalog::Mode::kReadOnly));
    service = new Service(*catalog);
    return new Api(*service, ApiOptions{NET2VEC_SOURCE_DIR "/web", {}});
  }();
  return *api;
}

inline void check_response(const HttpResponse& r) {
  if (r.status < 200 || r.status > 599) {
    std::fprintf(stderr, "fuzz: status %d\n", r.status);
    std::abort();
  }
  if (r.content_type != "application/json") return;
  const Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "fuzz: a JSON answer that is not JSON: %.300s\n", r.body.c_str());
    std::abort();
  }
  if (r.status == 500 && j.contains("error") && j["error"].value("code", "") == "internal") {
    std::fprintf(stderr, "fuzz: internal error: %s\n", r.body.c_str());
    std::abort();
  }
}

}  // namespace n2v::fuzz
