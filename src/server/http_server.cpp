// The asynchronous Boost.Beast HTTP/1.1 server around Api, after Beast's own async server:
// a listener accepts on its own strand and starts a session per connection; a session reads
// one request, answers it and reads the next (keep-alive), each step a do_x/on_x pair.
// Limits: header and body sizes, target length, a deadline per request and per idle wait,
// a fresh one per answer written; a slow client holds a timer, never a thread. Every malformed
// request gets a JSON error. Heavy routes (Api::route_cost) run on a bounded worker pool,
// light ones on the I/O thread that read them; the bytes of answers being written are capped
// server-wide (docs/API.md, "Limits").

#include <utility>  // before Asio: GCC 12 in C++20 mode needs it (../shared/NOTES.md)

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <future>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/version.h"
#include "server/api.h"
#include "server/detail/framing.h"
#include "server/detail/heavy_pool.h"
#include "server/server.h"
#include "service/service.h"

namespace n2v {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What every session shares.
struct Shared {
  const Api& api;
  const ServerOptions& options;
  detail::HeavyPool* heavy = nullptr;  // set once the pool exists
  std::atomic<int> busy{0};  // requests being answered or written
  std::atomic<bool> stopping{false};
  std::atomic<size_t> write_bytes{0};  // bodies of the answers being written
};

// Holds one count of Shared::busy (a heavy job may be dropped unrun at stop).
struct BusyToken {
  explicit BusyToken(std::atomic<int>& busy) : busy_(busy) { ++busy_; }
  ~BusyToken() { --busy_; }
  BusyToken(const BusyToken&) = delete;
  BusyToken& operator=(const BusyToken&) = delete;

 private:
  std::atomic<int>& busy_;
};

// Answers up to this size are never refused for the write cap (errors, listings).
constexpr size_t kSmallAnswer = 64 << 10;

HttpResponse overloaded(const std::string& why, int retry_after_s) {
  HttpResponse r = error_response(503, "overloaded", why + "; retry after " + std::to_string(retry_after_s) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared& shared) : stream_(std::move(socket)), shared_(shared) {}
  ~Session() { release_write_bytes(); }  // also when the server stops mid-write

  void run() {
    // On the session's strand (the socket was accepted on one).
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    if (shared_.stopping) return do_close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.max_header_bytes));
    parser_->body_limit(shared_.options.max_body_bytes);
    // The first request must arrive within the header timeout; later ones may wait (idle
    // keep-alive) up to the idle timeout. One deadline covers the whole request, so a client
    // that trickles bytes is cut off as surely as a silent one.
    stream_.expires_after(std::chrono::milliseconds(requests_ == 0 ? shared_.options.header_timeout_ms
                                                                   : shared_.options.idle_timeout_ms));
    scanner_.emplace(shared_.options.max_target_bytes);
    scan_head();
  }

  // Reads the raw head until it is complete, checking what Beast's parser would not see
  // (detail::HeadScanner), then lets Beast parse it from the buffer.
  void scan_head() {
    const auto data = buffer_.data();
    using State = detail::HeadScanner::State;
    switch (scanner_->scan(std::string_view(static_cast<const char*>(data.data()), data.size()))) {
      case State::kTargetTooLong: return send_error(414, "uri_too_long", target_too_long());
      case State::kObsFold:
        return send_error(400, "invalid_argument", "malformed HTTP request: obs-fold (a header line continued on the next)");
      case State::kComplete:
      case State::kMalformed:
        return http::async_read_header(stream_, buffer_, *parser_,
                                       beast::bind_front_handler(&Session::on_header, shared_from_this()));
      case State::kMore: break;
    }
    if (buffer_.size() >= shared_.options.max_header_bytes) return send_error(431, "header_too_large", header_too_large());
    const size_t room = std::min<size_t>(shared_.options.max_header_bytes - buffer_.size(), 16 << 10);
    stream_.async_read_some(buffer_.prepare(room), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec == asio::error::eof && self->buffer_.size() > 0) {
        // Half a head, then the end: Beast's parser says what is wrong, from the buffer (a
        // read after end of file could wait for ever; the connection churn test saw it).
        beast::error_code parse;
        self->buffer_.consume(self->parser_->put(self->buffer_.data(), parse));
        if (!parse || parse == http::error::need_more) self->parser_->put_eof(parse);
        return self->on_read(parse ? parse : beast::error_code(http::error::partial_message), 0);
      }
      if (ec) return self->do_close();  // timeout, reset, or a clean end between requests
      self->scan_head();
    });
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read(ec, 0);
    const auto& h = parser_->get();
    std::vector<std::string_view> te;
    for (auto [it, end] = h.equal_range(http::field::transfer_encoding); it != end; ++it) te.emplace_back(it->value().data(), it->value().size());
    const std::string framing = detail::framing_error(h.version(), h.count(http::field::host), te);
    if (!framing.empty()) return send_error(400, "invalid_argument", "malformed HTTP request: " + framing);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return do_close();
    if (ec == http::error::body_limit)
      return send_error(413, "payload_too_large", "the request body is larger than " +
                                                      std::to_string(shared_.options.max_body_bytes) + " bytes");
    if (ec == http::error::header_limit) return send_error(431, "header_too_large", header_too_large());
    if (ec) return send_error(400, "invalid_argument", "malformed HTTP request: " + ec.message());

    ++requests_;
    const auto& req = parser_->get();
    Answer a{std::chrono::steady_clock::now(), req.version(), req.keep_alive(), req.method() == http::verb::head};
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body(),
                        std::string(req[http::field::content_type]), std::string(req[http::field::if_none_match])};
    if (request.target.size() > shared_.options.max_target_bytes) return send_error(414, "uri_too_long", target_too_long());
    const RouteCost cost = Api::route_cost(request);
    if (!cost.heavy) {
      HttpResponse response = shared_.api.handle(request);
      return finish(std::move(request), std::move(response), a);
    }
    // Heavy: on the pool, unless its queue or the bytes being written are full already.
    const size_t cap = shared_.options.max_write_bytes;
    if (cap > 0 && shared_.write_bytes >= cap)
      return finish(std::move(request), overloaded("the server is writing too many large answers", 2), a);
    auto token = std::make_shared<BusyToken>(shared_.busy);
    auto job = [self = shared_from_this(), strand = stream_.get_executor(), request, a, token]() mutable {
      HttpResponse response = self->shared_.api.handle(request);
      // The token lives until the answer is counted as being written.
      asio::post(strand,
                 [self, request = std::move(request), response = std::move(response), a, token]() mutable {
                   self->finish(std::move(request), std::move(response), a);
                 });
    };
    if (!shared_.heavy->submit(cost.route, std::move(job))) {
      finish(std::move(request),
             overloaded("too many " + cost.route + " requests at once", shared_.heavy->retry_after_seconds(cost.route)), a);
    }
  }

  // What on_read keeps of a request for its answer.
  struct Answer {
    std::chrono::steady_clock::time_point start;
    unsigned version;
    bool keep_alive, head;
  };

  // On the session's strand: log and write the answer. A large answer that would take the
  // bytes being written past max_write_bytes is replaced by a 503, so what slow readers can
  // hold stays bounded (by the cap plus one answer).
  void finish(HttpRequest request, HttpResponse response, const Answer& a) {
    if (!a.head && !reserve_write_bytes(response.body.size()))
      response = overloaded("the server is writing too many large answers", 2);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - a.start);
    log(request.method, request.target, response.status, us.count());
    write(std::move(response), a.version, a.keep_alive, a.head);
  }

  std::string target_too_long() const {
    return "the request target is longer than " + std::to_string(shared_.options.max_target_bytes) + " bytes";
  }
  std::string header_too_large() const {
    return "the request line and headers are larger than " + std::to_string(shared_.options.max_header_bytes) + " bytes";
  }

  void send_error(int status, const std::string& code, const std::string& message) {
    log("-", "-", status, 0);
    // The stream's state is unknown after a parse error: answer, then close.
    write(error_response(status, code, message), 11, false, false);
  }

  void write(HttpResponse response, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version);
    res->set(http::field::server, std::string("net2vec/") + kVersion);
    res->set(http::field::content_type, response.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive && !shared_.stopping);
    const size_t size = response.body.size();
    if (!head) {
      res->body() = std::move(response.body);
      if (reserved_ == 0) reserve_write_bytes(size);  // small: always granted
    }
    if (response.status != 304) res->content_length(size);  // a 304 has no body (RFC 9110 15.4.5)
    response_ = res;
    ++shared_.busy;
    // The answer's own deadline: neither the read deadline nor the time it took to compute
    // may cut it short; a client that has not taken it all by then is too slow.
    stream_.expires_after(std::chrono::milliseconds(shared_.options.write_timeout_ms));
    http::async_write(stream_, *res, beast::bind_front_handler(&Session::on_write, shared_from_this(), res->keep_alive()));
  }

  // Counts a body against the server-wide cap; false (nothing counted) for a large one that
  // would pass it while others are being written. A small one is always counted.
  bool reserve_write_bytes(size_t size) {
    const size_t cap = shared_.options.max_write_bytes;
    size_t held = shared_.write_bytes.load();
    do {
      if (cap > 0 && size > kSmallAnswer && held > 0 && held + size > cap) return false;
    } while (!shared_.write_bytes.compare_exchange_weak(held, held + size));
    reserved_ = size;
    return true;
  }
  void release_write_bytes() {
    shared_.write_bytes -= reserved_;
    reserved_ = 0;
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    --shared_.busy;
    release_write_bytes();
    response_.reset();
    if (ec || !keep_alive) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);  // the peer sees an orderly end
  }

  void log(const std::string& method, const std::string& target, int status, long long us) const {
    if (shared_.options.quiet) return;
    // One fprintf per line: stdio locks the stream, so lines from threads do not interleave.
    std::fprintf(stderr, "%s %s %d %lldus\n", method.c_str(), target.size() > 200 ? (target.substr(0, 200) + "...").c_str() : target.c_str(),
                 status, us);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<detail::HeadScanner> scanner_;
  std::shared_ptr<void> response_;  // alive while it is written
  size_t reserved_ = 0;             // its body's bytes counted in Shared::write_bytes
  Shared& shared_;
  int requests_ = 0;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Service service;
  Api api;
  Shared shared;
  asio::io_context ioc;
  // The listener's strand: accept completions, the retry timer and stop()'s close of the
  // acceptor run on it one at a time (an acceptor is not safe to use from two threads at once;
  // ThreadSanitizer caught close() racing a new async_accept, docs/reliability/sanitizers.md).
  asio::strand<asio::io_context::executor_type> listener;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;  // paces accept retries when descriptors run out
  // After ioc: its jobs hold sessions, which must go before the io_context does.
  detail::HeavyPool heavy;
  std::vector<std::thread> threads;
  std::mutex stop_mutex;
  bool stopped = false;

  Impl(const Catalog& catalog, ServerOptions o)
      : options(std::move(o)),
        service(catalog, QueryOptions{QueryOptions::Index::kDefault, options.cache_mb << 20}, options.limits),
        api(service, ApiOptions{options.web_root, options.probe_dirs}),
        shared{api, options},
        ioc(threads_for(options.threads)),
        listener(asio::make_strand(ioc)),
        acceptor(listener),
        accept_retry(listener),
        heavy(threads_for(options.heavy_workers),
              options.heavy_route_limit > 0 ? options.heavy_route_limit : std::max(1, threads_for(options.heavy_workers) / 2),
              options.heavy_queue) {
    shared.heavy = &heavy;
    N2V_CHECK(options.port >= 0 && options.port <= 65535, kInvalidArgument,
              "port must be between 0 and 65535, got " << options.port);
    N2V_CHECK(options.heavy_workers >= 0 && options.heavy_route_limit >= 0 && options.heavy_queue >= 0,
              kInvalidArgument, "heavy workers, route limit and queue must not be negative");
    N2V_CHECK(options.write_timeout_ms > 0, kInvalidArgument, "the write timeout must be positive");
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options.host, ec);
    N2V_CHECK(!ec, kInvalidArgument, "'" << options.host << "' is not an IP address (e.g. 127.0.0.1 or ::1)");
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    N2V_CHECK(!ec, kIo, "cannot listen on " << options.host << ":" << options.port << ": " << ec.message());
  }

  static int threads_for(int requested) {
    if (requested > 0) return requested;
    return std::max(1u, std::thread::hardware_concurrency());
  }

  void do_accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (!acceptor.is_open()) return;  // closed by stop()
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
            ec == beast::errc::too_many_files_open_in_system) {
          // Out of descriptors or memory: accept fails at once until one is freed, so retrying
          // at once would spin a thread. Retry after a pause (docs/reliability/load.md).
          accept_retry.expires_after(std::chrono::milliseconds(50));
          accept_retry.async_wait([this](beast::error_code) {
            if (acceptor.is_open()) do_accept();
          });
          return;
        }
      } else {
        std::make_shared<Session>(std::move(socket), shared)->run();
      }
      do_accept();
    });
  }
};

Server::Server(const Catalog& catalog, ServerOptions options)
    : impl_(std::make_unique<Impl>(catalog, std::move(options))) {}

Server::~Server() { stop(); }

int Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string Server::url() const {
  const auto address = impl_->acceptor.local_endpoint().address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

void Server::start() {
  Impl& s = *impl_;
  N2V_CHECK(s.threads.empty(), kInvalidArgument, "the server is already running");
  s.do_accept();
  const int n = Impl::threads_for(s.options.threads);
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
}

void Server::stop() {
  Impl& s = *impl_;
  std::lock_guard lock(s.stop_mutex);
  if (s.stopped) return;
  s.stopped = true;
  s.shared.stopping = true;
  // Close the acceptor on the listener's strand, where its handlers run, and wait for it.
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(s.listener, [&s, closed] {
    beast::error_code ec;
    s.acceptor.close(ec);
    closed->set_value();
  });
  if (!s.threads.empty()) closed->get_future().wait_for(std::chrono::seconds(2));
  // Requests in flight finish (bounded); idle keep-alive connections are simply dropped.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(s.options.stop_grace_ms);
  while (s.shared.busy > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.ioc.stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  // Heavy jobs still waiting are dropped (their connections close); running ones finish.
  s.heavy.stop();
  beast::error_code ec;
  s.acceptor.close(ec);  // when no thread ran the posted close
}

void Server::run_until_signal() {
  // Block the signals in every thread (the I/O threads inherit the mask), then wait for one
  // here: no handler runs on an I/O thread, and the stop is an ordinary call.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  start();
  int received = 0;
  sigwait(&signals, &received);
  std::fprintf(stderr, "net2vec: %s received, stopping\n", received == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
}

int serve(const Catalog& catalog, const ServerOptions& options) {
  Server server(catalog, options);
  std::printf("net2vec: serving %s\n", server.url().c_str());
  std::fflush(stdout);
  server.run_until_signal();
  return 0;
}

}  // namespace n2v
