// libFuzzer target: the JSON request body of the API (POST /api/analogy is the one route
// that takes a body: docs/API.md): JSON parsing, analogy_request_from_json's key and type
// checks, then the analogy itself on the seeded catalog. The input is the body.

#include <cstddef>
#include <cstdint>
#include <string>

#include "api_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  const Api& api = fuzz::fuzz_api();
  const std::string body(reinterpret_cast<const char*>(data), size);
  fuzz::check_response(api.handle({"POST", "/api/analogy", body, "application/json"}));
  return 0;
}
