#pragma once
// Vectorised CPU kernels of training (cpu_kernels.cpp: `#pragma omp simd` loops, one clone per
// instruction set picked at load time). Torch-free: plain arrays.
//
// pixel_step -- the per-pixel part of a segmentation SGD step on the CPU (the sparse kernel's), fused: for
// each (replica, pair) row, upsample z = sum_k w_k I(A_k > T_k) to the mask (bilinear, two
// taps per axis), add the bias, take the sigmoid, form dL/dlogit against the packed target
// mask (eq. 4, linear or log form) times the row's loss weight, and apply the upsampling's
// adjoint -- one row of the mask at a time, in buffers that stay in L1, instead of six passes
// of torch ops over [B, mh, mw] float tensors. The dense kernel (GPU) keeps the torch ops;
// tests/training checks that both give the same embeddings within float tolerance.
// Torch-free: plain arrays.

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

struct PixelStep {
  int64_t h = 0, w = 0, mh = 0, mw = 0;
  const Tap* ytaps = nullptr;  // mh
  const Tap* xtaps = nullptr;  // mw
  const float* z = nullptr;    // [rows, h, w]
  const uint8_t* masks = nullptr;  // packed target masks, `mask_bytes` per pair
  size_t mask_bytes = 0;
  const int64_t* pair = nullptr;   // per row: its pair (the row of `masks`)
  const float* alpha = nullptr;    // per row: the concept's alpha
  const float* weight = nullptr;   // per row: the loss weight (1 / the concept's batch size)
  const float* bias = nullptr;     // per row, or null (no bias)
  bool log_loss = false;
};

// Rows [begin, end): gz[row] (h x w) = the adjoint of the upsampling applied to dL/dlogit;
// gb[row] (when gb is not null) = the sum of dL/dlogit over the row's pixels.
void pixel_step(const PixelStep& s, int64_t begin, int64_t end, float* gz, float* gb);

// Classification positives of concepts [begin, end) (classification.cpp): for each concept c
// and each of its `half` drawn rows r of x [n, k], l = x_r . w_c + b_c and
// g = -0.5 sigmoid(-l) / half (the gradient of 0.5 mean_j softplus(-l_cj)), added to gw[c]
// (g x_r) and gb[c].
void positive_step(const float* x, int64_t k, const int64_t* rows, int64_t half, const float* w, const float* b,
                   int64_t begin, int64_t end, float* gw, float* gb);

}  // namespace n2v::detail
