#pragma once
// A minimal blocking HTTP/1.1 client over a loopback TCP socket, for the server tests: it
// sends raw bytes (so tests can send malformed requests too) and parses one response.

#include <map>
#include <string>

namespace n2v::test {

struct HttpResult {
  int status = 0;                             // 0: no response (connection closed or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// The status and lower-cased headers of a response head (the bytes before the empty line);
// status 0 when the status line is too short to hold one.
HttpResult parse_response_head(const std::string& head);

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port (or another loopback address); throws std::runtime_error.
  explicit HttpConnection(int port, const std::string& host = "127.0.0.1", int timeout_ms = 5000);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool send_raw(const std::string& bytes);
  // Reads one response (Content-Length framed); status 0 when the peer closed first.
  HttpResult read_response(bool head = false);
  // True when the server has closed the connection (a read returns end of file).
  bool closed_by_peer();

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& extra_headers = "");

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection ("Connection: close").
HttpResult http_request(int port, const std::string& method, const std::string& target, const std::string& body = "");

}  // namespace n2v::test
