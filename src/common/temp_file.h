#pragma once
// An unlinked temporary file of a reserved size: gone from the directory as soon as it is
// created, freed when closed, so a crash leaves nothing behind. Large intermediate data (the
// activation cache, compare's Gram store) spills to disk through it rather than the heap.

#include <cstddef>
#include <string>

namespace n2v {

class TempFile {
 public:
  // Creates `prefix`-XXXXXX in `dir` ("" = TMPDIR, else /tmp), unlinks it and reserves
  // `bytes` (posix_fallocate; 0 reserves nothing). kIo errors name `what` ("the activation
  // cache") and the folder; a failed reservation adds `hint` (how to choose another folder).
  TempFile(const std::string& dir, const std::string& prefix, size_t bytes, const std::string& what,
           const std::string& hint);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  size_t bytes() const { return bytes_; }

 private:
  int fd_ = -1;
  size_t bytes_ = 0;
};

}  // namespace n2v
