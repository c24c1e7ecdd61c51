#include "activations/activations.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"
#include "activations/detail/device_pass.h"
#include "activations/detail/top_images.h"

namespace n2v {
namespace {


// One batch of decoded, preprocessed images (filled on a worker thread).
struct InputBatch {
  std::vector<float> pixels;        // n x 3 x H x W
  std::vector<size_t> positions;    // position in `rows` of each image
  std::vector<size_t> failed;       // positions whose image failed to load (skip_bad)
  std::vector<SkippedRow> skipped;  // their reasons
};

// Decodes and preprocesses rows[begin, end) in order.
InputBatch load_range(const ProbeSet& probe, const std::vector<size_t>& rows, size_t begin,
                      size_t end, const ActivationOptions& options) {
  InputBatch batch;
  const Preprocessing& prep = options.preprocessing;
  batch.pixels.reserve((end - begin) * 3 * prep.height * prep.width);
  for (size_t pos = begin; pos < end; ++pos) {
    try {
      RgbImage image = probe.load_image(rows[pos]);
      preprocess_image(image.pixels.data(), image.height, image.width, prep, batch.pixels);
      batch.positions.push_back(pos);
    } catch (const Error& e) {
      if (!options.skip_bad) throw;
      batch.failed.push_back(pos);
      const ProbeImage& row = probe.images()[rows[pos]];
      batch.skipped.push_back({probe.dir() + "/images/" + row.path, row.line, e.message()});
    }
  }
  return batch;
}

// One batch, decoded by up to decode_threads threads on contiguous slices (JPEG decoding runs
// at ~1,250 images/s a core: a GPU's forward outruns one decoder by ~100x), joined in order.
InputBatch load_batch(const ProbeSet& probe, const std::vector<size_t>& rows, size_t begin,
                      size_t end, const ActivationOptions& options) {
  const size_t hardware = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::min(end - begin, options.decode_threads > 0 ? static_cast<size_t>(options.decode_threads) : hardware);
  if (threads <= 1) return load_range(probe, rows, begin, end, options);
  std::vector<std::future<InputBatch>> parts;
  const size_t n = end - begin;
  for (size_t t = 0; t < threads; ++t)
    parts.push_back(std::async(std::launch::async, load_range, std::cref(probe), std::cref(rows),
                               begin + n * t / threads, begin + n * (t + 1) / threads, std::cref(options)));
  InputBatch batch;
  std::exception_ptr error;
  for (auto& f : parts) {
    try {
      InputBatch part = f.get();
      if (error) continue;
      batch.pixels.insert(batch.pixels.end(), part.pixels.begin(), part.pixels.end());
      batch.positions.insert(batch.positions.end(), part.positions.begin(), part.positions.end());
      batch.failed.insert(batch.failed.end(), part.failed.begin(), part.failed.end());
      for (SkippedRow& r : part.skipped) batch.skipped.push_back(std::move(r));
    } catch (...) {
      if (!error) error = std::current_exception();  // the first slice's error: the earliest row
    }
  }
  if (error) std::rethrow_exception(error);
  return batch;
}

}  // namespace

ProbeActivations extract_activations(Network& network, ProbeSet& probe,
                                     const std::vector<size_t>& rows,
                                     const ActivationOptions& options,
                                     ActivationTimings* timings) {
  return std::move(extract_activations(network, probe, rows, {options.layer}, options, timings).front());
}

namespace {

// What one layer accumulates during the forward pass: the pooled means and, per filter, the
// located candidates for the top quantile. No float copy of the maps is kept: the values
// above T_k are exactly the candidates above it (ThresholdSelector), so the bits come from
// them, not from a second pass over ~1 MB of floats per image (which cost ~220 page faults
// an image in an mmap'd cache file).
struct LayerState {
  ProbeActivations out;
  std::unique_ptr<ThresholdSelector> selector;
  size_t per_image = 0;  // floats per image: k * h * w
  std::unique_ptr<TopImageSelector> top;  // options.top_images > 0
  std::vector<float> maxima;              // one image's max_p a_k(p), size k
  double top_seconds = 0;
};

void take_batch(LayerState& s, const LayerActivations& acts, size_t capacity,
                const ActivationOptions& options, const std::string& layer) {
  if (!s.selector) {
    s.out.k = acts.k;
    s.out.h = acts.h;
    s.out.w = acts.w;
    s.per_image = static_cast<size_t>(acts.k) * acts.h * acts.w;
    s.selector = std::make_unique<ThresholdSelector>(
        acts.k, static_cast<int64_t>(capacity) * acts.h * acts.w, options.tau);
    if (options.top_images > 0) {
      s.top = std::make_unique<TopImageSelector>(acts.k, options.top_images);
      s.maxima.resize(acts.k);
    }
  }
  N2V_CHECK(acts.k == s.out.k && acts.h == s.out.h && acts.w == s.out.w, kInternal,
            "layer " << layer << " changed shape between batches");
  const size_t hw = static_cast<size_t>(s.out.h) * s.out.w;
  for (int i = 0; i < acts.n; ++i) {
    const float* src = acts.values.data() + i * s.per_image;
    for (int f = 0; f < s.out.k; ++f) {
      const float* map = src + f * hw;
      s.selector->add(f, map, static_cast<int64_t>(hw), static_cast<uint64_t>(s.out.n) * hw);
      double sum = 0;
      for (size_t p = 0; p < hw; ++p) sum += map[p];
      s.out.pooled.push_back(static_cast<float>(sum / hw));
    }
    if (s.top) {
      // A second read of maps the loop above just brought into cache.
      auto t0 = Clock::now();
      for (int f = 0; f < s.out.k; ++f) {
        const float* map = src + f * hw;
        s.maxima[f] = *std::max_element(map, map + hw);
      }
      // The second score: this image's spatial means, pushed into pooled just above.
      s.top->add(s.out.n, s.maxima.data(), s.out.pooled.data() + static_cast<size_t>(s.out.n) * s.out.k);
      s.top_seconds += seconds_since(t0);
    }
    ++s.out.n;
  }
}

// Thresholds, then one bit per position: set for the candidates above T_k (the only values
// that can be; see LayerState).
void finish_layer(LayerState& s, ActivationTimings* timings) {
  ProbeActivations& out = s.out;
  const size_t hw = static_cast<size_t>(out.h) * out.w;
  auto t1 = Clock::now();
  out.thresholds = s.selector->thresholds(static_cast<int64_t>(out.n) * hw);
  if (timings) timings->threshold_seconds += seconds_since(t1);

  auto t2 = Clock::now();
  const size_t stride = out.bytes_per_image();
  out.bits.assign(stride * out.n, 0);
  s.selector->for_each_above(out.thresholds, [&](int f, uint64_t location) {
    const size_t image = location / hw, bit = static_cast<size_t>(f) * hw + location % hw;
    out.bits[image * stride + (bit >> 3)] |= static_cast<uint8_t>(1u << (bit & 7));
  });
  s.selector.reset();
  if (timings) timings->binarize_seconds += seconds_since(t2);
  if (s.top) {
    auto t3 = Clock::now();
    detail::fill_top_images(out, *s.top, [&](int image) { return out.bits.data() + image * stride; });
    s.top.reset();
    s.top_seconds += seconds_since(t3);
  }
  if (timings) timings->top_images_seconds += s.top_seconds;
}

}  // namespace

std::vector<ProbeActivations> extract_activations(Network& network, ProbeSet& probe,
                                                  const std::vector<size_t>& rows,
                                                  const std::vector<std::string>& layers,
                                                  const ActivationOptions& options,
                                                  ActivationTimings* timings) {
  N2V_CHECK(!rows.empty(), kInvalidArgument, "no probe images to run through the network");
  N2V_CHECK(!layers.empty(), kInvalidArgument, "no layer to extract");
  N2V_CHECK(options.batch_size > 0, kInvalidArgument, "batch size must be positive");
  N2V_CHECK(options.top_images >= 0, kInvalidArgument, "top images per filter must be >= 0, got " << options.top_images);
  const Preprocessing& prep = options.preprocessing;
  std::vector<LayerState> states(layers.size());
  std::vector<bool> kept(rows.size(), false);
  std::vector<size_t> kept_rows;
  std::string names;
  for (const auto& l : layers) names += (names.empty() ? "" : ",") + l;
  if (options.precision != Precision::kFloat32) detail::apply_precision(network, options.precision);
  const bool on_device = options.placement == Placement::kDevice ||
                         (options.placement == Placement::kAuto && network.device() == DeviceKind::kCuda &&
                          detail::has_tensor_forward(network));
  std::unique_ptr<detail::DevicePass> device_pass =
      on_device ? detail::make_device_pass(network, layers, options, rows.size()) : nullptr;

  auto t0 = Clock::now();
  {
    Progress progress("activations " + names, static_cast<int64_t>(rows.size()), "images");
    const size_t bs = static_cast<size_t>(options.batch_size);
    // Decode batch b+1 on a worker while the network runs batch b.
    std::future<InputBatch> next =
        std::async(std::launch::async, load_batch, std::cref(probe), std::cref(rows), 0,
                   std::min(bs, rows.size()), std::cref(options));
    for (size_t begin = 0; begin < rows.size(); begin += bs) {
      InputBatch batch = next.get();
      size_t next_begin = begin + bs;
      if (next_begin < rows.size())
        next = std::async(std::launch::async, load_batch, std::cref(probe), std::cref(rows),
                          next_begin, std::min(next_begin + bs, rows.size()),
                          std::cref(options));
      for (SkippedRow& s : batch.skipped) probe.note_skipped(std::move(s));
      const int n = static_cast<int>(batch.positions.size());
      if (n > 0 && device_pass) {
        device_pass->take(batch.pixels, n, prep.height, prep.width);
      } else if (n > 0) {
        std::vector<LayerActivations> acts =
            network.forward_layers(batch.pixels, n, prep.height, prep.width, layers);
        N2V_CHECK(acts.size() == layers.size(), kInternal, "network returned "
                                                              << acts.size() << " layers, asked "
                                                              << layers.size());
        for (size_t l = 0; l < layers.size(); ++l) {
          N2V_CHECK(acts[l].n == n, kInternal, "layer " << layers[l] << " returned " << acts[l].n
                                                        << " images for a batch of " << n);
          take_batch(states[l], acts[l], rows.size(), options, layers[l]);
        }
      }
      for (size_t pos : batch.positions) {
        kept[pos] = true;
        kept_rows.push_back(rows[pos]);
      }
      progress.advance(static_cast<int64_t>(batch.positions.size() + batch.failed.size()));
    }
  }
  N2V_CHECK(!kept_rows.empty(), kInvalidArgument,
            "no probe image could be loaded (" << rows.size() << " tried, all skipped)");
  if (timings) timings->forward_seconds += seconds_since(t0);

  std::vector<ProbeActivations> out;
  if (device_pass) {
    out = device_pass->finish(timings);
  } else {
    for (LayerState& s : states) {
      finish_layer(s, timings);
      out.push_back(std::move(s.out));
    }
  }
  for (ProbeActivations& a : out) {
    a.rows = kept_rows;
    a.kept = kept;
  }
  return out;
}

}  // namespace n2v
