// libFuzzer target: the HTTP request path of `net2vec serve` without the socket. The input
// is the raw bytes a client sends; they go through Boost.Beast's request parser with the
// server's limits (ServerOptions: headers 64 KiB, body 1 MiB), become the HttpRequest the
// server builds (method, target, body, Content-Type; a target over 8 KiB is answered 414 as
// the server does) and are answered by Api::handle: routing, percent-decoding, query
// strings, JSON bodies, static files of web/. Before and after Beast's parse, the server's own
// framing checks (server/detail/framing.h: the raw head scan for obs-fold and over-long
// targets, then Host and Transfer-Encoding per RFC 9112) stop a request as the server does.
// Seeds: requests for every route of docs/API.md and the golden cases (tests/service/golden),
// plus malformed ones.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api_fixture.h"
#include "server/detail/framing.h"
#include "server/server.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  static const ServerOptions limits;
  const Api& api = fuzz::fuzz_api();
  // Several requests may follow each other on one connection (keep-alive).
  boost::asio::const_buffer input(data, size);
  for (int requests = 0; requests < 4 && input.size() > 0; ++requests) {
    // The raw head first, as the server reads it: 414 or 400 and the connection closes.
    detail::HeadScanner scanner(limits.max_target_bytes);
    const auto head = scanner.scan(std::string_view(static_cast<const char*>(input.data()), input.size()));
    if (head == detail::HeadScanner::State::kTargetTooLong || head == detail::HeadScanner::State::kObsFold) return 0;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    const size_t used = parser.put(input, ec);
    if (!ec && !parser.is_done()) parser.put_eof(ec);  // the client closed the connection
    if (ec || !parser.is_done()) return 0;             // the server answers 400/413/431 or waits
    input += used;
    const auto& req = parser.get();
    std::vector<std::string_view> te;
    for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it)
      te.emplace_back(it->value().data(), it->value().size());
    if (!detail::framing_error(req.version(), req.count(http::field::host), te).empty()) return 0;  // 400, close
    const HttpRequest request{std::string(req.method_string()), std::string(req.target()), req.body(),
                              std::string(req[http::field::content_type])};
    if (request.target.size() > limits.max_target_bytes) continue;  // 414, as the server answers
    fuzz::check_response(api.handle(request));
  }
  return 0;
}
