// safetensors reader and writer (src/model/detail/safetensors.h).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/detail/safetensors.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

namespace st = safetensors;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A raw file: u64 LE header length, header, data.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

using test::expect_error;

TEST(Safetensors, RoundTripKeepsTensorsMetadataAndOrder) {
  test::TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, 6.0f};
  const std::vector<uint8_t> b = {0, 1, 2, 255};
  const std::vector<float> empty;
  st::write(dir.file("t.safetensors"),
            {{"conv/kernel", "F32", {1, 2, 3}, a.data(), a.size() * 4},
             {"pixels", "U8", {2, 2}, b.data(), b.size()},
             {"empty", "F32", {0, 4}, empty.data(), 0}},
            {{"architecture", "keras_functional"}, {"note", "{\"json\": [1, 2]}"}});

  const std::string bytes = read_bytes(dir.file("t.safetensors"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u) << "header padded to 8 bytes";

  const st::File f = st::File::read(dir.file("t.safetensors"));
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "conv/kernel");
  EXPECT_EQ(f.tensors()[1].name, "pixels");
  EXPECT_EQ(f.at("conv/kernel").shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(f.at("conv/kernel").numel(), 6);
  EXPECT_EQ(f.floats("conv/kernel"), a);
  EXPECT_EQ(f.at("pixels").dtype, "U8");
  EXPECT_EQ(std::memcmp(f.data(f.at("pixels")), b.data(), 4), 0);
  EXPECT_TRUE(f.floats("empty").empty());
  EXPECT_EQ(f.metadata("architecture", ""), "keras_functional");
  EXPECT_EQ(f.metadata("note", ""), "{\"json\": [1, 2]}");
  EXPECT_EQ(f.metadata("absent", "fallback"), "fallback");
  EXPECT_EQ(f.find("nope"), nullptr);
  expect_error([&] { f.at("nope"); }, ErrorCode::kNotFound);
  expect_error([&] { f.floats("pixels"); }, ErrorCode::kCorrupt);
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.safetensors.tmp")));
}

TEST(Safetensors, WriterRefusesInconsistentTensors) {
  test::TempDir dir;
  const std::vector<float> a(6);
  expect_error(
      [&] {
        st::write(dir.file("x"), {{"a", "F32", {2, 2}, a.data(), 24}});
      },
      ErrorCode::kInvalidArgument);
  expect_error(
      [&] {
        st::write(dir.file("x"), {{"a", "Q7", {6}, a.data(), 24}});
      },
      ErrorCode::kInvalidArgument);
  expect_error(
      [&] {
        st::write(dir.file("x"), {{"a", "F32", {6}, a.data(), 24}, {"a", "F32", {6}, a.data(), 24}});
      },
      ErrorCode::kInvalidArgument);
}

TEST(Safetensors, MissingFileIsNotFound) {
  test::TempDir dir;
  expect_error([&] { st::File::read(dir.file("absent.safetensors")); }, ErrorCode::kNotFound,
               {"absent.safetensors"});
}

TEST(Safetensors, TruncatedFilesAreCorrupt) {
  test::TempDir dir;
  const std::vector<float> a(100, 1.0f);
  st::write(dir.file("full"), {{"a", "F32", {100}, a.data(), 400}}, {{"k", "v"}});
  const std::string bytes = read_bytes(dir.file("full"));
  // Cut in the data, in the header, and in the length prefix.
  for (size_t keep : {bytes.size() - 1, bytes.size() - 200, size_t{20}, size_t{5}, size_t{0}}) {
    write_bytes(dir.file("cut"), bytes.substr(0, keep));
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes");
    expect_error([&] { st::File::read(dir.file("cut")); }, ErrorCode::kCorrupt, {dir.file("cut")});
  }
  write_bytes(dir.file("cut"), bytes.substr(0, bytes.size() - 4));
  const std::string message = test::thrown_by([&] { st::File::read(dir.file("cut")); }).message();
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(Safetensors, MalformedHeadersAreCorrupt) {
  test::TempDir dir;
  const std::string four(4, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", four},
      {"[1, 2]", four},
      {R"({"a": {"dtype": "F32", "shape": [1]}})", four},
      {R"({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}})", four},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", four},
      {R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", four},
      {R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", four},
      {R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}})", four},
      {R"({"__metadata__": {"k": 1}})", ""},
      // 2^39 x 2^39 x 2^26 elements: the product wraps to 0 (mod 2^64), which would match a
      // 0-byte tensor if the element count were multiplied before it is checked.
      {R"({"a": {"dtype": "F32", "shape": [549755813888, 549755813888, 67108864], "data_offsets": [0, 0]}})", ""},
  };
  for (const auto& [header, data] : cases) {
    write_bytes(dir.file("bad"), raw_file(header, data));
    SCOPED_TRACE(header);
    expect_error([&] { st::File::read(dir.file("bad")); }, ErrorCode::kCorrupt);
  }
  // A header length beyond the file.
  std::string huge = raw_file("{}", "");
  huge[5] = 1;
  write_bytes(dir.file("bad"), huge);
  expect_error([&] { st::File::read(dir.file("bad")); }, ErrorCode::kCorrupt);
  // Valid: unpadded header, extra bytes after the last tensor.
  write_bytes(dir.file("ok"), raw_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                                       std::string("\0\0\x80\x3f\x01", 5)));
  const st::File f = st::File::read(dir.file("ok"));
  EXPECT_EQ(f.floats("a"), std::vector<float>{1.0f});
}

}  // namespace
}  // namespace n2v
