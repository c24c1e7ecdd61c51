#pragma once
// A fresh directory under TMPDIR (or under `base`), removed with its contents when the object dies.
#include <string>

namespace n2v::test {

class TempDir {
 public:
  TempDir() : TempDir(std::string()) {}
  // Under `base`; "" = TMPDIR, else /tmp. Throws std::runtime_error where it cannot create one.
  explicit TempDir(const std::string& base);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace n2v::test
