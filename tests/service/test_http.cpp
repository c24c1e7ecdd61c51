// The real HTTP server on loopback (an ephemeral port): every route over HTTP/1.1 with
// keep-alive, every error status from the wire (malformed requests, oversize bodies, targets
// and headers), traversal attempts, slow clients, concurrent clients, freshness after a
// write by another connection, IPv6 loopback, and a stop with connections open.
// Every loop here is bounded in requests and time.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/server.h"
#include "service/json.h"
#include "service_catalog.h"
#include "support/expect.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;
using test::HttpConnection;
using test::HttpResult;

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    db_ = dir_->file("catalog.db");
    catalog_ = new Catalog(Catalog::open(db_));
    test::write_service_catalog(*catalog_, "");
    test::write_file(dir_->file("web/index.html"), "<!doctype html><title>page</title>");
    test::write_file(dir_->file("outside.txt"), "do not serve");
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }

  void SetUp() override { start({}); }
  void TearDown() override { server_.reset(); }

  // (Re)starts the server with these changes to the test defaults.
  void start(const std::function<void(ServerOptions&)>& change) {
    server_.reset();
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.quiet = true;
    o.web_root = dir_->file("web");
    if (change) change(o);
    server_ = std::make_unique<Server>(*catalog_, o);
    server_->start();
  }
  int port() const { return server_->port(); }

  static Json json_of(const HttpResult& r) {
    const Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "status " << r.status << ", not JSON: " << r.body.substr(0, 200);
    return j;
  }
  static void expect_error(const HttpResult& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", "application/json");
    const Json j = json_of(r);
    if (!j.is_discarded()) EXPECT_EQ(j["error"]["code"], code) << r.body;
  }

  static test::TempDir* dir_;
  static std::string db_;
  static Catalog* catalog_;
  std::unique_ptr<Server> server_;
};
test::TempDir* HttpTest::dir_ = nullptr;
std::string HttpTest::db_;
Catalog* HttpTest::catalog_ = nullptr;

TEST_F(HttpTest, EveryRouteOverOneKeptAliveConnection) {
  EXPECT_TRUE(contains(server_->url(), "http://127.0.0.1:"));
  HttpConnection c(port());
  const std::vector<std::pair<std::string, std::string>> gets = {
      {"/api/health", "status"},
      {"/api/spaces", "spaces"},
      {"/api/spaces/toynet.conv.seg/concepts", "concepts"},
      {"/api/neighbors?space=toynet.conv.seg&concept=dog", "hits"},
      {"/api/compare?spaces=toynet.conv.seg,othernet.fc.seg", "pairs"},
      {"/api/concepts/dog?space=toynet.conv.seg", "weights"},
      {"/api/filters?space=toynet.conv.seg", "histogram"},
      {"/api/filters?space=toynet.conv.seg&filter=1", "best_for"},
      {"/api/openapi.json", "paths"}};
  for (const auto& [target, key] : gets) {
    HttpResult r = c.request("GET", target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_TRUE(json_of(r).contains(key)) << target;
    EXPECT_NE(r.headers["connection"], "close") << target;
  }
  const HttpResult a = c.request("POST", "/api/analogy", R"({"space": "toynet.conv.seg", "positive": ["car"], "k": 2})");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(json_of(a)["hits"].size(), 2u);
  const HttpResult e = c.request("GET", "/api/export?space=othernet.fc.seg&format=tsv");
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(std::count(e.body.begin(), e.body.end(), '\n'), 42);
  const HttpResult page = c.request("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.body, "<title>page</title>"));
  HttpResult head = c.request("HEAD", "/api/health");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.headers["content-length"], "0");
  // The connection still answers after all that.
  EXPECT_EQ(c.request("GET", "/api/health").status, 200);
}

// The page's files carry an ETag and Cache-Control: no-cache; a request naming the ETag in
// If-None-Match gets a 304 without a body, and the kept-alive connection goes on (a 304 is
// framed without a body). Another ETag, or a changed file, gets the file again.
TEST_F(HttpTest, StaticFilesHaveETagsAndAnswer304) {
  test::HttpConnection c(port());
  const HttpResult first = c.request("GET", "/index.html");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.at("cache-control"), "no-cache");
  ASSERT_TRUE(first.headers.count("etag"));
  const std::string etag = first.headers.at("etag");
  EXPECT_EQ(etag.size(), 18u) << etag;  // "<16 hex digits>"
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(c.request("GET", "/").headers.at("etag"), etag);  // the folder's index.html

  const HttpResult same = c.request("GET", "/index.html", "", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(same.headers.at("etag"), etag);
  // A list, and the weak form of the same tag, match too (If-None-Match compares weakly).
  EXPECT_EQ(c.request("GET", "/index.html", "", "If-None-Match: \"0\", W/" + etag + "\r\n").status, 304);
  const HttpResult other = c.request("GET", "/index.html", "", "If-None-Match: \"0000000000000000\"\r\n");
  EXPECT_EQ(other.status, 200);
  EXPECT_TRUE(contains(other.body, "<title>page</title>"));
  // API answers are never cached this way.
  const HttpResult api = c.request("GET", "/api/health", "", "If-None-Match: *\r\n");
  EXPECT_EQ(api.status, 200);
  EXPECT_FALSE(api.headers.count("etag"));

  // A changed file has a new ETag: the old one gets the new bytes.
  test::write_file(dir_->file("web/index.html"), "<!doctype html><title>page 2</title>");
  const HttpResult changed = c.request("GET", "/index.html", "", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.headers.at("etag"), etag);
  EXPECT_TRUE(contains(changed.body, "page 2"));
  test::write_file(dir_->file("web/index.html"), "<!doctype html><title>page</title>");
}

TEST_F(HttpTest, ErrorStatusesAreJson) {
  expect_error(test::http_request(port(), "GET", "/api/neighbors?space=toynet.conv.seg&concept=dgo"), 404, "not_found");
  expect_error(test::http_request(port(), "GET", "/api/neighbors?space=toynet.conv.seg"), 400, "invalid_argument");
  expect_error(test::http_request(port(), "DELETE", "/api/spaces"), 405, "method_not_allowed");
  expect_error(test::http_request(port(), "PUT", "/index.html"), 405, "method_not_allowed");
  expect_error(test::http_request(port(), "POST", "/api/analogy", "{not json"), 400, "invalid_argument");
  expect_error(test::http_request(port(), "GET", "/api/nowhere"), 404, "not_found");
}

TEST_F(HttpTest, MalformedRequestsGetAnAnswerNotADroppedSocket) {
  for (const std::string raw : {std::string("GARBAGE\r\n\r\n"), std::string("GET /api/health HTTP/9.9\r\n\r\n"),
                                std::string("GET /api/health HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                                std::string("GET /api/health HTTP/1.1\r\nBad Header\r\n\r\n"),
                                std::string("POST /api/analogy HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    HttpConnection c(port());
    ASSERT_TRUE(c.send_raw(raw));
    const HttpResult r = c.read_response();
    expect_error(r, 400, "invalid_argument");
    EXPECT_TRUE(c.closed_by_peer()) << raw;
  }
}

TEST_F(HttpTest, LimitsAnswer413_414_431) {
  {  // A body over 1 MiB, announced by Content-Length: refused before it is read.
    HttpConnection c(port());
    ASSERT_TRUE(c.send_raw("POST /api/analogy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string((1 << 20) + 1) + "\r\n\r\n" + std::string(4096, ' ')));
    expect_error(c.read_response(), 413, "payload_too_large");
  }
  {  // The same body sent whole.
    const std::string big = "{\"space\": \"" + std::string((1 << 20) + 10, 'x') + "\"}";
    HttpConnection c(port());
    c.send_raw("POST /api/analogy HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big);
    expect_error(c.read_response(), 413, "payload_too_large");
  }
  expect_error(test::http_request(port(), "GET", "/api/neighbors?space=" + std::string(9000, 'a')), 414, "uri_too_long");
  {
    HttpConnection c(port());
    c.send_raw("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'h') + "\r\n\r\n");
    expect_error(c.read_response(), 431, "header_too_large");
  }
  // The server is still well.
  EXPECT_EQ(test::http_request(port(), "GET", "/api/health").status, 200);
}

TEST_F(HttpTest, TraversalAttemptsFindNothing) {
  for (const char* target : {"/../outside.txt", "/%2e%2e/outside.txt", "/%2e%2e%2foutside.txt", "/./../outside.txt",
                             "/..%2F..%2Foutside.txt", "/index.html/../../outside.txt"}) {
    HttpConnection c(port());
    c.send_raw(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const HttpResult r = c.read_response();
    EXPECT_TRUE(r.status == 404 || r.status == 400) << target << " " << r.status;
    EXPECT_FALSE(contains(r.body, "do not serve")) << target;
  }
}

// A client that sends half a request and stalls is cut off at the header timeout; while it
// stalls, others are served (it holds a timer, not a thread).
TEST_F(HttpTest, SlowClientsAreCutOffAndHoldNoThread) {
  start([](ServerOptions& o) {
    o.threads = 1;
    o.header_timeout_ms = 300;
  });
  HttpConnection slow(port());
  slow.send_raw("GET /api/health HTTP/1.1\r\nHost: x\r\n");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(test::http_request(port(), "GET", "/api/health").status, 200);
  EXPECT_TRUE(slow.closed_by_peer());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 4.0);  // the socket read timeout is 5 s: the server closed it, not our client
}

TEST_F(HttpTest, ConcurrentClientsAllGetTheirAnswers) {
  const std::vector<std::string> names = {"dog", "car", "lime", "red-c", "wood", "tree", "bus", "cat"};
  std::vector<std::string> expected;
  for (const std::string& n : names)
    expected.push_back(json_of(test::http_request(port(), "GET", "/api/neighbors?space=toynet.conv.seg&k=3&concept=" + n))
                           ["hits"][0]["name"]);
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      HttpConnection c(port());
      for (int i = 0; i < 40; ++i) {
        const size_t q = (t + i) % names.size();
        const HttpResult r = c.request("GET", "/api/neighbors?space=toynet.conv.seg&k=3&concept=" + names[q]);
        const Json j = Json::parse(r.body, nullptr, false);
        (r.status == 200 && !j.is_discarded() && j["hits"][0]["name"] == expected[q] ? ok : bad)++;
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 320);
  EXPECT_EQ(bad, 0);
}

// A space written by another connection (as net2vec-ingest would) shows up without a
// restart; one replaced shows its new content.
TEST_F(HttpTest, NewSpacesShowUpWithoutARestart) {
  const size_t before = json_of(test::http_request(port(), "GET", "/api/spaces"))["spaces"].size();
  {
    Catalog writer = Catalog::open(db_);
    writer.write_reference_space("tiny", "test vectors", 2, {{"dog", {1, 0}}, {"cat", {0.9f, 0.1f}}, {"car", {0, 1}}});
  }
  const Json after = json_of(test::http_request(port(), "GET", "/api/spaces"));
  EXPECT_EQ(after["spaces"].size(), before + 1);
  const Json n = json_of(test::http_request(port(), "GET", "/api/neighbors?space=tiny&concept=dog&k=1"));
  EXPECT_EQ(n["hits"][0]["name"], "cat");
  {
    Catalog writer = Catalog::open(db_);
    writer.write_reference_space("tiny", "test vectors", 2, {{"dog", {1, 0}}, {"cat", {0, 1}}, {"car", {0.9f, 0.1f}}});
  }
  EXPECT_EQ(json_of(test::http_request(port(), "GET", "/api/neighbors?space=tiny&concept=dog&k=1"))["hits"][0]["name"], "car");
}

TEST_F(HttpTest, ServesOnIpv6Loopback) {
  start([](ServerOptions& o) { o.host = "::1"; });
  EXPECT_TRUE(contains(server_->url(), "http://[::1]:")) << server_->url();
  HttpConnection c(port(), "::1");
  EXPECT_EQ(c.request("GET", "/api/health").status, 200);
}

TEST_F(HttpTest, BadAddressesAreClearErrors) {
  ServerOptions o;
  o.host = "localhost:80";
  EXPECT_EQ(test::error_of([&] { Server s(*catalog_, o); }, ErrorCode::kInvalidArgument).empty(), false);
  o.host = "127.0.0.1";
  o.port = port();  // taken
  test::error_of([&] { Server s(*catalog_, o); }, ErrorCode::kIo);
}

// Stop with an idle keep-alive connection open returns promptly; the port is then closed.
TEST_F(HttpTest, StopsPromptlyWithConnectionsOpen) {
  HttpConnection idle(port());
  EXPECT_EQ(idle.request("GET", "/api/health").status, 200);
  const int p = port();
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  EXPECT_THROW(HttpConnection(p, "127.0.0.1", 500), std::runtime_error);
}

// Request content that used to crash the server or cost unbounded work (security review F1,
// F2): a quick 400 over the wire, the server still answering; the operator's ceilings
// (ServerOptions::limits, `serve --max-...`) reach the service.
TEST_F(HttpTest, HostileBodiesAre400AndCeilingsApply) {
  start([](ServerOptions& o) { o.limits.max_k = 7; });
  HttpConnection c(port());
  const std::string deep = "{\"space\": \"toynet.conv.seg\", \"positive\": [\"dog\"], \"k\": " +
                           std::string(80'000, '[') + "1" + std::string(80'000, ']') + "}";
  expect_error(c.request("POST", "/api/analogy", deep), 400, "invalid_argument");
  const auto t0 = std::chrono::steady_clock::now();
  expect_error(c.request("POST", "/api/analogy",
                         "{\"space\": \"toynet.conv.seg\", \"positive\": [\"" + std::string(1'000'000, 'a') + "\"]}"),
               400, "invalid_argument");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  EXPECT_EQ(c.request("GET", "/api/neighbors?space=toynet.conv.seg&concept=dog&k=7").status, 200);
  const HttpResult r = c.request("GET", "/api/neighbors?space=toynet.conv.seg&concept=dog&k=8");
  expect_error(r, 400, "invalid_argument");
  EXPECT_TRUE(contains(r.body, "between 1 and 7")) << r.body;
}

}  // namespace
}  // namespace n2v
