#pragma once
// The segmentation passes (internal to src/training): the probe's pairs prepared on the
// training device, the kernels of one chunk of pairs (sparse gather or dense unpack, forward
// and adjoint), evaluation, the predicted masks of figure 8 and the single-filter sums.
// segmentation.cpp orchestrates them (training rounds, subset sweeps, the embeddings).

#include <cstdint>
#include <span>
#include <vector>

#include "activations/activations.h"
#include "probe/probe_set.h"
#include "training/detail/cpu_kernels.h"
#include "training/detail/tensors.h"
#include "training/training.h"

namespace n2v::detail {

// Everything the segmentation passes read, on the training device.
struct SegData {
  int64_t k = 0, h = 0, w = 0, mh = 0, mw = 0;
  torch::Device device{torch::kCPU};
  torch::Tensor masks;         // uint8 [P, ceil(mh*mw/8)]: target masks of all pairs
  torch::Tensor pair_image;    // long [P]
  torch::Tensor pair_concept;  // long [P]: concept index
  torch::Tensor mask_pixels;   // float [P]: |L_c(x)|
  std::vector<int64_t> pair_image_cpu;
  std::vector<int64_t> pair_concept_cpu;
  std::vector<uint8_t> mask_cpu;     // [P, mask_bytes]: the targets, for the CPU passes
  std::vector<float> pixels_cpu;     // [P]: |L_c(x)|
  size_t mask_bytes = 0;
  // The thresholded maps as lists of active (filter, position) entries per image, f*h*w + p
  // (CSR): at tau = 0.005 about 0.5% of positions are on, so the weighted sum over filters
  // is a sparse gather rather than a dense K x H x W product.
  std::vector<int64_t> active_offset;  // n + 1
  std::vector<int32_t> active_entry;
  // The dense kernel's maps instead: uint8 [n, bytes_per_image] on the device.
  bool dense = false;
  torch::Tensor maps;
  std::vector<int> concept_numbers;            // concept index -> concept (label) number
  std::vector<std::vector<int64_t>> train, val;  // per concept: pair indices
  std::vector<float> alpha;                    // per concept
  // Bilinear upsampling is separable: S(z) = Ry z Rx^T with Ry [mh, h], Rx [mw, w]. As
  // matrices it runs as batched BLAS products, forward and adjoint alike.
  torch::Tensor Ry, Rx;
  // The same resampling as taps (the fused CPU step, detail/cpu_kernels.h).
  std::vector<detail::Tap> ytaps, xtaps;
  bool align_corners = false;
};

SegData prepare(const ProbeActivations& acts, const ProbeAnnotations& ann,
                const SegmentationOptions& options);

torch::Tensor pair_targets(const SegData& d, const torch::Tensor& pairs);

// The sparse weighted sum of a chunk of pairs: z_p = sum over the active (k, position)
// entries of the pair's image of w[c, k], as two index lists into W.view(-1) and
// z.view(-1) (z: [B, h*w]).
struct SparseSum {
  torch::Tensor weight_index, target_index;
  int64_t pairs = 0;
};

// The thresholded maps of a chunk of pairs as the kernel reads them: the sparse kernel's
// index lists, or the dense kernel's unpacked maps, float [B, K, h*w] (the bits of the pairs'
// images, gathered and unpacked on the device).
struct ChunkMaps {
  SparseSum sparse;
  torch::Tensor dense;
  torch::Tensor concepts;  // long [B]: each pair's concept index
  int64_t pairs = 0;
};

// `pairs`: the chunk's pair indices on the host (read by the sparse kernel only), `idx` the same
// on the device.
ChunkMaps chunk_maps(const SegData& d, std::span<const int64_t> pairs, const torch::Tensor& idx);

// The adjoint of filter_sum: gW[c] += sum over the chunk's pairs of concept c of their maps
// weighted by gz (float [B * h * w]).
void filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW);

// The adjoint of replica_filter_sum: gz is float [R * B * h * w], gW [R * C, K].
void replica_filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW,
                                int64_t R);

// Logits S(sum_k w_k I(A_k > T_k)) + b at the mask size, [B, mh, mw] (paper eq. 2).
// Upsampling is linear, so it is applied once to the weighted sum.
// With R replicas (replica_filter_sum): [R * B, mh, mw], `rows` the rows of W and b of the
// (replica, pair)s, replica-major (undefined: the chunk's concepts, R = 1).
torch::Tensor pair_logits(const SegData& d, const ChunkMaps& m, const torch::Tensor& W, const torch::Tensor& b,
                          int64_t R = 1, const torch::Tensor& rows = {});

torch::Tensor pair_logits(const SegData& d, const std::vector<int64_t>& pairs,
                          const torch::Tensor& W, const torch::Tensor& b);

struct PairIou {
  std::vector<float> inter, uni;  // per pair of the list
  // With `with_bits`: the predicted masks, bit-packed, d.mask_bytes a pair (the chance test).
  std::vector<uint8_t> bits;
};

// evaluate_pairs over several lists at once (one per concept): one batched pass over all
// their pairs, split back per list.
std::vector<PairIou> evaluate_groups(const SegData& d, const std::vector<std::vector<int64_t>>& groups,
                                     const torch::Tensor& W, const torch::Tensor& b, int64_t chunk,
                                     bool with_bits = false);

// Figure 8: for every concept, the predicted masks (learned and best single filter) of the
// val images at the deciles of the non-zero per-image IoU of either -- at most 20 images a
// concept, so they are recomputed here rather than kept from the evaluation pass.
void decile_masks(const SegData& d, const torch::Tensor& W, const torch::Tensor& b, const torch::Tensor& W_single,
                  const torch::Tensor& b_single, int64_t chunk, std::vector<ConceptEmbedding>& out);

float set_iou(const PairIou& r);

// Single filters (paper 3.1.1): IoU_set(c; M_k, s) for every k, M_k = S(A_k > T_k) > 1/2.
// Returns sums of intersections and unions per (concept, split) row and filter, [2C, K].
// Thresholded maps are sparse (tau = 0.5% of positions), so each image's upsampled masks are
// built by splatting its active positions only: the cost follows the active entries, not
// K x mask pixels. Images run in parallel; each thread keeps its own sums.
void single_filter_sums(const SegData& d, std::vector<double>& inter_sum,
                        std::vector<double>& union_sum, const std::vector<uint8_t>& pair_is_val);

// single_filter_sums for the dense kernel, on the device: blocks of whole images (at most 32,
// and at most `chunk` pairs unless one image has more). Each block's maps are unpacked and
// upsampled, M_k = S(.) > 1/2 as 0/1 floats [n, K, S]; the targets of each image's pairs are
// laid out [n, P, S] (P: the block's most pairs of one image, zero rows as padding), so the
// intersections of every pair with every M_k of its own image are one batched product
// [n, P, S] x [n, S, K]. Counts are exact in float32 (below 2^24) and summed in float64.
void single_filter_sums_dense(const SegData& d, std::vector<double>& inter_sum, std::vector<double>& union_sum,
                              const std::vector<uint8_t>& pair_is_val, int64_t chunk);

}  // namespace n2v::detail
