// make-service-catalog FILE [SPACES]: writes the service test catalog (service_catalog.h) to
// FILE, replacing it; with SPACES, more small spaces up to that many (write_many_spaces). Used by the API, golden and browser tests (a ctest fixture) and by hand.

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "service_catalog.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: make-service-catalog FILE [SPACES]\n");
    return 2;
  }
  try {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(std::string(argv[1]) + suffix, ec);
    n2v::Catalog catalog = n2v::Catalog::open(argv[1]);
    if (argc == 3) n2v::test::write_many_spaces(catalog, std::atoi(argv[2]));
    else n2v::test::write_service_catalog(catalog);
    std::printf("wrote %s\n", argv[1]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make-service-catalog: %s\n", e.what());
    return 1;
  }
}
