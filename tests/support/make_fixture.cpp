// make-fixture DIR: writes the toy probe set (DIR/probe) and network (DIR/model.pt) that
// the demo ingests. See toy_fixture.h for what they contain.
#include <cstdio>
#include <exception>

#include "support/toy_fixture.h"

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: make-fixture DIR\n"
                 "Writes the toy BRODEN-format probe set DIR/probe and the TorchScript network\n"
                 "DIR/model.pt (layer 'features'); ingest it with --quantile 0.125.\n");
    return argc == 2 ? 0 : 2;
  }
  try {
    n2v::test::write_toy(argv[1]);
    std::printf("wrote %s/probe and %s/model.pt\n", argv[1], argv[1]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make-fixture: %s\n", e.what());
    return 1;
  }
}
