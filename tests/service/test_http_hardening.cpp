// The transport promises of docs/RELIABILITY.md ("The server") on the real server over
// loopback, driven with raw sockets (docs/SECURITY_REVIEW findings F5-F8, F11):
//   F5  heavy routes run on a bounded worker pool: they cannot stall light ones, and a full
//       queue answers 503 with Retry-After;
//   F6  every answer gets its own write deadline (the read deadline does not cut it short);
//       a client that does not read is cut at the write timeout;
//   F7  a server-wide cap on the bytes of answers being written;
//   F8  RFC 9112 framing: Transfer-Encoding, Host, obs-fold;
//   F11 a target over the target limit is 414 even when it is also over the header limit.
// The catalog holds one space big enough for a map to take about a second and an export to
// be megabytes. Every wait here is bounded.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "server/detail/heavy_pool.h"
#include "server/server.h"
#include "service/json.h"
#include "support/http_client.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using Clock = std::chrono::steady_clock;
using test::HttpConnection;
using test::HttpResult;

constexpr int kConcepts = 600;
constexpr int kDim = 1024;
const std::string kSpace = "bignet.fc.cls";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// kConcepts concepts with random vectors of kDim filters, one classification space.
IngestRecord big_ingest() {
  IngestRecord r = test::minimal_ingest_record("bignet", "fc", kDim);
  r.probe.name = "big-probe";
  r.probe.path = "/big/probe";
  r.probe.image_count = 1;
  r.probe.mask_height = r.probe.mask_width = 16;
  r.probe.categories = {"object"};
  for (int i = 1; i <= kConcepts; ++i) {
    ConceptRecord c;
    c.number = i;
    c.name = "c" + std::to_string(i);
    c.category = "object";
    c.categories = "object(1)";
    r.concepts.push_back(c);
  }
  r.images.push_back({0, "images/train0.jpg", "train"});
  r.run.model_path = "/big/bignet.pt";
  r.run.images_used = 1;
  SpaceRecord space;
  space.id = kSpace;
  space.task = Task::kClassification;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int i = 1; i <= kConcepts; ++i) {
    EmbeddingRecord e;
    e.concept_number = i;
    e.train_count = 10;
    e.val_count = 5;
    e.weights.resize(kDim);
    for (float& w : e.weights) w = normal(rng);
    e.best_filter = i % kDim;
    e.accuracy_train = 0.8f;
    e.accuracy_val = 0.7f;
    e.best_filter_train = 0.6f;
    e.best_filter_val = 0.55f;
    space.embeddings.push_back(std::move(e));
  }
  r.spaces.push_back(std::move(space));
  return r;
}

// A raw loopback client: poll-bounded reads, and an optional small receive buffer (set before
// connect, so the TCP window stays small and the server's write really waits for us).
class RawClient {
 public:
  explicit RawClient(int port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
  }
  ~RawClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // The status and lower-cased headers of the next response; status 0 when none came.
  HttpResult read_head(int timeout_ms) {
    HttpResult r;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (fill(deadline) <= 0) return r;
    const std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    return test::parse_response_head(head);
  }
  // Reads the body of a response whose head was read; returns how many bytes of it came
  // before the connection ended or the time ran out. The body is kept when keep is set.
  size_t read_body(size_t length, int timeout_ms, std::string* keep = nullptr) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t got = 0;
    for (;;) {
      const size_t take = std::min(length - got, buffer_.size());
      if (keep) keep->append(buffer_, 0, take);
      buffer_.erase(0, take);
      got += take;
      if (got == length || fill(deadline) <= 0) return got;
    }
  }
  HttpResult response(int timeout_ms) {
    HttpResult r = read_head(timeout_ms);
    if (r.status != 0 && r.headers.count("content-length"))
      read_body(std::stoul(r.headers["content-length"]), timeout_ms, &r.body);
    return r;
  }
  // True when the server ends the connection (end of file or reset) within the time, with
  // nothing more sent first.
  bool closed_within(int timeout_ms) {
    if (!buffer_.empty()) return false;
    const ssize_t n = fill(Clock::now() + std::chrono::milliseconds(timeout_ms));
    return n == 0 || (n < 0 && n != -2);
  }

 private:
  // > 0 bytes read, 0 end of file, -1 error, -2 timed out.
  ssize_t fill(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return -2;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return -2;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    return n < 0 ? -1 : n;
  }

  int fd_ = -1;
  std::string buffer_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}
std::string map_target(int seed) {
  return "/api/map?space=" + kSpace + "&iterations=250&clusters=4&seed=" + std::to_string(seed);
}
const std::string kExport = "/api/export?space=" + kSpace + "&format=tsv";
const std::string kLight = "/api/neighbors?space=" + kSpace + "&concept=c1&k=5";

std::string error_code_of(const HttpResult& r) {
  const Json j = Json::parse(r.body, nullptr, false);
  return j.is_discarded() || !j.contains("error") ? "" : j["error"].value("code", "");
}

class HttpHardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    catalog_ = new Catalog(Catalog::open(dir_->file("catalog.db")));
    catalog_->write_ingest(big_ingest());
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }
  void TearDown() override { server_.reset(); }

  void start(const std::function<void(ServerOptions&)>& change) {
    server_.reset();
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.quiet = true;
    o.web_root = "";
    if (change) change(o);
    server_ = std::make_unique<Server>(*catalog_, o);
    server_->start();
  }
  int port() const { return server_->port(); }

  static test::TempDir* dir_;
  static Catalog* catalog_;
  std::unique_ptr<Server> server_;
};
test::TempDir* HttpHardening::dir_ = nullptr;
Catalog* HttpHardening::catalog_ = nullptr;

// ---- F5: heavy routes on their own bounded pool ----

TEST_F(HttpHardening, HeavyRoutesCannotStallLightOnesAndAFullQueueIs503) {
  start([](ServerOptions& o) {
    o.heavy_workers = 1;
    o.heavy_route_limit = 1;
    o.heavy_queue = 2;
  });
  // The yardstick: one map alone (a fresh seed each time, so nothing is cached).
  auto t0 = Clock::now();
  ASSERT_EQ(test::http_request(port(), "GET", map_target(1)).status, 200);
  const double heavy = seconds_since(t0);
  // Four at once: one runs, two wait, the fourth finds the queue full.
  std::mutex m;
  std::vector<HttpResult> maps;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      HttpConnection c(port(), "127.0.0.1", 30'000);
      HttpResult r = c.request("GET", map_target(100 + i), "", "Connection: close\r\n");
      std::lock_guard lock(m);
      maps.push_back(std::move(r));
    });
    sleep_ms(20);
  }
  // Light requests while the maps run (they take >= 3 x heavy in all).
  sleep_ms(50);
  std::vector<double> light;
  {
    HttpConnection c(port(), "127.0.0.1", 30'000);
    for (int i = 0; i < 10; ++i) {
      t0 = Clock::now();
      EXPECT_EQ(c.request("GET", kLight).status, 200);
      light.push_back(seconds_since(t0));
      sleep_ms(static_cast<int>(heavy * 1000 / 20));
    }
  }
  for (std::thread& t : clients) t.join();
  std::sort(light.begin(), light.end());
  // Ratios, not absolute times: this machine is shared.
  EXPECT_LT(light[5], heavy / 20) << "light median " << light[5] << " s, one map " << heavy << " s";
  EXPECT_LT(light.back(), heavy / 4) << "light max " << light.back() << " s, one map " << heavy << " s";
  int ok = 0, full = 0;
  for (const HttpResult& r : maps) {
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++full;
      EXPECT_EQ(error_code_of(r), "overloaded") << r.body;
      ASSERT_TRUE(r.headers.count("retry-after")) << r.body;
      EXPECT_GE(std::stoi(r.headers.at("retry-after")), 1);
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(full, 1);
}

// The pool itself: the per-route limit, the queue bound, FIFO order, and a stop that drops
// what waits and lets what runs finish.
TEST(HeavyPoolTest, RouteLimitQueueAndStop) {
  detail::HeavyPool pool(2, 1, 2);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> ran;
  std::atomic<int> running{0}, peak_a{0};
  auto job = [&](const std::string& name, bool block) {
    return [&, name, block] {
      const int now = ++running;
      if (name[0] == 'a') peak_a = std::max(peak_a.load(), now);
      std::unique_lock lock(m);
      ran.push_back(name);
      if (block) cv.wait(lock, [&] { return release; });
      --running;
    };
  };
  EXPECT_TRUE(pool.submit("a", job("a1", true)));
  EXPECT_TRUE(pool.submit("a", job("a2", true)));   // waits: route a runs one at a time
  EXPECT_TRUE(pool.submit("a", job("a3", true)));
  EXPECT_FALSE(pool.submit("a", job("a4", true)));  // route a's queue is full
  EXPECT_GE(pool.retry_after_seconds("a"), 1);
  EXPECT_TRUE(pool.submit("b", job("b1", false)));  // another route still gets the free worker
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(m);
      if (ran.size() == 2) break;
    }
    sleep_ms(5);
  }
  {
    std::lock_guard lock(m);
    std::vector<std::string> first = ran;
    std::sort(first.begin(), first.end());
    EXPECT_EQ(first, (std::vector<std::string>{"a1", "b1"}));
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 200 && pool.pending() > 0; ++i) sleep_ms(5);
  EXPECT_EQ(pool.pending(), 0);
  EXPECT_EQ(peak_a.load(), 1);
  std::lock_guard lock(m);
  ASSERT_EQ(ran.size(), 4u);
  EXPECT_EQ(ran[2], "a2");  // in submission order
  EXPECT_EQ(ran[3], "a3");
}

// ---- F6: a fresh write deadline per answer ----

// The review's case: a request sent late in the read deadline, read slowly at first. Its
// answer must arrive whole (it was cut at the read deadline).
TEST_F(HttpHardening, AnAnswerIsNotCutByTheReadDeadline) {
  start([](ServerOptions& o) {
    o.header_timeout_ms = 1000;
    o.idle_timeout_ms = 1000;
    o.write_timeout_ms = 20'000;
  });
  RawClient c(port(), 4096);
  sleep_ms(700);
  ASSERT_TRUE(c.send(get(kExport)));
  sleep_ms(900);  // past the read deadline, the answer not yet read
  const HttpResult head = c.read_head(10'000);
  ASSERT_EQ(head.status, 200);
  const size_t length = std::stoul(head.headers.at("content-length"));
  EXPECT_GT(length, 4u << 20);  // more than the socket buffers hold
  EXPECT_EQ(c.read_body(length, 20'000), length);
}

// A client that reads nothing is cut at the write timeout, its own option (not the read
// deadline, which is longer here).
TEST_F(HttpHardening, AClientThatDoesNotReadIsCutAtTheWriteTimeout) {
  start([](ServerOptions& o) {
    o.header_timeout_ms = 10'000;
    o.idle_timeout_ms = 10'000;
    o.write_timeout_ms = 500;
  });
  RawClient c(port(), 4096);
  ASSERT_TRUE(c.send(get(kExport)));
  sleep_ms(2000);
  const HttpResult head = c.read_head(5000);
  ASSERT_EQ(head.status, 200);
  const size_t length = std::stoul(head.headers.at("content-length"));
  const auto t0 = Clock::now();
  EXPECT_LT(c.read_body(length, 5000), length);
  EXPECT_LT(seconds_since(t0), 4.0);  // the server closed it; our read did not time out
}

// ---- F7: the bytes of answers being written are capped server-wide ----

TEST_F(HttpHardening, BytesHeldForSlowReadersAreCapped) {
  start([](ServerOptions& o) {
    o.max_write_bytes = 10 << 20;  // an export is ~7 MB: one fits, two do not
    o.write_timeout_ms = 20'000;
  });
  auto a = std::make_unique<RawClient>(port(), 4096);
  ASSERT_TRUE(a->send(get(kExport)));
  ASSERT_EQ(a->read_head(10'000).status, 200);  // a's answer is now being written, slowly
  RawClient b(port());
  ASSERT_TRUE(b.send(get(kExport)));
  const HttpResult refused = b.response(10'000);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(error_code_of(refused), "overloaded") << refused.body.substr(0, 200);
  EXPECT_TRUE(refused.headers.count("retry-after"));
  // Small answers are never refused.
  EXPECT_EQ(test::http_request(port(), "GET", kLight).status, 200);
  // Once a's connection is gone, its bytes are released.
  a.reset();
  HttpResult again;
  for (int i = 0; i < 50; ++i) {
    RawClient c(port());
    c.send(get(kExport, "Connection: close\r\n"));
    again = c.response(10'000);
    if (again.status == 200) break;
    sleep_ms(50);
  }
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body.size(), std::stoul(again.headers["content-length"]));
}

// ---- F8: framing (RFC 9112) ----

// Each request must get one 400 and the connection closed (nothing after it is parsed).
void expect_400_and_close(int port, const std::string& raw, const std::string& what) {
  RawClient c(port);
  ASSERT_TRUE(c.send(raw)) << what;
  const HttpResult r = c.response(5000);
  EXPECT_EQ(r.status, 400) << what << ": " << r.body;
  EXPECT_EQ(error_code_of(r), "invalid_argument") << what << ": " << r.body;
  EXPECT_TRUE(c.closed_within(3000)) << what << ": the connection stayed open";
}

TEST_F(HttpHardening, TransferEncodingHostAndObsFoldFollowRfc9112) {
  start(nullptr);
  const std::string body = R"({"space":")" + kSpace + R"(","positive":["c1"],"k":1})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const std::string chunked = std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
  expect_400_and_close(port(),
                       "POST /api/analogy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + chunked,
                       "final coding not chunked");
  expect_400_and_close(port(),
                       "POST /api/analogy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body,
                       "unknown coding");
  expect_400_and_close(port(), "POST /api/analogy HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
                       "Transfer-Encoding on HTTP/1.0");
  expect_400_and_close(port(), "GET /api/health HTTP/1.1\r\n\r\n", "no Host");
  expect_400_and_close(port(), "GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Hosts");
  expect_400_and_close(port(), "GET /api/health HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", "two Hosts on HTTP/1.0");
  expect_400_and_close(port(), "GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "obs-fold");
  // What stays allowed: HTTP/1.0 without Host, chunked as the final coding, an empty Host.
  {
    RawClient c(port());
    c.send("GET /api/health HTTP/1.0\r\n\r\n");
    EXPECT_EQ(c.response(5000).status, 200);
  }
  {
    RawClient c(port());
    c.send("POST /api/analogy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked +
           get("/api/health", "Connection: close\r\n"));
    EXPECT_EQ(c.response(5000).status, 200);
    EXPECT_EQ(c.response(5000).status, 200);  // the next request on the connection
  }
  {
    RawClient c(port());
    c.send("GET /api/health HTTP/1.1\r\nHost:\r\n\r\n");
    EXPECT_EQ(c.response(5000).status, 200);
  }
}

// Half a head and then the end of the stream: answered 400 at once, every time (the head is
// read ahead of Beast's parser; a read after the end once waited for the header timeout).
TEST_F(HttpHardening, AHalfHeadThenTheEndIsAnsweredAtOnce) {
  start([](ServerOptions& o) { o.header_timeout_ms = 10'000; });
  const auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) {
    RawClient c(port());
    c.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    c.shutdown_write();
    const HttpResult r = c.response(3000);
    ASSERT_EQ(r.status, 400) << "connection " << i;
    EXPECT_TRUE(c.closed_within(3000)) << "connection " << i;
  }
  EXPECT_LT(seconds_since(t0), 5.0);
}

// ---- F11: the documented limits ----

TEST_F(HttpHardening, TargetAndHeaderLimitsAreTheDocumentedOnes) {
  start(nullptr);
  auto status_of = [&](const std::string& raw) {
    RawClient c(port());
    c.send(raw);
    const HttpResult r = c.response(5000);
    return std::make_pair(r.status, error_code_of(r));
  };
  // A target over 8 KiB is 414, also when it is longer than the 64 KiB header limit.
  EXPECT_EQ(status_of(get("/api/health?" + std::string(9000, 'a'))), std::make_pair(414, std::string("uri_too_long")));
  EXPECT_EQ(status_of(get("/api/health?" + std::string(70'000, 'a'))), std::make_pair(414, std::string("uri_too_long")));
  // Headers: 20 KiB is fine (the limit is 64 KiB, not 16), 70 KiB is 431.
  EXPECT_EQ(status_of(get("/api/health", "X-A: " + std::string(20'000, 'h') + "\r\n")).first, 200);
  EXPECT_EQ(status_of(get("/api/health", "X-A: " + std::string(70'000, 'h') + "\r\n")),
            std::make_pair(431, std::string("header_too_large")));
}

}  // namespace
}  // namespace n2v
