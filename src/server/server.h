#pragma once
// Server stage: `net2vec serve` -- the HTTP/JSON API of docs/API.md and the web page in
// web/, over one read-only catalog.
//   * Api (api.h)     -- a plain function from request to response: routing, query strings,
//                        static files, JSON errors. No sockets: unit-testable.
//   * Server (here)   -- an asynchronous Boost.Beast HTTP/1.1 server around an Api: keep-alive,
//                        limits and timeouts, an access log, a graceful stop.
// Beast lives only in http_server.cpp. Torch-free.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "service/limits.h"

namespace n2v {

struct ServerOptions {
  // Loopback unless told otherwise: the catalog may be private work.
  std::string host = "127.0.0.1";
  int port = 8080;     // 0: any free port (Server::port() says which)
  int threads = 0;     // I/O threads (parse, light routes, writes); 0: one per core
  // Heavy routes (map, compare, examples, export: Api::route_cost) run on their own
  // pool, so they cannot stall the light ones (docs/API.md, "Limits"). Per route at most
  // heavy_route_limit run at once and heavy_queue more wait; past that: 503 + Retry-After.
  int heavy_workers = 0;      // 0: one per core
  int heavy_route_limit = 0;  // 0: half the heavy workers, at least 1
  int heavy_queue = 8;
  std::string web_root = NET2VEC_DEFAULT_WEB_ROOT;  // "" serves the API only
  std::vector<std::string> probe_dirs;  // probe-set folders whose images may be served
  bool quiet = false;  // no access log
  // Memory budget of the cached spaces in MiB (0: unlimited): past it the least recently used
  // spaces are dropped and read again on demand (QueryOptions::cache_bytes).
  size_t cache_mb = 0;
  ServiceLimits limits;  // what one request may ask (`serve --max-...`, docs/API.md "Limits")

  // Defensive limits (docs/API.md lists the statuses they answer with).
  size_t max_body_bytes = 1 << 20;     // 413 beyond
  size_t max_target_bytes = 8 << 10;   // 414 beyond
  size_t max_header_bytes = 64 << 10;  // 431 beyond (the request line and headers together)
  int header_timeout_ms = 10'000;      // a request must arrive whole within this
  int idle_timeout_ms = 30'000;        // an idle keep-alive connection is closed after this
  int stop_grace_ms = 5'000;           // on stop, requests in flight get this long to finish
  // Each answer gets its own deadline to be written (the read deadline does not cover it); a
  // client that has not taken the whole answer by then is disconnected.
  int write_timeout_ms = 60'000;
  // Bytes of answers being written, server-wide (slow readers hold them): an answer over
  // 64 KiB that would go past this is replaced by 503 + Retry-After. 0: no cap.
  size_t max_write_bytes = size_t{256} << 20;
};

class Server {
 public:
  // The catalog must outlive the server. Binds and listens here; throws kIo when the address
  // cannot be bound and kInvalidArgument for a bad host or port.
  Server(const Catalog& catalog, ServerOptions options);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;         // the bound port
  std::string url() const;  // http://host:port/
  // Runs the I/O threads in the background.
  void start();
  // Stops accepting, lets requests in flight finish (up to stop_grace_ms), closes the rest;
  // returns when every thread has ended. Safe to call from any thread, more than once.
  void stop();
  // Blocks until SIGINT or SIGTERM, then stops. For `net2vec serve`.
  void run_until_signal();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `net2vec serve`: binds, prints "net2vec: serving <url>" on stdout, serves until SIGINT or
// SIGTERM. Returns the exit status.
int serve(const Catalog& catalog, const ServerOptions& options);

}  // namespace n2v
