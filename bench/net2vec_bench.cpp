// net2vec-bench: per-stage figures of the ingest pipeline on a synthetic probe set shaped
// like BRODEN (K = 256 filters at 13x13, 113x113 masks, 682 segmentation and 1,189
// classification concepts with skewed, Zipf-like frequencies), generated in memory.
//
// Stages (--stages, comma-separated; all by default):
//   activations     the real extract_activations over a temporary BRODEN-format probe set
//                   (JPEG images, 224x224) with a synthetic network that returns random
//                   post-ReLU maps; plus decode+preprocess and ThresholdSelector on their own.
//   segmentation    train_segmentation: single filters, SGD over (image, concept) pairs,
//                   evaluation (and filter subsets with --subsets).
//   classification  train_classification over all concepts at once.
// Training figures are per epoch, so they extrapolate to the paper's 30 epochs; the last
// section extrapolates every stage linearly to BRODEN's 63,305 images. Nothing here asserts
// anything about time: it measures and prints.

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <stb/stb_image_write.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "activations/activations.h"
#include "common/error.h"
#include "common/process.h"
#include "common/progress.h"
#include "model/tensor_forward.h"
#include "model/network.h"
#include "probe/annotations.h"
#include "probe/probe_set.h"
#include "stage_table.h"
#include "support/synthetic_network.h"
#include "support/temp_dir.h"
#include "training/training.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

constexpr int kBrodenImages = 63305;
constexpr int kPaperEpochs = 30;
constexpr double kTau = 0.005;

// ---------------------------------------------------------------------------------------
// Options

struct Config {
  int images = 2000;
  int epochs = 2;
  int threads = 0;
  uint64_t seed = 1;
  std::string stages = "activations,segmentation,classification";
  bool subsets = false;
  int filters = 256, map_size = 13, mask_size = 113;
  int seg_concepts = 682, cls_concepts = 1189;
  int batch_size = n2v::SgdOptions{}.batch_size;                      // paper: 64
  int pairs_per_chunk = n2v::SegmentationOptions{}.pairs_per_chunk;  // the library's default
  int act_batch = 32;         // ActivationOptions::batch_size
  int image_size = 224;       // probe images on disk (JPEG, square)
  int distinct_images = 64;   // JPEG files written; index rows cycle through them
  std::string tmp_dir;        // temporary probe set and activation cache ("" = TMPDIR)
  std::string device = "cpu"; // training device: cpu, cuda, auto
  std::string placement = "auto";   // ActivationOptions::placement (auto: device on CUDA)
  std::string seg_kernel = "auto";  // SegmentationOptions::kernel (auto: dense on CUDA)
  int loop_sample = 0;        // concepts trained one at a time to time the authors' loop (0: none)
  // --precision-check: a real network and probe set, float32 against reduced precision.
  std::string real_model, real_layer, real_probe;
  int real_images = 0;        // 0: every row of the real probe set
  // --forward-check: a real network over --real-probe, the activations pass against the
  // network's own forward on the same images, decoded beforehand (issue 17).
  std::string forward_model;
  bool progress = false;
  bool default_malloc = false;  // skip net2vec-ingest's mallopt settings (on glibc's malloc)
  // Intervals and chance levels of the val scores (ScoreStatsOptions; 0 turns either off).
  int resamples = n2v::ScoreStatsOptions{}.resamples;
  int permutations = n2v::ScoreStatsOptions{}.permutations;
};

using n2v::test::FastRng;
using n2v::test::fill_activations;
using n2v::test::SyntheticNetwork;

// ---------------------------------------------------------------------------------------
// Concept frequencies. BRODEN (broden1_227: ADE20K 22,210 + Pascal 10,103 + OpenSurfaces
// 25,352 + DTD 5,640 images; labels kept with >= 10 images) has every pixel colour-labelled
// (11 colours), a long tail of objects, parts and materials, and whole-image scene and
// texture labels. The model: 11 colour-like concepts each in 40% of the images; the other
// segmentation concepts Zipf (rank r: 0.5 N / r^1.2); whole-image concepts Zipf (0.05 N / r).
// At BRODEN's size that gives a few concepts in thousands of images and most in tens.

struct FrequencyModel {
  int head = 11;
  double head_fraction = 0.4;
  double top_fraction = 0.5;
  double exponent = 1.2;
  double whole_top_fraction = 0.05;
  double whole_exponent = 1.0;

  // Images (of n) containing segmentation concept `rank` (0-based), at least `floor`.
  int seg_count(int rank, int n, int floor) const {
    double f = rank < head ? head_fraction * n
                           : top_fraction * n / std::pow(rank - head + 1.0, exponent);
    return clamp(f, n, floor);
  }
  int whole_count(int rank, int n, int floor) const {
    return clamp(whole_top_fraction * n / std::pow(rank + 1.0, whole_exponent), n, floor);
  }
  static int clamp(double f, int n, int floor) {
    int c = static_cast<int>(std::lround(f));
    c = std::max(c, floor);
    return std::min(c, static_cast<int>(0.9 * n));
  }
};

// ---------------------------------------------------------------------------------------
// The synthetic probe: splits, per-image concepts and 113x113 masks (random ellipses).

struct SyntheticProbe {
  n2v::ProbeAnnotations annotations;
  std::vector<int> seg_counts;  // images per segmentation concept (rank order)
};

n2v::PackedMask random_ellipse(int size, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> U(0.0, 1.0);
  const double area = std::exp(std::log(0.005) + U(rng) * (std::log(0.5) - std::log(0.005)));
  const double aspect = std::exp(-0.7 + 1.4 * U(rng));
  const double pixels = area * size * size;
  const double ry = std::sqrt(pixels / (M_PI * aspect)), rx = ry * aspect;
  const double cy = U(rng) * size, cx = U(rng) * size;
  std::vector<uint8_t> px(static_cast<size_t>(size) * size, 0);
  int set = 0;
  const int y0 = std::max(0, static_cast<int>(cy - ry)), y1 = std::min(size, static_cast<int>(cy + ry) + 1);
  const int x0 = std::max(0, static_cast<int>(cx - rx)), x1 = std::min(size, static_cast<int>(cx + rx) + 1);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const double dy = (y + 0.5 - cy) / ry, dx = (x + 0.5 - cx) / rx;
      if (dy * dy + dx * dx <= 1.0) {
        px[static_cast<size_t>(y) * size + x] = 1;
        ++set;
      }
    }
  if (set == 0) px[static_cast<size_t>(std::min(size - 1, static_cast<int>(cy))) * size +
                   std::min(size - 1, static_cast<int>(cx))] = 1;
  return n2v::pack_mask(px);
}

SyntheticProbe make_probe(const Config& c, const FrequencyModel& fm) {
  std::mt19937_64 rng(c.seed);
  const int n = c.images;
  SyntheticProbe out;
  n2v::ProbeAnnotations& ann = out.annotations;
  ann.mask_height = ann.mask_width = c.mask_size;

  // ~70/30 train/val, as BRODEN.
  std::vector<int> train_images, val_images;
  std::bernoulli_distribution is_val(0.3);
  for (int i = 0; i < n; ++i) {
    const bool val = i < 2 ? i == 1 : is_val(rng);  // at least one image of each split
    ann.rows.push_back(static_cast<size_t>(i));
    ann.splits.push_back(val ? n2v::Split::kVal : n2v::Split::kTrain);
    (val ? val_images : train_images).push_back(i);
  }

  // Distinct images per concept, with at least one train and one val image (so that every
  // concept is trained and scored, as BRODEN's are).
  std::vector<int> stamp(n, -1);
  int concept_id = 0;
  auto sample = [&](int count) {
    std::uniform_int_distribution<int> any(0, n - 1);
    std::vector<int> chosen;
    bool has_train = false, has_val = false;
    const int id = concept_id++;
    while (static_cast<int>(chosen.size()) < count) {
      const int i = any(rng);
      if (stamp[i] == id) continue;
      stamp[i] = id;
      chosen.push_back(i);
      (ann.splits[i] == n2v::Split::kVal ? has_val : has_train) = true;
    }
    auto force = [&](const std::vector<int>& pool) {
      std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
      for (;;) {
        const int i = pool[pick(rng)];
        if (stamp[i] == id) continue;
        stamp[i] = id;
        chosen.back() = i;  // count >= 2: the other split keeps its member
        return;
      }
    };
    if (!has_val) force(val_images);
    else if (!has_train) force(train_images);
    return chosen;
  };

  std::vector<std::vector<int>> seg(n), present(n);
  for (int r = 0; r < c.seg_concepts; ++r) {
    const int count = fm.seg_count(r, n, 4);
    out.seg_counts.push_back(count);
    for (int i : sample(count)) seg[i].push_back(1 + r);
  }
  const int whole_concepts = std::max(0, c.cls_concepts - c.seg_concepts);
  for (int r = 0; r < whole_concepts; ++r)
    for (int i : sample(fm.whole_count(r, n, 4))) present[i].push_back(1 + c.seg_concepts + r);

  for (int i = 0; i < n; ++i) {
    std::sort(seg[i].begin(), seg[i].end());
    for (int label : seg[i]) ann.masks.push_back({i, label, random_ellipse(c.mask_size, rng)});
    present[i].insert(present[i].end(), seg[i].begin(), seg[i].end());
    std::sort(present[i].begin(), present[i].end());
  }
  ann.present = std::move(present);
  return out;
}

// Bits at the tau rate, for runs without the activations stage.
n2v::ProbeActivations random_activations(const Config& c) {
  n2v::ProbeActivations a;
  a.n = c.images;
  a.k = c.filters;
  a.h = a.w = c.map_size;
  for (int i = 0; i < a.n; ++i) a.rows.push_back(static_cast<size_t>(i));
  a.kept.assign(a.n, true);
  a.thresholds.assign(a.k, 1.0f);
  FastRng rng(c.seed * 7919 + 1);
  a.pooled.resize(static_cast<size_t>(a.n) * a.k);
  for (float& v : a.pooled) v = rng.uniform();
  a.bits.assign(a.bytes_per_image() * a.n, 0);
  const size_t per_image = static_cast<size_t>(a.k) * a.h * a.w;
  for (int i = 0; i < a.n; ++i)
    for (size_t b = 0; b < per_image; ++b)
      if (rng.uniform() < kTau) a.bits[i * a.bytes_per_image() + b / 8] |= static_cast<uint8_t>(1u << (b % 8));
  return a;
}

// ---------------------------------------------------------------------------------------
// Temporary BRODEN-format probe set on disk (what extract_activations reads), in a
// test::TempDir under --tmp.

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  N2V_CHECK(out.flush(), kIo, "cannot write " << path);
}

// Images are smooth gradients with blocks and noise, so JPEG sizes and decode costs are
// those of photographs rather than of flat colour. Returns the mean file size in bytes.
double write_probe_set(const std::string& dir, const Config& c,
                       const std::vector<n2v::Split>& splits) {
  std::filesystem::create_directories(dir + "/images");
  FastRng rng(c.seed * 31 + 7);
  const int s = c.image_size;
  double bytes = 0;
  std::vector<uint8_t> px(static_cast<size_t>(s) * s * 3);
  for (int d = 0; d < c.distinct_images; ++d) {
    const int bx = static_cast<int>(rng.uniform() * s), by = static_cast<int>(rng.uniform() * s);
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {
        const bool block = std::abs(x - bx) < s / 5 && std::abs(y - by) < s / 4;
        const int noise = static_cast<int>(rng.uniform() * 40) - 20;
        const int r = (x * 255) / s + noise + (block ? 60 : 0);
        const int g = (y * 255) / s + noise + d * 3;
        const int b = ((x + y) * 127) / s + noise - (block ? 60 : 0);
        uint8_t* p = &px[(static_cast<size_t>(y) * s + x) * 3];
        p[0] = static_cast<uint8_t>(std::clamp(r, 0, 255));
        p[1] = static_cast<uint8_t>(std::clamp(g, 0, 255));
        p[2] = static_cast<uint8_t>(std::clamp(b, 0, 255));
      }
    const std::string path = dir + "/images/img" + std::to_string(d) + ".jpg";
    N2V_CHECK(stbi_write_jpg(path.c_str(), s, s, 3, px.data(), 90) != 0, kIo, "cannot write " << path);
    bytes += static_cast<double>(std::filesystem::file_size(path));
  }
  std::ostringstream index;
  index << "image,split,ih,iw,sh,sw,object\n";
  for (size_t i = 0; i < splits.size(); ++i)
    index << "img" << (i % c.distinct_images) << ".jpg," << n2v::to_string(splits[i]) << "," << s
          << "," << s << "," << c.mask_size << "," << c.mask_size << ",\n";
  write_text(dir + "/index.csv", index.str());
  write_text(dir + "/label.csv", "number,name,category,frequency,coverage,syns\n1,thing,object(1),0,0,\n");
  write_text(dir + "/category.csv", "name,first,last,count,frequency\nobject,1,1,1,0\n");
  write_text(dir + "/c_object.csv", "code,number,name,frequency,coverage\n1,1,thing,0,0\n");
  return bytes / c.distinct_images;
}

// ---------------------------------------------------------------------------------------
// Machine and memory

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown";
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Shared libraries mapped into this process whose file name contains one of `needles`
// (resolved paths: which BLAS the alternatives actually gave us).
std::vector<std::string> mapped_libraries(const std::vector<std::string>& needles) {
  std::ifstream in("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string name = std::filesystem::path(path).filename().string();
    for (const std::string& n : needles)
      if (name.find(n) != std::string::npos) found.insert(path);
  }
  return {found.begin(), found.end()};
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

double current_rss_mib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

std::string mib(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024 * 10)
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  return buf;
}

// ---------------------------------------------------------------------------------------
// Report

// User + system CPU seconds of this process (all threads): with wall time, how much of the
// machine the stage got (at most the thread count; less when the machine is shared).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

using n2v::bench::Table;


// ---------------------------------------------------------------------------------------
// Comparisons: the authors' one-concept-at-a-time loop, and the memory-bandwidth bound.

struct LoopEstimate {
  int sampled = 0;
  double a = 0, b = 0;     // seconds = a + b * pairs, least squares over the sampled concepts
  double estimate = 0;     // summed over every trained concept
  double all_at_once = 0;  // train_segmentation wall, all concepts together
};

// Trains `sample` concepts one at a time (spread over the size range, same options) and
// scales the fitted cost to every concept: what the authors' loop would take here.
LoopEstimate time_one_at_a_time(const n2v::ProbeActivations& acts, const n2v::ProbeAnnotations& ann,
                                const n2v::SegmentationOptions& so,
                                const std::map<int, std::pair<int64_t, int64_t>>& per_label, int sample,
                                double all_at_once) {
  std::vector<std::pair<int64_t, int>> sizes;  // (pairs, label) of the concepts that train
  for (const auto& [label, p] : per_label)
    if (p.first >= 1 && p.second >= 1) sizes.push_back({p.first + p.second, label});
  std::sort(sizes.begin(), sizes.end());
  LoopEstimate e;
  e.all_at_once = all_at_once;
  if (sizes.empty()) return e;
  const int n = std::min<int>(sample, static_cast<int>(sizes.size()));
  std::vector<double> xs, ys;
  std::fprintf(stderr, "net2vec-bench: %d concepts one at a time...\n", n);
  for (int i = 0; i < n; ++i) {
    const size_t at = n == 1 ? sizes.size() - 1 : (sizes.size() - 1) * i / (n - 1);
    const auto [pairs, label] = sizes[at];
    n2v::ProbeAnnotations one;
    one.mask_height = ann.mask_height;
    one.mask_width = ann.mask_width;
    one.rows = ann.rows;
    one.splits = ann.splits;
    one.present = ann.present;
    for (const n2v::ConceptMask& m : ann.masks)
      if (m.label == label) one.masks.push_back(m);
    auto t0 = Clock::now();
    n2v::train_segmentation(acts, one, so);
    xs.push_back(static_cast<double>(pairs));
    ys.push_back(seconds_since(t0));
  }
  e.sampled = n;
  double mx = 0, my = 0;
  for (int i = 0; i < n; ++i) {
    mx += xs[i] / n;
    my += ys[i] / n;
  }
  double sxy = 0, sxx = 0;
  for (int i = 0; i < n; ++i) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) * (xs[i] - mx);
  }
  e.b = sxx > 0 ? sxy / sxx : (mx > 0 ? my / mx : 0);
  e.a = my - e.b * mx;
  if (e.a < 0 || e.b < 0) {  // noise on a small sample: a line through the origin instead
    double xy = 0, xx = 0;
    for (int i = 0; i < n; ++i) {
      xy += xs[i] * ys[i];
      xx += xs[i] * xs[i];
    }
    e.a = 0;
    e.b = xx > 0 ? xy / xx : 0;
  }
  for (const auto& [pairs, label] : sizes) e.estimate += std::max(0.0, e.a + e.b * static_cast<double>(pairs));
  return e;
}

// Copy bandwidth of the device (GB/s, read + write counted): clones of a 256 MiB tensor.
double copy_bandwidth(n2v::DeviceKind device) {
  const bool cuda = device == n2v::DeviceKind::kCuda;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU));
  torch::Tensor x = torch::ones({int64_t{64} << 20}, options);
  torch::Tensor y = x.clone();
  if (cuda) torch::cuda::synchronize();
  const int reps = 10;
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) y.copy_(x);
  if (cuda) torch::cuda::synchronize();
  return 2.0 * reps * static_cast<double>(x.numel()) * 4 / seconds_since(t0) / 1e9;
}

// A real network's layer over a real probe set, through the device placement, in float32 and
// then float16 and bfloat16: the forward's time, and how far the reduced precisions move the
// thresholds and how many thresholded bits they change (issue 10: reduced precision only where
// it leaves the thresholds unchanged). A precision the device cannot run is reported as such.
int precision_check(const Config& c, n2v::DeviceKind device) {
  n2v::ProbeSet probe = n2v::ProbeSet::open(c.real_probe);
  std::vector<size_t> rows;
  for (size_t i = 0; i < probe.images().size() && (c.real_images <= 0 || static_cast<int>(i) < c.real_images); ++i)
    rows.push_back(i);
  std::printf("precision check: %s layer %s on %s, %zu images of %s\n", c.real_model.c_str(), c.real_layer.c_str(),
              n2v::to_string(device), rows.size(), c.real_probe.c_str());
  n2v::ProbeActivations exact;
  for (n2v::Precision p : {n2v::Precision::kFloat32, n2v::Precision::kFloat16, n2v::Precision::kBFloat16}) {
    std::unique_ptr<n2v::Network> net = n2v::load_network(c.real_model, device);
    n2v::ActivationOptions ao;
    ao.layer = c.real_layer;
    ao.preprocessing = net->default_preprocessing();
    ao.tau = kTau;
    ao.batch_size = c.act_batch;
    ao.placement = n2v::Placement::kDevice;
    ao.precision = p;
    n2v::ActivationTimings at;
    n2v::ProbeActivations a;
    auto t0 = Clock::now();
    try {
      a = n2v::extract_activations(*net, probe, rows, ao, &at);
    } catch (const n2v::Error& e) {
      std::printf("  %-9s not run: %s\n", n2v::to_string(p), e.message().c_str());
      continue;
    }
    const double wall = seconds_since(t0);
    const std::vector<uint8_t> bits = n2v::host_bits(a);
    if (p == n2v::Precision::kFloat32) {
      exact = a;
      exact.bits = bits;
      exact.device_bits.reset();
      size_t set = 0;
      for (uint8_t b : bits) set += __builtin_popcount(b);
      std::printf("  %-9s K = %d at %dx%d; %zu set bits; pass %.2f s (forward+decode %.2f s, thresholds %.3f s, "
                  "bits %.3f s)\n", "float32", a.k, a.h, a.w, set, wall, at.forward_seconds, at.threshold_seconds,
                  at.binarize_seconds);
      continue;
    }
    size_t changed = 0, set = 0;
    for (size_t i = 0; i < bits.size() && i < exact.bits.size(); ++i) {
      changed += __builtin_popcount(bits[i] ^ exact.bits[i]);
      set += __builtin_popcount(exact.bits[i]);
    }
    double worst = 0;
    int moved = 0;
    for (int k = 0; k < a.k; ++k) {
      const double d = std::fabs(static_cast<double>(a.thresholds[k]) - exact.thresholds[k]);
      worst = std::max(worst, d / std::max(1e-12, std::fabs(static_cast<double>(exact.thresholds[k]))));
      moved += a.thresholds[k] != exact.thresholds[k];
    }
    std::printf("  %-9s changed bits %zu of %zu set (%.3f %%); thresholds moved %d of %d, worst by %.2e relative; "
                "pass %.2f s (forward+decode %.2f s)\n", n2v::to_string(p), changed, set,
                100.0 * changed / std::max<size_t>(1, set), moved, a.k, worst, wall, at.forward_seconds);
  }
  return 0;
}

// The activations pass (decode + preprocess + forward + thresholds + bits) against the
// network's own forward throughput: the same images decoded and preprocessed beforehand, then
// only network.forward_layers timed, in the same run and batch size.
int forward_check(const Config& c, n2v::DeviceKind device) {
  n2v::ProbeSet probe = n2v::ProbeSet::open(c.real_probe);
  std::vector<size_t> rows;
  for (size_t i = 0; i < probe.images().size() && (c.real_images <= 0 || static_cast<int>(i) < c.real_images); ++i)
    rows.push_back(i);
  std::vector<std::string> layers;
  {
    std::stringstream ss(c.real_layer);
    std::string l;
    while (std::getline(ss, l, ',')) layers.push_back(l);
  }
  std::unique_ptr<n2v::Network> net = n2v::load_network(c.forward_model, device);
  const n2v::Preprocessing prep = net->default_preprocessing();
  std::printf("forward check: %s layers %s on %s, %zu images of %s, batch %d\n", c.forward_model.c_str(),
              c.real_layer.c_str(), n2v::to_string(device), rows.size(), c.real_probe.c_str(), c.act_batch);

  // 1. Decode and preprocess every image (timed on its own, one thread as a baseline).
  auto t0 = Clock::now();
  std::vector<std::vector<float>> batches;
  for (size_t b = 0; b < rows.size(); b += static_cast<size_t>(c.act_batch)) {
    std::vector<float> pixels;
    for (size_t i = b; i < std::min(rows.size(), b + static_cast<size_t>(c.act_batch)); ++i) {
      n2v::RgbImage image = probe.load_image(rows[i]);
      n2v::preprocess_image(image.pixels.data(), image.height, image.width, prep, pixels);
    }
    batches.push_back(std::move(pixels));
  }
  const double decode = seconds_since(t0);
  // 2. The network alone, twice (the first pass warms caches and allocator), the second timed.
  double forward = 0;
  for (int pass = 0; pass < 2; ++pass) {
    auto t1 = Clock::now();
    size_t done = 0;
    for (const std::vector<float>& pixels : batches) {
      const int n = static_cast<int>(pixels.size() / (static_cast<size_t>(prep.channels) * prep.height * prep.width));
      net->forward_layers(pixels, n, prep.height, prep.width, layers);
      done += static_cast<size_t>(n);
    }
    forward = seconds_since(t1);
    if (done != rows.size()) std::printf("  (%zu of %zu images forwarded)\n", done, rows.size());
  }
  // 3. The whole activations pass over the same rows.
  n2v::ActivationOptions ao;
  ao.preprocessing = prep;
  ao.tau = kTau;
  ao.batch_size = c.act_batch;
  n2v::ActivationTimings at;
  auto t2 = Clock::now();
  n2v::extract_activations(*net, probe, rows, layers, ao, &at);
  const double pass = seconds_since(t2);
  const double n = static_cast<double>(rows.size());
  std::printf("  decode + preprocess alone (1 thread):   %8.2f s  %8.1f images/s\n", decode, n / decode);
  std::printf("  network forward alone (pre-decoded):    %8.2f s  %8.1f images/s\n", forward, n / forward);
  std::printf("  activations pass (all of it):           %8.2f s  %8.1f images/s  = %.2fx the forward's throughput\n",
              pass, n / pass, forward / pass);
  std::printf("    of which forward + decode %.2f s, thresholds %.3f s, bits %.3f s\n", at.forward_seconds,
              at.threshold_seconds, at.binarize_seconds);
  return 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// ---------------------------------------------------------------------------------------
// The stages, each measured into the table.

// Pair statistics of the concepts train_segmentation keeps (>= 1 train and >= 1 val image).
struct PairStats {
  std::map<int, std::pair<int64_t, int64_t>> per_label;  // label -> (train, val) images
  double mask_bytes = 0;
  int64_t train_pairs = 0, val_pairs = 0;
  int seg_trained = 0;
  int64_t all_pairs = 0;
};

PairStats pair_stats(const n2v::ProbeAnnotations& ann) {
  PairStats ps;
  for (const n2v::ConceptMask& m : ann.masks) {
    auto& p = ps.per_label[m.label];
    (ann.splits[m.image] == n2v::Split::kTrain ? p.first : p.second)++;
    ps.mask_bytes += static_cast<double>(m.mask.bytes.size());
  }
  for (const auto& [label, p] : ps.per_label)
    if (p.first >= 1 && p.second >= 1) {
      ps.train_pairs += p.first;
      ps.val_pairs += p.second;
      ++ps.seg_trained;
    }
  ps.all_pairs = ps.train_pairs + ps.val_pairs;
  return ps;
}

struct ActivationStage {
  n2v::ProbeActivations acts;
  double seconds_without_network = -1;  // extract_activations wall minus the synthetic network
  double jpeg_bytes = 0;
};

// The real extract_activations over a temporary BRODEN-format probe set (decode + network +
// thresholds + bits, on the host or the device), plus decoding and ThresholdSelector alone.
ActivationStage measure_activations(const Config& c, n2v::DeviceKind device, const std::vector<n2v::Split>& splits,
                                    Table& table) {
  ActivationStage out;
  const int hw = c.map_size * c.map_size;
  n2v::test::TempDir dir(c.tmp_dir);
  std::fprintf(stderr, "net2vec-bench: writing a temporary probe set in %s...\n", dir.path().c_str());
  out.jpeg_bytes = write_probe_set(dir.path(), c, splits);
  n2v::ProbeSet set = n2v::ProbeSet::open(dir.path());

  // Decode + preprocess alone, one thread.
  {
    const int count = std::min(c.images, 512);
    n2v::Preprocessing prep;
    std::vector<float> pixels;
    auto t0 = Clock::now();
    for (int i = 0; i < count; ++i) {
      pixels.clear();
      n2v::RgbImage image = set.load_image(static_cast<size_t>(i));
      n2v::preprocess_image(image.pixels.data(), image.height, image.width, prep, pixels);
    }
    table.add("activations: JPEG decode+preprocess (1 thread)", count, "images", seconds_since(t0));
  }

  // The real stage: decode (a thread pool) + network + thresholds + bits.
  SyntheticNetwork net(c.filters, c.map_size, c.map_size, c.seed, device);
  n2v::ActivationOptions ao;
  ao.placement = n2v::parse_placement(c.placement);
  ao.layer = "conv5";
  ao.tau = kTau;
  ao.batch_size = c.act_batch;
  ao.cache_dir = dir.path();
  n2v::ActivationTimings at;
  std::vector<size_t> rows(c.images);
  for (int i = 0; i < c.images; ++i) rows[i] = static_cast<size_t>(i);
  auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  out.acts = n2v::extract_activations(net, set, rows, ao, &at);
  const double wall = seconds_since(t0), cpu = cpu_seconds() - cpu0;
  table.add("activations: pass 1 (decode..cache, thresholds)", c.images, "images", at.forward_seconds);
  table.add("  of which synthetic network (not ours)", c.images, "images", net.seconds());
  table.add("  pass 1 without the network", c.images, "images", at.forward_seconds - net.seconds());
  table.add("activations: exact thresholds (K filters)", c.images, "images", at.threshold_seconds);
  table.add("activations: binarize to bits", c.images, "images", at.binarize_seconds);
  table.add("activations: extract_activations wall", c.images, "images", wall, cpu);
  table.note(std::string("  (placement: ") + (out.acts.device_bits ? "device" : "host") + ")");
  out.seconds_without_network = wall - net.seconds();

  // ThresholdSelector alone: the streaming part (add) and the final selection.
  n2v::ThresholdSelector selector(c.filters, static_cast<int64_t>(c.images) * hw, kTau);
  std::vector<float> values(static_cast<size_t>(c.filters) * hw);
  FastRng rng(c.seed + 99);
  double add_seconds = 0;
  for (int i = 0; i < c.images; ++i) {
    fill_activations(values.data(), 1, c.filters, hw, rng);
    auto ta = Clock::now();
    for (int f = 0; f < c.filters; ++f) selector.add(f, values.data() + static_cast<size_t>(f) * hw, hw);
    add_seconds += seconds_since(ta);
  }
  auto tt = Clock::now();
  selector.thresholds(static_cast<int64_t>(c.images) * hw);
  const double select_seconds = seconds_since(tt);
  const double positions = static_cast<double>(c.images) * hw * c.filters;
  table.add("ThresholdSelector::add", positions / 1e6, "Mvalues", add_seconds);
  table.add("ThresholdSelector::thresholds", positions / 1e6, "Mvalues", select_seconds);
  return out;
}

struct SegmentationStage {
  n2v::TrainingTimings timings;
  double wall = 0;
  int subset_runs = 0;
  LoopEstimate loop;
};

SegmentationStage measure_segmentation(const Config& c, n2v::DeviceKind device, const n2v::ProbeActivations& acts,
                                       const n2v::ProbeAnnotations& ann, const PairStats& ps, Table& table) {
  SegmentationStage out;
  n2v::SegmentationOptions so;
  so.sgd.epochs = c.epochs;
  so.sgd.batch_size = c.batch_size;
  so.pairs_per_chunk = c.pairs_per_chunk;
  so.seed = c.seed;
  so.device = device;
  so.kernel = n2v::parse_segmentation_kernel(c.seg_kernel);
  so.stats.resamples = c.resamples;
  so.stats.permutations = c.permutations;
  so.subsets = c.subsets ? n2v::paper_segmentation_subsets() : std::vector<int>{};
  for (int f : so.subsets) out.subset_runs += f > 0 && f < c.filters;
  std::fprintf(stderr, "net2vec-bench: segmentation (%d concepts, %lld pairs)...\n", ps.seg_trained,
               static_cast<long long>(ps.all_pairs));
  auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  std::vector<n2v::ConceptEmbedding> emb = n2v::train_segmentation(acts, ann, so, &out.timings);
  out.wall = seconds_since(t0);
  const double cpu = cpu_seconds() - cpu0;
  const n2v::TrainingTimings& t = out.timings;
  const int64_t expected_steps = ps.train_pairs * c.epochs * (1 + out.subset_runs);
  if (t.pair_steps != expected_steps || static_cast<int>(emb.size()) != ps.seg_trained)
    std::fprintf(stderr, "warning: %lld pair steps and %zu concepts, expected %lld and %d\n",
                 static_cast<long long>(t.pair_steps), emb.size(), static_cast<long long>(expected_steps),
                 ps.seg_trained);
  table.add("segmentation: single filters (all pairs)", static_cast<double>(ps.all_pairs), "pairs",
            t.single_filter_seconds);
  table.add("segmentation: SGD, per epoch", static_cast<double>(ps.train_pairs), "pairs", t.train_seconds / c.epochs);
  table.add("segmentation: evaluation (train + 2 x val)", static_cast<double>(ps.train_pairs + 2 * ps.val_pairs),
            "pairs", t.eval_seconds);
  table.add("segmentation: intervals and chance (val)", static_cast<double>(ps.val_pairs), "pairs", t.stats_seconds);
  // What the chance test keeps: the learned and the best filter's predicted masks of every val
  // pair, bit-packed, until the test has run (docs/PERFORMANCE.md).
  table.note("  (val predictions kept for the chance test: " +
             std::to_string(c.permutations > 0 ? 2 * ps.val_pairs * ((c.mask_size * c.mask_size + 7) / 8) >> 20 : 0) +
             " MiB; --resamples " + std::to_string(c.resamples) + ", --permutations " + std::to_string(c.permutations) +
             ")");
  if (out.subset_runs > 0)
    table.add("segmentation: " + std::to_string(out.subset_runs) + " subset retrains, per epoch",
              static_cast<double>(ps.train_pairs) * out.subset_runs, "pairs", t.subset_seconds / c.epochs);
  table.add("segmentation: train_segmentation wall", static_cast<double>(ps.seg_trained), "concpts", out.wall, cpu);
  table.note(std::string("  (kernel: ") + n2v::to_string(n2v::resolve_kernel(so.kernel, device)) + ")");
  if (c.loop_sample > 0) out.loop = time_one_at_a_time(acts, ann, so, ps.per_label, c.loop_sample, out.wall);
  return out;
}

struct ClassificationStage {
  n2v::TrainingTimings timings;
  int trained = 0;
};

ClassificationStage measure_classification(const Config& c, n2v::DeviceKind device, const n2v::ProbeActivations& acts,
                                           const n2v::ProbeAnnotations& ann, int64_t steps_per_epoch, Table& table) {
  ClassificationStage out;
  n2v::ClassificationOptions co;
  co.sgd.epochs = c.epochs;
  co.sgd.batch_size = c.batch_size;
  co.seed = c.seed;
  co.device = device;
  co.stats.resamples = c.resamples;
  co.stats.permutations = c.permutations;
  co.subsets = c.subsets ? n2v::paper_classification_subsets() : std::vector<int>{};
  std::fprintf(stderr, "net2vec-bench: classification...\n");
  auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  std::vector<n2v::ConceptEmbedding> emb = n2v::train_classification(acts, ann, co, &out.timings);
  const double wall = seconds_since(t0), cpu = cpu_seconds() - cpu0;
  out.trained = static_cast<int>(emb.size());
  const n2v::TrainingTimings& t = out.timings;
  table.add("classification: SGD steps (all concepts), per epoch", static_cast<double>(steps_per_epoch), "steps",
            t.train_seconds / c.epochs);
  table.add("classification: evaluation", out.trained, "concpts", t.eval_seconds);
  int retrains = 1;  // F = 1 always (best single filter)
  for (int f : co.subsets) retrains += f > 1 && f < c.filters;
  table.add("classification: " + std::to_string(retrains) + " subset retrain(s), all epochs",
            static_cast<double>(steps_per_epoch * c.epochs * retrains), "steps", t.subset_seconds);
  table.add("classification: train_classification wall", out.trained, "concpts", wall, cpu);
  return out;
}

int run(const Config& c) {
  if (!c.real_model.empty()) {
    n2v::configure_threads(c.threads);
    return precision_check(c, n2v::resolve_device(c.device));
  }
  if (!c.forward_model.empty()) {
    n2v::configure_threads(c.threads);
    return forward_check(c, n2v::resolve_device(c.device));
  }
  std::set<std::string> stages;
  for (const std::string& s : split_list(c.stages)) {
    if (s == "all") {
      stages.insert({"activations", "segmentation", "classification"});
      continue;
    }
    N2V_CHECK(s == "activations" || s == "segmentation" || s == "classification", kInvalidArgument,
              "unknown stage '" << s << "' (activations, segmentation, classification, all)");
    stages.insert(s);
  }
  N2V_CHECK(c.images >= 20, kInvalidArgument, "--images must be at least 20");
  N2V_CHECK(c.epochs >= 1, kInvalidArgument, "--epochs must be at least 1");
  N2V_CHECK(c.seg_concepts >= 1 && c.cls_concepts >= c.seg_concepts, kInvalidArgument,
            "need 1 <= segmentation concepts <= classification concepts");
  n2v::Progress::set_default_mode(c.progress ? n2v::Progress::Mode::kAuto : n2v::Progress::Mode::kQuiet);

  const int threads = n2v::configure_threads(c.threads);
  const n2v::DeviceKind device = n2v::resolve_device(c.device);
  const std::string load_start = read_first_line("/proc/loadavg");
  const int hw = c.map_size * c.map_size;
  FrequencyModel fm;

  std::fprintf(stderr, "net2vec-bench: building the synthetic probe (%d images)...\n", c.images);
  auto t_setup = Clock::now();
  SyntheticProbe probe = make_probe(c, fm);
  const n2v::ProbeAnnotations& ann = probe.annotations;
  const double setup_seconds = seconds_since(t_setup);

  const PairStats ps = pair_stats(ann);
  const auto& [per_label, mask_bytes, train_pairs, val_pairs, seg_trained, all_pairs] = ps;
  int64_t n_train = 0;
  for (n2v::Split s : ann.splits) n_train += s == n2v::Split::kTrain;
  std::vector<int> sorted_counts = probe.seg_counts;
  std::sort(sorted_counts.begin(), sorted_counts.end());
  // The same frequency model at BRODEN's size (labels with >= 10 images, as BRODEN).
  double broden_pairs = 0;
  for (int r = 0; r < c.seg_concepts; ++r) broden_pairs += fm.seg_count(r, kBrodenImages, 10);
  std::vector<int> broden_counts;
  for (int r = 0; r < c.seg_concepts; ++r) broden_counts.push_back(fm.seg_count(r, kBrodenImages, 10));
  std::sort(broden_counts.begin(), broden_counts.end());
  const double train_fraction = static_cast<double>(train_pairs) / std::max<int64_t>(1, all_pairs);

  Table table;
  const size_t per_image_floats = static_cast<size_t>(c.filters) * hw;

  // --- activations ---
  n2v::ProbeActivations acts;
  double extract_seconds_excl_network = -1;
  double jpeg_bytes = 0;
  if (stages.count("activations")) {
    ActivationStage a = measure_activations(c, device, ann.splits, table);
    acts = std::move(a.acts);
    extract_seconds_excl_network = a.seconds_without_network;
    jpeg_bytes = a.jpeg_bytes;
  } else {
    acts = random_activations(c);
  }
  const double rss_after_acts = peak_rss_mib();

  // --- segmentation ---
  SegmentationStage seg;
  if (stages.count("segmentation")) seg = measure_segmentation(c, device, acts, ann, ps, table);
  const n2v::TrainingTimings& seg_t = seg.timings;
  const LoopEstimate& loop = seg.loop;
  const double rss_after_seg = peak_rss_mib();

  // --- classification ---
  const int64_t steps_per_epoch = (n_train + c.batch_size - 1) / c.batch_size;
  ClassificationStage cls;
  if (stages.count("classification")) cls = measure_classification(c, device, acts, ann, steps_per_epoch, table);
  const n2v::TrainingTimings& cls_t = cls.timings;
  const int cls_trained = cls.trained;
  const double rss_end = peak_rss_mib();
  const std::string load_end = read_first_line("/proc/loadavg");

  // --- report ---
  std::printf("net2vec-bench: synthetic BRODEN-shaped probe, in memory\n\n");
  std::printf("machine   CPU %s, %u logical CPUs; LibTorch intra-op threads: %d\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), threads);
  for (const std::string& lib : mapped_libraries({"blas", "lapack", "libtorch_cpu", "gomp", "tcmalloc"}))
    std::printf("          loaded: %s\n", lib.c_str());
  std::string env;
  for (const char* name : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS",
                           "LD_LIBRARY_PATH", "NET2VEC_ALLOCATOR"}) {
    const char* v = std::getenv(name);
    env += std::string(" ") + name + "=" + (v ? v : "(unset)");
  }
  std::printf("          environment:%s\n", env.c_str());
  const std::string allocator = n2v::active_allocator();
  std::printf("          malloc: %s\n",
              allocator == "tcmalloc"  ? "tcmalloc (NET2VEC_ALLOCATOR=system for glibc's)"
              : allocator != "glibc"   ? allocator.c_str()
              : c.default_malloc       ? "glibc, default thresholds (--default-malloc)"
                                       : "glibc, as net2vec-ingest (mmap threshold 32 MiB, trim 1 GiB)");
  std::printf("          training device: %s\n", n2v::to_string(device));
  std::printf("          load average at start: %s; at end: %s\n", load_start.c_str(), load_end.c_str());
  std::printf("probe     %d images (%lld train / %lld val), K = %d filters at %dx%d, masks %dx%d, tau %.3f\n",
              c.images, static_cast<long long>(n_train), static_cast<long long>(c.images - n_train),
              c.filters, c.map_size, c.map_size, c.mask_size, c.mask_size, kTau);
  std::printf("          segmentation: %d concepts, %lld (image, concept) pairs (%.2f per image; %lld train)\n",
              c.seg_concepts, static_cast<long long>(all_pairs), static_cast<double>(all_pairs) / c.images,
              static_cast<long long>(train_pairs));
  std::printf("          images per concept: max %d, median %d, min %d (at least 4, so every concept trains)\n",
              sorted_counts.back(), sorted_counts[sorted_counts.size() / 2], sorted_counts.front());
  std::printf("          classification: %d concepts (%d with masks + %d whole-image)%s\n", c.cls_concepts,
              c.seg_concepts, c.cls_concepts - c.seg_concepts,
              stages.count("classification") ? (", " + std::to_string(cls_trained) + " trained").c_str() : "");
  if (jpeg_bytes > 0)
    std::printf("          images: %d distinct %dx%d JPEGs (q90, mean %.1f KiB), reused across index rows\n",
                c.distinct_images, c.image_size, c.image_size, jpeg_bytes / 1024);
  std::printf("          synthetic probe built in %.1f s (not measured below)\n", setup_seconds);
  std::printf("training  %d epoch(s), batch %d, %s pairs per chunk, subsets %s; SGD rows are PER EPOCH\n\n",
              c.epochs, c.batch_size,
              c.pairs_per_chunk > 0 ? std::to_string(c.pairs_per_chunk).c_str() : "auto (512 CPU, 8,192 CUDA)",
              c.subsets ? "on (paper lists)" : "off");

  table.print();

  if (stages.count("segmentation") && train_pairs > 0 && c.epochs > 0) {
    // Per pair step, the least a training step must move: the packed maps of the pair's image,
    // its packed mask, and the concept's w read and written; then also the upsampled logits
    // written and read once in float32 (any kernel that materialises them).
    const double packed = static_cast<double>(acts.bytes_per_image()) + std::ceil(c.mask_size * c.mask_size / 8.0) +
                          2.0 * 4 * c.filters;
    const double with_logits = packed + 2.0 * 4 * c.mask_size * c.mask_size;
    const double gbs = copy_bandwidth(device);
    const double steps = static_cast<double>(train_pairs) * c.epochs;
    const double measured = seg_t.train_seconds;
    std::printf("\nsegmentation SGD against the memory-bandwidth bound (%s, copy bandwidth %.1f GB/s)\n",
                n2v::to_string(device), gbs);
    std::printf("  %-58s %10.4f s\n", "measured, all epochs", measured);
    std::printf("  %-58s %10.4f s  (measured / bound = %.0fx)\n",
                ("bound, packed inputs only (" + std::to_string(static_cast<int>(packed)) + " B per pair step)").c_str(),
                steps * packed / (gbs * 1e9), measured / (steps * packed / (gbs * 1e9)));
    std::printf("  %-58s %10.4f s  (measured / bound = %.0fx)\n",
                ("bound, + float logits once (" + std::to_string(static_cast<int>(with_logits)) + " B per pair step)").c_str(),
                steps * with_logits / (gbs * 1e9), measured / (steps * with_logits / (gbs * 1e9)));
  }
  if (loop.sampled > 0) {
    std::printf("\none concept at a time (the authors' loop), %d concepts timed, t = a + b * pairs fitted\n",
                loop.sampled);
    std::printf("  a = %.4f s per concept, b = %.2f us per (image, concept) pair\n", loop.a, loop.b * 1e6);
    std::printf("  %-58s %10.2f s\n", "estimate for every concept, one at a time", loop.estimate);
    std::printf("  %-58s %10.2f s  (loop / together = %.1fx)\n", "all concepts together (measured above)",
                loop.all_at_once, loop.estimate / std::max(1e-9, loop.all_at_once));
  }

  const double bits_bytes = static_cast<double>(acts.bytes_per_image()) * acts.n;
  const double float_bytes = static_cast<double>(acts.n) * per_image_floats * 4;
  const double broden_bits = static_cast<double>(kBrodenImages) * acts.bytes_per_image();
  const double broden_float = static_cast<double>(kBrodenImages) * per_image_floats * 4;
  std::printf("\nmemory\n");
  std::printf("  thresholded activations, 1 bit per position: %s (float32 would be %s, %.0fx)\n",
              mib(bits_bytes).c_str(), mib(float_bytes).c_str(), float_bytes / std::max(1.0, bits_bytes));
  std::printf("  target masks, bit-packed: %s (float32 would be %s)\n", mib(mask_bytes).c_str(),
              mib(static_cast<double>(all_pairs) * c.mask_size * c.mask_size * 4).c_str());
  if (stages.count("activations"))
    std::printf("  float activation cache between the two passes (mmap'd temp file): %s\n",
                mib(float_bytes).c_str());
  std::printf("  peak RSS: %.0f MiB after activations, %.0f MiB after segmentation, %.0f MiB at end"
              " (now %.0f MiB)\n", rss_after_acts, rss_after_seg, rss_end, current_rss_mib());
  std::printf("  at BRODEN size (%d images): bits %s vs float32 %s\n", kBrodenImages,
              mib(broden_bits).c_str(), mib(broden_float).c_str());

  // Linear extrapolation to BRODEN with the paper's schedule.
  const double scale = static_cast<double>(kBrodenImages) / c.images;
  std::printf("\nextrapolation to BRODEN (%d images, %d epochs, subsets off), linear in images/pairs\n",
              kBrodenImages, kPaperEpochs);
  std::printf("  frequency model at that size: %.0f pairs (%.2f per image); images per concept max %d, "
              "median %d, min %d\n", broden_pairs, broden_pairs / kBrodenImages, broden_counts.back(),
              broden_counts[broden_counts.size() / 2], broden_counts.front());
  double total = 0;
  auto line = [&](const char* what, double seconds) {
    total += seconds;
    std::printf("  %-58s %10.0f s  (%.1f h)\n", what, seconds, seconds / 3600);
  };
  if (extract_seconds_excl_network >= 0)
    line("activations, without the network", extract_seconds_excl_network * scale);
  if (stages.count("segmentation") && all_pairs > 0) {
    line("segmentation single filters", seg_t.single_filter_seconds / all_pairs * broden_pairs);
    line("segmentation SGD (30 epochs)",
         seg_t.train_seconds / (static_cast<double>(train_pairs) * c.epochs) * broden_pairs * train_fraction *
             kPaperEpochs);
    line("segmentation evaluation", seg_t.eval_seconds / static_cast<double>(train_pairs + 2 * val_pairs) *
                                        broden_pairs * (2 - train_fraction));
  }
  if (stages.count("classification")) {
    const double broden_steps = std::ceil(0.7 * kBrodenImages / c.batch_size) * kPaperEpochs;
    const double per_step = cls_t.train_seconds / (static_cast<double>(steps_per_epoch) * c.epochs);
    line("classification SGD (30 epochs) + F=1 retrain", per_step * broden_steps * 2);
  }
  std::printf("  %-58s %10.0f s  (%.1f h)\n", "total for one layer (plus the network's forward passes)", total,
              total / 3600);
  if (c.subsets)
    std::printf("  (with --subsets, each retrain costs about one more SGD run: see the subset rows)\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The same process settings as net2vec-ingest, so the figures are what ingest gets:
  // passive OpenMP waiting (re-executes with OMP_WAIT_POLICY=PASSIVE unless the variable is
  // set: run with OMP_WAIT_POLICY=ACTIVE to see libgomp's default) and tcmalloc as malloc
  // (NET2VEC_ALLOCATOR=system for glibc's, where --default-malloc drops ingest's thresholds).
  n2v::reexec_with_process_settings(argv);
  CLI::App app{"net2vec-bench: per-stage throughput on a synthetic BRODEN-shaped probe set"};
  Config c;
  app.add_option("--images", c.images, "probe images (BRODEN: 63,305)")->capture_default_str();
  app.add_option("--epochs", c.epochs, "SGD epochs (figures are per epoch; the paper uses 30)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "LibTorch intra-op threads (0: all cores)")->capture_default_str();
  app.add_option("--seed", c.seed, "random seed")->capture_default_str();
  app.add_option("--resamples", c.resamples, "bootstrap resamples of each val score's interval (0: none)")
      ->capture_default_str();
  app.add_option("--permutations", c.permutations, "permutations of each val score's chance test (0: none)")
      ->capture_default_str();
  app.add_option("--stages", c.stages, "comma-separated: activations, segmentation, classification, all")
      ->capture_default_str();
  app.add_flag("--subsets", c.subsets, "also retrain the paper's filter subsets (off: much faster)");
  app.add_option("--filters", c.filters, "K, filters of the layer")->capture_default_str();
  app.add_option("--map-size", c.map_size, "activation map side (13 for AlexNet conv5)")->capture_default_str();
  app.add_option("--mask-size", c.mask_size, "mask side (113 for 227 input)")->capture_default_str();
  app.add_option("--seg-concepts", c.seg_concepts, "concepts with pixel masks")->capture_default_str();
  app.add_option("--cls-concepts", c.cls_concepts, "all concepts (masked + whole-image)")->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "SGD batch per concept")->capture_default_str();
  app.add_option("--pairs-per-chunk", c.pairs_per_chunk, "segmentation pairs per forward pass")
      ->capture_default_str();
  app.add_option("--image-size", c.image_size, "side of the temporary JPEG images")->capture_default_str();
  app.add_option("--tmp-dir", c.tmp_dir, "where the temporary probe set and activation cache go");
  app.add_option("--device", c.device, "training device: cpu, cuda or auto")->capture_default_str();
  app.add_option("--placement", c.placement, "activations kept on the host or the device: auto, host, device")
      ->capture_default_str();
  app.add_option("--seg-kernel", c.seg_kernel, "segmentation kernel: auto, sparse, dense")->capture_default_str();
  app.add_option("--precision-check", c.real_model,
                 "instead of the synthetic stages: this real network file over --real-probe, float32 vs "
                 "float16 and bfloat16 (changed thresholded bits)");
  app.add_option("--forward-check", c.forward_model,
                 "instead of the synthetic stages: this real network file over --real-probe, the activations "
                 "pass against the network's own forward on pre-decoded images (--real-layer: comma-separated)");
  app.add_option("--real-layer", c.real_layer, "layer of --precision-check's network");
  app.add_option("--real-probe", c.real_probe, "BRODEN-format probe folder for --precision-check");
  app.add_option("--real-images", c.real_images, "first N rows of --real-probe (0: all)")->capture_default_str();
  app.add_option("--loop-sample", c.loop_sample,
                 "also train this many concepts one at a time and scale to all (the authors' loop; 0: skip)")
      ->capture_default_str();
  app.add_flag("--progress", c.progress, "show the stages' progress lines");
  app.add_flag("--default-malloc", c.default_malloc,
               "on glibc's malloc (NET2VEC_ALLOCATOR=system), keep its default settings (net2vec-ingest "
               "raises the mmap and trim thresholds)");
  CLI11_PARSE(app, argc, argv);
  if (!c.default_malloc) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  try {
    return run(c);
  } catch (const n2v::Error& e) {
    std::fprintf(stderr, "net2vec-bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net2vec-bench: %s\n", e.what());
    return 1;
  }
}
