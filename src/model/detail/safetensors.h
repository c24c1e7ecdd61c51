#pragma once
// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {str: str}}, then the tensors' little-endian bytes (offsets relative to the
// end of the header). Used for the weights of the built-in Keras networks
// (keras_networks.cpp) and their reference activations. Torch-free.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace n2v::safetensors {

// Bytes per element of a safetensors dtype ("F32", "U8", ...); 0 for an unknown dtype.
size_t dtype_size(const std::string& dtype);

// "[3, 3, 32, 1]".
std::string shape_string(const std::vector<int64_t>& shape);

struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // bytes from the start of the data section
  uint64_t bytes = 0;
  int64_t numel() const;
};

class File {
 public:
  // Reads and validates the whole file. Throws n2v::Error: kNotFound (no such file), kIo
  // (unreadable), kCorrupt (truncated, bad header JSON, unknown dtype, offsets that do not
  // match the shape or run past the end of the file), naming the path.
  static File read(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A metadata value, or `fallback` when absent.
  std::string metadata(const std::string& key, const std::string& fallback) const;
  // The tensors in data order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Throws kNotFound naming the file when absent.
  const TensorInfo& at(const std::string& name) const;
  const uint8_t* data(const TensorInfo& tensor) const;
  // The values of an F32 tensor (kCorrupt for another dtype).
  std::vector<float> floats(const std::string& name) const;

 private:
  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<uint8_t> data_;  // the data section
};

// A tensor to write: `data` points to `bytes` little-endian bytes.
struct TensorData {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t bytes = 0;
};

// Writes a safetensors file (header padded with spaces to a multiple of 8), through a
// temporary file renamed into place. Throws kInvalidArgument when a tensor's byte count does
// not match its shape and dtype or a name repeats, kIo when the file cannot be written.
void write(const std::string& path, const std::vector<TensorData>& tensors,
           const std::map<std::string, std::string>& metadata = {});

}  // namespace n2v::safetensors
