#include "common/temp_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace n2v {

TempFile::TempFile(const std::string& dir, const std::string& prefix, size_t bytes, const std::string& what,
                   const std::string& hint)
    : bytes_(bytes) {
  std::string base = dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string path = base + "/" + prefix + "-XXXXXX";
  fd_ = mkstemp(path.data());
  N2V_CHECK(fd_ >= 0, kIo, "cannot create " << what << " in " << base << ": " << std::strerror(errno));
  unlink(path.c_str());  // gone from the directory at once; freed when closed
  if (bytes_ == 0) return;
  const int rc = posix_fallocate(fd_, 0, static_cast<off_t>(bytes_));
  if (rc != 0) {
    close(fd_);
    fd_ = -1;
    N2V_THROW(kIo, "cannot reserve " << (bytes_ >> 20) << " MiB for " << what << " in " << base << ": "
                                     << std::strerror(rc) << " (" << hint << ")");
  }
}

TempFile::~TempFile() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace n2v
