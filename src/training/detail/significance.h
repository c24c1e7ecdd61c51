#pragma once
// Internal to src/training: how far a val score can be trusted (issue 21; docs/METHOD.md,
// "Intervals and chance"). Torch-free: the inputs are per-image intersections and unions,
// bit-packed masks and confusion counts.
//   * a 95 % percentile bootstrap interval over the val images;
//   * a permutation test against chance, p = (1 + #{null >= observed}) / (R + 1), and the
//     null's mean.
// Every draw comes from StatRng, keyed by (seed, stream): the same run gives the same numbers
// on every platform, thread count and standard library.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace n2v::detail {

// SplitMix64 over a key mixed from (seed, stream). std::uniform_int_distribution's
// algorithm is unspecified (libstdc++ and libc++ differ), so bounded draws are our own.
class StatRng {
 public:
  StatRng(uint64_t seed, uint64_t stream);
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n), n > 0 (Lemire's multiply, with rejection)
  double unit();               // uniform in [0, 1), 53 bits
 private:
  uint64_t state_;
};

// The stream of one (concept, score, purpose): results never depend on the order concepts
// are visited in or on the thread that visits them.
enum class StatPurpose : uint64_t { kLearnedInterval = 0, kLearnedChance = 1, kSingleInterval = 2, kSingleChance = 3 };
uint64_t stat_stream(int concept_number, StatPurpose purpose);

struct Interval {
  float low = NAN, high = NAN;  // NaN: not computed (no images, or resamples = 0)
};

struct Chance {
  float p = NAN, null_mean = NAN;  // NaN: not computed
};

// Percentile interval (linear interpolation between order statistics) at 2.5 % and 97.5 %.
Interval percentile_interval(std::vector<double> values);

// Set IoU sum(inter) / sum(union) (0 when the union is empty, as training scores it), and its
// bootstrap: the images drawn with replacement `resamples` times.
double set_iou_of(std::span<const float> inter, std::span<const float> uni);
Interval bootstrap_set_iou(std::span<const float> inter, std::span<const float> uni, int resamples, StatRng& rng);

// Val confusion counts of one concept's classifier.
struct Confusion {
  int64_t tp = 0, pos = 0, tn = 0, neg = 0;
  int64_t predicted_positive() const { return tp + (neg - tn); }
};
// (TP / P + TN / N) / 2; a class with no images contributes 0, as training scores it.
double balanced_accuracy_of(const Confusion& c);

// Stratified bootstrap: positives and negatives resampled separately (a resample keeps P and
// N, so balanced accuracy stays defined). The resampled TP is then Binomial(P, TP / P) and TN
// Binomial(N, TN / N), drawn as such (inverse CDF) instead of image by image.
Interval bootstrap_balanced_accuracy(const Confusion& c, int resamples, StatRng& rng);

// Labels permuted over the val images: the predicted positives keep their number Q, and the
// TP of a permutation is Hypergeometric(P + N, P, Q) -- drawn as such (inverse CDF).
Chance permutation_balanced_accuracy(const Confusion& c, int permutations, StatRng& rng);

// Segmentation: predicted masks and target masks of one concept's n val images, bit-packed
// (`bytes` each, pred[i] and target[i] of image i). A permutation pairs image i's prediction
// with image pi(i)'s target; sum |P_i| and sum |G_i| do not change, so the null set IoU is
// I / (sum |P| + sum |G| - I) with I = sum_i |P_i & G_pi(i)|. The observed score is computed
// from the same bits. `observed` (if given) receives it.
Chance permutation_set_iou(const std::vector<const uint8_t*>& pred, const std::vector<const uint8_t*>& target,
                           size_t bytes, int permutations, StatRng& rng, double* observed = nullptr);

// Pixels set in a packed mask; pixels set in both. The chance test's inner loop (R x val images
// x mask words a concept: minutes at BRODEN scale), so by the widest instructions the CPU has,
// chosen once: AVX-512 VPOPCNTDQ, 8 words at a time; POPCNT, a word at a time; else the
// baseline build's std::popcount (a libgcc call per word). All give the same counts.
enum class PopcountPath { kPortable, kPopcnt, kAvx512 };
PopcountPath popcount_path();                       // the one this CPU runs
bool popcount_path_supported(PopcountPath path);
int64_t popcount_bytes(const uint8_t* a, size_t bytes);
int64_t popcount_and(const uint8_t* a, const uint8_t* b, size_t bytes);
int64_t popcount_and(PopcountPath path, const uint8_t* a, const uint8_t* b, size_t bytes);  // tests: a given path

}  // namespace n2v::detail
