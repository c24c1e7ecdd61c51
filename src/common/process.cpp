#include "common/process.h"

#include <unistd.h>

#include <cstdlib>

namespace n2v {

void reexec_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached if exec failed: carry on with the current process.
}

}  // namespace n2v
