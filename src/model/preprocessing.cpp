// Image -> network input, and the preprocessing record. Plain C++ (no LibTorch) so that it
// is cheap to build and to test; the resize reproduces torch.nn.functional.interpolate
// (mode="bilinear", align_corners=False, no antialiasing).

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/network.h"

namespace n2v {
namespace {

// One output coordinate of a 1-D linear resize: out = in[i0] * (1 - t) + in[i1] * t.
struct Tap {
  int i0, i1;
  float t;
};

// PyTorch's area_pixel_compute_source_index (align_corners=False, linear modes) and the
// index/lambda computation of upsample_bilinear2d: src = (dst + 0.5) * in/out - 0.5, clamped
// at 0; the right neighbour is clamped to the last pixel.
std::vector<Tap> linear_taps(int in, int out) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int o = 0; o < out; ++o) {
    double src = (static_cast<double>(o) + 0.5) * scale - 0.5;
    if (src < 0.0) src = 0.0;
    int i0 = static_cast<int>(src);
    if (i0 > in - 1) i0 = in - 1;
    const int i1 = i0 < in - 1 ? i0 + 1 : i0;
    taps[static_cast<size_t>(o)] = Tap{i0, i1, static_cast<float>(src - i0)};
  }
  return taps;
}

// The shortest decimal that reads back as the same float (0.485f -> 0.485, not
// 0.48500001430511475), stored as a JSON double.
nlohmann::json short_number(float v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::stod(std::string(buf, res.ptr));
}

std::string type_name(const nlohmann::json& j) { return j.type_name(); }

int read_size(const nlohmann::json& j, const char* field) {
  N2V_CHECK(j.is_number_integer(), kInvalidArgument,
            "preprocessing: '" << field << "' must be a positive integer, got " << j.dump());
  const auto v = j.get<int64_t>();
  N2V_CHECK(v > 0 && v <= 1 << 16, kInvalidArgument,
            "preprocessing: '" << field << "' must be a positive integer, got " << v);
  return static_cast<int>(v);
}

float read_float(const nlohmann::json& j, const std::string& field) {
  N2V_CHECK(j.is_number(), kInvalidArgument,
            "preprocessing: '" << field << "' must be a number, got " << type_name(j));
  const double v = j.get<double>();
  N2V_CHECK(std::isfinite(v), kInvalidArgument,
            "preprocessing: '" << field << "' must be finite");
  return static_cast<float>(v);
}

// mean / std: 3 numbers, or 1 for a one-channel network (kept in [0], copied to all three).
std::array<float, 3> read_triple(const nlohmann::json& j, const char* field, size_t& count) {
  N2V_CHECK(j.is_array() && (j.size() == 3 || j.size() == 1), kInvalidArgument,
            "preprocessing: '" << field << "' must be an array of 3 numbers (1 for a one-channel network), got "
                               << j.dump());
  count = j.size();
  std::array<float, 3> out{};
  for (size_t c = 0; c < 3; ++c)
    out[c] = read_float(j[c < count ? c : 0], std::string(field) + "[" + std::to_string(c < count ? c : 0) + "]");
  return out;
}

// Luminance weights (ITU-R BT.601, as PIL's convert("L")).
constexpr float kLuma[3] = {0.299f, 0.587f, 0.114f};

}  // namespace

std::string Preprocessing::to_json() const {
  nlohmann::json j;
  j["height"] = height;
  j["width"] = width;
  j["channel_order"] = channel_order;
  j["scale"] = short_number(scale);
  if (channels == 1) {  // colour networks' records stay as they were (no "channels" key)
    j["channels"] = 1;
    j["mean"] = {short_number(mean[0])};
    j["std"] = {short_number(std[0])};
  } else {
    j["mean"] = {short_number(mean[0]), short_number(mean[1]), short_number(mean[2])};
    j["std"] = {short_number(std[0]), short_number(std[1]), short_number(std[2])};
  }
  return j.dump();
}

Preprocessing Preprocessing::from_json(const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    N2V_THROW(kInvalidArgument, "preprocessing: not valid JSON: " << e.what());
  }
  N2V_CHECK(j.is_object(), kInvalidArgument,
            "preprocessing: expected a JSON object, got " << type_name(j));
  // Missing fields keep their defaults (ImageNet, 224 x 224); unknown fields are refused so
  // that a misspelt one is not silently replaced by a default.
  Preprocessing p;
  size_t mean_count = 3, std_count = 3;
  for (const auto& [key, value] : j.items()) {
    if (key == "channels") {
      N2V_CHECK(value.is_number_integer() && (value.get<int64_t>() == 1 || value.get<int64_t>() == 3),
                kInvalidArgument, "preprocessing: 'channels' must be 1 or 3, got " << value.dump());
      p.channels = value.get<int>();
    } else if (key == "height") {
      p.height = read_size(value, "height");
    } else if (key == "width") {
      p.width = read_size(value, "width");
    } else if (key == "channel_order") {
      N2V_CHECK(value.is_string() &&
                    (value.get<std::string>() == "RGB" || value.get<std::string>() == "BGR"),
                kInvalidArgument,
                "preprocessing: 'channel_order' must be \"RGB\" or \"BGR\", got " << value.dump());
      p.channel_order = value.get<std::string>();
    } else if (key == "scale") {
      p.scale = read_float(value, "scale");
      N2V_CHECK(p.scale != 0.0f, kInvalidArgument, "preprocessing: 'scale' must be nonzero");
    } else if (key == "mean") {
      p.mean = read_triple(value, "mean", mean_count);
    } else if (key == "std") {
      p.std = read_triple(value, "std", std_count);
      for (int c = 0; c < 3; ++c)
        N2V_CHECK(p.std[c] != 0.0f, kInvalidArgument,
                  "preprocessing: 'std[" << c << "]' must be nonzero");
    } else {
      N2V_THROW(kInvalidArgument,
                "preprocessing: unknown field '"
                    << key << "' (expected height, width, channels, channel_order, scale, mean, std)");
    }
  }
  N2V_CHECK(p.channels == 1 || (mean_count == 3 && std_count == 3), kInvalidArgument,
            "preprocessing: 'mean' and 'std' need 3 numbers for a 3-channel network (1 with \"channels\": 1)");
  return p;
}

void preprocess_image(const uint8_t* rgb, int h, int w, const Preprocessing& prep,
                      std::vector<float>& out) {
  N2V_CHECK(h > 0 && w > 0, kInvalidArgument,
            "preprocess_image: image size must be positive, got " << h << "x" << w);
  N2V_CHECK(rgb != nullptr, kInvalidArgument, "preprocess_image: no pixels");
  N2V_CHECK(prep.height > 0 && prep.width > 0, kInvalidArgument,
            "preprocess_image: target size must be positive, got " << prep.height << "x"
                                                                  << prep.width);
  N2V_CHECK(prep.channel_order == "RGB" || prep.channel_order == "BGR", kInvalidArgument,
            "preprocess_image: channel_order must be RGB or BGR, got '" << prep.channel_order
                                                                       << "'");
  for (int c = 0; c < 3; ++c)
    N2V_CHECK(prep.std[c] != 0.0f, kInvalidArgument, "preprocess_image: std[" << c << "] is zero");
  const bool bgr = prep.channel_order == "BGR";
  const int oh = prep.height, ow = prep.width;
  const size_t plane = static_cast<size_t>(oh) * static_cast<size_t>(ow);
  const size_t base = out.size();
  N2V_CHECK(prep.channels == 1 || prep.channels == 3, kInvalidArgument,
            "preprocess_image: channels must be 1 or 3, got " << prep.channels);
  const bool gray = prep.channels == 1;
  out.resize(base + static_cast<size_t>(prep.channels) * plane);

  // Output channel c reads input (RGB) channel src[c].
  const int src[3] = {bgr ? 2 : 0, 1, bgr ? 0 : 2};
  float* dst[3];
  for (int c = 0; c < 3; ++c) dst[c] = out.data() + base + static_cast<size_t>(gray ? 0 : c) * plane;
  // One channel: the luminance of the (resized) colour values, normalised once.
  const auto store = [&](size_t o, const float (&v)[3]) {
    if (gray) {
      const float y = kLuma[0] * v[0] + kLuma[1] * v[1] + kLuma[2] * v[2];
      dst[0][o] = (y * prep.scale - prep.mean[0]) / prep.std[0];
      return;
    }
    for (int c = 0; c < 3; ++c) dst[c][o] = (v[c] * prep.scale - prep.mean[c]) / prep.std[c];
  };

  const auto at = [&](int y, int x, int ch) {
    return static_cast<float>(
        rgb[(static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)) * 3 + ch]);
  };

  if (oh == h && ow == w) {  // no resize: interpolation with scale 1 is the identity
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        const size_t o = static_cast<size_t>(y) * static_cast<size_t>(ow) + static_cast<size_t>(x);
        const float v[3] = {at(y, x, src[0]), at(y, x, src[1]), at(y, x, src[2])};
        store(o, v);
      }
    return;
  }

  const std::vector<Tap> ys = linear_taps(h, oh);
  const std::vector<Tap> xs = linear_taps(w, ow);
  for (int y = 0; y < oh; ++y) {
    const Tap ty = ys[static_cast<size_t>(y)];
    for (int x = 0; x < ow; ++x) {
      const Tap tx = xs[static_cast<size_t>(x)];
      const size_t o = static_cast<size_t>(y) * static_cast<size_t>(ow) + static_cast<size_t>(x);
      float v[3];
      for (int c = 0; c < 3; ++c) {
        const int ch = src[c];
        // Same association as PyTorch: weights (1-ty)*((1-tx)*p00 + tx*p01) + ty*(...).
        const float top = (1.0f - tx.t) * at(ty.i0, tx.i0, ch) + tx.t * at(ty.i0, tx.i1, ch);
        const float bottom = (1.0f - tx.t) * at(ty.i1, tx.i0, ch) + tx.t * at(ty.i1, tx.i1, ch);
        v[c] = (1.0f - ty.t) * top + ty.t * bottom;
      }
      store(o, v);
    }
  }
}

std::vector<LayerActivations> Network::forward_layers(const std::vector<float>& pixels, int n,
                                                     int height, int width,
                                                     const std::vector<std::string>& layers) {
  std::vector<LayerActivations> out;
  for (const std::string& layer : layers) out.push_back(forward(pixels, n, height, width, layer));
  return out;
}

int Network::check_input(const std::vector<float>& pixels, int n, int height, int width) {
  N2V_CHECK(n > 0 && height > 0 && width > 0, kInvalidArgument,
            "forward: batch and image sizes must be positive, got " << n << " x 3 x " << height
                                                                   << " x " << width);
  const size_t expected =
      static_cast<size_t>(n) * 3 * static_cast<size_t>(height) * static_cast<size_t>(width);
  if (pixels.size() == expected / 3) return 1;  // a one-channel (luminance) batch
  N2V_CHECK(pixels.size() == expected, kInvalidArgument,
            "forward: " << pixels.size() << " floats for a batch of " << n << " x 3 x " << height
                        << " x " << width << " (" << expected << ")");
  return 3;
}

}  // namespace n2v
