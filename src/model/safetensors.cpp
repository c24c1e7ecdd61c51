#include "model/detail/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace n2v::safetensors {
namespace {

// The Rust reference implementation refuses headers over 100 MB.
constexpr uint64_t kMaxHeader = 100ull << 20;

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

File File::read(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  N2V_CHECK(fs::exists(status), kNotFound, "file not found: " << path);
  N2V_CHECK(!fs::is_directory(status), kInvalidArgument,
            path << " is a directory, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  N2V_CHECK(in.good(), kIo, "cannot open " << path);
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  N2V_CHECK(end >= 0, kIo, "cannot read " << path);
  const uint64_t size = static_cast<uint64_t>(end);
  in.seekg(0);

  File file;
  file.path_ = path;
  N2V_CHECK(size >= 8, kCorrupt,
            path << ": not a safetensors file (" << size << " bytes, shorter than the 8-byte "
                 << "header length)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  N2V_CHECK(in.good(), kIo, "cannot read " << path);
  const uint64_t header_len = read_u64_le(len_bytes);
  N2V_CHECK(header_len <= kMaxHeader && header_len <= size - 8, kCorrupt,
            path << ": truncated or not a safetensors file (header of " << header_len
                 << " bytes, file of " << size << " bytes)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  N2V_CHECK(in.good(), kIo, "cannot read the header of " << path);

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    N2V_THROW(kCorrupt, path << ": the safetensors header is not valid JSON: " << e.what());
  }
  N2V_CHECK(json.is_object(), kCorrupt, path << ": the safetensors header is not a JSON object");

  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      N2V_CHECK(value.is_object(), kCorrupt, path << ": __metadata__ is not an object");
      for (const auto& [key, v] : value.items()) {
        N2V_CHECK(v.is_string(), kCorrupt,
                  path << ": __metadata__ value '" << key << "' is not a string");
        file.metadata_[key] = v.get<std::string>();
      }
      continue;
    }
    N2V_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") &&
                  value.contains("data_offsets"),
              kCorrupt, path << ": tensor '" << name << "' lacks dtype, shape or data_offsets");
    TensorInfo t;
    t.name = name;
    const auto& dtype = value["dtype"];
    N2V_CHECK(dtype.is_string() && dtype_size(dtype.get<std::string>()) > 0, kCorrupt,
              path << ": tensor '" << name << "' has unknown dtype " << dtype.dump());
    t.dtype = dtype.get<std::string>();
    const auto& shape = value["shape"];
    N2V_CHECK(shape.is_array(), kCorrupt, path << ": tensor '" << name << "': shape is not a list");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      N2V_CHECK(d.is_number_unsigned() && d.get<uint64_t>() < (1ull << 40), kCorrupt,
                path << ": tensor '" << name << "' has a bad shape " << shape.dump());
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
      // Checked before multiplying: 2^39 x 2^39 would wrap to 0 and pass every size check.
      const uint64_t dim = d.get<uint64_t>();
      N2V_CHECK(dim == 0 || numel <= ((1ull << 48) - 1) / dim, kCorrupt,
                path << ": tensor '" << name << "' has a bad shape " << shape.dump() << " (over 2^48 elements)");
      numel *= dim;
    }
    const auto& offsets = value["data_offsets"];
    N2V_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                  offsets[1].is_number_unsigned(),
              kCorrupt, path << ": tensor '" << name << "' has bad data_offsets " << offsets.dump());
    const uint64_t begin = offsets[0].get<uint64_t>(), stop = offsets[1].get<uint64_t>();
    N2V_CHECK(begin <= stop, kCorrupt,
              path << ": tensor '" << name << "' has bad data_offsets " << offsets.dump());
    t.offset = begin;
    t.bytes = stop - begin;
    N2V_CHECK(t.bytes == numel * dtype_size(t.dtype), kCorrupt,
              path << ": tensor '" << name << "' holds " << t.bytes << " bytes, but "
                   << t.dtype << " " << shape_string(t.shape) << " needs "
                   << numel * dtype_size(t.dtype));
    N2V_CHECK(stop <= data_size, kCorrupt,
              path << ": truncated: tensor '" << name << "' ends at byte " << stop
                   << " of the data section, which has " << data_size << " bytes");
    file.tensors_.push_back(std::move(t));
  }
  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) {
              return a.offset != b.offset ? a.offset < b.offset : a.bytes < b.bytes;
            });
  for (size_t i = 0; i < file.tensors_.size(); ++i) {
    const TensorInfo& t = file.tensors_[i];
    if (i > 0) {
      const TensorInfo& prev = file.tensors_[i - 1];
      N2V_CHECK(prev.offset + prev.bytes <= t.offset, kCorrupt,
                path << ": tensors '" << prev.name << "' and '" << t.name << "' overlap");
    }
    file.index_[t.name] = i;
  }

  file.data_.resize(data_size);
  if (data_size > 0) {
    in.read(reinterpret_cast<char*>(file.data_.data()), static_cast<std::streamsize>(data_size));
    N2V_CHECK(in.gcount() == static_cast<std::streamsize>(data_size), kCorrupt,
              path << ": truncated while reading (" << in.gcount() << " of " << data_size
                   << " data bytes)");
  }
  return file;
}

std::string File::metadata(const std::string& key, const std::string& fallback) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? fallback : it->second;
}

const TensorInfo* File::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::at(const std::string& name) const {
  const TensorInfo* t = find(name);
  N2V_CHECK(t != nullptr, kNotFound, path_ << " has no tensor '" << name << "'");
  return *t;
}

const uint8_t* File::data(const TensorInfo& tensor) const { return data_.data() + tensor.offset; }

std::vector<float> File::floats(const std::string& name) const {
  const TensorInfo& t = at(name);
  N2V_CHECK(t.dtype == "F32", kCorrupt,
            path_ << ": tensor '" << name << "' is " << t.dtype << ", expected F32");
  std::vector<float> values(static_cast<size_t>(t.numel()));
  if (!values.empty()) std::memcpy(values.data(), data(t), t.bytes);  // little-endian host
  return values;
}

void write(const std::string& path, const std::vector<TensorData>& tensors,
           const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorData& t : tensors) {
    const size_t width = dtype_size(t.dtype);
    N2V_CHECK(width > 0, kInvalidArgument, "safetensors: unknown dtype '" << t.dtype << "'");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      N2V_CHECK(d >= 0, kInvalidArgument, "safetensors: tensor '" << t.name << "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    N2V_CHECK(numel * width == t.bytes, kInvalidArgument,
              "safetensors: tensor '" << t.name << "' has " << t.bytes << " bytes for "
                                      << t.dtype << " " << shape_string(t.shape));
    N2V_CHECK(t.name != "__metadata__" && !header.contains(t.name), kInvalidArgument,
              "safetensors: tensor name '" << t.name << "' repeats or is reserved");
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((json.size() >> (8 * i)) & 0xff);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    N2V_CHECK(out.good(), kIo, "cannot write " << tmp);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const TensorData& t : tensors)
      if (t.bytes > 0) out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.bytes));
    out.flush();
    N2V_CHECK(out.good(), kIo, "cannot write " << tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  N2V_CHECK(!ec, kIo, "cannot rename " << tmp << " to " << path << ": " << ec.message());
}

}  // namespace n2v::safetensors
