#pragma once
// Training stage: Net2Vec concept embeddings (paper section 3) from thresholded or pooled
// activations and concept annotations.
//   train_segmentation   : single-filter set IoU (3.1.1) and learned filter weights
//                          (3.1.2, eq. 2-4)
//   train_classification : concept classifiers over spatial means (3.2.1) and filter
//                          subsets (3.2.2)
// All concepts train together: every SGD round takes each concept's next batch of its own
// images, so the result equals training one concept at a time (the authors' protocol)
// while a GPU sees one large batch. Torch-free header; LibTorch stays in the .cpp files.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "activations/activations.h"
#include "model/network.h"
#include "probe/annotations.h"

namespace n2v {

// The paper's filter-subset lists (section 3.2.2).
std::vector<int> paper_segmentation_subsets();    // 1,2,4,...,224
std::vector<int> paper_classification_subsets();  // 1,2,3,5,...,128

// How far each val score can be trusted (issue 21; docs/METHOD.md, "Intervals and chance"):
// a 95 % bootstrap interval over the val images from `resamples` resamples, and a p-value
// against chance from `permutations` permutations of the val masks or labels. 0 turns
// either off (the stored values are then null, "not computed"). Seeded by the run's seed.
struct ScoreStatsOptions {
  int resamples = 1000;
  int permutations = 1000;
};

// The interval and chance level of one val score; NaN: not computed.
struct ScoreStats {
  float low = NAN, high = NAN;     // 95 % percentile bootstrap interval
  float p = NAN, null_mean = NAN;  // (1 + #{null >= observed}) / (R + 1), the null's mean
};

struct SgdOptions {
  int epochs = 30;
  int batch_size = 64;
  double lr = 1e-4;
  double momentum = 0.9;
};

// How segmentation reads the thresholded maps. kSparse: each image's active (filter,
// position) entries as index lists built on the host (tau = 0.5 % of positions are on, so on
// a CPU this is the fast kernel). kDense: the bit-packed maps stay on the device and are
// unpacked and multiplied there, nothing built on the host per step (the GPU's kernel; with
// ProbeActivations::device_bits the maps never leave the device). kAuto: dense on CUDA,
// sparse on the CPU. Both give the same results within float tolerance (tests/training).
enum class SegmentationKernel { kAuto, kSparse, kDense };
SegmentationKernel parse_segmentation_kernel(const std::string& name);  // auto, sparse, dense
const char* to_string(SegmentationKernel kernel);
// What kAuto means on a device: dense on CUDA, sparse on the CPU; other kernels as they are.
SegmentationKernel resolve_kernel(SegmentationKernel kernel, DeviceKind device);

struct SegmentationOptions {
  SgdOptions sgd;                  // paper: lr 1e-4, momentum 0.9, batch 64, 30 epochs
  bool log_loss = false;           // eq. 4 as printed (linear in M) unless set
  bool bias = false;               // eq. 2 has no bias
  // Bilinear upsampling of the thresholded maps: align_corners = false (today's PyTorch
  // default) unless set; the authors' PyTorch of the time behaved as align_corners = true.
  bool align_corners = false;
  std::vector<int> subsets = paper_segmentation_subsets();
  int min_train_images = 1;        // concepts with fewer train (or zero val) images are left out
  // (image, concept) pairs per pass; 0: 512 on the CPU (~25 MB tensors at 113x113), 8,192 on
  // CUDA (a round of BRODEN's all-concept SGD is ~800 pairs: one pass, fewer launches).
  int pairs_per_chunk = 0;
  uint64_t seed = 1;
  DeviceKind device = DeviceKind::kCpu;
  SegmentationKernel kernel = SegmentationKernel::kAuto;
  ScoreStatsOptions stats;
};

struct ClassificationOptions {
  // lr applies to features divided by one global scale (the RMS norm of the train rows),
  // so the same lr suits any layer and width; the stored w is for raw features.
  SgdOptions sgd{30, 64, 1.0, 0.9};
  // false (default): every concept gets ceil(N_train / batch) balanced steps an epoch on
  // features centred on the train mean and divided by one global scale. true: the authors'
  // budget -- one balanced pass of 2 min(P, N) images an epoch per concept (P, N: its train
  // positives and negatives), ceil(2 min(P, N) / batch) steps, on raw pooled features (their
  // lr was 1e-4). docs/METHOD.md compares the two.
  bool authors_budget = false;
  std::vector<int> subsets = paper_classification_subsets();
  int min_train_images = 1;
  uint64_t seed = 1;
  DeviceKind device = DeviceKind::kCpu;
  // The gradient of each step through autograd, as on a GPU, rather than the CPU's explicit
  // loops (same draws, same formulas; tests compare the two within float tolerance).
  bool autograd = false;
  ScoreStatsOptions stats;
};

struct ImageIou {
  int image = 0;        // kept-image index (ProbeActivations / ProbeAnnotations)
  float learned = 0;    // IoU_ind with the learned weights
  float single = 0;     // IoU_ind with the best single filter
  // Its intersection and union in pixels (set IoU over a resample of images needs them).
  float learned_inter = 0, learned_union = 0, single_inter = 0, single_union = 0;
};

// A val image's predicted masks at the mask size (mask_height x mask_width of the
// embedding): sigmoid(eq. 2) > 1/2 for the learned weights, S(I(A_k > T_k)) > 1/2 for the best
// single filter; bit-packed row-major, bit j of byte i = pixel 8i + j.
struct PredictedMask {
  int image = 0;  // kept-image index
  std::vector<uint8_t> learned, single;
};

struct ConceptEmbedding {
  int concept_number = 0;              // the concept's (label) number
  int train_count = 0, val_count = 0;  // images containing it, per split
  std::vector<float> weights;          // w, size K
  float bias = 0;
  float alpha = 0;                     // segmentation only
  float score_train = 0, score_val = 0;  // set IoU (seg) or balanced accuracy (cls)
  // Best single filter, chosen on train; -1 when no filter overlaps the concept on train
  // (every train set IoU 0): then the scores below mean nothing and are not stored.
  int best_filter = -1;
  float best_filter_train = 0, best_filter_val = 0;
  // score_val's and best_filter_val's intervals and chance levels (ScoreStatsOptions).
  ScoreStats score_stats, best_filter_stats;
  std::vector<std::pair<int, float>> subsets;  // (F, val score)
  std::vector<ImageIou> image_iou;     // segmentation: every val image of the concept
  // Segmentation: set IoU on val of every single filter k, IoU_set(c; M_k, val) (paper
  // section 5.2 correlates it with max(w, 0)); empty for classification.
  std::vector<float> filter_iou_val;
  // Segmentation: the predicted masks of the val images at the deciles of the non-zero
  // per-image IoU, learned and single (common/deciles.h; paper Figure 8).
  int mask_height = 0, mask_width = 0;
  std::vector<PredictedMask> decile_masks;
};

struct TrainingTimings {
  double single_filter_seconds = 0, train_seconds = 0, subset_seconds = 0, eval_seconds = 0;
  double stats_seconds = 0;  // intervals and chance levels (ScoreStatsOptions)
  int64_t pair_steps = 0;  // (image, concept) forward+backward passes
};

// Concepts with pixel masks, in label order.
std::vector<ConceptEmbedding> train_segmentation(const ProbeActivations& acts,
                                                 const ProbeAnnotations& annotations,
                                                 const SegmentationOptions& options,
                                                 TrainingTimings* timings = nullptr);

// Every concept present in at least min_train_images train images and one val image.
std::vector<ConceptEmbedding> train_classification(const ProbeActivations& acts,
                                                   const ProbeAnnotations& annotations,
                                                   const ClassificationOptions& options,
                                                   TrainingTimings* timings = nullptr);

}  // namespace n2v
