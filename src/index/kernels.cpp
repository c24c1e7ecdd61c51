// inner_products(): the dense kernel behind small-batch searches and 3CosMul. One pass over
// the stored rows; up to four queries share each load of a row. AVX2+FMA where the CPU has
// it (runtime dispatch: the build targets baseline x86-64), SSE2 otherwise. Float
// accumulation in several independent lanes (the summation order differs from a plain loop
// by float rounding only).

#include <immintrin.h>

#include <atomic>
#include <cstdint>

#include "index/vector_index.h"

namespace n2v {
namespace {

template <int B>
__attribute__((target("avx2,fma"))) void block_avx2(const float* x, int64_t n, int d, const float* q,
                                                  float* out, int64_t stride) {
  constexpr int U = B == 1 ? 4 : 2;  // accumulators per query: enough independent FMA chains
  constexpr int kChunk = 8 * U;
  const int dc = d - d % kChunk;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * d;
    __m256 acc[B][U];
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b)
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[b][u] = _mm256_setzero_ps();
    for (int t = 0; t < dc; t += kChunk) {
      __m256 r[U];
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) r[u] = _mm256_loadu_ps(row + t + 8 * u);
      #pragma GCC unroll 8
      for (int b = 0; b < B; ++b)
        #pragma GCC unroll 8
        for (int u = 0; u < U; ++u)
          acc[b][u] = _mm256_fmadd_ps(r[u], _mm256_loadu_ps(q + static_cast<int64_t>(b) * d + t + 8 * u), acc[b][u]);
    }
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      __m256 s = acc[b][0];
      #pragma GCC unroll 8
      for (int u = 1; u < U; ++u) s = _mm256_add_ps(s, acc[b][u]);
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
      float sum = _mm_cvtss_f32(h);
      const float* qb = q + static_cast<int64_t>(b) * d;
      for (int t = dc; t < d; ++t) sum += row[t] * qb[t];
      out[b * stride + i] = sum;
    }
  }
}

template <int B>
void block_sse2(const float* x, int64_t n, int d, const float* q, float* out, int64_t stride) {
  constexpr int U = B == 1 ? 4 : 2;
  constexpr int kChunk = 4 * U;
  const int dc = d - d % kChunk;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * d;
    __m128 acc[B][U];
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b)
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[b][u] = _mm_setzero_ps();
    for (int t = 0; t < dc; t += kChunk) {
      __m128 r[U];
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) r[u] = _mm_loadu_ps(row + t + 4 * u);
      #pragma GCC unroll 8
      for (int b = 0; b < B; ++b)
        #pragma GCC unroll 8
        for (int u = 0; u < U; ++u)
          acc[b][u] = _mm_add_ps(acc[b][u], _mm_mul_ps(r[u], _mm_loadu_ps(q + static_cast<int64_t>(b) * d + t + 4 * u)));
    }
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      __m128 s = acc[b][0];
      #pragma GCC unroll 8
      for (int u = 1; u < U; ++u) s = _mm_add_ps(s, acc[b][u]);
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
      float sum = _mm_cvtss_f32(s);
      const float* qb = q + static_cast<int64_t>(b) * d;
      for (int t = dc; t < d; ++t) sum += row[t] * qb[t];
      out[b * stride + i] = sum;
    }
  }
}

__attribute__((target("avx2,fma"))) void sqdot_avx2(const float* x, const float* y, int64_t n, double* sq,
                                                  double* dot) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, p0 = s0, p1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a0 = _mm256_loadu_ps(x + i), b0 = _mm256_loadu_ps(y + i);
    const __m256 a1 = _mm256_loadu_ps(x + i + 8), b1 = _mm256_loadu_ps(y + i + 8);
    const __m256 d0 = _mm256_sub_ps(a0, b0), d1 = _mm256_sub_ps(a1, b1);
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    p0 = _mm256_fmadd_ps(a0, b0, p0);
    p1 = _mm256_fmadd_ps(a1, b1, p1);
  }
  alignas(32) float fs[8], fp[8];
  _mm256_store_ps(fs, _mm256_add_ps(s0, s1));
  _mm256_store_ps(fp, _mm256_add_ps(p0, p1));
  double ts = 0, tp = 0;
  for (int j = 0; j < 8; ++j) {
    ts += fs[j];
    tp += fp[j];
  }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    ts += d * d;
    tp += static_cast<double>(x[i]) * y[i];
  }
  *sq = ts;
  *dot = tp;
}

void sqdot_sse2(const float* x, const float* y, int64_t n, double* sq, double* dot) {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, p0 = s0, p1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128 a0 = _mm_loadu_ps(x + i), b0 = _mm_loadu_ps(y + i);
    const __m128 a1 = _mm_loadu_ps(x + i + 4), b1 = _mm_loadu_ps(y + i + 4);
    const __m128 d0 = _mm_sub_ps(a0, b0), d1 = _mm_sub_ps(a1, b1);
    s0 = _mm_add_ps(s0, _mm_mul_ps(d0, d0));
    s1 = _mm_add_ps(s1, _mm_mul_ps(d1, d1));
    p0 = _mm_add_ps(p0, _mm_mul_ps(a0, b0));
    p1 = _mm_add_ps(p1, _mm_mul_ps(a1, b1));
  }
  alignas(16) float fs[4], fp[4];
  _mm_store_ps(fs, _mm_add_ps(s0, s1));
  _mm_store_ps(fp, _mm_add_ps(p0, p1));
  double ts = 0, tp = 0;
  for (int j = 0; j < 4; ++j) {
    ts += fs[j];
    tp += fp[j];
  }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    ts += d * d;
    tp += static_cast<double>(x[i]) * y[i];
  }
  *sq = ts;
  *dot = tp;
}

std::atomic<bool> force_sse2{false};

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has && !force_sse2.load(std::memory_order_relaxed);
}

}  // namespace

void inner_products(const float* x, int64_t n, int d, const float* queries, int m, float* out) {
  const bool avx2 = cpu_has_avx2_fma();
  for (int j = 0; j < m;) {
    const int b = m - j >= 4 ? 4 : m - j;  // queries sharing one pass over the rows
    const float* q = queries + static_cast<int64_t>(j) * d;
    float* o = out + static_cast<int64_t>(j) * n;
    if (avx2) {
      switch (b) {
        case 1: block_avx2<1>(x, n, d, q, o, n); break;
        case 2: block_avx2<2>(x, n, d, q, o, n); break;
        case 3: block_avx2<3>(x, n, d, q, o, n); break;
        default: block_avx2<4>(x, n, d, q, o, n); break;
      }
    } else {
      switch (b) {
        case 1: block_sse2<1>(x, n, d, q, o, n); break;
        case 2: block_sse2<2>(x, n, d, q, o, n); break;
        case 3: block_sse2<3>(x, n, d, q, o, n); break;
        default: block_sse2<4>(x, n, d, q, o, n); break;
      }
    }
    j += b;
  }
}

void squared_distance_and_dot(const float* x, const float* y, int64_t n, double* sq, double* dot) {
  if (cpu_has_avx2_fma()) sqdot_avx2(x, y, n, sq, dot);
  else sqdot_sse2(x, y, n, sq, dot);
}

const char* inner_products_kernel() { return cpu_has_avx2_fma() ? "avx2-fma" : "sse2"; }

void force_sse2_kernel_for_testing(bool on) { force_sse2.store(on, std::memory_order_relaxed); }

}  // namespace n2v
