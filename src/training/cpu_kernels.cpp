// The fused per-pixel SGD step of the sparse (CPU) segmentation kernel; see
// detail/cpu_kernels.h. The inner loops are written to vectorise: `#pragma omp simd`
// (-fopenmp-simd, no OpenMP runtime) and one clone of each kernel per instruction set
// (target_clones: the loader picks AVX-512, AVX2 or the x86-64 baseline), so one binary runs
// everywhere and uses the wide instructions where the CPU has them.

#include "training/detail/cpu_kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace n2v::detail {

double source_coordinate(int64_t o, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? static_cast<double>(o) * (in - 1) / (out - 1) : 0.0;
  return std::max(0.0, (o + 0.5) * static_cast<double>(in) / out - 0.5);
}

std::vector<Tap> resample_taps(int64_t in, int64_t out, bool align_corners) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const double src = source_coordinate(o, in, out, align_corners);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    taps[static_cast<size_t>(o)] = {static_cast<int32_t>(i0), static_cast<int32_t>(i1), static_cast<float>(src - i0)};
  }
  return taps;
}

namespace {

// e^x for float, vectorisable (no libm call): x = n ln2 + r with |r| <= ln2 / 2, a degree-7
// polynomial for e^r (Cephes' expf coefficients), 2^n through the exponent bits. Relative
// error ~1e-7 on the range the sigmoid needs; x is clamped to [-87, 88] so 2^n stays a normal
// float (the sigmoid of |u| > 87 is 0 or 1 to float precision either way).
inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round to nearest by the 1.5 * 2^23 trick (exact for |x log2 e| < 2^22).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

// dL/d(up) times the row's loss weight for one mask row, L = -(1/B) sum [a t m(up) +
// (1 - a)(1 - t) m(-up)] (segmentation.cpp): linear (m = sigmoid): -(t - (1 - a)) M (1 - M);
// log (m = log sigmoid): M (1 - a + t (2a - 1)) - a t; M = sigmoid(up), up the bilinear sample
// of the row zr plus the bias. Returns the row's sum.
template <bool kLog>
inline __attribute__((always_inline)) float row_gradient(const float* __restrict zr, const int32_t* __restrict x0,
                                                        const int32_t* __restrict x1, const float* __restrict fx,
                                                        const float* __restrict t, float* __restrict g, int64_t mw,
                                                        float bias, float a, float weight) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t X = 0; X < mw; ++X) {
    const float up = (1.0f - fx[X]) * zr[x0[X]] + fx[X] * zr[x1[X]] + bias;
    const float M = 1.0f / (1.0f + exp_approx(-up));
    const float d = kLog ? M * (1.0f - a + t[X] * (2.0f * a - 1.0f)) - a * t[X] : -(t[X] - (1.0f - a)) * M * (1.0f - M);
    g[X] = d * weight;
    sum += g[X];
  }
  return sum;
}

}  // namespace

__attribute__((target_clones("default", "avx2", "avx512f")))
void sparse_step(const SparseStep& s, const int64_t* order, int64_t begin, int64_t end, float* gW, float* gb) {
  const int64_t k = s.k, w = s.w, hw = s.h * s.w, mh = s.mh, mw = s.mw;
  std::vector<float> z_buf(static_cast<size_t>(hw)), gz_buf(static_cast<size_t>(hw)), zr_buf(static_cast<size_t>(w)),
      t_buf(static_cast<size_t>(mw)), g_buf(static_cast<size_t>(mw)), ga_buf(static_cast<size_t>(mw)),
      gb_buf(static_cast<size_t>(mw)), gt_buf(static_cast<size_t>(w)), fx_buf(static_cast<size_t>(mw));
  std::vector<int32_t> x0_buf(static_cast<size_t>(mw)), x1_buf(static_cast<size_t>(mw));
  // The adjoint along X sums, for each input x, the outputs whose first (second) tap is x:
  // taps are monotone in X, so those outputs are one run each, [run0[x], run0[x + 1]).
  std::vector<int64_t> run0(static_cast<size_t>(w) + 1, 0), run1(static_cast<size_t>(w) + 1, 0);
  for (int64_t X = 0; X < mw; ++X) {
    x0_buf[X] = s.xtaps[X].i0;
    x1_buf[X] = s.xtaps[X].i1;
    fx_buf[X] = s.xtaps[X].f;
    ++run0[s.xtaps[X].i0 + 1];
    ++run1[s.xtaps[X].i1 + 1];
  }
  for (int64_t x = 0; x < w; ++x) {
    run0[x + 1] += run0[x];
    run1[x + 1] += run1[x];
  }
  float* __restrict z = z_buf.data();
  float* __restrict gzr = gz_buf.data();
  float* __restrict zr = zr_buf.data();
  float* __restrict t = t_buf.data();
  float* __restrict g = g_buf.data();
  float* __restrict ga = ga_buf.data();
  float* __restrict gbx = gb_buf.data();
  float* __restrict gt = gt_buf.data();
  const float* __restrict fx = fx_buf.data();
  const int32_t* __restrict x0 = x0_buf.data();
  const int32_t* __restrict x1 = x1_buf.data();
  for (int64_t i = begin; i < end; ++i) {
    const int64_t row = order[i];
    const int64_t wr = s.w_row[row];
    const float* __restrict wv = s.W + wr * k;
    const int32_t* entry = s.active_entry + s.active_offset[s.image[row]];
    const int64_t entries = s.active_offset[s.image[row] + 1] - s.active_offset[s.image[row]];
    // z: the weighted sum of the image's thresholded maps.
    std::fill(z, z + hw, 0.0f);
    for (int64_t e = 0; e < entries; ++e) z[entry[e] % hw] += wv[entry[e] / hw];
    std::fill(gzr, gzr + hw, 0.0f);
    const uint8_t* mask = s.masks + static_cast<size_t>(s.pair[row]) * s.mask_bytes;
    const float a = s.alpha[row], weight = s.weight[row], bias = s.b ? s.b[wr] : 0.0f;
    double gsum = 0;
    for (int64_t Y = 0; Y < mh; ++Y) {
      const Tap ty = s.ytaps[Y];
      const float* __restrict z0 = z + ty.i0 * w;
      const float* __restrict z1 = z + ty.i1 * w;
#pragma omp simd
      for (int64_t x = 0; x < w; ++x) zr[x] = (1.0f - ty.f) * z0[x] + ty.f * z1[x];
      const int64_t first = Y * mw;
      for (int64_t X = 0; X < mw; ++X) {
        const int64_t bit = first + X;
        t[X] = static_cast<float>((mask[bit >> 3] >> (bit & 7)) & 1);
      }
      gsum += s.log_loss ? row_gradient<true>(zr, x0, x1, fx, t, g, mw, bias, a, weight)
                         : row_gradient<false>(zr, x0, x1, fx, t, g, mw, bias, a, weight);
#pragma omp simd
      for (int64_t X = 0; X < mw; ++X) {
        ga[X] = (1.0f - fx[X]) * g[X];
        gbx[X] = fx[X] * g[X];
      }
      for (int64_t x = 0; x < w; ++x) {
        float acc = 0;
        for (int64_t X = run0[x]; X < run0[x + 1]; ++X) acc += ga[X];
        for (int64_t X = run1[x]; X < run1[x + 1]; ++X) acc += gbx[X];
        gt[x] = acc;
      }
      float* g0 = gzr + ty.i0 * w;
      float* g1 = gzr + ty.i1 * w;
      for (int64_t x = 0; x < w; ++x) g0[x] += (1.0f - ty.f) * gt[x];
      for (int64_t x = 0; x < w; ++x) g1[x] += ty.f * gt[x];
    }
    // The filter sum's adjoint: each active (filter, position) passes its gradient to w_f.
    float* gw = gW + wr * k;
    for (int64_t e = 0; e < entries; ++e) gw[entry[e] / hw] += gzr[entry[e] % hw];
    if (gb) gb[wr] += static_cast<float>(gsum);
  }
}

__attribute__((target_clones("default", "avx2", "avx512f")))
void positive_step(const float* x, int64_t k, const int64_t* rows, int64_t half, const float* w, const float* b,
                   int64_t begin, int64_t end, float* gw, float* gb) {
  for (int64_t c = begin; c < end; ++c) {
    const float* __restrict wc = w + c * k;
    float* __restrict gc = gw + c * k;
    float gsum = 0;
    for (int64_t j = 0; j < half; ++j) {
      const float* __restrict xr = x + rows[c * half + j] * k;
      // The rows are random picks from a matrix larger than the caches: fetch the one after
      // next while this one is used (the pass is bound by those reads, not by arithmetic).
      const int64_t ahead = c * half + j + 2, last = end * half;
      const int64_t next = ahead < last ? rows[ahead] : -1;
      if (next >= 0)
        for (int64_t i = 0; i < k; i += 16) __builtin_prefetch(x + next * k + i);
      float logit = 0;
#pragma omp simd reduction(+ : logit)
      for (int64_t i = 0; i < k; ++i) logit += xr[i] * wc[i];
      logit += b[c];
      const float g = -0.5f / (1.0f + std::exp(logit)) / static_cast<float>(half);
#pragma omp simd
      for (int64_t i = 0; i < k; ++i) gc[i] += g * xr[i];
      gsum += g;
    }
    gb[c] += gsum;
  }
}

}  // namespace n2v::detail
