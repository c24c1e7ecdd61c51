// make-service-probe CATALOG DIR: writes the probe folder of the service catalog's probe set
// (service_probe.h) to DIR, which must end in "service-probe". The browser test serves it.

#include <cstdio>

#include "service_probe.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make-service-probe CATALOG DIR\n");
    return 2;
  }
  try {
    const n2v::Catalog catalog = n2v::Catalog::open(argv[1], n2v::Catalog::Mode::kReadOnly);
    n2v::test::write_service_probe(catalog, argv[2]);
    std::printf("wrote %s\n", argv[2]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make-service-probe: %s\n", e.what());
    return 1;
  }
}
