#include "activations/activations.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>

#include "common/error.h"
#include "common/progress.h"

namespace n2v {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Float activations between the two passes: an unlinked temporary file mapped in memory,
// so the page cache (not the heap) holds them and large probe sets spill to disk.
class ActivationCache {
 public:
  ActivationCache(const std::string& dir, size_t bytes) : bytes_(bytes) {
    std::string base = dir;
    if (base.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string path = base + "/net2vec-activations-XXXXXX";
    fd_ = mkstemp(path.data());
    N2V_CHECK(fd_ >= 0, kIo, "cannot create activation cache in " << base << ": "
                                 << std::strerror(errno));
    unlink(path.c_str());  // gone from the directory at once; freed when closed
    if (bytes_ == 0) return;
    int rc = posix_fallocate(fd_, 0, static_cast<off_t>(bytes_));
    if (rc != 0) {
      close(fd_);
      N2V_THROW(kIo, "cannot reserve " << (bytes_ >> 20) << " MiB for the activation cache in "
                                       << base << ": " << std::strerror(rc)
                                       << " (use --cache-dir to pick another disk)");
    }
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      close(fd_);
      N2V_THROW(kIo, "cannot map the activation cache: " << std::strerror(errno));
    }
    data_ = static_cast<float*>(p);
  }
  ~ActivationCache() {
    if (data_) munmap(data_, bytes_);
    if (fd_ >= 0) close(fd_);
  }
  ActivationCache(const ActivationCache&) = delete;
  ActivationCache& operator=(const ActivationCache&) = delete;
  float* data() { return data_; }

 private:
  size_t bytes_;
  int fd_ = -1;
  float* data_ = nullptr;
};

// One batch of decoded, preprocessed images (filled on a worker thread).
struct InputBatch {
  std::vector<float> pixels;        // n x 3 x H x W
  std::vector<size_t> positions;    // position in `rows` of each image
  std::vector<size_t> failed;       // positions whose image failed to load (skip_bad)
  std::vector<SkippedRow> skipped;  // their reasons
};

InputBatch load_batch(const ProbeSet& probe, const std::vector<size_t>& rows, size_t begin,
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

}  // namespace

ProbeActivations extract_activations(Network& network, ProbeSet& probe,
                                     const std::vector<size_t>& rows,
                                     const ActivationOptions& options,
                                     ActivationTimings* timings) {
  N2V_CHECK(!rows.empty(), kInvalidArgument, "no probe images to run through the network");
  N2V_CHECK(options.batch_size > 0, kInvalidArgument, "batch size must be positive");
  const Preprocessing& prep = options.preprocessing;
  ProbeActivations out;
  out.kept.assign(rows.size(), false);

  std::unique_ptr<ActivationCache> cache;
  std::unique_ptr<ThresholdSelector> selector;
  size_t per_image = 0;  // floats per image: k * h * w

  auto t0 = Clock::now();
  {
    Progress progress("activations " + options.layer, static_cast<int64_t>(rows.size()),
                      "images");
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
      if (n > 0) {
        LayerActivations acts =
            network.forward(batch.pixels, n, prep.height, prep.width, options.layer);
        if (!cache) {
          out.k = acts.k;
          out.h = acts.h;
          out.w = acts.w;
          per_image = static_cast<size_t>(acts.k) * acts.h * acts.w;
          cache = std::make_unique<ActivationCache>(options.cache_dir,
                                                    per_image * rows.size() * sizeof(float));
          selector = std::make_unique<ThresholdSelector>(
              acts.k, static_cast<int64_t>(rows.size()) * acts.h * acts.w, options.tau);
        }
        N2V_CHECK(acts.n == n && acts.k == out.k && acts.h == out.h && acts.w == out.w,
                  kInternal, "layer " << options.layer << " changed shape between batches");
        const size_t hw = static_cast<size_t>(out.h) * out.w;
        for (int i = 0; i < n; ++i) {
          const float* src = acts.values.data() + i * per_image;
          std::memcpy(cache->data() + out.n * per_image, src, per_image * sizeof(float));
          for (int f = 0; f < out.k; ++f) {
            const float* map = src + f * hw;
            selector->add(f, map, static_cast<int64_t>(hw));
            double sum = 0;
            for (size_t p = 0; p < hw; ++p) sum += map[p];
            out.pooled.push_back(static_cast<float>(sum / hw));
          }
          out.rows.push_back(rows[batch.positions[i]]);
          out.kept[batch.positions[i]] = true;
          ++out.n;
        }
      }
      progress.advance(static_cast<int64_t>(batch.positions.size() + batch.failed.size()));
    }
  }
  N2V_CHECK(out.n > 0, kInvalidArgument,
            "no probe image could be loaded (" << rows.size() << " tried, all skipped)");
  if (timings) timings->forward_seconds = seconds_since(t0);

  auto t1 = Clock::now();
  const size_t hw = static_cast<size_t>(out.h) * out.w;
  out.thresholds = selector->thresholds(static_cast<int64_t>(out.n) * hw);
  selector.reset();
  if (timings) timings->threshold_seconds = seconds_since(t1);

  // Second pass over the cache: one bit per position.
  auto t2 = Clock::now();
  const size_t stride = out.bytes_per_image();
  out.bits.assign(stride * out.n, 0);
  for (int i = 0; i < out.n; ++i) {
    const float* src = cache->data() + i * per_image;
    uint8_t* dst = out.bits.data() + i * stride;
    for (int f = 0; f < out.k; ++f) {
      const float t = out.thresholds[f];
      const float* map = src + f * hw;
      const size_t base = f * hw;
      for (size_t p = 0; p < hw; ++p)
        if (map[p] > t) dst[(base + p) >> 3] |= static_cast<uint8_t>(1u << ((base + p) & 7));
    }
  }
  if (timings) timings->binarize_seconds = seconds_since(t2);
  return out;
}

}  // namespace n2v
