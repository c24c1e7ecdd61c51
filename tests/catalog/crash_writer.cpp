// catalog_crash_writer DB FIRST: opens the catalog and writes crash_shape(K) for
// K = FIRST, FIRST + 1, ... forever, until it is killed. Says "start K" before and
// "done K" after write K on stdout, unbuffered, so the test knows where its SIGKILL landed.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "catalog/catalog.h"
#include "support/records.h"

namespace {
void say(const std::string& line) {
  const std::string text = line + "\n";
  if (write(STDOUT_FILENO, text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(3);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: catalog_crash_writer DB FIRST\n");
    return 2;
  }
  try {
    n2v::Catalog catalog = n2v::Catalog::open(argv[1]);
    for (long k = std::stol(argv[2]);; ++k) {
      const n2v::IngestRecord record = n2v::test::make_record(n2v::test::crash_shape(k));
      say("start " + std::to_string(k));
      catalog.write_ingest(record);
      say("done " + std::to_string(k));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "catalog_crash_writer: %s\n", e.what());
    return 1;
  }
}
