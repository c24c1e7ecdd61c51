#include "support/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace n2v::test {

TempDir::TempDir(const std::string& base) {
  const char* env = std::getenv("TMPDIR");
  const std::string dir = !base.empty() ? base : env && *env ? env : "/tmp";
  std::string tmpl = dir + "/net2vec-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace n2v::test
