// A program that applies net2vec's process settings (common/process.h) the way
// net2vec-ingest does, then prints what the settled process sees: test_process runs it.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/process.h"

int main(int, char** argv) {
  n2v::reexec_with_process_settings(argv);
  auto show = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string("(unset)");
  };
  std::printf("allocator=%s\n", n2v::active_allocator().c_str());
  for (const char* name : {"LD_PRELOAD", n2v::detail::kPreloadMarker, "OMP_WAIT_POLICY"})
    std::printf("%s=%s\n", name, show(name).c_str());
  return 0;
}
