#pragma once
// Activations stage: runs the probe images through a network once and keeps what the
// training stage needs, never the float maps themselves:
//   - T_k, the per-filter threshold with P(a_k > T_k) = tau over all images and positions
//     (exact: the (m+1)-th largest value, m = floor(tau * N * H * W));
//   - the thresholded maps (a_k > T_k), one bit per position;
//   - the spatial means of a_k (classification input, paper eq. 5).
// Raw activations go through a file-backed cache (unlinked temp file) between the two
// passes, so the probe set size is bounded by disk, not memory. Torch-free header.
//
// Two placements give the same thresholds and bits (tests/activations):
//   host   -- the CPU path above: maps copied to host memory batch by batch.
//   device -- the GPU path: the network's layer tensors stay on its device; the raw maps are
//             held there between the passes, T_k is an exact per-filter top-k there, the bits
//             are packed there and handed to training in `device_bits` without a host copy.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/network.h"
#include "probe/probe_set.h"

namespace n2v {

enum class Placement { kAuto, kHost, kDevice };  // kAuto: device when the network is on CUDA
Placement parse_placement(const std::string& name);  // "auto", "host", "device"
const char* to_string(Placement placement);

// Throws kInvalidArgument unless 0 < tau < 1 (ActivationOptions::tau, the top quantile that
// sets each T_k); the message names the field `tau`.
void check_tau(double tau);

struct ActivationOptions {
  std::string layer;
  Preprocessing preprocessing;
  double tau = 0.005;
  int batch_size = 32;
  int decode_threads = 0;     // JPEG decoding threads per batch (0: the machine's cores)
  bool skip_bad = false;      // drop rows whose image fails to load (else throw)
  std::string cache_dir;      // unused since the maps are thresholded from the selector's located candidates (no float cache); kept for callers
  Placement placement = Placement::kAuto;
  // The forward's arithmetic. Reduced precision changes some thresholded bits; the count
  // against float32 is measured by net2vec-bench --precision-check and docs/GPU.md.
  Precision precision = Precision::kFloat32;
  // Device placement: filters thresholded per top-k call, bounded so that their
  // [filters, N*H*W] copy stays under this many bytes.
  size_t device_chunk_bytes = size_t{1} << 30;
  // Per filter, keep the images with the largest max_p a_k(p) (then the largest mean, where
  // maxima tie) and their maps a_k > T_k (NetDissect's top images;
  // ProbeActivations::top_images). 0: off.
  int top_images = 0;
};

// One of a filter's top images: `image` indexes the kept images (ProbeActivations::rows),
// `max_activation` is max_p a_k(p) there, `map` is a_k > T_k over the h x w positions,
// bit-packed row-major (bit j of byte i = position 8i + j).
struct TopImage {
  int image = 0;
  float max_activation = 0;
  std::vector<uint8_t> map;
};

// The thresholded maps on a device, bit-packed as ProbeActivations::bits (defined in the
// torch-facing activations/device_maps.h).
struct DeviceMaps;

struct ProbeActivations {
  int n = 0, k = 0, h = 0, w = 0;  // kept images, filters, activation map size
  std::vector<size_t> rows;        // ProbeSet::images() index of each kept image
  std::vector<bool> kept;          // per requested row: kept (true) or dropped
  std::vector<float> thresholds;   // T_k, size k
  std::vector<float> pooled;       // n x k spatial means
  // Thresholded maps: image i, filter f, position p (row-major h x w) is bit
  // (f*h*w + p) of image i's record, which starts at byte i * bytes_per_image().
  // Empty when the maps live on the device (device_bits set); host_bits() copies them.
  std::vector<uint8_t> bits;
  std::shared_ptr<const DeviceMaps> device_bits;
  // ActivationOptions::top_images > 0: per filter (size k), its top images, the largest max
  // first (ties: the larger spatial mean, then the earlier image); fewer when fewer images
  // were kept. Empty when off.
  std::vector<std::vector<TopImage>> top_images;
  size_t bytes_per_image() const { return (static_cast<size_t>(k) * h * w + 7) / 8; }
  bool bit(int image, int filter, int pos) const {
    size_t b = static_cast<size_t>(filter) * h * w + pos;
    return (bits[image * bytes_per_image() + b / 8] >> (b % 8)) & 1;
  }
};

// The bit-packed maps in host memory: `bits`, or a copy of `device_bits`.
std::vector<uint8_t> host_bits(const ProbeActivations& acts);

// Stage timings reported back to the caller's summary.
struct ActivationTimings {
  double forward_seconds = 0;    // decode + preprocess + network
  double threshold_seconds = 0;  // quantile selection
  double binarize_seconds = 0;
  double top_images_seconds = 0;  // per-image maxima, top-N selection and the maps' bits
};

ProbeActivations extract_activations(Network& network, ProbeSet& probe,
                                     const std::vector<size_t>& rows,
                                     const ActivationOptions& options,
                                     ActivationTimings* timings = nullptr);

// Several layers from one pass over the images (options.layer is ignored): one result per
// name in `layers`, all with the same kept images.
std::vector<ProbeActivations> extract_activations(Network& network, ProbeSet& probe,
                                                  const std::vector<size_t>& rows,
                                                  const std::vector<std::string>& layers,
                                                  const ActivationOptions& options,
                                                  ActivationTimings* timings = nullptr);

// Exact streaming top-m selection per filter: feed values, read the thresholds.
// T_k is the (m+1)-th largest value of filter k, m = floor(tau * positions), so that exactly
// m values exceed it when there are no ties at T_k (rank error 0; with ties, fewer exceed).
// Keeps at most ~2(m+1) candidates per filter: memory O(K * tau * N * H * W), not O(N).
// Each candidate keeps where it came from, so the positions above T_k are known without a
// second pass over the values: every value > T_k is among the candidates (there are at most
// m of them, and the candidates always hold the top m + 1), and a dropped value is <= T_k.
class ThresholdSelector {
 public:
  // `max_positions`: an upper bound on the positions per filter that will be fed (N * H * W
  // before any image is dropped); the exact count is given to thresholds().
  ThresholdSelector(int filters, int64_t max_positions, double tau);
  // `values`: `count` activations of filter f; values[i] is at location first_location + i
  // (any numbering the caller likes, e.g. image * H * W + position).
  void add(int filter, const float* values, int64_t count, uint64_t first_location = 0);
  // `positions`: the number of values actually fed per filter (<= max_positions).
  std::vector<float> thresholds(int64_t positions);
  // After thresholds(): calls on(filter, location) for every value > thresholds[filter].
  template <class F>
  void for_each_above(const std::vector<float>& thresholds, F&& on) const {
    for (int f = 0; f < filters_; ++f)
      for (const Candidate& c : candidates_[f])
        if (c.value > thresholds[f]) on(f, c.location);
  }
  // m for a given number of positions.
  static int64_t top_count(int64_t positions, double tau);

 private:
  struct Candidate {
    float value;
    uint64_t location;
  };
  void compact(int filter);
  int filters_;
  double tau_;
  int64_t keep_;  // m + 1 for max_positions: candidates always hold the top keep_ values
  std::vector<std::vector<Candidate>> candidates_;
  std::vector<float> floor_;  // a value <= floor_[f] can no longer be among the top keep_
};

// Streaming top-N images per filter by a per-image score (the max of the filter's map), then
// a second score (the map's mean): feed each image's K scores in image order, read each
// filter's best N. The second score matters where maxima saturate: MobileNetV2's ReLU6 caps
// them at 6, and 108 of its block_6 filters had ten images at exactly 6 in the demo, which
// the max alone ranked by file order. Full ties keep the earlier image (an image only enters
// by beating the current N-th); a NaN score never enters. Memory O(K * N); a score that
// cannot enter costs one or two comparisons.
class TopImageSelector {
 public:
  TopImageSelector(int filters, int per_filter);
  // `scores[f]`: filter f's score on image `image`, `seconds[f]` its second score (nullptr:
  // none, only the score ranks); images must come in increasing order.
  void add(int image, const float* scores, const float* seconds = nullptr);
  // Per filter, (image, score) pairs, the largest score first, then the largest second score,
  // then the earlier image.
  std::vector<std::vector<std::pair<int, float>>> result() const;
  int per_filter() const { return n_; }

 private:
  struct Entry {
    int image;
    float score, second;
  };
  int filters_, n_;
  std::vector<std::vector<Entry>> best_;  // per filter, kept sorted
};

}  // namespace n2v
