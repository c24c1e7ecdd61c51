// make-service-catalog FILE: writes the service test catalog (service_catalog.h) to FILE,
// replacing it. Used by the API, golden and browser tests (a ctest fixture) and by hand.

#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "service_catalog.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-service-catalog FILE\n");
    return 2;
  }
  try {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(std::string(argv[1]) + suffix, ec);
    n2v::Catalog catalog = n2v::Catalog::open(argv[1]);
    n2v::test::write_service_catalog(catalog);
    std::printf("wrote %s\n", argv[1]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make-service-catalog: %s\n", e.what());
    return 1;
  }
}
