// Image and mask-PNG files, decoded and encoded with stb (Debian's libstb ships the
// implementations, so no STB_*_IMPLEMENTATION here).

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/error.h"
#include "probe/probe_set.h"

namespace n2v {
namespace {

// Reads a whole file. We read it ourselves rather than let stb fopen it, so a missing file
// (kNotFound), an unreadable one (kIo) and undecodable bytes (kCorrupt) stay distinct.
std::vector<uint8_t> read_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  N2V_CHECK(std::filesystem::exists(status), kNotFound, path << ": " << what << " not found");
  N2V_CHECK(std::filesystem::is_regular_file(status), kNotFound,
            path << ": " << what << " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  N2V_CHECK(in, kIo, path << ": cannot open " << what);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  N2V_CHECK(!in.bad(), kIo, path << ": read error");
  N2V_CHECK(!bytes.empty(), kCorrupt, path << ": " << what << " is empty");
  N2V_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), kUnsupported,
            path << ": " << what << " is too large (" << bytes.size() << " bytes)");
  return bytes;
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};
using StbPixels = std::unique_ptr<stbi_uc, StbFree>;

// Debian's stb_image (git 2022-09-08) trusts the code counts of a JPEG Huffman table (DHT
// segment): a table declaring more than 256 codes writes past stb's 257-byte size and 256-byte
// value arrays (found by tests/fuzz/fuzz_image; upstream stb_image 2.28 refuses it too). So we
// walk the JPEG's segments as stb does and refuse such a table before stb sees it.
void check_jpeg_huffman_tables(const std::string& path, const std::vector<uint8_t>& b) {
  if (b.size() < 2 || b[0] != 0xFF || b[1] != 0xD8) return;  // not a JPEG
  size_t i = 2;
  while (i + 1 < b.size()) {
    const uint8_t m = b[i + 1];
    if (b[i] != 0xFF || m == 0xFF || m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
      i += b[i] == 0xFF && m != 0xFF ? 2 : 1;  // entropy-coded data, fill bytes, RSTn
      continue;
    }
    if (m == 0xD9 || i + 3 >= b.size()) return;  // EOI or the end
    const size_t length = static_cast<size_t>(b[i + 2]) << 8 | b[i + 3];  // counts its own 2 bytes
    if (m == 0xC4) {  // DHT: tables of (class/id, 16 code counts, the codes' values)
      long remaining = static_cast<long>(length) - 2;
      size_t p = i + 4;
      while (remaining > 0 && p < b.size()) {
        if ((b[p] >> 4) > 1 || (b[p] & 15) > 3) break;  // stb refuses the header itself
        size_t codes = 0;
        for (size_t k = p + 1; k <= p + 16 && k < b.size(); ++k) codes += b[k];
        N2V_CHECK(codes <= 256, kCorrupt,
                  path << ": cannot decode image (a JPEG Huffman table declares " << codes
                       << " codes, at most 256)");
        p += 17 + codes;
        remaining -= static_cast<long>(17 + codes);
      }
    }
    i += 2 + length;
  }
}

// Decodes to 8-bit RGB; also reports the channel count stored in the file.
StbPixels decode_rgb(const std::string& path, const std::vector<uint8_t>& bytes, int* height,
                     int* width, int* file_channels) {
  int w = 0, h = 0, n = 0;
  check_jpeg_huffman_tables(path, bytes);
  StbPixels pixels(stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h,
                                         &n, 3));
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    N2V_THROW(kCorrupt, path << ": cannot decode image (" << (reason ? reason : "unknown reason")
                             << ")");
  }
  N2V_CHECK(w > 0 && h > 0, kCorrupt, path << ": decoded an empty image");
  *height = h;
  *width = w;
  *file_channels = n;
  return pixels;
}

}  // namespace

RgbImage read_image_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path, "image file");
  RgbImage image;
  int channels = 0;
  StbPixels pixels = decode_rgb(path, bytes, &image.height, &image.width, &channels);
  const size_t n = static_cast<size_t>(image.height) * image.width * 3;
  image.pixels.assign(pixels.get(), pixels.get() + n);
  return image;
}

LabelMap read_label_png(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path, "mask file");
  // stb would scale a 16-bit PNG down to 8 bits, which silently garbles label numbers;
  // BRODEN masks are 8-bit RGB, so refuse anything else rather than guess.
  N2V_CHECK(!stbi_is_16_bit_from_memory(bytes.data(), static_cast<int>(bytes.size())),
            kUnsupported, path << ": 16-bit mask PNGs are not supported (expected 8-bit RGB)");
  LabelMap map;
  int channels = 0;
  StbPixels pixels = decode_rgb(path, bytes, &map.height, &map.width, &channels);
  const size_t n = static_cast<size_t>(map.height) * map.width;
  map.labels.resize(n);
  const stbi_uc* p = pixels.get();
  if (channels >= 3) {
    for (size_t i = 0; i < n; ++i) map.labels[i] = p[3 * i] + 256 * p[3 * i + 1];
  } else {
    // A grey mask has no G channel: stb copies grey into R, G and B, so R + 256*G would
    // be wrong. The grey value is the label (covers labels up to 255).
    for (size_t i = 0; i < n; ++i) map.labels[i] = p[3 * i];
  }
  return map;
}

void write_label_png(const std::string& path, const LabelMap& map) {
  const size_t n = static_cast<size_t>(map.height) * map.width;
  N2V_CHECK(map.height > 0 && map.width > 0 && map.labels.size() == n, kInvalidArgument,
            path << ": label map of " << map.height << "x" << map.width << " has "
                 << map.labels.size() << " labels");
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const int32_t label = map.labels[i];
    N2V_CHECK(label >= 0 && label <= 65535, kInvalidArgument,
              path << ": label " << label << " does not fit a mask PNG (0..65535)");
    rgb[3 * i] = static_cast<uint8_t>(label % 256);
    rgb[3 * i + 1] = static_cast<uint8_t>(label / 256);
    rgb[3 * i + 2] = 0;
  }
  N2V_CHECK(stbi_write_png(path.c_str(), map.width, map.height, 3, rgb.data(), map.width * 3),
            kIo, path << ": cannot write PNG");
}

void write_rgb_png(const std::string& path, const RgbImage& image) {
  const size_t n = static_cast<size_t>(image.height) * image.width * 3;
  N2V_CHECK(image.height > 0 && image.width > 0 && image.pixels.size() == n, kInvalidArgument,
            path << ": RGB image of " << image.height << "x" << image.width << " has "
                 << image.pixels.size() << " bytes, expected " << n);
  N2V_CHECK(stbi_write_png(path.c_str(), image.width, image.height, 3, image.pixels.data(),
                           image.width * 3),
            kIo, path << ": cannot write PNG");
}

std::string encode_png_rgba(int height, int width, const std::vector<uint8_t>& rgba) {
  N2V_CHECK(height > 0 && width > 0 && rgba.size() == static_cast<size_t>(height) * width * 4, kInvalidArgument,
            "RGBA image of " << height << "x" << width << " has " << rgba.size() << " bytes");
  std::string png;
  const auto append = [](void* out, void* data, int size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  N2V_CHECK(stbi_write_png_to_func(append, &png, width, height, 4, rgba.data(), width * 4), kInternal,
            "encoding a PNG failed");
  return png;
}

}  // namespace n2v
