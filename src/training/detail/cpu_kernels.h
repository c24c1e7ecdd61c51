#pragma once
// Vectorised CPU kernels of training (cpu_kernels.cpp: `#pragma omp simd` loops, one clone per
// instruction set picked at load time). Torch-free: plain arrays.
//
// sparse_step -- one segmentation SGD step of the sparse kernel on the CPU, fused, for each
// (replica, pair) row: z = sum_k w_k I(A_k > T_k) from the image's active (filter, position)
// entries, upsampled to the mask (bilinear, two taps per axis) one mask row at a time, plus
// the bias, the sigmoid, dL/dlogit against the packed target mask (eq. 4, linear or log form)
// times the row's loss weight, then the upsampling's adjoint and the filter sum's adjoint
// straight into the row of the gradient. Buffers of one row stay in L1; no index lists or
// [B, mh, mw] float tensors are built (the torch formulation made six passes over those).
// The dense kernel (GPU) keeps the torch ops; tests/training checks that both give the same
// embeddings within float tolerance.
//
#include <cstddef>
#include <cstdint>
#include <vector>

namespace n2v::detail {

// One output index of bilinear resampling along an axis: out = (1 - f) in[i0] + f in[i1].
struct Tap {
  int32_t i0 = 0, i1 = 0;
  float f = 0;
};

// Where output index o of an axis samples the input, as torch.nn.functional.interpolate
// (bilinear) computes it: align_corners = false: max(0, (o + 0.5) * in / out - 0.5);
// align_corners = true: o * (in - 1) / (out - 1).
double source_coordinate(int64_t o, int64_t in, int64_t out, bool align_corners);
std::vector<Tap> resample_taps(int64_t in, int64_t out, bool align_corners);

struct SparseStep {
  int64_t k = 0, h = 0, w = 0, mh = 0, mw = 0;
  const Tap* ytaps = nullptr;  // mh
  const Tap* xtaps = nullptr;  // mw
  // The thresholded maps: image i's active entries f * h * w + position are
  // entry[offset[i]] .. entry[offset[i + 1] - 1].
  const int64_t* active_offset = nullptr;
  const int32_t* active_entry = nullptr;
  const float* W = nullptr;        // [rows of W, k]
  const float* b = nullptr;        // [rows of W], or null (no bias)
  const uint8_t* masks = nullptr;  // packed target masks, `mask_bytes` per pair
  size_t mask_bytes = 0;
  // Per (replica, pair) row of the chunk:
  const int64_t* pair = nullptr;    // its pair (the row of `masks`)
  const int64_t* image = nullptr;   // the pair's image
  const int64_t* w_row = nullptr;   // its row of W (replica r's concept c: r * C + c)
  const float* alpha = nullptr;     // the concept's alpha
  const float* weight = nullptr;    // the loss weight (1 / the concept's batch size)
  bool log_loss = false;
};

// The rows order[begin .. end) (indices into the per-row arrays): adds each row's gradient to
// gW[w_row] (k floats) and, with a bias, the sum of its dL/dlogit to gb[w_row]. Rows of one
// row of W must all be in one call (no two threads write one row of gW).
void sparse_step(const SparseStep& s, const int64_t* order, int64_t begin, int64_t end, float* gW, float* gb);

// Classification positives of concepts [begin, end) (classification.cpp): for each concept c
// and each of its `half` drawn rows r of x [n, k], l = x_r . w_c + b_c and
// g = -0.5 sigmoid(-l) / half (the gradient of 0.5 mean_j softplus(-l_cj)), added to gw[c]
// (g x_r) and gb[c].
void positive_step(const float* x, int64_t k, const int64_t* rows, int64_t half, const float* w, const float* b,
                   int64_t begin, int64_t end, float* gw, float* gb);

}  // namespace n2v::detail
