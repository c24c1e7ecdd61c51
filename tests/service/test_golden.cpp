// Golden cases: each file of tests/service/golden holds one request in both forms -- the
// `net2vec` command line and the HTTP request -- and the JSON it must give. Both front ends
// run against the same freshly written service catalog (with the real WordNet) and must
// print that JSON, so the CLI and the API cannot drift apart.
//
// Values that change from run to run (created_at, generation, version) are left out of the
// comparison, and the checkout's path reads $SOURCE. To rewrite the expectations after a deliberate change of the vocabulary or the
// analyses: NET2VEC_UPDATE_GOLDEN=1 build/tests/service/test_golden, then read the diff.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/server.h"
#include "service/json.h"
#include "service_catalog.h"
#include "service_probe.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

namespace fs = std::filesystem;

const char* const kGoldenDir = NET2VEC_SOURCE_DIR "/tests/service/golden";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Drops the keys whose values differ between runs, at any depth, and writes the checkout's
// path (in a reference space's source) as $SOURCE.
Json stable(Json j) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    const std::string dir = NET2VEC_SOURCE_DIR;
    for (size_t at; (at = s.find(dir)) != std::string::npos;) s.replace(at, dir.size(), "$SOURCE");
    return s;
  }
  if (j.is_object()) {
    for (const char* key : {"created_at", "generation", "version"}) j.erase(key);
    for (auto& [key, value] : j.items()) value = stable(value);
  } else if (j.is_array()) {
    for (Json& x : j) x = stable(x);
  }
  return j;
}

class GoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    db_ = dir_->file("catalog.db");
    catalog_ = new Catalog(Catalog::open(db_));
    test::write_service_catalog(*catalog_);  // with the real WordNet
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.quiet = true;
    o.web_root = "";
    server_ = new Server(*catalog_, o);
    server_->start();
    // The probe browser's cases ("probe": true) ask a second server that serves the probe
    // folder, so every other case keeps its answer without one; their command lines name the
    // folder as $PROBE.
    probe_dir_ = dir_->file("service-probe");
    test::write_service_probe(*catalog_, probe_dir_);
    o.probe_dirs = {probe_dir_};
    probe_server_ = new Server(*catalog_, o);
    probe_server_->start();
  }
  static void TearDownTestSuite() {
    delete probe_server_;
    delete server_;
    delete catalog_;
    delete dir_;
  }

  static Json run_cli(const std::vector<std::string>& args) {
    std::string cmd = std::string("'") + NET2VEC_BIN + "'";
    for (const std::string& a : args) cmd += " '" + a + "'";
    cmd += " --db '" + db_ + "' --json >'" + dir_->file("out.json") + "' 2>'" + dir_->file("err.txt") + "'";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << "\n" << read_file(dir_->file("err.txt"));
    return Json::parse(read_file(dir_->file("out.json")), nullptr, false);
  }

  static test::TempDir* dir_;
  static std::string db_;
  static Catalog* catalog_;
  static Server* server_;
  static Server* probe_server_;
  static std::string probe_dir_;
};
test::TempDir* GoldenTest::dir_ = nullptr;
std::string GoldenTest::db_;
Catalog* GoldenTest::catalog_ = nullptr;
Server* GoldenTest::server_ = nullptr;
Server* GoldenTest::probe_server_ = nullptr;
std::string GoldenTest::probe_dir_;

TEST_F(GoldenTest, CliAndHttpGiveTheExpectedJson) {
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(kGoldenDir))
    if (entry.path().extension() == ".json") cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 10u) << "golden cases missing in " << kGoldenDir;
  const bool update = std::getenv("NET2VEC_UPDATE_GOLDEN") != nullptr;
  for (const fs::path& file : cases) {
    SCOPED_TRACE(file.filename().string());
    Json golden = Json::parse(read_file(file.string()));
    std::vector<std::string> args;
    for (const Json& a : golden["cli"]) args.push_back(a.get<std::string>() == "$PROBE" ? probe_dir_ : a.get<std::string>());
    const Json& http = golden["http"];
    const Server* server = golden.value("probe", false) ? probe_server_ : server_;
    const test::HttpResult r = test::http_request(server->port(), http["method"].get<std::string>(),
                                                  http["target"].get<std::string>(), http.value("body", ""));
    ASSERT_EQ(r.status, 200) << r.body;
    const Json from_http = stable(Json::parse(r.body, nullptr, false));
    const Json from_cli = stable(run_cli(args));
    if (update) {
      golden["expect"] = from_http;
      std::ofstream(file) << golden.dump(1) << "\n";
      continue;
    }
    // The API adds what only a browser needs: whether the probe images are served, and URLs.
    Json http_only_dropped = from_http;
    if (http_only_dropped.contains("images")) {
      http_only_dropped.erase("served");
      for (Json& image : http_only_dropped["images"]) image.erase("image_url"), image.erase("mask_url");
    }
    if (http_only_dropped.contains("top_images")) {
      http_only_dropped["top_images"].erase("served");
      for (Json& image : http_only_dropped["top_images"]["images"]) image.erase("image_url"), image.erase("map_url");
    }
    EXPECT_EQ(from_cli, http_only_dropped) << "the CLI and the API disagree";
    EXPECT_EQ(from_http, golden["expect"]) << "the API's answer changed:\n" << from_http.dump(1).substr(0, 3000);
  }
}

}  // namespace
}  // namespace n2v
