#pragma once
// SHA-256 (FIPS 180-4) of a file, as lowercase hex: what a run records of its model file
// (sql/008_run_model_hash.sql) so that `net2vec-ingest --reproduce` can tell the same file from
// a changed or moved one. Our own few lines rather than a crypto library for one digest.

#include <cstdint>
#include <string>
#include <string_view>

namespace n2v {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hex();  // finishes; the object is spent

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes
};

std::string sha256_hex(std::string_view bytes);
// Throws kNotFound / kIo naming the file.
std::string sha256_file(const std::string& path);

}  // namespace n2v
